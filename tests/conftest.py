"""Shared fixtures: workspaces and stores on SQLite files and on the PostgreSQL server."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import OperationalError

from outreach.store import Store, open_store
from tests.services import missing

pytest_plugins = [
    "tests.llm_server",
    "tests.services.llama",
    "tests.services.dovecot",
    "tests.services.smtp",
    "tests.services.oauth_http",
    "tests.services.oauth_mail",
]

PG_ADMIN_URL = os.environ.get(
    "OUTREACH_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"


@pytest.fixture(autouse=True)
def _isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Keep every test away from the real ~/.outreach and the caller's secrets."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv("OUTREACH_HOME", str(home))
    for name in (
        "OUTREACH_CONFIG",
        "OUTREACH_SMTP_PASSWORD",
        "OUTREACH_IMAP_PASSWORD",
        "OUTREACH_DATABASE_PASSWORD",
        "OUTREACH_NOW",
    ):
        monkeypatch.delenv(name, raising=False)


@pytest.fixture(scope="session")
def pg_admin() -> Iterator[str]:
    """The PostgreSQL server's URL, or a skip (a failure under CI=true) when it is not there."""
    engine = create_engine(PG_ADMIN_URL)
    try:
        with engine.connect() as connection:
            connection.execute(text("select 1"))
    except OperationalError as exc:
        missing(f"PostgreSQL not reachable at {PG_ADMIN_URL}: {exc.orig}")
    finally:
        engine.dispose()
    yield PG_ADMIN_URL


@pytest.fixture
def pg_url(pg_admin: str) -> Iterator[str]:
    """A URL whose search_path is a fresh schema, dropped after the test."""
    schema = f"t_{uuid.uuid4().hex[:12]}"
    engine = create_engine(pg_admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text(f'CREATE SCHEMA "{schema}"'))
    yield f"{pg_admin}?options=-csearch_path%3D{schema}"
    with engine.connect() as connection:
        connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A database URL on each engine: a SQLite file, and a PostgreSQL schema."""
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'outreach.db'}"
    url: str = request.getfixturevalue("pg_url")
    return url


@pytest.fixture
def store(db_url: str) -> Iterator[Store]:
    """An opened, migrated store on each engine."""
    opened = open_store(db_url)
    yield opened
    opened.close()


@pytest.fixture
def workspace(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh `outreach init` workspace as the current folder."""
    from outreach.cli.workspace import write_workspace

    folder = tmp_path / "ws"
    write_workspace(folder)
    monkeypatch.chdir(folder)
    return folder
