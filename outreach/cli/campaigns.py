"""`outreach campaign …`: create, show, start, pause, resume, stats, advance."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import click
from rich.progress import Progress
from rich.table import Table
from sqlalchemy import func, select

from outreach.campaigns import followups
from outreach.campaigns import lifecycle as campaigns
from outreach.campaigns import stats as campaign_stats
from outreach.cli.context import App, pass_app, print_json
from outreach.drafting.drafter import Drafter, make_llm
from outreach.store.models import Campaign, Enrolment
from outreach.store.values import CampaignStatus


@click.group()
def campaign() -> None:
    """Run campaigns: one role, a few steps, many candidates, every draft approved.

    \b
    Example:
      outreach campaign create campaigns/backend-2026.toml
      outreach campaign start backend-2026
    """


@campaign.command("create")
@click.argument("file", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def create(app: App, file: Path) -> None:
    """Create a campaign from a TOML file (name, candidates, role, steps, pacing).

    \b
    Example:
      outreach campaign create campaigns/backend-2026.toml
    """
    spec = campaigns.load_campaign_file(file)
    campaigns.create(app.store, spec, app.settings)
    click.echo(
        f"created campaign {spec.name} with {len(spec.steps)} steps; "
        f"start it with `outreach campaign start {spec.name}`"
    )


@campaign.command("show")
@click.argument("name", required=False)
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def show(app: App, name: str | None, as_json: bool) -> None:
    """List campaigns, or show one with its steps and enrolments.

    \b
    Example:
      outreach campaign show backend-2026
    """
    with app.store.session() as session:
        query = select(Campaign).order_by(Campaign.created_at)
        if name:
            query = query.where(Campaign.name == name)
        rows = list(session.scalars(query))
        if name and not rows:
            campaigns.get(session, name)  # raises NotFound with the hint
        counts = {
            (cid, status): n
            for cid, status, n in session.execute(
                select(Enrolment.campaign_id, Enrolment.status, func.count()).group_by(
                    Enrolment.campaign_id, Enrolment.status
                )
            )
        }
        data: list[dict[str, Any]] = [
            {
                "name": c.name,
                "status": c.status,
                "sender": c.sender_email,
                "role": c.role,
                "candidates": c.selection,
                "steps": c.steps,
                "enrolments": {s: n for (cid, s), n in counts.items() if cid == c.id},
            }
            for c in rows
        ]
    if as_json:
        print_json(data)
        return
    table = Table("name", "status", "role", "steps", "enrolments")
    for row in data:
        steps = " → ".join(
            f"{s['template']}" + (f" (+{s['wait_days']}d)" if s["wait_days"] else "")
            for s in row["steps"]
        )
        enrolled = ", ".join(f"{n} {s}" for s, n in sorted(row["enrolments"].items())) or "none"
        table.add_row(row["name"], row["status"], row["role"].get("title", ""), steps, enrolled)
    app.console.print(table)


def _drafter(app: App) -> Drafter:
    return Drafter(app.settings, app.store, llm=make_llm(app.settings))


@campaign.command("start")
@click.argument("name")
@pass_app
def start(app: App, name: str) -> None:
    """Enrol the campaign's candidates and draft step 1 for each into the review queue.

    \b
    Example:
      outreach campaign start backend-2026
    """
    drafter = _drafter(app)

    async def run() -> Any:
        with Progress(console=app.err, transient=True) as bar:
            task = bar.add_task(f"drafting step 1 of {name}", total=None)
            try:
                return await campaigns.start(
                    app.store,
                    app.settings,
                    drafter,
                    name,
                    progress=lambda: bar.advance(task),
                    now=app.clock(),
                )
            finally:
                await drafter.aclose()

    report = asyncio.run(run())
    for line in report.skipped:
        app.err.print(f"not enrolled {line}", markup=False)
    for line in report.problems:
        app.err.print(f"problem {line}", markup=False)
    click.echo(
        f"enrolled {report.enrolled}, skipped {len(report.skipped)}, drafted {report.drafted} "
        "into the review queue (nothing is sent until you approve)"
    )


@campaign.command("pause")
@click.argument("name")
@pass_app
def pause(app: App, name: str) -> None:
    """Pause a campaign: nothing of it is drafted or sent until it resumes.

    \b
    Example:
      outreach campaign pause backend-2026
    """
    campaigns.set_status(app.store, name, CampaignStatus.PAUSED)
    click.echo(f"paused {name}; `outreach campaign resume {name}` continues where it stopped")


@campaign.command("resume")
@click.argument("name")
@pass_app
def resume(app: App, name: str) -> None:
    """Resume a paused campaign where it stopped.

    \b
    Example:
      outreach campaign resume backend-2026
    """
    campaigns.set_status(app.store, name, CampaignStatus.ACTIVE)
    click.echo(f"resumed {name}")


@campaign.command("advance")
@pass_app
def advance(app: App) -> None:
    """Draft every follow-up that is due into the review queue.

    Also run at the end of `outreach sync` and by `outreach serve`.

    \b
    Example:
      outreach campaign advance
    """
    drafter = _drafter(app)

    async def run() -> Any:
        try:
            return await followups.advance(app.store, app.settings, drafter, now=app.clock())
        finally:
            await drafter.aclose()

    report = asyncio.run(run())
    for line in report.problems:
        app.err.print(f"problem {line}", markup=False)
    click.echo(
        f"drafted {report.drafted} follow-ups; scheduled {report.scheduled}, "
        f"completed {report.completed}, stopped {report.stopped}"
    )


@campaign.command("stats")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def stats(app: App, name: str, as_json: bool) -> None:
    """Show a campaign's numbers per step, and any failed or uncertain messages.

    \b
    Example:
      outreach campaign stats backend-2026 --json
    """
    result = campaign_stats.collect(app.store, name)
    if as_json:
        print_json({**result.as_dict(), "totals": result.totals})
        return
    app.console.print(f"[bold]{result.name}[/] — {result.status}", markup=True)
    app.console.print(
        f"enrolled {result.enrolled} (active {result.active}, held {result.held}), "
        f"bounced {result.bounced}, opted out {result.opted_out}; replies: "
        f"{result.human_replies} human ({result.positive_replies} positive), "
        f"{result.auto_replies} automatic; median time to reply: "
        f"{result.median_hours_to_reply if result.median_hours_to_reply is not None else '–'} h"
    )
    table = Table(
        "step",
        "template",
        "drafted",
        "approved",
        "edited",
        "rejected",
        "sent",
        "failed",
        "uncertain",
    )
    for s in result.steps:
        edited = f"{s.edited}" + (f" ({s.edit_amount:.0%})" if s.edit_amount else "")
        table.add_row(
            str(s.step + 1),
            s.template,
            str(s.drafted),
            str(s.approved),
            edited,
            str(s.rejected),
            str(s.sent),
            str(s.failed),
            str(s.uncertain),
        )
    app.console.print(table)
    for problem in result.problems:
        app.console.print(
            f"{problem['state']}: outbox {problem['outbox_id']} to {problem['email']} "
            f"(step {problem['step'] + 1}): {problem['reply']}",
            markup=False,
        )
