"""`outreach account …`: the mailboxes outreach signs in to."""

from __future__ import annotations

import sys
import webbrowser
from datetime import datetime

import click
from rich.table import Table

from outreach.accounts import records, service
from outreach.accounts.presets import PRESETS, preset
from outreach.accounts.records import Servers
from outreach.cli.context import App, pass_app, print_json
from outreach.errors import InputError

SECURITY = click.Choice(["tls", "starttls", "none"])


@click.group("account")
def account_group() -> None:
    """Add, sign in to, list and remove the mailboxes outreach sends and syncs with.

    \b
    Example:
      outreach account add maria --provider gmail --email maria@nordlys.example
      outreach account list
    """


def _read_password(password_stdin: bool, email: str) -> str:
    if password_stdin:
        password = sys.stdin.readline().rstrip("\r\n")
    else:
        password = click.prompt(f"password for {email}", hide_input=True)
    if not password:
        raise InputError("the password is empty; give it on the prompt or with --password-stdin")
    return password


@account_group.command("add")
@click.argument("name")
@click.option(
    "--provider", type=click.Choice(list(PRESETS)), required=True, help="Which kind of mailbox."
)
@click.option("--email", required=True, help="The address mail is sent from.")
@click.option("--no-connect", is_flag=True, help="Add it now, sign in later (`account connect`).")
@click.option("--device", is_flag=True, help="Sign in with a code on another device.")
@click.option("--imap-host", default="", help="IMAP server (required for --provider imap).")
@click.option("--imap-port", type=int, default=None, help="IMAP port (default 993).")
@click.option("--imap-security", type=SECURITY, default=None, help="IMAP: tls, starttls or none.")
@click.option("--smtp-host", default="", help="SMTP server (required for --provider imap).")
@click.option("--smtp-port", type=int, default=None, help="SMTP port (default 587).")
@click.option("--smtp-security", type=SECURITY, default=None, help="SMTP: tls, starttls or none.")
@click.option("--username", default="", help="Login name, if not the address.")
@click.option("--password-stdin", is_flag=True, help="Read the password from stdin.")
@click.option(
    "--oauth2-token-command", default="", help="A command printing an OAuth2 token (generic)."
)
@pass_app
def add(
    app: App,
    name: str,
    provider: str,
    email: str,
    no_connect: bool,
    device: bool,
    imap_host: str,
    imap_port: int | None,
    imap_security: str | None,
    smtp_host: str,
    smtp_port: int | None,
    smtp_security: str | None,
    username: str,
    password_stdin: bool,
    oauth2_token_command: str,
) -> None:
    """Add a mailbox from a provider preset; Google and Microsoft then open the sign-in.

    Presets fill the servers, folders and sending limits. A password (Fastmail app password,
    or a generic server's) is asked for on a prompt or read with --password-stdin, never
    taken as an argument, and stored encrypted.

    \b
    Example:
      outreach account add maria --provider gmail --email maria@nordlys.example
      outreach account add jobs --provider microsoft --email jobs@nordlys.example --device
      printf '%s\\n' "$PW" | outreach account add team --provider imap \\
          --email team@nordlys.example --imap-host imap.nordlys.example \\
          --smtp-host smtp.nordlys.example --password-stdin
    """
    found = preset(provider)
    servers = Servers(
        imap_host=imap_host,
        imap_port=imap_port,
        imap_security=imap_security or "",
        smtp_host=smtp_host,
        smtp_port=smtp_port,
        smtp_security=smtp_security or "",
        username=username,
    )
    wants_password = found.auth == "password" and not oauth2_token_command
    if password_stdin and not wants_password:
        raise InputError(
            f"{found.label} does not sign in with a password: leave out --password-stdin"
        )
    if wants_password and no_connect and password_stdin:
        raise InputError("--no-connect adds it without a password; leave out --password-stdin")
    password = _read_password(password_stdin, email) if wants_password and not no_connect else None
    with app.store.session() as session:
        account = records.add_account(
            session,
            name,
            provider=provider,
            email=email,
            servers=servers,
            password=password,
            token_command=oauth2_token_command,
        )
        auth, email = account.auth, account.email
    click.echo(f"added account {name} ({found.label}, {email})")
    if auth == "oauth2":
        if no_connect:
            click.echo(f"sign in later with: outreach account connect {name}")
        else:
            _connect(app, name, device=device, port=0, browser=True)


def _connect(app: App, name: str, *, device: bool, port: int, browser: bool) -> None:
    def open_url(url: str) -> None:
        click.echo("Open this page to sign in (waiting for you to finish there):")
        click.echo(f"  {url}")
        if browser:
            webbrowser.open(url)

    def show_code(url: str, code: str) -> None:
        click.echo(f"On any device, open {url} and enter the code {code}")

    now = app.clock
    account = service.connect(
        app.store,
        app.settings,
        name,
        device=device,
        port=port,
        open_url=open_url,
        show_code=show_code,
        now=now,
    )
    click.echo(f"connected {name} ({account.email})")


@account_group.command("connect")
@click.argument("name")
@click.option("--device", is_flag=True, help="Sign in with a code on another device.")
@click.option(
    "--port", type=int, default=0, help="Listen for the sign-in on this port (SSH forwarding)."
)
@click.option("--no-browser", is_flag=True, help="Print the sign-in page, don't open it.")
@click.option("--password-stdin", is_flag=True, help="Password accounts: read it from stdin.")
@pass_app
def connect(
    app: App, name: str, device: bool, port: int, no_browser: bool, password_stdin: bool
) -> None:
    """Sign in again (or for the first time): Google or Microsoft, or a new password.

    Run it when outreach says a saved sign-in was refused. On a machine without a browser,
    use --device (Microsoft), or forward a port over SSH and pass --port (Google).

    \b
    Example:
      outreach account connect maria
      ssh -L 8765:127.0.0.1:8765 server   then   outreach account connect maria --port 8765
    """
    with app.store.session() as session:
        account = records.get_account(session, name)
        auth, email = account.auth, account.email
    if auth == "password":
        service.set_password(app.store, name, _read_password(password_stdin, email))
        click.echo(f"saved the new password for {name}")
        return
    _connect(app, name, device=device, port=port, browser=not no_browser)


@account_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print the accounts as JSON.")
@pass_app
def list_accounts(app: App, as_json: bool) -> None:
    """Show each account: provider, sign-in state, token expiry, last sync and send.

    \b
    Example:
      outreach account list --json
    """
    rows = service.statuses(app.store, app.settings)
    if as_json:
        print_json([row.as_dict() for row in rows])
        return
    if not rows:
        click.echo("no accounts; add one with `outreach account add`")
        return
    table = Table("name", "provider", "address", "state", "token expires", "last sync",
                  "last send", box=None)  # fmt: skip
    for row in rows:
        state = row.state if not row.problem else f"{row.state}: {row.problem}"
        table.add_row(
            row.name, row.provider, row.email, state, _when(row.token_expires),
            _when(row.last_sync), _when(row.last_send),
        )  # fmt: skip
    app.console.print(table)


def _when(value: datetime | None) -> str:
    return value.strftime("%Y-%m-%d %H:%M") if value else "-"


@account_group.command("remove")
@click.argument("name")
@click.option("--yes", is_flag=True, help="Don't ask for confirmation.")
@pass_app
def remove(app: App, name: str, yes: bool) -> None:
    """Remove an account: revoke its sign-in where the provider allows, delete its secrets.

    \b
    Example:
      outreach account remove maria --yes
    """
    if not yes:
        click.confirm(f"remove account {name} and its saved sign-in?", abort=True)
    said = service.remove(app.store, app.settings, name)
    click.echo(f"removed account {name}: {said}")
