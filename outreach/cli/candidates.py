"""`outreach candidates …`: import, list, show, export, forget."""

from __future__ import annotations

from pathlib import Path

import click
from rich.table import Table

from outreach.candidates import export as core_export
from outreach.candidates import records as core
from outreach.candidates import retention
from outreach.cli.context import App, pass_app, print_json


@click.group()
def candidates() -> None:
    """Import and manage candidates.

    \b
    Example:
      outreach candidates import people.csv --tag backend
    """


@candidates.command("import")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--tag", "tags", multiple=True, help="Tag every imported candidate (repeatable).")
@click.option(
    "--source",
    default="",
    help='Where the data came from, for rows without a source column ("GitHub", "applied").',
)
@click.option("--dry-run", is_flag=True, help="Check the file and report; write nothing.")
@pass_app
def import_(app: App, file: Path, tags: tuple[str, ...], source: str, dry_run: bool) -> None:
    """Import candidates from a CSV (header row) or JSON (list of objects) file.

    Columns: email (required), name, headline, company, role, location, timezone,
    language, skills and achievements (separated by ;), links, notes, tags, source
    (where the data came from: "LinkedIn profile", "referral by Lena Ek", "applied"); other
    columns are kept as extra profile fields. Re-importing updates a candidate and
    never erases a field the new file leaves empty.

    \b
    Example:
      outreach candidates import people.csv --tag backend --source GitHub --dry-run
    """
    report = core.import_file(app.store, file, tags=tags, source=source, dry_run=dry_run)
    for warning in report.warnings:
        app.warn(warning)
    for skipped in report.skipped:
        app.warn(f"{file}, {skipped}")
    for error in report.errors:
        app.err.print(f"{file}, {error}", markup=False)
    verb = "would import" if dry_run else "imported"
    app.console.print(
        f"{verb}: {report.created} new, {report.updated} updated, {report.unchanged} unchanged, "
        f"{len(report.skipped)} suppressed, {len(report.errors)} bad rows"
    )
    if report.errors:
        raise click.exceptions.Exit(1)


@candidates.command("list")
@click.option("--tag", help="Only candidates with this tag.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def list_(app: App, tag: str | None, as_json: bool) -> None:
    """List candidates.

    \b
    Example:
      outreach candidates list --tag backend --json
    """
    rows = core.list_candidates(app.store, tag=tag)
    if as_json:
        print_json(rows)
        return
    table = Table("email", "name", "company", "headline", "source", "tags", "status")
    for row in rows:
        table.add_row(
            row["email"],
            row["name"],
            row["company"],
            row["headline"][:50],
            row["source"],
            ", ".join(row["tags"]),
            row["status"],
        )
    app.console.print(table)
    app.console.print(f"{len(rows)} candidates")


@candidates.command("show")
@click.argument("email")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: App, email: str, as_json: bool) -> None:
    """Show one candidate's profile.

    \b
    Example:
      outreach candidates show jamie@paywise.example
    """
    data = core.show_candidate(app.store, email)
    if as_json:
        print_json(data)
        return
    for key, value in data.items():
        if isinstance(value, list):
            value = "; ".join(str(v) for v in value)
        elif isinstance(value, dict):
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        if value not in ("", None):
            app.console.print(f"[bold]{key}[/]: {value}", markup=True)


@candidates.command("forget")
@click.argument("email")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation.")
@pass_app
def forget(app: App, email: str, yes: bool) -> None:
    """Erase a candidate and everything linked to them; never contact the address again.

    Only a salted hash of the address is kept, in the suppression list.

    \b
    Example:
      outreach candidates forget jamie@paywise.example --yes
    """
    if not yes:
        click.confirm(f"Erase everything about {email} for good?", abort=True)
    existed = core.forget(app.store, email)
    if existed:
        app.console.print(f"forgot {email}; the address is suppressed")
    else:
        app.console.print(f"no candidate with {email}; the address is suppressed all the same")


@candidates.command("export")
@click.argument("email")
@click.option(
    "--output",
    type=click.Path(dir_okay=False, path_type=Path),
    help="The ZIP file to write (default: ADDRESS-export.zip here); never overwritten.",
)
@pass_app
def export(app: App, email: str, output: Path | None) -> None:
    """Export everything stored about a person (GDPR Art. 15) as one ZIP file.

    It holds data.json (profile, source, messages both ways, drafts with every revision,
    campaigns, the history, the AI calls that used their data) and each message as .eml.

    \b
    Example:
      outreach candidates export jamie@paywise.example --output jamie.zip
    """
    path = core_export.write_export(app.store, email, output)
    app.console.print(f"wrote {path}; send it to the person over a channel you trust")


@candidates.command("expire")
@click.option("--dry-run", is_flag=True, help="List who would be erased; erase nobody.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def expire(app: App, dry_run: bool, as_json: bool) -> None:
    """Erase people with no activity for privacy.retain_months (storage limitation).

    Like forget, only a salted hash of each address stays, so they are never contacted
    again. `outreach serve` runs this once a day.

    \b
    Example:
      outreach candidates expire --dry-run
    """
    months = app.settings.privacy.retain_months
    due = retention.expire(app.store, months, app.clock(), dry_run=dry_run, actor="cli")
    if as_json:
        print_json([{**vars(person), "erased": not dry_run} for person in due])
        return
    for person in due:
        app.console.print(
            f"{person.email}  last activity {person.last_activity:%Y-%m-%d}", markup=False
        )
    verb = "would erase" if dry_run else "erased"
    app.console.print(f"{verb} {len(due)} (no activity for {months} months)")
