"""Send 5,000 approved messages to Postfix smtp-sink: outreach vs the mailmerge CLI vs smtp-source.

Run: .venv/bin/python -P bench/send.py [--messages N]   (-P: keep bench/ off sys.path)
All three send the same number of messages to the same sink in this run: mailmerge opens one
connection per message, smtp-source (-d -s 1) and outreach reuse one; outreach is also run with
two connections (`outreach send --connections 2`). outreach sends with pacing off, through its
durable ledger (each batch claimed as `sending` before connecting, each message's start
committed before its DATA with the outcome of the one before it); its bytes are frozen when
the messages are queued, which is timed separately. mailmerge (PyPI) renders and sends from a CSV
with no ledger. smtp-source (Postfix, C) is the ceiling.
Target (issue 5): outreach at least 2x mailmerge's messages/s.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from sqlalchemy import select

from outreach.config import settings_from_dict
from outreach.review import queue
from outreach.sending.pacing import Pacing
from outreach.sending.sender import RunReport, enqueue_approved, run_sender
from outreach.store import open_store
from outreach.store.models import Candidate, OutboxEntry, utcnow

SINK = "/usr/sbin/smtp-sink"
SOURCE = "/usr/sbin/smtp-source"
SENDER = "maria@nordlys.example"
BODY = (
    "Hi {name},\n\nI came across your work on payment systems at Paywise and thought of a "
    "Senior Backend Engineer role we are hiring for in Stockholm.\n\nWould you be open to a "
    "short call next week?\n\nBest,\nMaria Berg\nTech Recruiter, Nordlys AB\n"
)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def start_sink(port: int) -> subprocess.Popen[bytes]:
    privs = ["-u", "nobody"] if os.geteuid() == 0 else []
    proc = subprocess.Popen([SINK, *privs, f"127.0.0.1:{port}", "256"])
    for _ in range(500):
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=1):
                return proc
        except OSError:
            time.sleep(0.01)
    raise SystemExit("smtp-sink did not start")


def prepare(url: str, count: int) -> None:
    store = open_store(url)
    with store.session() as session:
        for n in range(count):
            candidate = Candidate(email=f"cand{n}@example.com", name=f"Candidate {n}")
            session.add(candidate)
            session.flush()
            draft = queue.create_draft(
                session,
                queue.NewDraft(
                    candidate_id=candidate.id, kind="outreach", template="intro",
                    subject=f"A backend role for you, Candidate {n}",
                    body=BODY.format(name=f"Candidate {n}"), author="template",
                ),
            )  # fmt: skip
            queue.approve(session, draft, actor="maria", sender=SENDER)
    store.close()


def outreach_run(url: str, port: int, connections: int) -> tuple[float, float, RunReport]:
    settings = settings_from_dict(
        {
            "sender": {"name": "Maria Berg", "email": SENDER, "timezone": "Europe/Stockholm"},
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
        },
        path=Path("config.toml"),
    )
    store = open_store(url)
    start = time.perf_counter()
    enqueue_approved(store, settings, now=utcnow(), actor="bench", report=RunReport())
    frozen = time.perf_counter() - start
    start = time.perf_counter()
    report = asyncio.run(
        run_sender(
            store,
            settings,
            clock=utcnow,
            pacing=Pacing.off("Europe/Stockholm"),
            connections=connections,
        )
    )
    sent = time.perf_counter() - start
    with store.session() as session:
        states = set(session.scalars(select(OutboxEntry.state)))
    store.close()
    assert states == {"sent"}, states
    return frozen, sent, report


def mailmerge_run(folder: Path, port: int, count: int) -> float:
    (folder / "mailmerge_server.conf").write_text(
        f"[smtp_server]\nhost = 127.0.0.1\nport = {port}\n"
    )
    (folder / "mailmerge_template.txt").write_text(
        f"TO: {{{{email}}}}\nSUBJECT: A backend role for you, {{{{name}}}}\n"
        f"FROM: Maria Berg <{SENDER}>\n\n" + BODY.replace("{name}", "{{name}}")
    )
    with (folder / "mailmerge_database.csv").open("w") as handle:
        handle.write("email,name\n")
        for n in range(count):
            handle.write(f"cand{n}@example.com,Candidate {n}\n")
    mailmerge = shutil.which("mailmerge", path=str(Path(sys.executable).parent))
    assert mailmerge is not None, "mailmerge is not installed in this environment"
    start = time.perf_counter()
    done = subprocess.run(
        [mailmerge, "--no-dry-run", "--no-limit", "--output-format", "raw"],
        cwd=folder, capture_output=True, text=True, check=True,
    )  # fmt: skip
    elapsed = time.perf_counter() - start
    sent = done.stdout.count(" sent\n")
    assert sent == count, f"mailmerge sent {sent} of {count}: {done.stderr[-500:]}"
    return elapsed


def smtp_source_run(port: int, count: int) -> float:
    start = time.perf_counter()
    subprocess.run(
        [SOURCE, "-d", "-s", "1", "-m", str(count), "-l", "600", "-f", SENDER,
         "-t", "cand@example.com", f"127.0.0.1:{port}"],
        check=True,
    )  # fmt: skip
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=5000)
    args = parser.parse_args()
    count = args.messages
    for binary in (SINK, SOURCE):
        if not os.access(binary, os.X_OK):
            raise SystemExit(f"{binary} missing: install postfix (make system-deps)")
    port = free_port()
    sink = start_sink(port)
    runs: dict[str, float] = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp)
            for connections in (1, 2):
                url = f"sqlite:///{folder / f'outreach{connections}.db'}"
                prepare(url, count)
                frozen, seconds, report = outreach_run(url, port, connections)
                runs[f"outreach, {connections} conn."] = seconds
            runs["mailmerge"] = mailmerge_run(folder, port, count)
            runs["smtp-source"] = smtp_source_run(port, count)
    finally:
        sink.terminate()
        sink.wait()
    rate = {name: count / seconds for name, seconds in runs.items()}
    print(f"{count} messages to Postfix smtp-sink, pacing off, same run")
    for name, value in rate.items():
        print(f"  {name:<20} {value:8.0f} msg/s")
    for name in ("outreach, 1 conn.", "outreach, 2 conn."):
        print(
            f"  {name} / mailmerge {rate[name] / rate['mailmerge']:.2f}x (target >= 2x), "
            f"/ smtp-source {rate[name] / rate['smtp-source']:.2f}x"
        )
    print(f"  freezing {count} approved drafts into the outbox first: {frozen:.2f} s")
    print(f"  ledger of the last run: sent {len(report.sent)}, failed {len(report.failed)}")


if __name__ == "__main__":
    main()
