"""`outreach send` and `outreach outbox …`: send what is due, see what waits and why."""

from __future__ import annotations

import asyncio
from pathlib import Path

import click
from rich.table import Table

from outreach.cli.context import App, actor_option, pass_app, print_json, reviewer
from outreach.errors import InputError
from outreach.sending import outbox as sending
from outreach.sending import preview
from outreach.sending import sender as core
from outreach.sending.sent_folder import imap_factory


def _summary(app: App, report: core.RunReport) -> None:
    for warning in report.warnings:
        app.warn(warning)
    for entry_id in report.reconciled:
        app.warn(f"#{entry_id} was being sent when a sender stopped: now uncertain")
    if report.released:
        count = len(report.released)
        app.console.print(
            f"{count} message{'s' if count != 1 else ''} a stopped sender had claimed but not "
            "started went back to the queue",
            markup=False,
        )
    for entry_id, reason in report.cancelled:
        app.console.print(f"cancelled #{entry_id}: {reason}", markup=False)
    for entry_id in report.uncertain:
        app.warn(
            f"#{entry_id} may or may not have gone: "
            f"decide with `outreach outbox resolve {entry_id} --sent|--resend`"
        )
    app.console.print(
        f"sent {len(report.sent)}, failed {len(report.failed)}, "
        f"uncertain {len(report.uncertain)}, retrying {len(report.requeued)}, "
        f"cancelled {len(report.cancelled)}"
        + (f", found in Sent {len(report.found_in_sent)}" if report.found_in_sent else "")
        + (f", filed in Sent {report.filed}" if report.filed else ""),
        markup=False,
    )
    if report.stopped:
        app.warn(report.stopped)
    slot = report.next_slot
    if slot is not None:
        when = slot.at.isoformat(timespec="minutes")
        app.console.print(f"next: #{slot.id} at {when} ({slot.reason or 'due now'})", markup=False)
    else:
        app.console.print("the outbox is empty")


@click.command()
@click.option(
    "--dry-run", is_flag=True, help="Write the exact .eml files to a folder; send nothing."
)
@click.option("--limit", type=click.IntRange(min=1), help="Send at most N messages.")
@click.option(
    "--out",
    type=click.Path(file_okay=False, path_type=Path),
    help="Folder for --dry-run files (default: dry-run-<time> here).",
)
@click.option("--wait", is_flag=True, help="Keep running, sleeping between paced sends.")
@click.option(
    "--connections",
    type=click.IntRange(1, 8),
    default=1,
    show_default=True,
    help="SMTP connections in parallel when pacing lets several messages go at once.",
)
@pass_app
def send(
    app: App, dry_run: bool, limit: int | None, out: Path | None, wait: bool, connections: int
) -> None:
    """Send approved messages that are due now, paced, each exactly once; then exit.

    Approved drafts are frozen into the outbox first. Run it from cron, or with --wait to
    keep sending as slots come up. It reports when the next message is due.

    \b
    Example:
      outreach send --dry-run --limit 5
    """
    now = app.clock
    if dry_run:
        folder = out or Path(f"dry-run-{now():%Y%m%d-%H%M%S}")
        written = preview.dry_run(app.store, app.settings, folder, now=now(), limit=limit)
        for path, why in written:
            app.console.print(f"{path}  ({why})", markup=False)
        app.console.print(f"wrote {len(written)} messages to {folder}; nothing was sent")
        return
    report = asyncio.run(
        core.run_sender(
            app.store,
            app.settings,
            clock=now,
            mailbox_factory=imap_factory(app.settings),
            limit=limit,
            wait=wait,
            connections=connections,
        )
    )
    _summary(app, report)


@click.group()
def outbox() -> None:
    """See what waits to be sent and why; decide uncertain sends.

    \b
    Example:
      outreach outbox list
    """


@outbox.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.option("--all", "show_all", is_flag=True, help="Include sent and cancelled messages.")
@pass_app
def list_(app: App, as_json: bool, show_all: bool) -> None:
    """List queued, sending, uncertain and failed messages: when each goes, or why not.

    \b
    Example:
      outreach outbox list --json
    """
    states = [sending.QUEUED, sending.SENDING, sending.UNCERTAIN, sending.FAILED]
    if show_all:
        states += [sending.SENT, sending.CANCELLED]
    rows = preview.outbox_listing(app.store, app.settings, now=app.clock(), states=states)
    if as_json:
        print_json(rows)
        return
    table = Table("id", "to", "kind", "state", "next", "why")
    for row in rows:
        table.add_row(
            str(row["id"]),
            str(row["to"]),
            str(row["kind"]),
            str(row["state"]),
            str(row["next_at"] or "")[:16],
            str(row["why"] or row["last_reply"]),
        )
    app.console.print(table)
    app.console.print(f"{len(rows)} messages")


@outbox.command("resolve")
@click.argument("entry_id", metavar="ID", type=int)
@click.option("--sent", "decision", flag_value="sent", help="It did go out: mark it sent.")
@click.option("--resend", "decision", flag_value="resend", help="It did not: queue it again.")
@actor_option
@pass_app
def resolve(app: App, entry_id: int, decision: str | None, named: str | None) -> None:
    """Decide an uncertain send: it went out (--sent), or send it again (--resend).

    Check the candidate's inbox or your Sent folder first; a resend may arrive twice.

    \b
    Example:
      outreach outbox resolve 12 --sent
    """
    if decision is None:
        raise InputError("say what happened: --sent (it went out) or --resend (send it again)")
    actor = reviewer(app, named)
    with app.store.session() as session:
        state = sending.resolve(
            session, entry_id, sent=decision == "sent", actor=actor, now=app.clock()
        )
    app.console.print(f"outbox entry {entry_id} is now {state}")


@outbox.command("retry")
@click.argument("entry_id", metavar="ID", type=int)
@actor_option
@pass_app
def retry(app: App, entry_id: int, named: str | None) -> None:
    """Queue a failed message again, as the same message (after fixing what the server refused).

    \b
    Example:
      outreach outbox retry 12
    """
    actor = reviewer(app, named)
    with app.store.session() as session:
        queued = sending.retry_failed(session, entry_id, actor=actor, now=app.clock())
    if not queued:
        raise InputError(f"outbox entry {entry_id} is not failed; see `outreach outbox list`")
    app.console.print(f"outbox entry {entry_id} is queued again")
