"""`outreach account …` through the real command line: add, connect, list, remove."""

from __future__ import annotations

import json
import os
import re
import stat
import subprocess
import sys
import threading
from pathlib import Path

import pytest
from click.testing import CliRunner

from outreach.cli import cli, main
from outreach.store import open_store
from tests.accounts_kit import consent, endpoints
from tests.services.oauth import CLIENT_SECRET, PUBLIC_ID, OAuthServer

SECRET = "app-password-9f2"
REPO = Path(__file__).resolve().parents[1]


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


def with_oauth_apps(workspace: Path, server: OAuthServer) -> None:
    """Fill config.toml's [google] and [microsoft] with the test authorization server's app."""
    google = endpoints(server)
    values = {"google": google, "microsoft": {**google, "client_id": PUBLIC_ID, "revoke_url": ""}}
    config = workspace / "config.toml"
    section, lines = "", []
    for line in config.read_text().splitlines():
        header = re.match(r"^\[(\w+)\]", line)
        section = header.group(1) if header else section
        key = line.split("=", 1)[0].strip()
        if section in values and key in values[section]:
            line = f'{key} = "{values[section][key]}"'
        lines.append(line)
    config.write_text("\n".join(lines) + "\n")


def accounts_json(capsys: pytest.CaptureFixture[str]) -> list[dict[str, object]]:
    code, out, _ = run(["account", "list", "--json"], capsys)
    assert code == 0
    rows: list[dict[str, object]] = json.loads(out)
    return rows


def test_add_a_generic_account_with_the_password_on_stdin(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    result = CliRunner().invoke(
        cli,
        ["account", "add", "team", "--provider", "imap", "--email", "Team@Nordlys.example",
         "--imap-host", "imap.nordlys.example", "--smtp-host", "smtp.nordlys.example",
         "--smtp-port", "465", "--smtp-security", "tls", "--password-stdin"],
        input=SECRET + "\n",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "added account team (Other IMAP/SMTP server, team@nordlys.example)" in result.output
    assert SECRET not in result.output
    [row] = accounts_json(capsys)
    assert row["name"] == "team" and row["state"] == "connected" and row["auth"] == "password"
    keys = Path(os.environ["OUTREACH_HOME"]) / "keys.toml"
    assert stat.S_IMODE(keys.stat().st_mode) == 0o600 and "accounts_key = " in keys.read_text()
    assert SECRET.encode() not in (workspace / "outreach.db").read_bytes()
    assert SECRET not in (workspace / "config.toml").read_text()


def test_a_password_is_never_an_argument(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(
        ["account", "add", "x", "--provider", "fastmail", "--email", "x@fastmail.example",
         "--password", SECRET],
        capsys,
    )  # fmt: skip
    assert code == 2 and "No such option '--password'" in err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["Maria!", "--provider", "gmail", "--email", "m@x.example"], "account name 'Maria!'"),
        (["x", "--provider", "imap", "--email", "m@x.example", "--no-connect"],
         "needs --imap-host and --smtp-host"),
        (["x", "--provider", "gmail", "--email", "not-an-address"], "is not an email address"),
        (["default", "--provider", "gmail", "--email", "m@x.example"], "stands for config.toml"),
        (["x", "--provider", "gmail", "--email", "m@x.example", "--password-stdin"],
         "does not sign in with a password"),
    ],
)  # fmt: skip
def test_bad_input_is_one_line(
    workspace: Path, capsys: pytest.CaptureFixture[str], args: list[str], message: str
) -> None:
    code, out, err = run(["account", "add", *args], capsys)
    assert code == 1 and message in err and err.count("\n") == 1
    assert accounts_json(capsys) == []


def test_gmail_without_a_registered_app_says_what_to_configure(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = run(
        ["account", "add", "maria", "--provider", "gmail", "--email", "maria@nordlys.example"],
        capsys,
    )
    assert code == 1
    assert "[google] client_id is empty in config.toml" in err and "docs/oauth.md" in err
    [row] = accounts_json(capsys)  # added; it can be connected once the app is registered
    assert row["state"] == "new" and row["daily_limit"] == 2000


def test_a_workspace_with_smtp_and_imap_lists_them_as_the_default_account(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = workspace / "config.toml"
    config.write_text(
        config.read_text()
        .replace('username = ""                  # password: env OUTREACH_SMTP',
                 'username = "maria@nordlys.example" # password: env OUTREACH_SMTP')
    )  # fmt: skip
    [row] = accounts_json(capsys)
    assert row["name"] == "default" and row["source"] == "config.toml"
    assert row["email"] == "recruiter@example.com" or "@" in str(row["email"])


def start_cli(workspace: Path, *args: str) -> subprocess.Popen[str]:
    """The command line as a person runs it, in its own process."""
    env = {**os.environ, "OUTREACH_GOOGLE_CLIENT_SECRET": CLIENT_SECRET, "PYTHONPATH": str(REPO)}
    return subprocess.Popen(
        [sys.executable, "-c", "from outreach.cli import main; main()", *args],
        cwd=workspace,
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_add_and_connect_through_the_browser_then_remove_revokes(
    workspace: Path,
    oauth_server: OAuthServer,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with_oauth_apps(workspace, oauth_server)
    monkeypatch.setenv("OUTREACH_GOOGLE_CLIENT_SECRET", CLIENT_SECRET)
    proc = start_cli(
        workspace, "account", "add", "maria", "--provider", "gmail",
        "--email", "maria@nordlys.example", "--no-connect",
    )  # fmt: skip
    assert proc.communicate(timeout=60) and proc.returncode == 0
    proc = start_cli(workspace, "account", "connect", "maria", "--no-browser")
    assert proc.stdout is not None
    url = ""
    while not url.startswith("http"):
        url = proc.stdout.readline().strip()
    page = consent(url, "maria@nordlys.example")
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    assert "You are signed in" in page.text and "connected maria" in out
    [row] = accounts_json(capsys)
    assert row["state"] == "connected" and row["token_expires"]

    code, out, _ = run(["account", "remove", "maria", "--yes"], capsys)
    assert code == 0 and "Google revoked the sign-in and it was deleted" in out
    assert all(token.revoked for token in oauth_server.tokens)
    assert accounts_json(capsys) == []
    store = open_store(f"sqlite:///{workspace / 'outreach.db'}")
    try:
        with store.engine.connect() as connection:
            from sqlalchemy import text

            actions = [r[0] for r in connection.execute(text("select action from events"))]
    finally:
        store.close()
    assert actions[-3:] == ["account.added", "account.connected", "account.removed"]


def test_device_sign_in_from_the_command_line(
    workspace: Path, oauth_server: OAuthServer, capsys: pytest.CaptureFixture[str]
) -> None:
    with_oauth_apps(workspace, oauth_server)
    proc = start_cli(
        workspace, "account", "add", "jobs", "--provider", "microsoft",
        "--email", "jobs@nordlys.example", "--device",
    )  # fmt: skip

    def person() -> None:  # reads the code on the terminal, enters it on a phone
        assert proc.stdout is not None
        for line in proc.stdout:
            found = re.search(r"open (\S+) and enter the code (\S+)", line)
            if found:
                oauth_server.approve_device(found.group(2), "jobs@nordlys.example")
                return

    helper = threading.Thread(target=person)
    helper.start()
    helper.join(60)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, err
    [row] = accounts_json(capsys)
    assert row["provider"] == "microsoft" and row["state"] == "connected"
    assert row["per_minute_limit"] == 30
    code, out, _ = run(["account", "remove", "jobs", "--yes"], capsys)
    assert "Microsoft offers apps no way to revoke a sign-in" in out
