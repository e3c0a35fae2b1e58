"""Retention: people with no activity for privacy.retain_months are listed and erased, on
both engines, by the command, the daily job and with the clock given."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select, update

from outreach.candidates import records, retention
from outreach.cli.root import cli
from outreach.config import load_config
from outreach.errors import InputError
from outreach.jobs.loops import retention_round
from outreach.store import Store, open_store
from outreach.store.models import Candidate, Conversation, Event, Message, Suppression

T0 = datetime(2026, 1, 10, 9, 0, tzinfo=UTC)
NOW = datetime(2027, 1, 20, 9, 0, tzinfo=UTC)  # 12 months and 10 days after T0
PEOPLE = (
    "email,name\nold@example.com,Old One\nwrote@example.com,Wrote Lately\nnew@example.com,New One\n"
)


def people(store: Store, folder: Path) -> None:
    """Three people added at T0: one silent since, one who wrote last month, one edited late."""
    (folder / "people.csv").write_text(PEOPLE)
    records.import_file(store, folder / "people.csv")
    with store.session() as session:
        session.execute(update(Candidate).values(created_at=T0, updated_at=T0))
        session.execute(update(Event).values(at=T0))
        wrote = session.scalars(
            select(Candidate).where(Candidate.email == "wrote@example.com")
        ).one()
        thread = Conversation(candidate_id=wrote.id, created_at=T0)
        session.add(thread)
        session.flush()
        session.add(
            Message(
                mailbox="m",
                folder="INBOX",
                uidvalidity=1,
                uid=1,
                direction="in",
                date=NOW - timedelta(days=30),
                created_at=NOW - timedelta(days=30),
                candidate_id=wrote.id,
                conversation_id=thread.id,
            )  # fmt: skip
        )
        session.execute(
            update(Candidate)
            .where(Candidate.email == "new@example.com")
            .values(updated_at=NOW - timedelta(days=340))
        )


def emails(due: list[retention.Expiry]) -> list[str]:
    return [person.email for person in due]


def test_months_are_calendar_months() -> None:
    assert retention.months_before(datetime(2026, 3, 31, tzinfo=UTC), 1) == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert retention.months_after(datetime(2025, 11, 30, tzinfo=UTC), 3) == datetime(
        2026, 2, 28, tzinfo=UTC
    )
    assert retention.months_before(datetime(2026, 1, 15, tzinfo=UTC), 13) == datetime(
        2024, 12, 15, tzinfo=UTC
    )


def test_dry_run_lists_and_expire_erases_keeping_the_hash(store: Store, tmp_path: Path) -> None:
    people(store, tmp_path)
    listed = retention.expire(store, 12, NOW, dry_run=True)
    assert emails(listed) == ["old@example.com"]
    assert listed[0].last_activity == T0 and listed[0].expires_at == datetime(
        2027, 1, 10, 9, tzinfo=UTC
    )
    with store.read() as session:
        assert session.scalar(select(Candidate.id).where(Candidate.email == "old@example.com"))
        soon = retention.expiring(session, 12, NOW, within_days=30)
    assert emails(soon) == ["old@example.com", "new@example.com"]  # new: due in 25 days
    assert emails(retention.expire(store, 12, NOW)) == ["old@example.com"]
    with store.read() as session:
        left = set(session.scalars(select(Candidate.email)))
        reason = session.scalar(select(Suppression.reason))
        expired = session.scalars(select(Event).where(Event.action == "candidate.expired")).one()
    assert left == {"wrote@example.com", "new@example.com"}
    assert reason == "forgotten" and expired.details["address_hash"] == records.address_hash(
        store.salt(), "old@example.com"
    )
    assert records.import_file(store, tmp_path / "people.csv").skipped  # never written to again
    assert retention.expire(store, 12, NOW) == []  # nothing more is due today
    with pytest.raises(InputError, match="privacy.retain_months is 0"):
        retention.expire(store, 0, NOW)


def test_the_daily_job_erases_with_its_clock(db_url: str, workspace: Path) -> None:
    settings = load_config(workspace / "config.toml")
    settings = settings.model_copy(
        update={"privacy": settings.privacy.model_copy(update={"retain_months": 12})}
    )
    store = open_store(db_url)
    people(store, workspace)
    done = asyncio.run(retention_round(settings, store, lambda: NOW))
    assert done.detail == "erased 1" and done.wait == 24 * 3600
    with store.read() as session:
        assert set(session.scalars(select(Candidate.email))) == {
            "wrote@example.com",
            "new@example.com",
        }
    store.close()


def test_cli_expire_uses_outreach_now(workspace: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    config = workspace / "config.toml"
    config.write_text(config.read_text().replace("retain_months = 0", "retain_months = 12"))
    store = open_store(load_config(config).database_url)
    people(store, workspace)
    store.close()
    monkeypatch.setenv("OUTREACH_NOW", NOW.isoformat())
    runner = CliRunner()
    listed = runner.invoke(cli, ["candidates", "expire", "--dry-run", "--json"])
    assert listed.exit_code == 0, listed.output
    assert [p["email"] for p in json.loads(listed.output)] == ["old@example.com"]
    erased = runner.invoke(cli, ["candidates", "expire"])
    assert (
        "old@example.com" in erased.output
        and "erased 1 (no activity for 12 months)" in erased.output
    )
    assert "would erase 0" in runner.invoke(cli, ["candidates", "expire", "--dry-run"]).output
