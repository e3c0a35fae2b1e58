"""The command line: click groups over the core functions; the only place an event loop starts."""

from __future__ import annotations

import sys

import click

from outreach.cli.root import cli
from outreach.errors import OutreachError


def main(argv: list[str] | None = None) -> None:
    """Run the command line; user errors print one line and exit 1, never a traceback."""
    try:
        result = cli.main(args=argv, prog_name="outreach", standalone_mode=False)
    except OutreachError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        sys.exit(1)
    except click.exceptions.Exit as exc:
        sys.exit(exc.exit_code)
    except click.ClickException as exc:
        exc.show()
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        click.echo("interrupted", err=True)
        sys.exit(130)
    # Without standalone mode click returns the code of a command's `Exit` instead of exiting.
    if isinstance(result, int) and result:
        sys.exit(result)


__all__ = ["cli", "main"]
