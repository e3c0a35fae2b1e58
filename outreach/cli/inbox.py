"""`outreach sync` and `outreach conversations …`: the inbox and the threads it fills."""

from __future__ import annotations

import asyncio
from dataclasses import asdict

import click
from rich.table import Table

from outreach.campaigns import followups
from outreach.cli.context import App, actor_option, pass_app, print_json, reviewer
from outreach.conversations import reads
from outreach.conversations import threads as core
from outreach.conversations import waiting as waits
from outreach.conversations.reads import local_time
from outreach.drafting.drafter import Drafter, make_llm
from outreach.inbox.sync import run_sync, suggest_replies


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print the counts as JSON.")
@pass_app
def sync(app: App, as_json: bool) -> None:
    """Read new mail once: thread replies, stop sequences, note bounces and opt-outs.

    Reads INBOX and the Sent folder (or Gmail's All Mail) read-only, from where the last
    run stopped, and stores only mail that belongs to a candidate. Then drafts the campaign
    follow-ups that are due (as `outreach campaign advance` does). Prints one line and
    exits 0; on failure prints the reason and exits 1. Only one sync runs at a time.

    \b
    Example:
      outreach sync
      */15 * * * *  cd ~/recruiting && outreach sync   (crontab)
    """
    now = app.clock
    report = run_sync(app.settings, app.store, now=now)

    async def after() -> tuple[list[int], int]:
        # Replies first, so that due follow-ups of people who answered are never drafted.
        drafter = Drafter(app.settings, app.store, llm=make_llm(app.settings))
        try:
            drafted: list[int] = []
            if app.settings.sync.suggest_replies:
                drafted = await suggest_replies(app.settings, app.store, drafter=drafter)
            advanced = await followups.advance(app.store, app.settings, drafter, now=now())
            return drafted, advanced.drafted
        finally:
            await drafter.aclose()

    drafted, follow_ups = asyncio.run(after())
    if as_json:
        print_json(
            {
                "mailbox": report.mailbox,
                "folders": report.folders,
                "counts": dict(report.counts),
                "reply_drafts": drafted,
                "follow_ups_drafted": follow_ups,
                "waiting": [asdict(w) for w in waits.waiting(app.store, app.settings, now=now())],
            }
        )
        return
    line = report.summary()
    if drafted:
        line += f"; {len(drafted)} reply drafts in the queue"
    if follow_ups:
        line += f"; {follow_ups} follow-ups drafted"
    waiting = waits.summary_line(waits.waiting(app.store, app.settings, now=now()))
    app.console.print(f"{line}; {waiting or 'nobody waiting for an answer'}", markup=False)


@click.group()
def conversations() -> None:
    """Read the conversations the sync threaded together.

    \b
    Example:
      outreach conversations list --status needs_response
    """


@conversations.command("list")
@click.option(
    "--status",
    type=click.Choice([reads.NEEDS_RESPONSE, reads.OPEN, reads.CLOSED]),
    help="Only conversations in this state.",
)
@click.option(
    "--waiting",
    is_flag=True,
    help="Only candidates waiting on you (answer or feedback), oldest first.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def list_(app: App, status: str | None, waiting: bool, as_json: bool) -> None:
    """List conversations, newest first, with "N in / M out" (or who waits, with --waiting).

    \b
    Example:
      outreach conversations list --waiting
    """
    zone = app.settings.sender.timezone
    if waiting:
        found = waits.waiting(app.store, app.settings, now=app.clock())
        if as_json:
            print_json([asdict(w) for w in found])
            return
        table = Table("email", "waiting for", "since", "how long", "")
        for w in found:
            what = "feedback" if w.kind == waits.FEEDBACK else w.subject[:50]
            table.add_row(
                w.email, what, local_time(w.since, zone), waits.age(w.days),
                "overdue" if w.overdue else "",
            )  # fmt: skip
        app.console.print(table)
        app.console.print(waits.summary_line(found) or "nobody is waiting for you", markup=False)
        return
    rows = reads.list_conversations(app.store, status=status)
    if as_json:
        print_json([asdict(r) for r in rows])
        return
    table = Table("email", "subject", "status", "sentiment", "messages", "last message")
    for row in rows:
        table.add_row(
            row.email,
            row.subject[:50],
            row.status,
            row.sentiment,
            f"{row.incoming} in / {row.outgoing} out",
            local_time(row.last_message_at, zone),
        )
    app.console.print(table)
    counts = reads.status_counts(app.store)
    app.console.print(
        f"{len(rows)} conversations; {counts[reads.NEEDS_RESPONSE]} need a response",
        markup=False,
    )


@conversations.command("show")
@click.argument("email")
@click.option("--full", is_flag=True, help="Also print the quoted and signature parts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: App, email: str, full: bool, as_json: bool) -> None:
    """Show a candidate's conversations: every message both ways, in order, with its state.

    Quotes and signatures are trimmed; --full prints them after each message. Times are in
    the sender's time zone ([sender] timezone), named.

    \b
    Example:
      outreach conversations show jamie@paywise.example
    """
    data = reads.show_conversation(app.store, email)
    if as_json:
        print_json(asdict(data))
        return
    app.console.print(f"{data.name} <{data.email}> ({data.status})", markup=False)
    if data.interviewed_at:
        app.console.print(f"interviewed on {data.interviewed_at.date()}", markup=False)
    if not data.conversations:
        app.console.print("no conversations yet", markup=False)
    for conversation in data.conversations:
        mood = f", {conversation.sentiment}" if conversation.sentiment else ""
        app.console.print(
            f"\n[bold]#{conversation.id} {conversation.subject}[/] "
            f"({conversation.status}{mood}; {conversation.incoming} in / "
            f"{conversation.outgoing} out)",
            markup=True,
        )
        for item in conversation.items:
            _print_message(app, item, full)


def _print_message(app: App, item: reads.MessageView, full: bool) -> None:
    arrow = "→" if item.direction == "out" else "←"
    when = local_time(item.date, app.settings.sender.timezone)
    if item.direction == "out":
        label = item.state
    else:
        note = item.details.get("reason", "")
        kind = item.classification
        label = f"{kind}: {note}" if note and kind != "human" else kind
    who = item.sender if item.direction == "in" else f"to {', '.join(item.to)}"
    app.console.print(f"\n{arrow} {when} {who} [{label}]", markup=False, style="dim")
    app.console.print(item.text.strip() or "(no text)", markup=False)
    if item.flags:
        app.console.print(f"flags: {', '.join(item.flags)}", markup=False, style="yellow")
    if full and item.elided.strip():
        app.console.print(item.elided.rstrip(), markup=False, style="dim")


@conversations.command("mark")
@click.argument("email")
@click.option("--positive", "sentiment", flag_value="positive", help="The reply is positive.")
@click.option("--negative", "sentiment", flag_value="negative", help="The reply is negative.")
@click.option("--clear", "sentiment", flag_value="", help="Remove the mark.")
@click.option(
    "--conversation", "conversation_id", type=int, help="Conversation id (default: latest)."
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@actor_option
@pass_app
def mark(
    app: App,
    email: str,
    sentiment: str | None,
    conversation_id: int | None,
    as_json: bool,
    named: str | None,
) -> None:
    """Mark a candidate's reply positive or negative (their latest conversation by default).

    \b
    Example:
      outreach conversations mark jamie@paywise.example --positive
    """
    if sentiment is None:
        raise click.UsageError("say --positive, --negative or --clear")
    actor = reviewer(app, named)
    row = core.mark(app.store, email, sentiment, actor=actor, conversation_id=conversation_id)
    if as_json:
        print_json(asdict(row))
        return
    app.console.print(
        f"conversation #{row.id} with {row.email}: {row.sentiment or 'unmarked'}",
        markup=False,
    )


@conversations.command("no-answer")
@click.argument("email")
@click.option("--reason", required=True, help="Why their last message needs no answer.")
@click.option(
    "--conversation", "conversation_id", type=int, help="Conversation id (default: latest)."
)
@actor_option
@pass_app
def no_answer(
    app: App, email: str, reason: str, conversation_id: int | None, named: str | None
) -> None:
    """Say a candidate's last message needs no answer: they stop waiting until they write again.

    \b
    Example:
      outreach conversations no-answer jamie@paywise.example --reason "said thanks"
    """
    row = core.no_answer_needed(
        app.store,
        email,
        reason,
        actor=reviewer(app, named),
        now=app.clock(),
        conversation_id=conversation_id,
    )
    app.console.print(
        f"conversation #{row.id} with {row.email}: no answer needed ({row.no_answer_reason})",
        markup=False,
    )


@conversations.command("interviewed")
@click.argument("email")
@click.option("--on", "day", help="The interview date, YYYY-MM-DD.")
@click.option("--clear", is_flag=True, help="Forget the interview date.")
@actor_option
@pass_app
def interviewed(app: App, email: str, day: str | None, clear: bool, named: str | None) -> None:
    """Record that a candidate was interviewed: feedback is owed from then.

    Without feedback queued or sent within [conversations] feedback_within_days, they show
    as overdue in `outreach conversations list --waiting` and the web's "Waiting for you".

    \b
    Example:
      outreach conversations interviewed jamie@paywise.example --on 2026-03-02
    """
    if clear == bool(day):
        raise click.UsageError("say --on YYYY-MM-DD or --clear")
    actor = reviewer(app, named)
    core.mark_interviewed(app.store, email, core.interview_day(day or ""), actor=actor)
    app.console.print(
        f"{email}: interviewed on {day}" if day else f"{email}: interview date cleared",
        markup=False,
    )
