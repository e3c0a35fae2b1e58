"""Import 100,000 candidates into SQLite and PostgreSQL, beside csv.DictReader on the same file.

Run: .venv/bin/python bench/import.py [--rows N] [--pg URL]
Reports rows/s and the ratio of import time to the bare parse time, measured in this run.
Targets (issue 2): at most 10x on SQLite, 20x on PostgreSQL.
"""

from __future__ import annotations

import argparse
import csv
import statistics
import tempfile
import time
import uuid
from pathlib import Path

from sqlalchemy import create_engine, text

from outreach.candidates import records as candidates
from outreach.store import open_store


def write_file(path: Path, rows: int) -> None:
    with path.open("w", newline="", encoding="utf-8") as handle:
        out = csv.writer(handle)
        out.writerow(
            ["email", "name", "company", "location", "timezone", "skills", "achievements", "tags"]
        )
        for i in range(rows):
            out.writerow(
                [
                    f"person{i}@company{i % 500}.example",
                    f"Person {i}",
                    f"Company {i % 500}",
                    "Stockholm",
                    "Europe/Stockholm",
                    "Go;PostgreSQL;Kafka",
                    f"Shipped project {i}",
                    f"batch{i % 7}",
                ]
            )


def parse_time(path: Path) -> float:
    start = time.perf_counter()
    with path.open(newline="", encoding="utf-8") as handle:
        for _ in csv.DictReader(handle):
            pass
    return time.perf_counter() - start


def import_time(url: str, path: Path) -> float:
    store = open_store(url)
    start = time.perf_counter()
    report = candidates.import_file(store, path)
    elapsed = time.perf_counter() - start
    store.close()
    assert report.created > 0 and not report.errors, report.errors[:3]
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--pg", default="postgresql+psycopg://postgres@127.0.0.1:5432/test")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "candidates.csv"
        write_file(path, args.rows)
        results = []
        for engine in ("sqlite", "postgresql"):
            if engine == "sqlite":
                url = f"sqlite:///{tmp}/bench-{uuid.uuid4().hex}.db"
                cleanup = None
            else:
                schema = f"bench_{uuid.uuid4().hex[:8]}"
                admin = create_engine(args.pg, isolation_level="AUTOCOMMIT")
                with admin.connect() as c:
                    c.execute(text(f"CREATE SCHEMA {schema}"))
                url = f"{args.pg}?options=-csearch_path%3D{schema}"
                cleanup = (admin, schema)
            parse = statistics.median(parse_time(path) for _ in range(3))
            took = import_time(url, path)
            parse_after = statistics.median(parse_time(path) for _ in range(3))
            base = min(parse, parse_after)
            results.append((engine, took, base))
            if cleanup:
                admin, schema = cleanup
                with admin.connect() as c:
                    c.execute(text(f"DROP SCHEMA {schema} CASCADE"))
                admin.dispose()
    print(
        f"{'engine':<11} {'rows':>8} {'import s':>9} {'rows/s':>9} {'parse s':>8} {'ratio':>6} target"
    )
    for engine, took, base in results:
        target = 10 if engine == "sqlite" else 20
        print(
            f"{engine:<11} {args.rows:>8} {took:>9.2f} {args.rows / took:>9.0f} {base:>8.3f} "
            f"{took / base:>6.1f} <= {target}x"
        )


if __name__ == "__main__":
    main()
