"""Credentials inside URLs: refused in config.toml, and never shown by messages or AI call rows."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from outreach.cli import cli
from outreach.cli.workspace import write_workspace
from outreach.config import database_password, load_config
from outreach.drafting.drafter import Drafter, DraftSpec
from outreach.drafting.llm import LLMCallError, LLMClient
from outreach.errors import ConfigError, StoreError
from outreach.store import Store, open_store
from outreach.store.models import AICall, Candidate
from tests.config_kit import configure
from tests.llm_server import FakeLLMServer, ok, status

SECRET = "hunter2"


@pytest.mark.parametrize(
    ("section", "key", "url", "found", "home"),
    [
        (
            "database",
            "url",
            f"postgresql://maria:{SECRET}@db.example/outreach",
            "a password in the URL",
            "OUTREACH_DATABASE_PASSWORD, or put database_password in",
        ),
        (
            "database",
            "url",
            f"postgresql+psycopg://maria@db.example/outreach?password={SECRET}",
            "the 'password' parameter in the URL",
            "libpq's PGPASSWORD or ~/.pgpass",
        ),
        (
            "llm",
            "base_url",
            f"https://proxy:{SECRET}@llm.example/v1",
            "a password in the URL",
            "the variable named by llm.api_key_env, or put llm_api_key in",
        ),
        (
            "llm",
            "base_url",
            f"http://127.0.0.1:8080/v1?api_key={SECRET}",
            "the 'api_key' parameter in the URL",
            "llm_api_key",
        ),
    ],
)
def test_a_secret_inside_a_url_in_config_toml_is_refused(
    tmp_path: Path, section: str, key: str, url: str, found: str, home: str
) -> None:
    path = tmp_path / "config.toml"
    path.write_text(f'[sender]\nname = "M"\n\n[{section}]\n{key} = "{url}"\n')
    with pytest.raises(ConfigError) as info:
        load_config(path)
    message = str(info.value)
    assert message.startswith(f"{path}, line 5: {section}.{key}: {found} doesn't belong in ")
    assert home in message and "(mode 0600)" in message
    assert SECRET not in message and "\n" not in message


def test_urls_without_secrets_are_accepted(tmp_path: Path) -> None:
    path = tmp_path / "config.toml"
    path.write_text(
        '[database]\nurl = "postgresql+psycopg://maria@db.example/outreach?sslmode=require"\n'
        '[llm]\nbase_url = "http://127.0.0.1:11434/v1"\n'
    )
    settings = load_config(path)
    assert settings.database.url.endswith("?sslmode=require")


def test_the_database_password_comes_from_the_environment_or_the_keys_file(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    assert database_password() is None
    keys = Path(os.environ["OUTREACH_HOME"]) / "keys.toml"
    keys.write_text(f'database_password = "{SECRET}"\n')
    keys.chmod(0o600)
    assert database_password() == SECRET
    monkeypatch.setenv("OUTREACH_DATABASE_PASSWORD", "from-env")
    assert database_password() == "from-env"


@pytest.mark.postgres
def test_the_store_logs_in_with_the_password_and_never_shows_it(pg_url: str) -> None:
    store = open_store(pg_url, password=SECRET)
    try:
        assert store.engine.url.password == SECRET
        assert SECRET not in str(store.engine.url)
        assert store.salt()
    finally:
        store.close()
    unreachable = "postgresql+psycopg://maria@127.0.0.1:1/outreach"
    with pytest.raises(StoreError) as info:
        open_store(unreachable, password=SECRET)
    assert "cannot open the database" in str(info.value) and SECRET not in str(info.value)
    with pytest.raises(StoreError) as info:
        open_store(f"postgresql+psycopg://maria:{SECRET}@127.0.0.1:1/outreach")
    assert SECRET not in str(info.value)


@pytest.mark.postgres
def test_a_command_on_postgresql_runs_with_the_password_from_the_environment(
    tmp_path: Path, pg_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "ws"
    write_workspace(folder)
    configure(folder, database={"url": pg_url})
    monkeypatch.chdir(folder)
    monkeypatch.setenv("OUTREACH_DATABASE_PASSWORD", SECRET)
    (folder / "people.csv").write_text("email,name\nanna@example.com,Anna\n")
    result = CliRunner().invoke(cli, ["candidates", "import", "people.csv"])
    assert result.exit_code == 0, result.output
    assert SECRET not in result.output


async def test_model_errors_and_ai_call_rows_never_show_a_url_password(
    store: Store, llm_server: FakeLLMServer, workspace: Path
) -> None:
    url = llm_server.base_url.replace("http://", f"http://proxy:{SECRET}@")
    settings = load_config(workspace / "config.toml")
    with store.session() as session:
        session.add(Candidate(email="anna@example.com", name="Anna", achievements=["Ledger"]))
    llm = LLMClient(model="test-model", base_url=url, api_key="k", max_attempts=1)
    drafter = Drafter(settings, store, llm=llm)
    llm_server.push(ok({"hook": "You built the ledger.", "why": "It fits."}), status(404))
    try:
        report = await drafter.draft_many(["anna@example.com"], DraftSpec(template="intro"))
        assert report.drafted and not report.failed
        with pytest.raises(LLMCallError) as info:
            await llm.complete_json(
                [{"role": "user", "content": "hi"}], {"type": "object"}, name="x"
            )
    finally:
        await drafter.aclose()
    assert SECRET not in str(info.value) and SECRET not in str(info.value.call.error)
    assert info.value.call.base_url == llm.base_url == url.replace(SECRET, "***")
    with store.session() as session:
        rows = session.scalars(select(AICall)).all()
    assert rows and all(SECRET not in row.base_url for row in rows)
    assert rows[0].base_url == url.replace(SECRET, "***")
