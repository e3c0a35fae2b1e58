"""Seconds from a reply's delivery to its being stored, with `outreach serve` and IMAP IDLE.

Run: .venv/bin/python bench/reply_latency.py [--replies 50] [--idle-seconds 60] [--seed 7]

Starts its own Dovecot (tests/services/dovecot.py) and a workspace whose store knows 50
candidates we wrote to, then `outreach serve` in its own process, as a recruiter runs it, and:

  idle CPU     the serve process's CPU time (user + system, from /proc) over a window in which
               nothing arrives, as % of one core: once with the IDLE watcher, once without it
               (sync.idle_folders = []), so the difference is what the IDLE connection costs
  latency      50 replies delivered over LMTP at random intervals (0.2 to 3 s apart); for each,
               the seconds from the end of its LMTP delivery until its row is in the store
               (what the conversation page shows), read every 20 ms

The baseline is the polling the watcher replaces: a sync every sync.interval_minutes (15),
so a reply waits half the interval on average and up to all of it. Targets (issue 12): p95
<= 5 s; the IDLE connection < 1% of a core when idle.
"""

from __future__ import annotations

import argparse
import os
import random
import re
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from sqlalchemy import select  # noqa: E402

from outreach.cli.workspace import write_workspace  # noqa: E402
from outreach.config import load_config  # noqa: E402
from outreach.jobs import health  # noqa: E402
from outreach.store import Store, open_store  # noqa: E402
from outreach.store.models import Message, utcnow  # noqa: E402
from tests import inbox_kit as kit  # noqa: E402
from tests.services.dovecot import Dovecot, running_dovecot  # noqa: E402
from tests.webutil import free_port  # noqa: E402

TICKS = os.sysconf("SC_CLK_TCK")


def workspace(root: Path, server: Dovecot, user: str, *, idle: bool) -> Path:
    folder = root / ("ws-idle" if idle else "ws-poll")
    write_workspace(folder)
    config = folder / "config.toml"
    text = config.read_text()
    imap = (
        f'[imap]\nhost = "{server.host}"\nport = {server.port}\nsecurity = "none"\n'
        f'username = "{user}"\n\n'
    )
    text = re.sub(r"\[imap\]\n.*?\n\n", imap, text, count=1, flags=re.S)
    text = re.sub(r"since = \S+", "since = 2020-01-01", text)
    if not idle:
        text = text.replace('idle_folders = ["INBOX"]', "idle_folders = []")
    config.write_text(text)
    return folder


def serve(folder: Path, env: dict[str, str]) -> subprocess.Popen[bytes]:
    argv = [sys.executable, "-c", "import sys; from outreach.cli import main; main(sys.argv[1:])"]
    return subprocess.Popen(
        [*argv, "serve", "--port", str(free_port())],
        env={**env, "OUTREACH_CONFIG": str(folder / "config.toml"), "PYTHONPATH": str(REPO)},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of a process and its finished children, in seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return sum(int(f) for f in fields[11:15]) / TICKS


def wait_until(what: Any, process: subprocess.Popen[bytes], failure: str) -> None:
    end = time.monotonic() + 60
    while not what():
        if process.poll() is not None or time.monotonic() > end:
            raise SystemExit(f"{failure} (serve exited with {process.poll()})")
        time.sleep(0.05)


def component(store: Store, name: str) -> health.Status:
    return next(s for s in health.statuses(store, now=utcnow()) if s.component == name)


def idle_cpu(folder: Path, env: dict[str, str], seconds: float, *, idle: bool) -> float:
    """% of one core the serve process used over ``seconds`` with nothing arriving."""
    store = open_store(load_config(folder / "config.toml").database_url)
    process = serve(folder, env)
    try:
        if idle:
            ready = lambda: "IDLE on INBOX" in component(store, "watch").line  # noqa: E731
        else:
            ready = lambda: component(store, "sync").last_success_at is not None  # noqa: E731
        wait_until(ready, process, "serve never got ready")
        time.sleep(5)  # the first rounds of every loop are done
        before, started = cpu_seconds(process.pid), time.monotonic()
        time.sleep(seconds)
        used, spent = cpu_seconds(process.pid) - before, time.monotonic() - started
        return 100.0 * used / spent
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        store.close()


def latencies(
    server: Dovecot, user: str, folder: Path, env: dict[str, str], replies: int, seed: int
) -> list[float]:
    """Seconds from each reply's LMTP delivery to its row in the store."""
    store = open_store(load_config(folder / "config.toml").database_url)
    people = list(kit.add_people(store, [f"person{i}@company{i}.example" for i in range(replies)]).values())  # fmt: skip
    process = serve(folder, env)
    rng = random.Random(seed)
    delivered: dict[str, float] = {}
    stored: dict[str, float] = {}
    try:
        wait_until(lambda: "IDLE on INBOX" in component(store, "watch").line, process, "no IDLE")
        next_at = time.monotonic()
        index = 0
        while len(stored) < replies:
            now = time.monotonic()
            if index < replies and now >= next_at:
                person = people[index]
                msgid = f"<bench-{index}@x>"
                raw = kit.gmail_reply(person.email, msgid, f"Reply {index}", person.message_id)
                server.deliver(user, raw)
                delivered[msgid] = time.monotonic()
                index += 1
                next_at = time.monotonic() + rng.uniform(0.2, 3.0)
            waiting = [m for m in delivered if m not in stored]
            if waiting:
                with store.read() as session:
                    found = session.scalars(
                        select(Message.message_id).where(Message.message_id.in_(waiting))
                    ).all()
                at = time.monotonic()
                for msgid in found:
                    stored[str(msgid)] = at
            if process.poll() is not None:
                raise SystemExit("serve exited during the run")
            if delivered and time.monotonic() - max(delivered.values()) > 120:
                raise SystemExit(f"{replies - len(stored)} replies never stored")
            time.sleep(0.02)
    finally:
        process.send_signal(signal.SIGTERM)
        process.wait(30)
        store.close()
    return [stored[m] - delivered[m] for m in delivered]


def percentile(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--replies", type=int, default=50)
    parser.add_argument("--idle-seconds", type=float, default=60.0)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="outreach-bench-latency-") as tmp, running_dovecot() as server:  # fmt: skip
        root = Path(tmp)
        env = {**os.environ, "OUTREACH_IMAP_PASSWORD": server.password, "OUTREACH_HOME": str(root / "home")}  # fmt: skip
        os.environ["OUTREACH_HOME"] = env["OUTREACH_HOME"]  # this process's store keys too
        user = server.new_user()
        idle_ws, poll_ws = (workspace(root, server, user, idle=flag) for flag in (True, False))
        cpu_idle = idle_cpu(idle_ws, env, args.idle_seconds, idle=True)
        cpu_poll = idle_cpu(poll_ws, env, args.idle_seconds, idle=False)
        seconds = latencies(server, user, idle_ws, env, args.replies, args.seed)
        interval = load_config(idle_ws / "config.toml").sync.interval_minutes * 60
    p50, p95 = percentile(seconds, 50), percentile(seconds, 95)
    print(f"replies delivered            {len(seconds):6d}")
    print(f"delivery -> stored p50       {p50:8.2f} s")
    print(f"delivery -> stored p95       {p95:8.2f} s   (target <= 5 s)")
    print(f"delivery -> stored max       {max(seconds):8.2f} s   mean {statistics.mean(seconds):.2f} s")  # fmt: skip
    print(f"polling every {interval // 60} min (baseline) p50 {interval / 2:8.0f} s   p95 {interval * 0.95:.0f} s")  # fmt: skip
    print(f"p95 / polling p95            {p95 / (interval * 0.95):8.4f}x")
    print(f"serve idle CPU, with IDLE    {cpu_idle:8.3f} % of a core over {args.idle_seconds:.0f} s")  # fmt: skip
    print(f"serve idle CPU, polling only {cpu_poll:8.3f} % of a core")
    print(f"the IDLE connection's cost   {cpu_idle - cpu_poll:8.3f} % of a core (target < 1%)")


if __name__ == "__main__":
    main()
