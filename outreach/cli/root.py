"""The root command and its groups."""

from __future__ import annotations

from pathlib import Path

import click

from outreach import __version__
from outreach.cli.accounts import account_group
from outreach.cli.campaigns import campaign
from outreach.cli.candidates import candidates
from outreach.cli.context import App
from outreach.cli.drafting import draft, feedback, llm_group, templates
from outreach.cli.inbox import conversations, sync
from outreach.cli.reply import reply
from outreach.cli.review import queue_group
from outreach.cli.sending import outbox, send
from outreach.cli.status import status
from outreach.cli.web import serve, user_group
from outreach.cli.workspace import config_group, demo, init


@click.group(context_settings={"help_option_names": ["-h", "--help"], "max_content_width": 100})
@click.version_option(__version__, prog_name="outreach")
@click.option(
    "--config",
    "config_path",
    type=click.Path(dir_okay=False, path_type=Path),
    envvar="OUTREACH_CONFIG",
    help="config.toml to use (default: ./config.toml, or $OUTREACH_CONFIG).",
)
@click.pass_context
def cli(ctx: click.Context, config_path: Path | None) -> None:
    """Draft personal recruiting mail, review every draft, send each exactly once.

    \b
    Example:
      outreach init my-workspace && cd my-workspace
      outreach candidates import candidates.csv --tag backend
    """
    app = App(config_path=config_path)
    ctx.obj = app
    ctx.call_on_close(app.close)


cli.add_command(init)
cli.add_command(demo)
cli.add_command(config_group)
cli.add_command(candidates)
cli.add_command(templates)
cli.add_command(draft)
cli.add_command(feedback)
cli.add_command(llm_group)
cli.add_command(send)
cli.add_command(outbox)
cli.add_command(sync)
cli.add_command(conversations)
cli.add_command(reply)
cli.add_command(queue_group)
cli.add_command(serve)
cli.add_command(status)
cli.add_command(user_group)
cli.add_command(campaign)
cli.add_command(account_group)
