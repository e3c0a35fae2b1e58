"""`outreach send` and `outreach outbox`, through the real command line and real processes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from sqlalchemy import select

from outreach import users
from outreach.cli import main
from outreach.review import queue
from outreach.store import Store, open_store
from outreach.store.models import Draft, Revision
from tests import outbox_kit as kit
from tests.services import smtp as services
from tests.services.smtp import CaptureServer

smtp_capture = services.smtp_capture
smtp_capture_factory = services.smtp_capture_factory

CONFIG = """
[sender]
name = "Maria Berg"
email = "maria@nordlys.example"
timezone = "Europe/Stockholm"

[database]
url = "{url}"

[smtp]
host = "127.0.0.1"
port = {port}
security = "none"
timeout_seconds = 5

[pacing]
daily_cap = 1000
min_gap_seconds = {gap}
jitter_seconds = 0
working_hours = "{hours}"
"""


def configure(
    folder: Path, port: int, url: str | None = None, gap: int = 0, hours: str = "always"
) -> Store:
    url = url or f"sqlite:///{folder / 'outreach.db'}"
    text = CONFIG.format(url=url, port=port, gap=gap, hours=hours)
    (folder / "config.toml").write_text(text)
    store = open_store(url)
    with store.session() as session:  # the reviewer the command line acts as
        if not users.count_users(session):
            users.add_user(session, "maria", "correct horse battery")
    return store


def run(args: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    with pytest.raises(SystemExit) as exit_info:
        main(args)
        raise SystemExit(0)
    out, err = capsys.readouterr()
    return int(exit_info.value.code or 0), out, err


@pytest.fixture
def now(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("OUTREACH_NOW", kit.MONDAY.isoformat())


def test_dry_run_writes_the_exact_messages_and_sends_nothing(
    workspace: Path, smtp_capture: CaptureServer, capsys: pytest.CaptureFixture[str], now: None
) -> None:
    store = configure(workspace, smtp_capture.port)
    kit.add_drafts(store, 2)
    kit.add_draft(store, "pending@example.com", approve=False)
    code, out, _ = run(["send", "--dry-run", "--out", "preview"], capsys)
    assert code == 0 and "wrote 2 messages to preview; nothing was sent" in out
    files = sorted((workspace / "preview").glob("*.eml"))
    assert [f.name for f in files] == ["0001-draft1.eml", "0002-draft2.eml"]
    assert smtp_capture.messages == [] and kit.entries(store) == []
    code, out, _ = run(["send"], capsys)
    assert code == 0 and out.startswith("sent 2, failed 0, uncertain 0")
    assert "the outbox is empty" in out
    sent = {m.rcpt_tos[0]: m.data for m in smtp_capture.messages}
    assert set(sent) == {"cand0@example.com", "cand1@example.com"}  # never the pending draft
    # Frozen messages dry-run byte for byte as they went.
    code, _, _ = run(["send", "--dry-run", "--out", "again"], capsys)
    assert code == 0 and list((workspace / "again").glob("*.eml")) == []
    store.close()


def test_a_draft_changed_after_approval_is_refused_by_send(
    workspace: Path, smtp_capture: CaptureServer, capsys: pytest.CaptureFixture[str], now: None
) -> None:
    store = configure(workspace, smtp_capture.port)
    draft_id = kit.add_draft(store)
    with store.session() as session:
        revision = session.scalar(select(Revision).where(Revision.draft_id == draft_id))
        assert revision is not None
        revision.subject = "Not what was approved"
    code, out, err = run(["send"], capsys)
    assert code == 0 and smtp_capture.messages == []
    assert f"draft {draft_id} not queued" in err and "differs from what was approved" in err
    with store.session() as session:  # back to a person, with the reason on the draft
        draft = session.get_one(Draft, draft_id)
        assert draft.status == "pending" and "differs from what was approved" in draft.error
    code, out, _ = run(["queue", "show", str(draft_id)], capsys)
    assert code == 0 and "note: approval withdrawn: draft 1: what would be sent" in out
    store.close()


def test_outbox_list_says_why_and_resolve_decides(
    workspace: Path, smtp_capture: CaptureServer, capsys: pytest.CaptureFixture[str], now: None
) -> None:
    store = configure(workspace, smtp_capture.port, gap=90, hours="Mon-Fri 09:00-17:00")
    kit.add_drafts(store, 2)
    kit.add_draft(store, "tokyo@example.com", timezone="Asia/Tokyo")
    code, out, _ = run(["send"], capsys)
    assert code == 0 and "sent 1" in out
    assert "next: #2 at 2027-03-01T10:01+00:00 (paced: 90 s after the last send" in out
    code, out, _ = run(["outbox", "list", "--json"], capsys)
    rows = json.loads(out)
    assert [(r["id"], r["state"]) for r in rows] == [(2, "queued"), (3, "queued")]
    assert rows[1]["why"] == "outside working hours in Asia/Tokyo, next slot Tue 09:00"
    code, out, _ = run(["outbox", "list"], capsys)
    assert code == 0 and "2 messages" in out
    code, _, err = run(["outbox", "resolve", "1", "--sent"], capsys)
    assert (code, err.strip()) == (1, "error: outbox entry 1 is sent; only uncertain ones resolve")
    code, _, err = run(["outbox", "resolve", "1"], capsys)
    assert code == 1 and "--sent (it went out) or --resend" in err
    code, _, err = run(["outbox", "resolve", "42", "--resend"], capsys)
    assert code == 1 and "no outbox entry 42" in err
    with store.session() as session:
        entry = session.get_one(kit.OutboxEntry, 2)
        entry.state = "uncertain"
        queue.set_status(session, session.get_one(Draft, entry.draft_id), "uncertain", actor="t")
    code, out, _ = run(["outbox", "resolve", "2", "--resend"], capsys)
    assert (code, out.strip()) == (0, "outbox entry 2 is now queued")
    store.close()


def test_bad_outreach_now_is_a_one_line_error(
    workspace: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    configure(workspace, 2525).close()
    monkeypatch.setenv("OUTREACH_NOW", "next tuesday")
    code, _, err = run(["outbox", "list"], capsys)
    assert code == 1 and err.startswith("error: OUTREACH_NOW='next tuesday' is not an ISO 8601")


def test_two_send_processes_deliver_each_message_once(
    workspace: Path, smtp_capture: CaptureServer, db_url: str
) -> None:
    store = configure(workspace, smtp_capture.port, url=db_url)
    kit.add_drafts(store, 60)
    argv = [sys.executable, "-c", "import sys; from outreach.cli import main; main(sys.argv[1:])"]
    procs = [
        subprocess.Popen([*argv, "send"], cwd=workspace, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]  # fmt: skip
    outputs = [p.communicate(timeout=120) for p in procs]
    codes = [p.returncode for p in procs]
    received = kit.message_ids([m.data for m in smtp_capture.messages])
    assert len(received) == 60 and len(set(received)) == 60
    assert set(kit.states(store).values()) == {"sent"}
    busy = "another `outreach send` is already sending from maria@nordlys.example"
    for code, (out, err) in zip(codes, outputs, strict=True):
        assert (code == 0 and out.startswith("sent ")) or (code == 1 and busy in err), (out, err)
    store.close()
