"""The review queue's pages with 10,000 pending drafts, beside the same pages on a near-empty store.

Run: .venv/bin/python bench/queue.py [--drafts N] [--requests N] [--pg URL | --no-pg]
Server time is the app's own figure (the Server-Timing header: routing, auth, queries, template),
measured in-process. The big store also holds a decided history (approved, rejected, edited)
so the metrics panel has work to do. The baseline store holds one pending draft. On
PostgreSQL both stores get VACUUM ANALYZE after the bulk load, as autovacuum would.
Targets (issue 4): p95 at most 50 ms, and at most 3x the baseline p95, on each page.
"""

from __future__ import annotations

import sys
from pathlib import Path

# This file is named like the stdlib's queue module, which asyncio and anyio import: take
# bench/ off the import path before anything imports `queue`.
if sys.path and Path(sys.path[0]).resolve() == Path(__file__).resolve().parent:
    del sys.path[0]

import argparse  # noqa: E402
import random  # noqa: E402
import re  # noqa: E402
import statistics  # noqa: E402
import tempfile  # noqa: E402
import uuid  # noqa: E402
from datetime import timedelta  # noqa: E402
from typing import Any  # noqa: E402

from fastapi.testclient import TestClient  # noqa: E402
from sqlalchemy import create_engine, insert, text  # noqa: E402
from sqlalchemy.exc import OperationalError  # noqa: E402

from outreach import users  # noqa: E402
from outreach.cli.workspace import write_workspace  # noqa: E402
from outreach.config import load_config  # noqa: E402
from outreach.store import Store, open_store  # noqa: E402
from outreach.store.models import Campaign, Candidate, Draft, Revision, utcnow  # noqa: E402

PASSWORD = "benchmark password"
BODY = (
    "Hi {name},\n\nYour work on the payments platform at {company} stood out: moving the ledger "
    "to Kafka without downtime is rare. I'm recruiting for the Senior Backend Engineer role in "
    "Stockholm, working with Lena Ek.\n\nWould you be open to a 20-minute call?\n\nMaria Berg"
)
TIMING = re.compile(r"app;dur=([0-9.]+)")


def fill(store: Store, pending: int, *, history: bool) -> list[int]:
    """Insert candidates, pending drafts (a third flagged) and, with history, decided drafts."""
    now = utcnow()
    rng = random.Random(7)
    people = max(pending // 5, 1)
    decided = pending // 4 if history else 0
    with store.session() as session:
        users.add_user(session, "maria", PASSWORD)
        campaign = Campaign(name="backend-2026", sender_email="maria@nordlys.example")
        session.add(campaign)
        session.flush()
        session.execute(
            insert(Candidate),
            [
                {
                    "email": f"person{i}@company{i % 300}.example",
                    "name": f"Person {i}",
                    "company": f"Company {i % 300}",
                    "headline": "Backend engineer",
                    "skills": ["Go", "Kafka"],
                    "achievements": [f"Shipped project {i}"],
                    "links": [],
                    "extra": {},
                    "created_at": now,
                    "updated_at": now,
                }
                for i in range(people)
            ],
        )
        total = pending + decided
        drafts = []
        for i in range(total):
            done = i >= pending
            approved = done and i % 5 != 0
            drafts.append(
                {
                    "candidate_id": 1 + i % people,
                    "kind": "outreach" if i % 7 else "follow_up",
                    "template": ("intro", "follow_up", "intro_sv")[i % 3],
                    "campaign_id": campaign.id if i % 2 else None,
                    "status": ("sent" if approved else "rejected") if done else "pending",
                    "current_revision": 2 if done and i % 3 == 0 else 1,
                    "approved_revision": (2 if i % 3 == 0 else 1) if approved else None,
                    "flags": [{"code": "unsupported", "message": "check", "text": "Kafka"}]
                    if i % 3 == 0
                    else [],
                    "context": {},
                    "references": [],
                    "viewed_at": now - timedelta(minutes=rng.randint(2, 600)) if done else None,
                    "approved_by": "maria" if approved else None,
                    "approved_at": now - timedelta(minutes=rng.randint(0, 1)) if approved else None,
                    "approved_hash": "0" * 64 if approved else None,
                    "due_at": now - timedelta(minutes=rng.randint(0, 60 * 24 * 14)),
                    "created_at": now,
                    "updated_at": now,
                }
            )
        session.execute(insert(Draft), drafts)
        revisions = []
        for i, draft in enumerate(drafts, start=1):
            body = BODY.format(name=f"Person {i}", company="Company")
            revisions.append(
                {"draft_id": i, "number": 1, "subject": f"Role {i}", "body": body,
                 "author": "ai:bench", "ai_text": {}, "instruction": "", "created_at": now}
            )  # fmt: skip
            if draft["current_revision"] == 2:
                revisions.append(
                    {"draft_id": i, "number": 2, "subject": f"Role {i}",
                     "body": body.replace("stood out", "caught my eye"), "author": "maria",
                     "ai_text": {}, "instruction": "", "created_at": now}
                )  # fmt: skip
        session.execute(insert(Revision), revisions)
    return [i for i in range(1, pending + 1)]


def measure(store: Store, folder: Path, draft_ids: list[int], requests: int) -> dict[str, Any]:
    from outreach.web import create_app

    app = create_app(load_config(folder / "config.toml"), store)
    samples: dict[str, list[float]] = {"queue": [], "draft": []}
    sample = draft_ids[len(draft_ids) // 2 :][:20]
    with TestClient(app) as client:
        token = re.search(r'name="csrf_token" value="([^"]+)"', client.get("/login").text)
        assert token
        client.post(
            "/login", data={"username": "maria", "password": PASSWORD, "csrf_token": token[1]}
        )
        for draft_id in sample:  # open each once: the first view records it (a write)
            assert client.get(f"/drafts/{draft_id}").status_code == 200
        for _ in range(10):
            client.get("/queue")
        for i in range(requests):
            for name, path in (
                ("queue", "/queue"),
                ("draft", f"/drafts/{sample[i % len(sample)]}"),
            ):
                response = client.get(path)
                assert response.status_code == 200, (path, response.status_code)
                found = TIMING.search(response.headers["server-timing"])
                assert found
                samples[name].append(float(found[1]))
    return {name: quantiles(values) for name, values in samples.items()}


def quantiles(values: list[float]) -> tuple[float, float]:
    cuts = statistics.quantiles(values, n=100, method="inclusive")
    return cuts[49], cuts[94]


def run(url: str, folder: Path, pending: int, requests: int, *, history: bool) -> dict[str, Any]:
    store = open_store(url)
    try:
        ids = fill(store, pending, history=history)
        if store.engine.dialect.name == "postgresql":
            # What autovacuum does within a minute of a bulk load: statistics and the
            # visibility map (which lets counts use index-only scans).
            with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as c:
                c.execute(text("VACUUM ANALYZE"))
        return measure(store, folder, ids, requests)
    finally:
        store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drafts", type=int, default=10_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    parser.add_argument("--no-pg", action="store_true")
    args = parser.parse_args()
    rows = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "ws"
        write_workspace(folder)
        engines: list[tuple[str, Any]] = [("sqlite", None)]
        if not args.no_pg:
            engines.append(("postgresql", args.pg))
        for engine, admin_url in engines:
            figures = {}
            for label, pending, history in (("baseline", 1, False), ("10k", args.drafts, True)):
                if engine == "sqlite":
                    url = f"sqlite:///{tmp}/{label}-{uuid.uuid4().hex}.db"
                    figures[label] = run(url, folder, pending, args.requests, history=history)
                    continue
                schema = f"bench_{uuid.uuid4().hex[:8]}"
                admin = create_engine(admin_url, isolation_level="AUTOCOMMIT")
                try:
                    with admin.connect() as c:
                        c.execute(text(f"CREATE SCHEMA {schema}"))
                except OperationalError as exc:
                    print(f"postgresql: skipped ({str(exc.orig).strip().splitlines()[0]})")
                    break
                url = f"{admin_url}?options=-csearch_path%3D{schema}"
                try:
                    figures[label] = run(url, folder, pending, args.requests, history=history)
                finally:
                    with admin.connect() as c:
                        c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                    admin.dispose()
            if len(figures) == 2:
                rows.append((engine, figures))
    print(
        f"{'engine':<11} {'page':<6} {'base p50':>9} {'base p95':>9} {'10k p50':>8} "
        f"{'10k p95':>8} {'ratio p95':>9}  target: p95 <= 50 ms and <= 3x"
    )
    for engine, figures in rows:
        for page in ("queue", "draft"):
            b50, b95 = figures["baseline"][page]
            f50, f95 = figures["10k"][page]
            verdict = "ok" if f95 <= 50 and f95 <= 3 * b95 else "MISSED"
            print(
                f"{engine:<11} {page:<6} {b50:>7.1f}ms {b95:>7.1f}ms {f50:>6.1f}ms {f95:>6.1f}ms "
                f"{f95 / b95:>8.2f}x  {verdict}"
            )


if __name__ == "__main__":
    main()
