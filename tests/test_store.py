"""The store on SQLite and PostgreSQL: migrations, salt, a too-new schema and open files refused."""

from __future__ import annotations

import hashlib
import os
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path

import pytest
from alembic import command
from alembic.script import ScriptDirectory
from sqlalchemy import select, text, update

from outreach.cli import main
from outreach.errors import StoreError
from outreach.review import queue
from outreach.sending import freezing
from outreach.store import Store, open_store
from outreach.store.engine import alembic_config
from outreach.store.locks import exclusive
from outreach.store.models import Candidate, Draft, Event, OutboxEntry
from tests import outbox_kit as kit


def test_migrated_schema_has_every_table(store: Store) -> None:
    with store.session() as session:
        version = session.execute(text("select version_num from alembic_version")).scalar_one()
    heads = ScriptDirectory.from_config(alembic_config(store.engine)).get_heads()
    assert [version] == heads
    with store.engine.connect() as connection:
        names = set(store.engine.dialect.get_table_names(connection))
    assert {"candidates", "drafts", "revisions", "ai_calls", "outbox", "messages"} <= names
    assert len(store.salt()) == 64


def test_reopening_keeps_salt_and_data(db_url: str) -> None:
    first = open_store(db_url)
    salt = first.salt()
    with first.session() as session:
        session.add(Candidate(email="a@example.com"))
    first.close()
    again = open_store(db_url)
    assert again.salt() == salt
    with again.session() as session:
        assert session.scalar(select(Candidate.email)) == "a@example.com"
    again.close()


def test_times_come_back_aware_utc(store: Store) -> None:
    moment = datetime(2026, 3, 1, 10, 30, tzinfo=UTC)
    with store.session() as session:
        session.add(Event(actor="t", action="x", subject_type="t", at=moment))
    with store.session() as session:
        at = session.scalar(select(Event.at))
    assert at == moment and at is not None and at.tzinfo is not None


def test_naive_datetimes_are_refused(store: Store) -> None:
    with pytest.raises(Exception, match="naive datetime"), store.session() as session:
        session.add(Event(actor="t", action="x", subject_type="t", at=datetime(2026, 1, 1)))
        session.flush()


def test_failed_unit_of_work_writes_nothing(store: Store) -> None:
    with pytest.raises(RuntimeError), store.session() as session:
        session.add(Candidate(email="a@example.com"))
        session.flush()
        raise RuntimeError("boom")
    with store.session() as session:
        assert session.scalar(select(Candidate.id)) is None


def test_database_newer_than_the_code_is_refused(db_url: str) -> None:
    open_store(db_url).close()
    store = open_store(db_url, migrate=False)
    with store.session() as session:
        session.execute(text("update alembic_version set version_num = '9999'"))
    store.close()
    with pytest.raises(StoreError, match="schema 9999, newer than this outreach knows; upgrade"):
        open_store(db_url)


def test_sqlite_uses_wal_and_foreign_keys(tmp_path: Path) -> None:
    store = open_store(f"sqlite:///{tmp_path / 'x.db'}")
    with store.engine.connect() as connection:
        assert connection.execute(text("pragma journal_mode")).scalar() == "wal"
        assert connection.execute(text("pragma foreign_keys")).scalar() == 1
    store.close()


def test_unreachable_or_bad_database_is_a_clear_error(tmp_path: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        open_store(f"sqlite:///{tmp_path / 'missing' / 'x.db'}")
    with pytest.raises(StoreError, match="cannot open the database"):
        open_store("postgresql+psycopg://nobody@127.0.0.1:1/none")


# File modes: the store holds candidates' data and password hashes ------------------------


@contextmanager
def umask(mask: int) -> Iterator[None]:
    old = os.umask(mask)
    try:
        yield
    finally:
        os.umask(old)


def mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_sqlite_files_are_made_0600_whatever_the_umask(tmp_path: Path) -> None:
    database = tmp_path / "outreach.db"
    with umask(0):
        store = open_store(f"sqlite:///{database}")
        with store.session() as session:
            session.add(Candidate(email="a@example.com"))
        with store.engine.connect() as connection:  # the -wal and -shm exist while it is open
            with exclusive(store, "send", "maria@nordlys.example", RuntimeError("busy")):
                side = sorted(p.name for p in tmp_path.iterdir())
                modes = {p.name: mode(p) for p in tmp_path.iterdir()}
            connection.execute(text("select 1"))
        store.close()
    assert {"outreach.db", "outreach.db-wal", "outreach.db-shm"} <= set(side)
    assert any(name.endswith(".lock") for name in side)
    assert modes == dict.fromkeys(side, 0o600)


@pytest.mark.parametrize("suffix", ["", "-wal", "-shm"])
def test_a_store_file_others_can_read_is_refused(tmp_path: Path, suffix: str) -> None:
    database = tmp_path / "outreach.db"
    store = open_store(f"sqlite:///{database}")
    with store.session() as session:
        session.add(Candidate(email="a@example.com"))
    store.close()
    exposed = tmp_path / f"outreach.db{suffix}"
    if not exposed.exists():  # closing the last connection folded the -wal and -shm away
        exposed.write_bytes(b"")
    exposed.chmod(0o644)
    with pytest.raises(StoreError) as refused:
        open_store(f"sqlite:///{database}")
    message = str(refused.value)
    assert message.startswith(f"{exposed}: other users can read it (mode 644)")
    assert f"run `chmod 600 {exposed}`" in message and "\n" not in message
    exposed.chmod(0o600)
    open_store(f"sqlite:///{database}").close()


def test_the_command_line_says_how_to_protect_the_store(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    database = workspace / "outreach.db"
    assert mode(database) == 0o600  # as `outreach init` made it
    database.chmod(0o644)
    with pytest.raises(SystemExit) as exit_info:
        main(["queue", "list"])
    _, err = capsys.readouterr()
    assert exit_info.value.code == 1
    assert err.strip() == (
        f"error: {database}: other users can read it (mode 644) and it holds candidates' data "
        f"and reviewers' password hashes; run `chmod 600 {database}` to protect it"
    )


def test_upgrade_to_0005_asks_again_for_approvals_that_did_not_cover_the_recipient(
    db_url: str,
) -> None:
    store = open_store(db_url)
    sent, queued, approved = (kit.add_draft(store, f"{n}@example.com") for n in "abc")
    with store.session() as session:
        entries, _ = freezing.freeze(
            session, [sent, queued], kit.settings(), actor="t", now=kit.MONDAY
        )
        session.execute(
            update(OutboxEntry).where(OutboxEntry.id == entries[sent]).values(state="sent")
        )
        session.execute(update(Draft).where(Draft.id == sent).values(status="sent"))
    command.downgrade(alembic_config(store.engine), "0004")  # a store of the version before
    store.close()

    upgraded = open_store(db_url)
    with upgraded.session() as session:
        drafts = {d.id: d for d in session.scalars(select(Draft))}
        rows = {e.draft_id: e for e in session.scalars(select(OutboxEntry))}
        withdrawn = set(
            session.scalars(
                select(Event.subject_id).where(Event.action == "draft.approval_withdrawn")
            )
        )
    for draft_id in (queued, approved):
        assert drafts[draft_id].status == "pending" and drafts[draft_id].approved_hash is None
        assert drafts[draft_id].error.startswith("approval withdrawn: it was approved before")
    assert drafts[sent].status == "sent" and withdrawn == {queued, approved}
    assert rows[queued].state == "cancelled" and "approve it again" in rows[queued].wait_reason
    assert rows[sent].state == "sent"
    assert all(row.raw_hash == hashlib.sha256(row.raw).hexdigest() for row in rows.values())
    # Approved again, the draft goes into its old outbox row, with the new kind of approval.
    with upgraded.session() as session:
        draft = session.get_one(Draft, queued)
        queue.approve(session, draft, actor="maria", message_id="<unused@nordlys.example>")
        entries, refused = freezing.freeze(
            session, [queued], kit.settings(), actor="t", now=kit.MONDAY
        )
    assert refused == [] and entries == {queued: rows[queued].id}
    upgraded.close()
