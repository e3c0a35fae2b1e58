"""Sync a Dovecot mailbox of 50,000 messages (500 from candidates), beside two baselines.

Run: .venv/bin/python bench/sync.py [--messages N] [--related N] [--new N] [--db URL]

Starts its own Dovecot (the test fixture's config, tests/services/dovecot.py), writes the
messages straight into the user's Maildir, lets Dovecot index them and the directories settle,
then measures, in this order and in the same run:

  floor        doveadm fetch of the same header fields, size and date (server side only)
  bare         imapclient: login, EXAMINE, SEARCH SINCE, FETCH of the same fields in chunks
  first sync   outreach's run_sync on an empty store holding the candidates
  incremental  run_sync again after N new messages (default 100)

Each client runs in a child process so its peak RSS is its own. Targets (issue 6): first sync
at most 3x the bare fetch; incremental at most 5% of the first sync; peak memory < 200 MB.
"""

from __future__ import annotations

import argparse
import grp
import json
import os
import pwd
import resource
import subprocess
import sys
import tempfile
import time
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from outreach.servers.mailbox import HEADER_FIELDS  # noqa: E402

RECRUITER = "maria@nordlys.example"
SINCE = date(2020, 1, 1)
CHUNK = 500


def candidate(i: int) -> str:
    return f"person{i}@company{i % 97}.example"


def ours(i: int) -> str:
    return f"<intro-{i}@nordlys.example>"


def message(n: int, related: int | None) -> bytes:
    """An unrelated newsletter or personal mail, or a candidate's reply to our message."""
    if related is None:
        sender = f"News {n % 300} <news{n % 300}@shop{n % 50}.example>"
        subject, extra = f"Weekly offers {n}", f"List-Unsubscribe: <mailto:u{n}@shop.example>\n"
        body = ("Lorem ipsum dolor sit amet, consectetur adipiscing elit. " * 16 + "\n") * 2
    else:
        sender = f"Person {related} <{candidate(related)}>"
        subject = "Re: Senior Backend Engineer at Nordlys"
        extra = f"In-Reply-To: {ours(related)}\nReferences: {ours(related)}\n"
        body = (
            f"Thanks, I'd like to hear more ({related}).\n\n"
            f"On Mon, 2 Mar 2026 at 09:02, Maria Berg <{RECRUITER}> wrote:\n> Hi!\n"
        )
    return (
        f"Return-Path: <bounce-{n}@mx.example>\nReceived: from mx.example by dovecot.test\n"
        f"From: {sender}\nTo: Maria Berg <{RECRUITER}>\nSubject: {subject}\n"
        f"Date: Mon, 02 Mar 2026 10:15:00 +0100\nMessage-ID: <m{n}@mail.example>\n{extra}"
        f"MIME-Version: 1.0\nContent-Type: text/plain; charset=utf-8\n\n{body}"
    ).encode()


def write_messages(
    maildir: Path, start: int, count: int, related_every: int, people: int, sub: str
) -> int:
    """Write messages straight into the Maildir; returns how many are candidates' replies."""
    related = 0
    for n in range(start, start + count):
        who = None
        if related_every and people and n % related_every == 0:
            who, related = (n // related_every - 1) % people + 1, related + 1
        name = f"{1772441700 + n}.M{n}P1.bench" + (":2,S" if sub == "cur" else "")
        (maildir / sub / name).write_bytes(message(n, who))
    return related


def start_dovecot(root: Path) -> tuple[Any, subprocess.Popen[bytes]]:
    """Start Dovecot as the test fixture does (a config of our own, as nobody under root)."""
    from tests.services import dovecot as svc

    user, group, prefix = svc._identity()
    for sub in ("run", "state", "mail"):
        (root / sub).mkdir()
    port, lmtp_port = svc._free_port(), svc._free_port()
    config = svc._write_config(root, user, group, port, lmtp_port)
    svc._write_users(root / "passwd", 10)
    if os.geteuid() == 0:
        for path in (root, *root.iterdir()):
            os.chown(path, pwd.getpwnam(user).pw_uid, grp.getgrnam(group).gr_gid)
    log = root / "dovecot.log"
    proc = subprocess.Popen(
        [*prefix, "dovecot", "-F", "-c", str(config)],
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    svc._wait_for_port(port, proc, log)
    return svc.Dovecot(root, port, lmtp_port, prefix), proc


def chown_tree(path: Path, owner: str) -> None:
    if os.geteuid() != 0:
        return
    entry = pwd.getpwnam(owner)
    for folder, dirs, files in os.walk(path):
        for name in [folder, *(os.path.join(folder, d) for d in dirs)]:
            os.chown(name, entry.pw_uid, entry.pw_gid)
        for name in files:
            os.chown(os.path.join(folder, name), entry.pw_uid, entry.pw_gid)


def settle() -> None:
    """Let the Maildir directories age, so Dovecot does not rescan them on every command."""
    time.sleep(2.5)


def child(args: list[str]) -> dict[str, Any]:
    """Run a client in a child process; returns its timing, counts and peak RSS."""
    out = subprocess.run(
        [sys.executable, __file__, "--child", *args],
        capture_output=True,
        text=True,
        check=False,
        cwd=REPO,
    )
    if out.returncode != 0:
        raise SystemExit(f"child {args[0]} failed: {out.stderr.strip()[-2000:]}")
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def run_child(mode: str, host: str, port: int, user: str, password: str, db: str) -> None:
    """The child side: one client run, printed as one JSON line."""
    result: dict[str, Any] = {}
    if mode == "bare":
        import imapclient

        fields = f"BODY.PEEK[HEADER.FIELDS ({' '.join(HEADER_FIELDS)})]".encode()
        start = time.perf_counter()
        client = imapclient.IMAPClient(host, port, ssl=False)
        client.login(user, password)
        client.select_folder("INBOX", readonly=True)
        uids = sorted(client.search(["SINCE", SINCE]))
        fetched = 0
        for i in range(0, len(uids), CHUNK):
            fetched += len(
                client.fetch(uids[i : i + CHUNK], [fields, b"RFC822.SIZE", b"INTERNALDATE"])
            )
        client.logout()
        result = {"seconds": time.perf_counter() - start, "fetched": fetched}
    else:
        from outreach.config import settings_from_dict
        from outreach.inbox.sync import run_sync
        from outreach.store import open_store

        os.environ["OUTREACH_IMAP_PASSWORD"] = password
        settings = settings_from_dict(
            {
                "sender": {
                    "name": "Maria Berg",
                    "email": RECRUITER,
                    "timezone": "Europe/Stockholm",
                },
                "database": {"url": db},
                "imap": {"host": host, "port": port, "security": "none", "username": user},
                "sync": {"since": SINCE.isoformat()},
            },
            path=Path("/nonexistent/config.toml"),
        )
        store = open_store(db)
        start = time.perf_counter()
        report = run_sync(settings, store, now=lambda: datetime(2026, 3, 2, 12, tzinfo=UTC))
        result = {
            "seconds": time.perf_counter() - start,
            "scanned": sum(report.folders.values()),
            "counts": dict(report.counts),
        }
        store.close()
    result["max_rss_mb"] = peak_rss_mb()
    print(json.dumps(result))


def peak_rss_mb() -> float:
    """This process's peak resident memory (VmHWM; ru_maxrss can carry the parent's across exec)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def add_candidates(db: str, count: int) -> None:
    """The candidates and the approved first mail we sent each of them."""
    from outreach.review import queue
    from outreach.store import open_store
    from outreach.store.models import Candidate

    store = open_store(db)
    with store.session() as session:
        for i in range(1, count + 1):
            person = Candidate(email=candidate(i), name=f"Person {i}")
            session.add(person)
            session.flush()
            draft = queue.create_draft(
                session,
                queue.NewDraft(
                    candidate_id=person.id,
                    kind="outreach",
                    template="intro",
                    subject="Senior Backend Engineer at Nordlys",
                    body="Hi!",
                    author="template",
                ),
            )
            queue.approve(session, draft, actor="maria", message_id=ours(i))
            queue.set_status(session, draft, queue.SENT, actor="sender")
    store.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=50_000)
    parser.add_argument("--related", type=int, default=500)
    parser.add_argument("--new", type=int, default=100)
    parser.add_argument("--db", default="", help="database URL (default: SQLite in a temp dir)")
    parser.add_argument("--child", nargs=6, metavar="ARG", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        mode, host, port, user, password, db = args.child
        run_child(mode, host, int(port), user, password, db)
        return

    with tempfile.TemporaryDirectory(prefix="outreach-bench-sync-") as tmp:
        root = Path(tmp)
        os.chmod(root, 0o755)
        server, proc = start_dovecot(root)
        try:
            measure(server, root, args)
        finally:
            from tests.services.dovecot import _stop

            _stop(proc)


def measure(server: Any, root: Path, args: argparse.Namespace) -> None:
    user = server.user
    server.doveadm("mailbox", "status", "-u", user, "messages", "INBOX")  # creates the Maildir
    maildir = server.maildir_path(user)
    every = args.messages // args.related if args.related else 0
    t0 = time.perf_counter()
    related = write_messages(maildir, 1, args.messages, every, args.related, "cur")
    chown_tree(root / "mail", "nobody")
    settle()
    server.doveadm("index", "-u", user, "INBOX")
    print(
        f"mailbox: {args.messages:,} messages, {related} from candidates, written and indexed in"
        f" {time.perf_counter() - t0:.1f} s"
    )

    fields = " ".join(
        ["uid", "size.physical", "date.received"] + [f"hdr.{f.lower()}" for f in HEADER_FIELDS]
    )
    server.doveadm("fetch", "-u", user, fields, "mailbox", "INBOX", "all")  # warms the cache
    start = time.perf_counter()
    server.doveadm("fetch", "-u", user, fields, "mailbox", "INBOX", "all")
    floor = time.perf_counter() - start

    db = args.db or f"sqlite:///{root / 'outreach.db'}"
    add_candidates(db, args.related)
    common = [server.host, str(server.port), user, server.password, db]
    bare = child(["bare", *common])
    first = child(["sync", *common])
    assert first["counts"].get("replies", 0) == related, first

    fresh = write_messages(maildir, args.messages + 1, args.new, 50, args.related, "new")
    chown_tree(maildir, "nobody")
    settle()
    incremental = child(["sync", *common])

    rows = [
        ("doveadm fetch (floor)", floor, None),
        ("imapclient header fetch", bare["seconds"], bare["max_rss_mb"]),
        ("outreach sync, first", first["seconds"], first["max_rss_mb"]),
        (f"outreach sync, +{args.new} new", incremental["seconds"], incremental["max_rss_mb"]),
    ]
    for (name, seconds, rss), count in zip(rows, [args.messages] * 3 + [args.new], strict=True):
        memory = f"{rss:7.1f} MB peak RSS" if rss is not None else ""
        print(f"{name:28} {seconds:8.3f} s   {count / seconds:9,.0f} msg/s   {memory}")
    ratio = first["seconds"] / bare["seconds"]
    share = incremental["seconds"] / first["seconds"]
    print(f"first sync / bare fetch: {ratio:.2f}x (target <= 3x)")
    print(f"first sync / doveadm floor: {first['seconds'] / floor:.2f}x")
    print(
        f"incremental / first: {share:.1%} (target <= 5%); stored"
        f" {incremental['counts'].get('stored', 0)} of {incremental['scanned']} new ({fresh} replies)"
    )
    print(
        f"peak RSS of the sync process: {max(first['max_rss_mb'], incremental['max_rss_mb']):.1f} MB"
        " (target < 200 MB)"
    )


if __name__ == "__main__":
    main()
