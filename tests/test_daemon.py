"""Every way into sending checks the approval: the API, and the sender `serve` runs."""

from __future__ import annotations

import asyncio
import json
import os
import re
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner, Result
from fastapi.testclient import TestClient
from markupsafe import escape
from sqlalchemy import select, text

from outreach import users
from outreach.cli import cli
from outreach.config import Settings
from outreach.jobs import health
from outreach.jobs.loops import send_forever, serve_jobs, sync_forever
from outreach.review import queue
from outreach.store import Store
from outreach.store.models import Draft, Message, OutboxEntry, Revision, utcnow
from outreach.web import create_app
from tests import inbox_kit
from tests.config_kit import configure
from tests.services.smtp import CaptureServer
from tests.webutil import free_port, log_in, seed, settings_for


def smtp_to(workspace: Path, port: int) -> Settings:
    return configure(
        workspace,
        smtp={"host": "127.0.0.1", "port": port, "security": "none"},
        pacing={"working_hours": "always", "min_gap_seconds": 0},
    )


@pytest.fixture
def api(
    store: Store, workspace: Path, smtp_capture: CaptureServer
) -> Iterator[tuple[TestClient, dict[str, int]]]:
    seeded = seed(store, drafts=3)
    settings = smtp_to(workspace, smtp_capture.port)
    with store.session() as session:
        token = users.issue_token(session, users.web_secret(), "maria")
    with TestClient(create_app(settings, store)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, {"a": seeded["drafts"][0], "b": seeded["drafts"][1], "c": seeded["drafts"][2]}


def test_the_api_queues_only_approved_text(
    api: tuple[TestClient, dict[str, int]], store: Store
) -> None:
    client, ids = api
    refused = client.post(f"/api/drafts/{ids['a']}/send")
    assert refused.status_code == 409
    assert "only approved drafts enter the outbox" in refused.json()["detail"]
    assert client.post(f"/api/drafts/{ids['a']}/approve", json={"revision": 1}).status_code == 200
    queued = client.post(f"/api/drafts/{ids['a']}/send")
    assert queued.status_code == 200 and queued.json()["state"] == "queued"
    # A draft whose text was changed behind its approval is refused.
    assert client.post(f"/api/drafts/{ids['b']}/approve", json={"revision": 1}).status_code == 200
    with store.session() as session:
        revision = session.scalars(select(Revision).where(Revision.draft_id == ids["b"])).one()
        revision.body = "Changed after approval."
    tampered = client.post(f"/api/drafts/{ids['b']}/send")
    assert tampered.status_code == 409
    assert "differs from what was approved" in tampered.json()["detail"]
    listing = client.get("/api/outbox").json()
    assert [row["draft_id"] for row in listing] == [ids["a"]]


def test_the_sender_serve_runs_sends_approved_mail_only(
    store: Store, workspace: Path, smtp_capture: CaptureServer
) -> None:
    seeded = seed(store, drafts=3)
    settings = smtp_to(workspace, smtp_capture.port)
    first, second, third = seeded["drafts"]
    with store.session() as session:
        for draft_id in (first, second):
            draft = queue.get_draft(session, draft_id)
            queue.approve(
                session, draft, actor="maria", message_id=f"<d{draft_id}@nordlys.example>"
            )
        revision = session.scalars(select(Revision).where(Revision.draft_id == second)).one()
        revision.body = "Changed after approval."
    app = create_app(settings, store, background=serve_jobs(settings, store))
    with TestClient(app):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not smtp_capture.messages:
            time.sleep(0.05)  # waiting for the background task, not moving a clock
    assert [m.rcpt_tos for m in smtp_capture.messages] == [("jamie@paywise.example",)]
    assert f"<d{first}@nordlys.example>".encode() in smtp_capture.messages[0].data
    with store.session() as session:
        states = dict(session.execute(select(Draft.id, Draft.status)).all())
        outbox = list(session.scalars(select(OutboxEntry.draft_id)))
    assert states[first] == "sent" and states[third] == "pending"
    assert states[second] == "pending" and second not in outbox  # never frozen, never sent


# --- The loops survive any exception, back off, and say so on every page and in `status`.


def use_store(workspace: Path, store: Store) -> None:
    """Point the workspace's config.toml at the test's store (the CLI reads the config)."""
    configure(workspace, database={"url": store.engine.url.render_as_string(hide_password=False)})


def hide_outbox(store: Store, hidden: bool) -> None:
    """Rename the outbox table away (every sender round then fails) or back."""
    names = ("outbox", "outbox_away") if hidden else ("outbox_away", "outbox")
    with store.engine.begin() as connection:
        connection.execute(text(f"ALTER TABLE {names[0]} RENAME TO {names[1]}"))


async def test_the_sender_loop_survives_any_error_backs_off_and_shows_it(
    store: Store,
    workspace: Path,
    smtp_capture: CaptureServer,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    seeded = seed(store, drafts=1)
    use_store(workspace, store)
    settings = smtp_to(workspace, smtp_capture.port)
    with store.session() as session:
        queue.approve(
            session, queue.get_draft(session, seeded["drafts"][0]), actor="maria",
            message_id="<loop@nordlys.example>",
        )  # fmt: skip
    hide_outbox(store, True)  # not an OutreachError: a store that fails under the sender
    waits: list[float] = []
    seen: dict[str, object] = {}

    async def sleep(seconds: float) -> None:
        waits.append(seconds)
        if len(waits) == 3:  # three failed rounds: look at what a person sees, then repair
            with TestClient(create_app(settings, store)) as client:
                log_in(client)
                seen["page"] = client.get("/queue").text
                seen["conversations"] = client.get("/conversations").text
            seen["status"] = CliRunner().invoke(cli, ["status"])
            seen["json"] = CliRunner().invoke(cli, ["status", "--json"])
            hide_outbox(store, False)
        elif len(waits) == 4:
            seen["after"] = CliRunner().invoke(cli, ["status"])
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await send_forever(settings, store, sleep=sleep)
    assert waits[:3] == [5.0, 10.0, 20.0]  # growing delays between the failed rounds
    assert waits[3] == 60.0  # healthy again: the idle look at the outbox
    assert [m.rcpt_tos for m in smtp_capture.messages] == [("jamie@paywise.example",)]
    # The log has the error with its traceback.
    missing = {  # the same failure in each engine's words
        "sqlite": "OperationalError: no such table: outbox",
        "postgresql": 'ProgrammingError: relation "outbox" does not exist',
    }[store.engine.dialect.name]
    assert "sender failed (3 in a row)" in caplog.text and "Traceback" in caplog.text
    assert missing in caplog.text
    line = f"sender stopped just now: {missing}"
    for page in ("page", "conversations"):
        html = str(seen[page])
        assert escape(line) in html and "(3 failures in a row)" in html
    status = seen["status"]
    assert isinstance(status, Result) and status.exit_code == 1
    first = status.output.splitlines()[0]
    assert first.startswith(line), first
    assert re.search(r"; retrying in \d+ s \(3 failures in a row\)$", first)
    assert "scheduler: no run yet (it runs in `outreach serve`)" in status.output
    as_json = seen["json"]
    assert isinstance(as_json, Result) and as_json.exit_code == 1
    sender = json.loads(as_json.output)[0]
    assert sender["component"] == "sender" and sender["state"] == "failing"
    assert sender["healthy"] is False and sender["error"] == missing
    after = seen["after"]
    assert isinstance(after, Result) and after.exit_code == 0
    assert after.output.startswith("sender ok: last run just now (sent 1, failed 0, uncertain 0)")
    # Cancelled (the server stopped): the loop says so, and that is not a failure.
    statuses = {s.component: s for s in health.statuses(store, now=utcnow())}
    assert statuses["sender"].state == "stopped" and statuses["sender"].healthy


async def test_a_healthy_page_shows_no_banner(store: Store, workspace: Path) -> None:
    seed(store, drafts=1)
    settings = settings_for(workspace)
    health.record_success(store, "sender", now=utcnow(), next_try=None, detail="sent 0")
    with TestClient(create_app(settings, store)) as client:
        log_in(client)
        assert 'class="note note-error health"' not in client.get("/queue").text


async def test_the_sync_loop_retries_a_failed_run_sooner_then_keeps_its_interval(
    tmp_path: Path, store: Store, caplog: pytest.LogCaptureFixture
) -> None:
    import mailbox
    import shutil

    people = inbox_kit.add_people(store, ["ana@paywise.example"])
    ana = people["ana@paywise.example"]
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    maildir.add(inbox_kit.gmail_reply(ana.email, "<a1@x>", "Yes, interested.", ana.message_id))
    url = store.engine.url.render_as_string(hide_password=False)
    settings = inbox_kit.settings(
        "", 0, "", url, maildir=str(tmp_path / "Maildir"), interval_minutes=5
    )
    sleeps: list[float] = []
    states: list[str] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)
        states.append(health.statuses(store, now=utcnow())[1].state)
        if len(sleeps) == 1:
            shutil.move(tmp_path / "Maildir" / "cur", tmp_path / "cur")  # the next runs fail
        elif len(sleeps) == 3:
            shutil.move(tmp_path / "cur", tmp_path / "Maildir" / "cur")
        elif len(sleeps) == 4:
            raise asyncio.CancelledError

    with pytest.raises(asyncio.CancelledError):
        await sync_forever(settings, store, sleep=sleep)
    assert sleeps == [300, 30, 60, 300]  # the interval; two failures, sooner; healthy again
    assert states == ["ok", "failing", "failing", "ok"]
    assert "sync failed (2 in a row)" in caplog.text and "is not a Maildir" in caplog.text
    with store.read() as session:
        stored = session.scalars(select(Message.message_id).where(Message.direction == "in"))
        assert list(stored) == ["<a1@x>"]


def serve_process(workspace: Path, port: int) -> subprocess.Popen[bytes]:
    """`outreach serve` in its own process, importing this checkout."""
    env = {
        **os.environ,
        "OUTREACH_CONFIG": str(workspace / "config.toml"),
        "PYTHONPATH": str(Path(__file__).resolve().parents[1]),
    }
    argv = [sys.executable, "-c", "import sys; from outreach.cli import main; main(sys.argv[1:])"]
    return subprocess.Popen(
        [*argv, "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def serve_until_the_sender_ran(workspace: Path, store: Store) -> subprocess.Popen[bytes]:
    """Start `outreach serve` and wait until its sender loop has done a round."""
    started = utcnow()
    process = serve_process(workspace, free_port())
    deadline = time.monotonic() + 60
    while True:
        sender = health.statuses(store, now=utcnow())[0]
        if sender.last_success_at is not None and sender.last_success_at >= started:
            return process
        if process.poll() is not None or time.monotonic() > deadline:
            process.kill()
            _, err = process.communicate()
            raise AssertionError(f"the sender loop never reported: {err.decode()[-2000:]}")
        time.sleep(0.05)  # waiting for the server to start, not timing it


def stop(process: subprocess.Popen[bytes], how: signal.Signals) -> None:
    process.send_signal(how)
    process.wait(30)
    if process.stderr:
        process.stderr.close()


@pytest.mark.slow
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL], ids=["stopped", "killed"])
def test_status_tells_a_stopped_server_from_a_killed_one(
    store: Store, workspace: Path, smtp_capture: CaptureServer, how: signal.Signals
) -> None:
    use_store(workspace, store)
    smtp_to(workspace, smtp_capture.port)
    process = serve_until_the_sender_ran(workspace, store)
    try:
        alive = CliRunner().invoke(cli, ["status"])
        assert alive.exit_code == 0 and alive.output.startswith("sender ok: last run")
    finally:
        stop(process, how)
    after = CliRunner().invoke(cli, ["status"])
    sender = after.output.splitlines()[0]
    if how == signal.SIGTERM:
        assert after.exit_code == 0
        assert sender.startswith("sender not running: `outreach serve` stopped")
        return
    assert after.exit_code == 1
    assert sender.startswith("sender not running: the `outreach serve` process that ran it")
    assert "ended without stopping it" in sender
    again = serve_until_the_sender_ran(workspace, store)  # a new server takes the loops over
    try:
        healthy = CliRunner().invoke(cli, ["status"])
        assert healthy.exit_code == 0 and healthy.output.startswith("sender ok: last run")
    finally:
        stop(again, signal.SIGTERM)
