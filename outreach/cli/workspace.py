"""`outreach init`, `outreach demo` and `outreach config check`."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

import click

from outreach import users
from outreach.cli.context import App, pass_app
from outreach.config import (
    CONFIG_NAME,
    Settings,
    database_password,
    imap_password,
    load_config,
    smtp_password,
)
from outreach.errors import OutreachError
from outreach.store import open_store

STARTER = resources.files("outreach") / "starter"


def write_workspace(directory: Path) -> list[str]:
    """Write config.toml, templates/ and the database into directory; never overwrite a file."""
    directory.mkdir(parents=True, exist_ok=True)
    written: list[str] = []
    config = directory / CONFIG_NAME
    if not config.exists():
        config.write_text((STARTER / CONFIG_NAME).read_text(encoding="utf-8"), encoding="utf-8")
        written.append(CONFIG_NAME)
    templates = directory / "templates"
    templates.mkdir(exist_ok=True)
    for item in sorted((STARTER / "templates").iterdir(), key=lambda t: t.name):
        target = templates / item.name
        if item.name.endswith((".j2", ".txt")) and not target.exists():
            target.write_text(item.read_text(encoding="utf-8"), encoding="utf-8")
            written.append(f"templates/{item.name}")
    settings = load_config(config)
    open_store(settings.database_url, password=database_password()).close()
    return written


def create_first_user(settings: Settings, username: str) -> str | None:
    """Add the first web user with a generated password, returned once; None if users exist."""
    store = open_store(settings.database_url, password=database_password())
    try:
        with store.session() as session:
            if users.count_users(session):
                return None
            password = users.generate_password()
            users.add_user(session, username, password, actor=users.Automation.INIT)
            return password
    finally:
        store.close()


@click.command()
@click.argument("directory", type=click.Path(file_okay=False, path_type=Path), default=".")
@click.option("--user", "username", default="admin", show_default=True, help="First web user.")
def init(directory: Path, username: str) -> None:
    """Create a workspace: config.toml, starter templates, the database and the first user.

    Existing files are never overwritten; running it again only adds what is missing.
    The first web user's password is generated and printed once.

    \b
    Example:
      outreach init my-workspace
    """
    written = write_workspace(directory)
    for name in written:
        click.echo(f"wrote {directory / name}")
    if not written:
        click.echo(f"{directory} already has everything; nothing overwritten")
    click.echo(f"database ready; next: edit {directory / CONFIG_NAME}, then import candidates")
    login = create_first_user(load_config(directory / CONFIG_NAME), username)
    if login:
        click.echo(f"web login: {username} / {login} (shown once; `outreach user password` resets)")


@click.command()
@click.option(
    "--dir",
    "directory",
    type=click.Path(file_okay=False, path_type=Path),
    default=Path("demo"),
    show_default=True,
    help="Where to build the demo workspace.",
)
@click.option("--fresh", is_flag=True, help="Delete an earlier demo workspace first.")
@click.option(
    "--no-serve", is_flag=True, help="Build and show the demo, but don't start the web UI."
)
@click.pass_context
def demo(ctx: click.Context, directory: Path, fresh: bool, no_serve: bool) -> None:
    """Build a demo workspace on embedded defaults and show what outreach does.

    Fictional candidates, the starter templates and SQLite; nothing leaves this machine.

    \b
    Example:
      outreach demo --fresh
    """
    from outreach.cli.demo import run_demo

    if fresh and directory.exists():
        shutil.rmtree(directory)
    write_workspace(directory)
    app: App = ctx.obj
    run_demo(app, directory, serve=not no_serve)


@click.group("config")
def config_group() -> None:
    """Check the configuration.

    \b
    Example:
      outreach config check
    """


@config_group.command("check")
@click.option("--offline", is_flag=True, help="Only validate; do not contact any server.")
@pass_app
def check(app: App, offline: bool) -> None:
    """Validate config.toml and report what outreach can reach (SMTP, IMAP, the model).

    \b
    Example:
      outreach --config ~/outreach/config.toml config check
    """
    settings = app.settings
    click.echo(f"config: ok ({app.config_path or CONFIG_NAME})")
    problems = 0
    try:
        backend = app.store.engine.dialect.name
        click.echo(f"database: ok ({backend})")
    except OutreachError as exc:
        click.echo(f"database: FAILED: {exc}")
        problems += 1
    templates = settings.templates_dir
    count = len(list(templates.glob("*.j2"))) if templates.is_dir() else 0
    click.echo(f"templates: {count} in {templates}" if count else f"templates: none in {templates}")
    problems += count == 0
    if settings.smtp.username and not (smtp_password() or settings.smtp.oauth2_token_command):
        click.echo(
            "smtp: no password; set OUTREACH_SMTP_PASSWORD or smtp_password in the keys file"
        )
        problems += 1
    if settings.imap.host and not (imap_password() or settings.imap.oauth2_token_command):
        click.echo(
            "imap: no password; set OUTREACH_IMAP_PASSWORD or imap_password in the keys file"
        )
        problems += 1
    if not offline:
        from outreach.cli.reach import probe_mailbox, probe_model, probe_smtp

        for probe in (probe_smtp(settings), probe_mailbox(settings), probe_model(settings)):
            if probe is not None:
                click.echo(f"{probe.name}: {'ok' if probe.ok else 'FAILED'}: {probe.detail}")
                problems += not probe.ok
    if problems:
        raise click.exceptions.Exit(1)


__all__ = ["check", "config_group", "demo", "init", "load_config", "write_workspace"]
