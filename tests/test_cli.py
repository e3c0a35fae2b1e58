"""The command line: one-line errors, exit codes, help with examples, and the README."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import click
import pytest
from click.testing import CliRunner

from outreach import __version__
from outreach.cli import cli, main
from tests.config_kit import configure

REPO = Path(__file__).resolve().parents[1]


def all_commands(group: click.Group, prefix: str = "outreach") -> list[tuple[str, click.Command]]:
    found = []
    for name, command in sorted(group.commands.items()):
        path = f"{prefix} {name}"
        found.append((path, command))
        if isinstance(command, click.Group):
            found += all_commands(command, path)
    return found


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.mark.parametrize("path_and_command", all_commands(cli), ids=lambda pc: pc[0])
def test_every_command_has_help_with_an_example_and_is_in_the_readme(
    path_and_command: tuple[str, click.Command],
) -> None:
    path, command = path_and_command
    assert command.help and "Example" in command.help, f"{path} lacks help with an example"
    assert path in (REPO / "README.md").read_text(), f"README.md does not show `{path}`"


def test_version_and_help() -> None:
    result = CliRunner().invoke(cli, ["--version"])
    assert result.output.strip() == f"outreach, version {__version__}"
    result = CliRunner().invoke(cli, ["--help"])
    assert "candidates" in result.output and "config" in result.output


def test_missing_config_is_one_line_exit_1(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(tmp_path)
    code, _, err = run(["candidates", "list"], capsys)
    assert code == 1
    assert err.count("\n") == 1 and "Traceback" not in err
    assert "config.toml: no such file; run `outreach init`" in err


def test_usage_error_exits_2(workspace: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run(["candidates", "import"], capsys)
    assert code == 2 and "Missing argument" in err


def test_init_never_overwrites(tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(cli, ["init", str(tmp_path / "ws")])
    assert result.exit_code == 0, result.output
    config = tmp_path / "ws" / "config.toml"
    assert config.exists() and (tmp_path / "ws" / "outreach.db").exists()
    config.write_text(config.read_text() + "\n# mine\n")
    again = runner.invoke(cli, ["init", str(tmp_path / "ws")])
    assert "nothing overwritten" in again.output
    assert config.read_text().endswith("# mine\n")


def test_import_list_show_forget_through_the_cli(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    people = workspace / "people.csv"
    people.write_text("email,name,company\njamie@paywise.example,Jamie Lind,Paywise\nbad,Bad,X\n")
    code, out, err = run(["candidates", "import", str(people), "--tag", "backend"], capsys)
    assert code == 1
    assert f"{people}, line 3: 'bad' is not a valid email address" in err
    assert "imported: 1 new" in out
    code, out, _ = run(["candidates", "list", "--json"], capsys)
    rows = json.loads(out)
    assert [(r["email"], r["tags"]) for r in rows] == [("jamie@paywise.example", ["backend"])]
    code, out, _ = run(["candidates", "show", "jamie@paywise.example"], capsys)
    assert "Paywise" in out
    code, out, _ = run(["candidates", "forget", "jamie@paywise.example", "--yes"], capsys)
    assert code == 0 and "the address is suppressed" in out
    code, _, err = run(["candidates", "show", "jamie@paywise.example"], capsys)
    assert code == 1 and "no candidate with email jamie@paywise.example" in err


def test_secret_in_config_is_refused_by_the_cli(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    config = workspace / "config.toml"
    config.write_text(
        config.read_text().replace('username = ""', 'username = ""\npassword = "pw"', 1)
    )
    code, _, err = run(["config", "check"], capsys)
    assert code == 1 and "smtp.password: secrets don't belong in config.toml" in err
    assert 'pw"' not in err


def test_config_check_reports_database_and_templates(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = run(["config", "check", "--offline"], capsys)
    assert "config: ok" in out and "database: ok (sqlite)" in out
    assert "templates: 8 in" in out and code == 0


def test_config_check_reaches_smtp_imap_and_the_model(
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
    smtp_capture: Any,
    dovecot: Any,
    llm_server: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    user = dovecot.new_user()
    configure(
        workspace,
        smtp={"host": "127.0.0.1", "port": smtp_capture.port, "security": "none"},
        imap={"host": dovecot.host, "port": dovecot.port, "security": "none", "username": user},
        llm={"provider": "openai", "base_url": llm_server.base_url},
    )
    code, out, _ = run(["config", "check"], capsys)
    assert f"smtp: ok: 127.0.0.1:{smtp_capture.port}" in out
    assert "imap: ok:" in out and "INBOX" in out and "Sent" in out
    assert "llm: FAILED:" in out and "1 models; 'gpt-4o-mini' is not among them" in out
    configure(workspace, llm={"model": "fake-model"})
    code, out, _ = run(["config", "check"], capsys)
    assert "llm: ok:" in out and code == 0, out
    configure(workspace, smtp={"port": 9})
    code, out, _ = run(["config", "check"], capsys)
    assert code == 1 and "smtp: FAILED: cannot reach 127.0.0.1:9" in out
    assert dovecot.password not in out


def test_newer_database_is_refused_by_the_cli(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import sqlite3

    with sqlite3.connect(workspace / "outreach.db") as connection:
        connection.execute("update alembic_version set version_num = 'ffff'")
    code, _, err = run(["candidates", "list"], capsys)
    assert code == 1 and "newer than this outreach knows" in err


def test_demo_runs_the_whole_loop(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    folder = tmp_path / "demo"
    code, out, _ = run(["demo", "--dir", str(folder), "--fresh", "--no-serve"], capsys)
    assert code == 0, out
    assert "5 imported" in out and "4 enrolled" in out
    assert "Sent: 4 messages" in out and len(list((folder / "sent-mail").glob("*.eml"))) == 4
    assert "0001.eml: to Jamie Lind <jamie.lind@paywise.example> — Senior Backend Engineer" in out
    assert "1 new reply, 1 bounce, 1 auto-reply" in out
    assert "Jamie Lind: needs response" in out
    assert "A week later: 2 follow-ups drafted" in out
    # The rest waits for a person: the feedback draft and the two follow-ups.
    code, out, _ = run(["--config", str(folder / "config.toml"), "queue", "list", "--json"], capsys)
    pending = json.loads(out)["items"]
    assert sorted(d["kind"] for d in pending) == ["feedback", "follow_up", "follow_up"]
