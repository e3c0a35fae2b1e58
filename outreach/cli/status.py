"""`outreach status`: whether the background work of `outreach serve` is healthy."""

from __future__ import annotations

import click

from outreach.cli.context import App, pass_app, print_json
from outreach.jobs import health
from outreach.store.models import utcnow


@click.command()
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@pass_app
def status(app: App, as_json: bool) -> None:
    """Show the sender, inbox sync and campaign scheduler of `outreach serve`, one line each.

    Each line says when the loop last did its work, or since when it has been failing, with
    the error and when it tries again. Exits 1 when one of them is failing, or when the server
    that ran it ended without stopping it; 0 otherwise.

    \b
    Example:
      outreach status
      outreach status --json   (for monitoring)
    """
    statuses = health.statuses(app.store, now=utcnow())
    if as_json:
        print_json([item.as_dict() for item in statuses])
    else:
        for item in statuses:
            app.console.print(item.line, markup=False)
    if not all(item.healthy for item in statuses):
        click.get_current_context().exit(1)
