"""The IDLE watcher against a real Dovecot: new mail wakes it; drops, restarts and silently dead
connections are survived; `outreach serve` stores a delivered reply with no manual sync.

Deadlines below are upper bounds for a failure message, not timings: the speed is measured in
bench/reply_latency.py.
"""

from __future__ import annotations

import signal
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach import users
from outreach.config import load_config
from outreach.inbox.watch import Timing, Watcher
from outreach.jobs import health
from outreach.review import queue
from outreach.servers.imap import ImapMailbox
from outreach.servers.maildir import MaildirMailbox
from outreach.store import open_store
from outreach.store.models import Enrolment, Message, utcnow
from outreach.web import create_app
from tests import inbox_kit as kit
from tests.services.dovecot import running_dovecot
from tests.test_cli_inbox import configure
from tests.test_daemon import serve_process, stop
from tests.webutil import PASSWORD, free_port, log_in

if TYPE_CHECKING:
    from tests.services.dovecot import Dovecot

pytestmark = pytest.mark.dovecot


class Reports:
    """What the watcher reported, in order."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def ok(self, detail: str) -> None:
        self.lines.append(f"ok: {detail}")

    def failed(self, error: str, retry_in: float) -> None:
        self.lines.append(f"failed: {error}")


class Running:
    """A watcher in its thread, counting the changes it reported."""

    def __init__(self, opener: Callable[[], ImapMailbox], timing: Timing | None = None) -> None:
        self.changes = 0
        self.changed = threading.Condition()
        self.stop = threading.Event()
        self.reports = Reports()
        self.watcher = Watcher(
            opener, "INBOX", self._changed, self.stop, self.reports, timing=timing or Timing()
        )
        self.thread = threading.Thread(target=self.watcher.run, daemon=True)

    def _changed(self) -> None:
        with self.changed:
            self.changes += 1
            self.changed.notify_all()

    def wait_for(self, what: Callable[[], bool], deadline: float = 20.0) -> None:
        """Wait until ``what`` holds; fail with the reports after ``deadline`` seconds."""
        end = time.monotonic() + deadline
        with self.changed:
            while not what():
                if time.monotonic() > end:
                    raise AssertionError(f"never happened; reports: {self.reports.lines}")
                self.changed.wait(0.05)


@pytest.fixture
def watching() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for running in started:
        running.stop.set()
        running.thread.join(timeout=40)
        assert not running.thread.is_alive(), "the watcher did not stop"


def opener(server: Dovecot, user: str, port: int | None = None, timeout: float = 10.0):  # type: ignore[no-untyped-def]
    return lambda: ImapMailbox(
        host=server.host, port=port or server.port, security="none", username=user,
        password=server.password, timeout=timeout,
    )  # fmt: skip


def reply(n: int) -> bytes:
    return kit.plain(kit.head("ana@paywise.example", msgid=f"<r{n}@x>"), f"Answer {n}")


def start(watching: list[Running], running: Running) -> Running:
    watching.append(running)
    running.thread.start()
    running.wait_for(lambda: running.reports.lines == ["ok: IDLE on INBOX"])
    return running


def reconnected(running: Running) -> None:
    """Wait until it connected again, after a failure, and caught up."""
    running.wait_for(
        lambda: (
            running.watcher.connections == 2 and running.reports.lines[-1] == "ok: IDLE on INBOX"
        )
    )


def test_new_mail_wakes_it_and_a_dropped_connection_comes_back(
    dovecot: Dovecot, watching: list[Running]
) -> None:
    user = dovecot.new_user()
    running = start(watching, Running(opener(dovecot, user)))
    assert running.reports.lines == ["ok: IDLE on INBOX"]
    dovecot.deliver(user, reply(1))
    running.wait_for(lambda: running.changes >= 2)
    dovecot.kill_connections(user)  # the network dropped it
    reconnected(running)
    before = running.changes
    dovecot.deliver(user, reply(2))
    running.wait_for(lambda: running.changes > before)
    assert any(line.startswith("failed: ") for line in running.reports.lines)
    assert running.reports.lines[-1] == "ok: IDLE on INBOX"


def test_a_restarted_dovecot_is_watched_again(watching: list[Running]) -> None:
    with running_dovecot() as server:
        user = server.user
        running = start(watching, Running(opener(server, user)))
        server.restart()
        reconnected(running)
        before = running.changes
        server.deliver(user, reply(1))
        running.wait_for(lambda: running.changes > before)
        failures = [line for line in running.reports.lines if line.startswith("failed")]
        assert failures and ("BYE" in failures[0] or "closed" in failures[0])
        running.stop.set()
        running.thread.join(timeout=40)


def test_idle_is_renewed_and_keeps_hearing_mail(dovecot: Dovecot, watching: list[Running]) -> None:
    user = dovecot.new_user()
    running = start(watching, Running(opener(dovecot, user), Timing(renew=1.0, quiet=0.5)))
    time.sleep(3.5)  # a few renewals and NOOP probes go by (not a timing assertion)
    before = running.changes
    dovecot.deliver(user, reply(1))
    running.wait_for(lambda: running.changes > before)
    assert running.watcher.connections == 1  # renewing never needed a new connection


class Blackhole:
    """A TCP relay to Dovecot that can stop carrying bytes without closing anything (a NAT
    that forgot the connection)."""

    def __init__(self, port: int) -> None:
        self.port, self.frozen = free_port(), threading.Event()
        self._target = port
        self._server = socket.create_server(("127.0.0.1", self.port))
        self._sockets: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                client, _ = self._server.accept()
            except OSError:
                return
            upstream = socket.create_connection(("127.0.0.1", self._target))
            self._sockets += [client, upstream]
            frozen = self.frozen.is_set()  # a new connection after the freeze works again
            for a, b in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(a, b, frozen), daemon=True).start()

    def _pipe(self, a: socket.socket, b: socket.socket, born_frozen: bool) -> None:
        try:
            while data := a.recv(65536):
                if self.frozen.is_set() and not born_frozen:
                    continue  # swallowed: neither side hears of it
                b.sendall(data)
        except OSError:
            pass

    def close(self) -> None:
        self._server.close()
        for sock in self._sockets:
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass
            sock.close()


def test_a_silently_dead_connection_is_found_by_noop(
    dovecot: Dovecot, watching: list[Running]
) -> None:
    user = dovecot.new_user()
    relay = Blackhole(dovecot.port)
    try:
        timing = Timing(renew=600.0, quiet=1.0)
        running = start(watching, Running(opener(dovecot, user, relay.port, 2.0), timing))
        relay.frozen.set()
        reconnected(running)
        failed = [line for line in running.reports.lines if line.startswith("failed")]
        assert failed and "timed out" in failed[0]
        before = running.changes
        dovecot.deliver(user, reply(1))
        running.wait_for(lambda: running.changes > before)
    finally:
        relay.close()


def test_a_mailbox_without_idle_is_left_to_polling(tmp_path: Path) -> None:
    for sub in ("cur", "new", "tmp"):
        (tmp_path / "Maildir" / sub).mkdir(parents=True)
    running = Running(lambda: MaildirMailbox(tmp_path / "Maildir", tmp_path / "state"))  # type: ignore[arg-type,return-value]
    running.watcher.run()  # returns at once: nothing to watch
    assert running.reports.lines == ["ok: INBOX: the server does not offer IDLE; polling"]
    assert running.changes == 0 and running.watcher.connections == 0


def test_serve_stores_a_delivered_reply_and_stops_the_sequence_without_a_sync(
    workspace: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    user = dovecot.new_user()
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    configure(workspace, dovecot, user)  # sync.interval_minutes stays 15
    settings = load_config(workspace / "config.toml")
    store = open_store(settings.database_url)
    ana = kit.add_people(store, ["ana@paywise.example"])["ana@paywise.example"]
    with store.session() as session:
        users.add_user(session, "maria", PASSWORD)
    process = serve_process(workspace, free_port())
    try:
        watch = _wait(lambda: _watching(store), process, "the watcher never went into IDLE")
        assert watch.line.startswith("watch ok") and "IDLE on INBOX" in watch.line
        dovecot.deliver(user, kit.gmail_reply(ana.email, "<idle1@x>", "Yes, tell me more.", ana.message_id))  # fmt: skip
        _wait(lambda: _stored(store, "<idle1@x>"), process, "the reply was never stored")
        with store.read() as session:
            enrolment = session.get_one(Enrolment, ana.enrolment_id)
            assert enrolment.status == "replied"
        assert kit.draft_status(store, ana.follow_up_id) == queue.CANCELLED
        client = TestClient(create_app(settings, store=store))
        log_in(client)
        page = client.get(f"/conversations/{ana.email}")
        assert page.status_code == 200 and "Yes, tell me more." in page.text
    finally:
        stop(process, signal.SIGTERM)
        store.close()


def _watching(store):  # type: ignore[no-untyped-def]
    status = next(s for s in health.statuses(store, now=utcnow()) if s.component == "watch")
    return status if "IDLE on INBOX" in status.line else None


def _stored(store, message_id: str) -> bool:  # type: ignore[no-untyped-def]
    with store.read() as session:
        return (
            session.scalar(select(Message.id).where(Message.message_id == message_id)) is not None
        )


def _wait(what, process, failure: str):  # type: ignore[no-untyped-def]
    end = time.monotonic() + 30
    while not (found := what()):
        if process.poll() is not None or time.monotonic() > end:
            process.kill()
            _, err = process.communicate()
            raise AssertionError(f"{failure}: {err.decode()[-2000:]}")
        time.sleep(0.05)
    return found
