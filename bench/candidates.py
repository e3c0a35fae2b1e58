"""Candidate search with 100,000 candidates on SQLite and PostgreSQL; export of one person.

Run: .venv/bin/python bench/candidates.py [--rows N] [--pg URL]
Search: p50/p95 of `outreach.candidates.search.search` (one page and the total count) over a
mix of queries (names, addresses, companies, tags, skills, 1-3 letter prefixes, two words,
no match, a tag filter), beside the naive baseline measured in the same run: the same page
and count by ``LIKE '%word%'`` over the search words (a full scan). Target: p95 <= 50 ms.
Export: one person with 200 messages both ways, to a ZIP (JSON and .eml files).
"""

from __future__ import annotations

import argparse
import csv
import random
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

from sqlalchemy import and_, create_engine, func, select, text

from outreach.candidates import export, records, search
from outreach.store import Store, open_store
from outreach.store.models import Candidate, Conversation, Message

FIRST = "Anna Erik Lena Jamie Kim Sara Johan Maria Lars Karin Omar Aisha Chen Priya Mateo Åsa Björn Jörg Zoë Ines".split()
LAST = "Lind Berg Ek Öberg Nilsson Svensson Khan Garcia Müller Rossi Novak Haddad Tanaka Okafor Silva".split()
SKILLS = (
    "Go Rust Python Kafka PostgreSQL Kubernetes React TypeScript Java Scala Terraform Swift".split()
)
TAGS = "backend frontend data ml platform mobile security sre".split()
QUERIES = [
    "lena", "jam", "berg", "öberg", "oberg", "lind", "kafka", "rust", "platform", "company12",
    "company4", "person12345", "person9999@", "a", "ka", "tan", "lena berg", "rust security",
    "go kubernetes", "zzzz", "maria nilsson company7", "stockholm", "mateo silva",
]  # fmt: skip


def write_file(path: Path, rows: int) -> None:
    rng = random.Random(17)
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(["email", "name", "company", "skills", "tags", "source"])
        for i in range(rows):
            out.writerow(
                [
                    f"person{i}@company{i % 500}.example",
                    f"{rng.choice(FIRST)} {rng.choice(LAST)}",
                    f"Company{i % 500}",
                    ";".join(rng.sample(SKILLS, 3)),
                    ";".join(rng.sample(TAGS, 2)),
                    rng.choice(["LinkedIn profile", "GitHub", "applied", "referral"]),
                ]
            )


def naive(store: Store, query: search.Query) -> int:
    """The baseline: LIKE over the search words, every word anywhere (a full scan)."""
    words = search.terms(query.q).split()
    where = and_(True, *(Candidate.search_text.like(f"%{w}%") for w in words))
    with store.read() as session:
        total = session.scalar(select(func.count()).select_from(Candidate).where(where)) or 0
        session.execute(
            select(Candidate.id, Candidate.email, Candidate.name)
            .where(where)
            .order_by(Candidate.id.desc())
            .limit(search.PAGE)
        ).all()
    return total


def indexed(store: Store, query: search.Query) -> int:
    with store.read() as session:
        return search.search(session, query).total


def timings(store: Store, run: Callable[[Store, search.Query], int]) -> list[float]:
    queries = [search.Query(q=q) for q in QUERIES] + [
        search.Query(q="lena", tag="backend"),
        search.Query(tag="ml"),
        search.Query(),
    ]
    for query in queries:  # warm the caches once
        run(store, query)
    times = []
    for _ in range(5):
        for query in queries:
            start = time.perf_counter()
            run(store, query)
            times.append((time.perf_counter() - start) * 1000)
    return times


def p(values: list[float], pct: int) -> float:
    return statistics.quantiles(values, n=100)[pct - 1]


def bench_search(name: str, url: str, path: Path) -> None:
    store = open_store(url)
    start = time.perf_counter()
    report = records.import_file(store, path)
    took = time.perf_counter() - start
    assert report.created and not report.errors, report.errors[:3]
    # What autovacuum does soon after a large import (PostgreSQL; SQLite: fresh statistics).
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(text("VACUUM ANALYZE" if "postgresql" in url else "ANALYZE"))
    ours, base = timings(store, indexed), timings(store, naive)
    print(
        f"{name:10} import {report.created:,} in {took:.1f} s | search p50 {p(ours, 50):6.1f} ms "
        f"p95 {p(ours, 95):6.1f} ms | LIKE scan p50 {p(base, 50):6.1f} ms p95 {p(base, 95):6.1f} "
        f"ms | p95 ratio {p(base, 95) / p(ours, 95):.1f}x"
    )
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "people.csv"
        write_file(path, args.rows)
        bench_search("sqlite", f"sqlite:///{folder}/bench.db", path)
        schema = f"bench_{uuid.uuid4().hex[:8]}"
        admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
        try:
            with admin.connect() as connection:
                connection.execute(text(f'CREATE SCHEMA "{schema}"'))
        except Exception as exc:  # noqa: BLE001  (no server: report and go on)
            print(f"postgresql skipped: {exc}")
            schema = ""
        if schema:
            try:
                bench_search("postgresql", f"{args.pg}?options=-csearch_path%3D{schema}", path)
            finally:
                with admin.connect() as connection:
                    connection.execute(text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()
        extra(folder)


def extra(folder: str) -> Any:
    """Export one person with 200 messages (100 each way), beside reading their raw bytes."""
    store = open_store(f"sqlite:///{folder}/export.db")
    address = "jamie@paywise.example"
    body = "A line of a reply about the role and the team.\r\n" * 40  # about 2 KB
    with store.session() as session:
        person = Candidate(email=address, name="Jamie Lind", source="GitHub")
        session.add(person)
        session.flush()
        thread = Conversation(candidate_id=person.id, subject="Backend role")
        session.add(thread)
        session.flush()
        for i in range(200):
            raw = f"From: x@example.com\r\nSubject: Re: role {i}\r\n\r\n{body}".encode()
            session.add(
                Message(
                    mailbox="m",
                    folder="INBOX",
                    uidvalidity=1,
                    uid=i,
                    message_id=f"<{i}@x>",
                    direction="in" if i % 2 else "out",
                    reply_text=body,
                    raw=raw,
                    candidate_id=person.id,
                    conversation_id=thread.id,
                )  # fmt: skip
            )
    runs, bare = [], []
    for _ in range(7):
        start = time.perf_counter()
        with store.read() as session:
            list(session.scalars(select(Message.raw).where(Message.candidate_id == person.id)))
        bare.append((time.perf_counter() - start) * 1000)
        start = time.perf_counter()
        data = export.export_zip(store, address)
        runs.append((time.perf_counter() - start) * 1000)
    store.close()
    print(
        f"export    1 person, 200 messages: {statistics.median(runs):.1f} ms "
        f"({len(data) / 1024:.0f} KB ZIP) | reading their raw messages {statistics.median(bare):.1f}"
        f" ms | ratio {statistics.median(runs) / statistics.median(bare):.1f}x"
    )


if __name__ == "__main__":
    main()
