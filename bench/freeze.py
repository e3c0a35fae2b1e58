"""Freeze 5,000 approved drafts into the outbox, beside building the same mail with the email package.

Run: .venv/bin/python -P bench/freeze.py [--drafts N] [--postgres URL]
Freezing (what `outreach send` does first, `sender.enqueue_approved`) checks each approval
against what would be sent, builds the bytes, parses them back with the standard library's
parser, and writes the outbox rows and the drafts' new state, a batch per transaction. The
baseline, measured in the same run, builds the same messages with the email package alone
(EmailMessage, set_content, as_bytes): no store, no checks.
Target (issue 11): at least 1,000 drafts/s.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from datetime import UTC, datetime
from email.headerregistry import Address
from email.message import EmailMessage
from email.policy import SMTP
from email.utils import format_datetime, make_msgid
from pathlib import Path

from sqlalchemy import create_engine, func, insert, select, text

from outreach.config import Settings, settings_from_dict
from outreach.review import approval
from outreach.sending.sender import RunReport, enqueue_approved
from outreach.store import open_store
from outreach.store.models import Candidate, Draft, OutboxEntry, Revision, utcnow

SENDER = "maria@nordlys.example"
NOW = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
BODY = (
    "Hi {name},\n\nI came across your work on payment systems at Paywise and thought of a "
    "Senior Backend Engineer role we are hiring for in Stockholm.\n\nWould you be open to a "
    "short call next week?\n\nBest,\nMaria Berg\nTech Recruiter, Nordlys AB\n"
)


def person(n: int) -> tuple[str, str, str, str]:
    """Name, address, subject and body of the n-th message (some names need encoding)."""
    name = f"Åsa Öberg {n}" if n % 4 == 0 else f"Candidate {n}"
    return name, f"cand{n}@example.com", f"A backend role for you, {name}", BODY.format(name=name)


def prepare(url: str, count: int) -> None:
    """Approved drafts, loaded in bulk; each approval hash is the real one."""
    store = open_store(url)
    with store.session() as session:
        session.execute(insert(Candidate), [
            {"email": person(n)[1], "name": person(n)[0]} for n in range(count)
        ])  # fmt: skip
        ids = dict(session.execute(select(Candidate.email, Candidate.id)).all())
        rows = []
        for n in range(count):
            name, email, subject, body = person(n)
            seen = approval.visible(
                kind="outreach",
                to_name=name,
                to_email=email,
                subject=subject,
                body=body,
                in_reply_to=None,
                references=(),
            )
            rows.append({
                "candidate_id": ids[email], "kind": "outreach", "template": "intro",
                "status": "approved", "current_revision": 1, "approved_by": "maria",
                "approved_at": NOW, "approved_revision": 1,
                "approved_hash": approval.fingerprint(seen),
                "message_id": make_msgid(domain="nordlys.example"), "due_at": NOW,
            })  # fmt: skip
        session.execute(insert(Draft), rows)
        drafts = dict(session.execute(select(Draft.candidate_id, Draft.id)).all())
        session.execute(insert(Revision), [
            {"draft_id": drafts[ids[person(n)[1]]], "number": 1, "subject": person(n)[2],
             "body": person(n)[3], "author": "template", "created_at": NOW}
            for n in range(count)
        ])  # fmt: skip
    store.close()


def freeze(url: str, settings: Settings, count: int) -> float:
    store = open_store(url)
    report = RunReport()
    start = time.perf_counter()
    enqueue_approved(store, settings, now=utcnow(), actor="bench", report=report)
    seconds = time.perf_counter() - start
    with store.session() as session:
        queued = session.scalar(select(func.count()).select_from(OutboxEntry))
    store.close()
    assert report.enqueued == queued == count and not report.warnings, report.warnings[:3]
    return seconds


def email_package(count: int) -> float:
    """The same messages built by the email package alone: the baseline."""
    start = time.perf_counter()
    for n in range(count):
        name, email, subject, body = person(n)
        msg = EmailMessage(policy=SMTP)
        msg["From"] = Address("Maria Berg", addr_spec=SENDER)
        msg["To"] = Address(name, addr_spec=email)
        msg["Subject"] = subject
        msg["Date"] = format_datetime(NOW)
        msg["Message-ID"] = make_msgid(domain="nordlys.example")
        msg.set_content(body)
        msg.as_bytes()
    return time.perf_counter() - start


def schema(admin: str, *, create: bool) -> str:
    """A fresh PostgreSQL schema for the run (dropped again with create=False)."""
    engine = create_engine(admin, isolation_level="AUTOCOMMIT")
    with engine.connect() as connection:
        connection.execute(text('DROP SCHEMA IF EXISTS "bench_freeze" CASCADE'))
        if create:
            connection.execute(text('CREATE SCHEMA "bench_freeze"'))
    engine.dispose()
    return f"{admin}?options=-csearch_path%3Dbench_freeze"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drafts", type=int, default=5000)
    parser.add_argument("--postgres", default="postgresql+psycopg://postgres@127.0.0.1:5432/test",
                        help="a PostgreSQL URL to measure too ('' to skip)")  # fmt: skip
    args = parser.parse_args()
    count = args.drafts
    settings = settings_from_dict(
        {"sender": {"name": "Maria Berg", "email": SENDER, "timezone": "Europe/Stockholm"}},
        path=Path("config.toml"),
    )
    runs: dict[str, float] = {}
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite:///{Path(tmp) / 'freeze.db'}"
        prepare(url, count)
        runs["freeze, SQLite"] = freeze(url, settings, count)
    if args.postgres:
        url = schema(args.postgres, create=True)
        try:
            prepare(url, count)
            runs["freeze, PostgreSQL"] = freeze(url, settings, count)
        finally:
            schema(args.postgres, create=False)
    runs["email package alone"] = email_package(count)
    print(f"{count} approved drafts frozen into the outbox (checked, built, read back), same run")
    base = count / runs["email package alone"]
    for name, seconds in runs.items():
        rate = count / seconds
        target = "  (target >= 1,000/s)" if name.startswith("freeze") else ""
        print(f"  {name:<22} {rate:8.0f} drafts/s  {seconds:6.2f} s  {rate / base:5.2f}x the "
              f"email package alone{target}")  # fmt: skip


if __name__ == "__main__":
    main()
