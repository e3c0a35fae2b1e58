"""`outreach sync` and `outreach conversations …`: the inbox and the threads it fills."""

from __future__ import annotations

import asyncio
from typing import Any

import click
from rich.table import Table

from outreach.campaigns import followups
from outreach.cli.context import App, actor_option, pass_app, print_json, reviewer
from outreach.conversations import threads as core
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
            }
        )
        return
    line = report.summary()
    if drafted:
        line += f"; {len(drafted)} reply drafts in the queue"
    if follow_ups:
        line += f"; {follow_ups} follow-ups drafted"
    app.console.print(line, markup=False)


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
    type=click.Choice([core.NEEDS_RESPONSE, core.OPEN, core.CLOSED]),
    help="Only conversations in this state.",
)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def list_(app: App, status: str | None, as_json: bool) -> None:
    """List conversations, newest first, with their message counts.

    \b
    Example:
      outreach conversations list --json
    """
    rows = core.list_conversations(app.store, status=status)
    if as_json:
        print_json(rows)
        return
    table = Table("email", "subject", "status", "sentiment", "messages", "last message")
    for row in rows:
        last = row["last_message_at"]
        table.add_row(
            row["email"],
            row["subject"][:50],
            row["status"],
            row["sentiment"],
            f"{row['incoming']} in / {row['messages'] - row['incoming']} out",
            last.strftime("%Y-%m-%d %H:%M") if last else "",
        )
    app.console.print(table)
    counts = core.status_counts(app.store)
    app.console.print(
        f"{len(rows)} conversations; {counts[core.NEEDS_RESPONSE]} need a response",
        markup=False,
    )


@conversations.command("show")
@click.argument("email")
@click.option("--full", is_flag=True, help="Also print the quoted and signature parts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: App, email: str, full: bool, as_json: bool) -> None:
    """Show a candidate's conversations with the reply text of every message.

    Quotes and signatures are trimmed; --full prints them after each message.

    \b
    Example:
      outreach conversations show jamie@paywise.example
    """
    data = core.show_conversation(app.store, email)
    if as_json:
        print_json(data)
        return
    app.console.print(f"{data['name']} <{data['email']}> ({data['status']})", markup=False)
    if not data["conversations"]:
        app.console.print("no conversations yet", markup=False)
    for conversation in data["conversations"]:
        mood = f", {conversation['sentiment']}" if conversation["sentiment"] else ""
        app.console.print(
            f"\n[bold]#{conversation['id']} {conversation['subject']}[/] "
            f"({conversation['status']}{mood})",
            markup=True,
        )
        for item in conversation["items"]:
            _print_message(app, item, full)


def _print_message(app: App, item: dict[str, Any], full: bool) -> None:
    arrow = "→" if item["direction"] == "out" else "←"
    when = item["date"].strftime("%Y-%m-%d %H:%M") if item["date"] else ""
    kind = item["classification"]
    note = item["details"].get("reason", "")
    label = f"{kind}: {note}" if note and kind != "human" else kind
    app.console.print(f"\n{arrow} {when} {item['from']} [{label}]", markup=False, style="dim")
    app.console.print(item["text"].strip() or "(no text)", markup=False)
    if item["flags"]:
        app.console.print(f"flags: {', '.join(item['flags'])}", markup=False, style="yellow")
    if full and item["elided"].strip():
        app.console.print(item["elided"].rstrip(), markup=False, style="dim")


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
        print_json(row)
        return
    app.console.print(
        f"conversation #{row['id']} with {row['email']}: {row['sentiment'] or 'unmarked'}",
        markup=False,
    )
