"""1,000 drafts against a local OpenAI-compatible server with 200 ms latency per call.

Run: .venv/bin/python bench/draft.py [--drafts N] [--latency S]
For concurrency 4, 8 and 16 it reports wall time, the ideal (N x latency / concurrency)
and throughput as a fraction of ideal, plus tokens per draft. Target (issue 3): >= 0.8.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import func, select

from outreach.candidates import records as candidates
from outreach.cli.workspace import write_workspace
from outreach.config import load_config
from outreach.drafting.drafter import Drafter, DraftSpec, make_llm
from outreach.store import open_store
from outreach.store.models import AICall

# The fake server runs in its own process, as a real model server would, so that its request
# handling does not compete with the drafter for this process's interpreter lock.
SERVER = """
import sys, time
from tests.llm_server import FakeLLMServer
server = FakeLLMServer()
server.latency = float(sys.argv[1])
server.start()
print(server.base_url, flush=True)
sys.stdin.read()
server.stop()
"""


@contextmanager
def server_process(latency: float) -> Iterator[str]:
    root = str(Path(__file__).resolve().parents[1])
    process = subprocess.Popen(
        [sys.executable, "-c", SERVER, str(latency)],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": root},
    )
    try:
        assert process.stdout is not None
        yield process.stdout.readline().strip()
    finally:
        process.terminate()
        process.wait(10)


def make_workspace(root: Path, drafts: int, base_url: str, concurrency: int) -> Path:
    folder = root / f"ws{concurrency}"
    write_workspace(folder)
    config = folder / "config.toml"
    text = config.read_text().replace('provider = "none"', 'provider = "openai"')
    text = text.replace('base_url = ""', f'base_url = "{base_url}"')
    config.write_text(text.replace("concurrency = 4", f"concurrency = {concurrency}"))
    with (folder / "people.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["email", "name", "headline", "company", "achievements"])
        for i in range(drafts):
            out.writerow(
                [
                    f"p{i}@c{i % 50}.example",
                    f"Person {i}",
                    "Engineer",
                    f"Company {i % 50}",
                    f"Shipped the billing system at Company {i % 50}",
                ]
            )
    return folder


async def run(folder: Path, emails: list[str]) -> float:
    settings = load_config(folder / "config.toml")
    store = open_store(settings.database_url)
    drafter = Drafter(settings, store, llm=make_llm(settings))
    start = time.perf_counter()
    report = await drafter.draft_many(
        emails, DraftSpec(template="intro", role={"title": "Backend Engineer"})
    )
    elapsed = time.perf_counter() - start
    await drafter.aclose()
    assert len(report.drafted) == len(emails) and not report.failed, report.failed[:3]
    store.close()
    return elapsed


def tokens_per_draft(folder: Path) -> tuple[float, float]:
    store = open_store(load_config(folder / "config.toml").database_url)
    with store.session() as session:
        rows = session.execute(select(AICall.tokens_in, AICall.tokens_out)).all()
        assert session.scalar(select(func.count()).select_from(AICall)) == len(rows)
    store.close()
    return statistics.mean(r[0] or 0 for r in rows), statistics.mean(r[1] or 0 for r in rows)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--drafts", type=int, default=1000)
    parser.add_argument("--latency", type=float, default=0.2)
    args = parser.parse_args()
    print(
        f"{'concurrency':>11} {'wall s':>8} {'ideal s':>8} {'of ideal':>9} {'tok in':>7} {'tok out':>8}"
    )
    with tempfile.TemporaryDirectory() as tmp, server_process(args.latency) as base_url:
        for concurrency in (4, 8, 16):
            folder = make_workspace(Path(tmp), args.drafts, base_url, concurrency)
            store = open_store(load_config(folder / "config.toml").database_url)
            candidates.import_file(store, folder / "people.csv")
            emails = [c["email"] for c in candidates.list_candidates(store)]
            store.close()
            wall = asyncio.run(run(folder, emails))
            ideal = args.drafts * args.latency / concurrency
            tin, tout = tokens_per_draft(folder)
            print(
                f"{concurrency:>11} {wall:>8.2f} {ideal:>8.2f} {ideal / wall:>9.2f} {tin:>7.0f} {tout:>8.0f}"
            )


if __name__ == "__main__":
    main()
