"""`outreach serve` and `outreach user …`: the web UI and the reviewers who log in to it."""

from __future__ import annotations

import logging
import sys

import click

from outreach import users
from outreach.cli.context import App, pass_app
from outreach.config import is_loopback
from outreach.errors import InputError

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def check_bind(host: str, port: int, *, public: bool) -> str | None:
    """Refuse a non-loopback address without --public; with it, the TLS warning to print."""
    if is_loopback(host):
        return None
    if not public:
        raise InputError(
            f"--host {host} would expose the review queue to the network; "
            "pass --public if you mean it (and put HTTPS in front)"
        )
    return (
        f"serving on {host}:{port} over plain HTTP; passwords and sessions travel unencrypted "
        "unless a TLS proxy (e.g. Caddy, nginx) sits in front; then add --secure-cookies"
    )


@click.command()
@click.option("--host", help="Address to listen on (default: [web] host, 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default: [web] port, 8000).")
@click.option(
    "--public", is_flag=True, help="Allow an address other than loopback (put HTTPS in front)."
)
@click.option("--secure-cookies", is_flag=True, help="Send the session cookie over HTTPS only.")
@pass_app
def serve(app: App, host: str | None, port: int | None, public: bool, secure_cookies: bool) -> None:
    """Serve the review queue (web UI and JSON API) on 127.0.0.1:8000.

    Log in with the user `outreach init` created. Binding another address needs --public,
    and the server itself speaks plain HTTP: put a TLS proxy in front of it.

    \b
    Example:
      outreach serve --port 8080
    """
    import uvicorn

    from outreach.jobs.loops import serve_jobs
    from outreach.web import create_app

    settings = app.settings
    host = host or settings.web.host
    port = port or settings.web.port
    warning = check_bind(host, port, public=public)
    if warning:
        click.echo(f"warning: {warning}", err=True)
    with app.store.session() as session:
        if users.count_users(session) == 0:
            app.warn("no users yet; add one with `outreach user add NAME`")
    # The background loops log what they do and every failure (with its traceback) here.
    logging.basicConfig(level=logging.INFO, format=LOG_FORMAT)
    web = create_app(
        settings,
        app.store,
        secure_cookies=secure_cookies,
        background=serve_jobs(settings, app.store, clock=app.clock),
        clock=app.clock,
    )
    click.echo(f"outreach: http://{host}:{port}/ (Ctrl-C to stop)")
    # X-Forwarded-For is believed only behind --public, where a TLS proxy sits in front: on
    # loopback any local process could send it and pass for another address (sign-in throttle).
    uvicorn.run(
        web, host=host, port=port, log_level="warning", server_header=False, proxy_headers=public
    )


@click.group("user")
def user_group() -> None:
    """Manage the reviewers who log in to the web UI.

    \b
    Example:
      outreach user add lena
    """


def _read_password(name: str, password_stdin: bool) -> tuple[str, bool]:
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n"), False
    return users.generate_password(), True


@user_group.command("add")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@pass_app
def add(app: App, name: str, password_stdin: bool) -> None:
    """Add a reviewer; prints a generated password once unless you give one on stdin.

    \b
    Example:
      outreach user add lena
      printf '%s\\n' "$PASSWORD" | outreach user add lena --password-stdin
    """
    password, generated = _read_password(name, password_stdin)
    with app.store.session() as session:
        users.add_user(session, name, password)
    click.echo(f"added user {name}")
    if generated:
        click.echo(f"password (shown once): {password}")


@user_group.command("password")
@click.argument("name")
@click.option("--password-stdin", is_flag=True, help="Read the new password from stdin.")
@pass_app
def password(app: App, name: str, password_stdin: bool) -> None:
    """Set a new password (a generated one unless given on stdin); ends the user's sessions.

    The user's API tokens stop working too.

    \b
    Example:
      outreach user password lena
    """
    new, generated = _read_password(name, password_stdin)
    with app.store.session() as session:
        users.set_password(session, name, new)
    click.echo(f"new password for {name}" + (f" (shown once): {new}" if generated else ""))


@user_group.command("remove")
@click.argument("name")
@pass_app
def remove(app: App, name: str) -> None:
    """Remove a reviewer: their web sessions end at once and their API tokens stop working.

    \b
    Example:
      outreach user remove lena
    """
    with app.store.session() as session:
        users.remove_user(session, name)
    click.echo(f"removed user {name}; their sessions and tokens no longer work")


@user_group.command("token")
@click.argument("name")
@pass_app
def token(app: App, name: str) -> None:
    """Print an API token for scripts: send it as `Authorization: Bearer TOKEN`.

    \b
    Example:
      curl -H "Authorization: Bearer $(outreach user token maria)" localhost:8000/api/drafts
    """
    key = users.web_secret()
    with app.store.session() as session:
        click.echo(users.issue_token(session, key, name))
