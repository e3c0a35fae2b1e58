"""`outreach templates …`, `outreach draft`, `outreach feedback` and `outreach llm usage`."""

from __future__ import annotations

import asyncio
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress
from rich.table import Table

from outreach.candidates import records as people
from outreach.cli.context import App, pass_app, print_json
from outreach.conversations import replies
from outreach.drafting import budget
from outreach.drafting.drafter import Drafter, DraftSpec, make_llm
from outreach.drafting.inputs import feedback_template, load_role
from outreach.drafting.templates import TemplateLibrary
from outreach.errors import InputError


@click.group()
def templates() -> None:
    """List, show and preview your email templates.

    \b
    Example:
      outreach templates preview intro --candidate jamie@paywise.example --no-ai
    """


@templates.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def list_(app: App, as_json: bool) -> None:
    """List the templates in the templates folder.

    \b
    Example:
      outreach templates list
    """
    library = TemplateLibrary(app.settings.templates_dir)
    rows = [library.get(name) for name in library.names()]
    if as_json:
        print_json(
            [
                {
                    "name": t.name,
                    "kind": t.kind,
                    "language": t.language,
                    "description": t.description,
                }
                for t in rows
            ]
        )
        return
    table = Table("name", "kind", "language", "description")
    for t in rows:
        table.add_row(t.name, t.kind, t.language or "", t.description)
    app.console.print(table)


@templates.command("show")
@click.argument("name")
@pass_app
def show(app: App, name: str) -> None:
    """Print a template's source.

    \b
    Example:
      outreach templates show follow_up
    """
    click.echo(TemplateLibrary(app.settings.templates_dir).get(name).source, nl=False)


@templates.command("preview")
@click.argument("name")
@click.option("--candidate", "email", required=True, help="Render for this candidate.")
@click.option("--role", "role_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--notes", "notes_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--no-ai", is_flag=True, help="Use the slots' fallbacks; call no model.")
@pass_app
def preview(
    app: App, name: str, email: str, role_file: Path | None, notes_file: Path | None, no_ai: bool
) -> None:
    """Render a template for one candidate without storing anything.

    \b
    Example:
      outreach templates preview intro --candidate jamie@paywise.example --role role.toml
    """
    person = people.show_candidate(app.store, email)
    spec = DraftSpec(
        template=name,
        role=load_role(role_file) if role_file else {},
        notes=_read(notes_file) if notes_file else "",
    )
    drafter = Drafter(app.settings, app.store, llm=None if no_ai else make_llm(app.settings))

    async def run() -> Any:
        try:
            return await drafter.compose(person, spec)
        finally:
            await drafter.aclose()

    composed = asyncio.run(run())
    click.echo(f"Subject: {composed.subject}\n\n{composed.body}")
    for flag in composed.flags:
        app.err.print(f"flag: {flag.get('label') or flag['code']}: {flag['message']}", markup=False)


def _read(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"{path}: cannot read it ({exc}); give a UTF-8 text file") from None


def _run_items(
    app: App, template: str, items: list[tuple[dict[str, Any], DraftSpec]], skipped: list[str]
) -> None:
    drafter = Drafter(app.settings, app.store, llm=make_llm(app.settings))

    async def run() -> Any:
        with Progress(console=app.err, transient=True) as bar:
            task = bar.add_task(f"drafting {template}", total=len(items))
            try:
                return await drafter.draft_items(items, progress=lambda: bar.advance(task))
            finally:
                await drafter.aclose()

    report = asyncio.run(run())
    report.skipped = skipped
    _report(app, report)


def _report(app: App, report: Any) -> None:
    if report.stopped:
        raise budget.TokenBudgetReached(report.stopped)
    for line in report.skipped:
        app.err.print(f"skipped {line}", markup=False)
    for line in report.failed:
        app.err.print(f"problem {line}", markup=False)
    app.console.print(
        f"drafted {len(report.drafted)} into the review queue, skipped {len(report.skipped)}, "
        f"{len(report.failed)} with problems (see `outreach queue list`)"
    )
    if report.failed:
        raise click.exceptions.Exit(1)


def _run_batch(app: App, emails: list[str], spec: DraftSpec, redo: bool) -> None:
    drafter = Drafter(app.settings, app.store, llm=make_llm(app.settings))

    async def run() -> Any:
        with Progress(console=app.err, transient=True) as bar:
            task = bar.add_task(f"drafting {spec.template}", total=len(emails))
            try:
                return await drafter.draft_many(
                    emails, spec, redo=redo, progress=lambda: bar.advance(task)
                )
            finally:
                await drafter.aclose()

    _report(app, asyncio.run(run()))


@click.command()
@click.option("--template", "template", required=True, help="Template name (see templates list).")
@click.option(
    "--candidates",
    "selector",
    required=True,
    help="tag:NAME, an email address, or a CSV/JSON file.",
)
@click.option("--role", "role_file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--redo", is_flag=True, help="Draft again for people who already have one.")
@pass_app
def draft(app: App, template: str, selector: str, role_file: Path | None, redo: bool) -> None:
    """Draft a template for many candidates into the review queue.

    Candidates who already have a draft from this template are skipped unless --redo.
    Nothing is sent: every draft waits for a person to approve it.

    \b
    Example:
      outreach draft --template intro --candidates tag:backend --role role.toml
    """
    role = load_role(role_file) if role_file else {}
    spec = DraftSpec(template=template, role=role)
    emails = people.select_emails(app.store, selector)
    if TemplateLibrary(app.settings.templates_dir).get(template).kind == "reply":
        # A reply answers each person's latest message, in their thread (In-Reply-To,
        # References, "Re:" subject, their message quoted): one spec per conversation.
        items, skipped = replies.reply_items(app.store, app.settings, emails)
        items = [(p, replace(s, template=template, role=role)) for p, s in items]
        _run_items(app, template, items, skipped)
        return
    _run_batch(app, emails, spec, redo)


@click.command()
@click.option("--candidate", "email", required=True, help="The candidate's email.")
@click.option("--notes", "notes_file", required=True, type=click.Path(path_type=Path))
@click.option(
    "--outcome", required=True, type=click.Choice(["reject", "advance", "offer"]), help="Decision."
)
@click.option("--role", "role_file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def feedback(app: App, email: str, notes_file: Path, outcome: str, role_file: Path | None) -> None:
    """Draft interview feedback grounded only in your notes.

    \b
    Example:
      outreach feedback --candidate jamie@paywise.example --notes jamie.md --outcome reject
    """
    notes = _read(notes_file)
    if not notes.strip():
        raise InputError(f"{notes_file}: the notes are empty; feedback is grounded in them")
    library = TemplateLibrary(app.settings.templates_dir)
    spec = DraftSpec(
        template=feedback_template(library, outcome),
        role=load_role(role_file) if role_file else {},
        notes=notes,
        outcome=outcome,
    )
    people.show_candidate(app.store, email)  # a clear error for an unknown address
    _run_batch(app, [email.strip().lower()], spec, redo=True)


@click.group("llm")
def llm_group() -> None:
    """What the model costs: tokens per day and per template.

    \b
    Example:
      outreach llm usage --days 7
    """


@llm_group.command("usage")
@click.option("--days", default=14, show_default=True, type=click.IntRange(1, 3660))
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def usage(app: App, days: int, as_json: bool) -> None:
    """Show model tokens per day and per template, from the stored AI calls.

    Days are UTC days; the limits are llm.max_tokens_per_day and llm.max_tokens_per_run.

    \b
    Example:
      outreach llm usage --days 30
    """
    since = datetime.now(UTC).date() - timedelta(days=days - 1)
    with app.store.session() as session:
        found = budget.usage(session, since)
    if as_json:
        print_json(found)
        return
    limit = app.settings.llm.max_tokens_per_day
    per_day = Table("day", "calls", "failed", "tokens in", "tokens out", "tokens", "of limit")
    for row in found["days"]:
        share = f"{row['tokens'] / limit:.0%}" if limit else "no limit"
        per_day.add_row(row["day"], str(row["calls"]), str(row["failed"]),
                        f"{row['tokens_in']:,}", f"{row['tokens_out']:,}", f"{row['tokens']:,}",
                        share)  # fmt: skip
    per_template = Table("template", "calls", "tokens in", "tokens out", "tokens")
    for row in found["templates"]:
        per_template.add_row(row["template"], str(row["calls"]), f"{row['tokens_in']:,}",
                             f"{row['tokens_out']:,}", f"{row['tokens']:,}")  # fmt: skip
    app.console.print(per_day)
    app.console.print(per_template)
