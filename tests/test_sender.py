"""The sender against misbehaving servers: retries before the body, uncertainty after it."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import pytest

from outreach.config import Settings
from outreach.errors import ConfigError
from outreach.inbox.sync import run_sync
from outreach.sending import freezing
from outreach.sending import outbox as sending
from outreach.sending.sender import RunReport, run_sender
from outreach.sending.sent_folder import server_files_sent
from outreach.servers.imap import ImapMailbox
from outreach.servers.mailbox import Mailbox
from outreach.servers.smtp import SmtpSettings
from outreach.store import Store
from outreach.store.models import Draft, utcnow
from tests import outbox_kit as kit
from tests.services import smtp as services
from tests.services.dovecot import Dovecot
from tests.services.smtp import CaptureServer, Fault, FaultServer, SinkServer

smtp_capture = services.smtp_capture
smtp_capture_factory = services.smtp_capture_factory
fault_smtp = services.fault_smtp
smtp_sink = services.smtp_sink


def clock() -> kit.datetime:
    return kit.MONDAY


async def run(
    store: Store, transport: SmtpSettings, settings: Settings | None = None, **kwargs: Any
) -> RunReport:
    return await run_sender(
        store,
        settings or kit.settings(transport.port),
        clock=clock,
        smtp=transport,
        sleep=kit.no_sleep,
        **kwargs,
    )


async def test_a_message_that_waited_goes_out_dated_when_it_is_sent(
    store: Store, smtp_capture: CaptureServer
) -> None:
    waited = kit.add_draft(store, "waited@example.com")
    fresh = kit.add_draft(store, "fresh@example.com")
    settings = kit.settings(smtp_capture.port)
    with store.session() as session:
        for draft_id, queued_at in ((waited, timedelta(hours=3)), (fresh, timedelta(minutes=1))):
            draft = session.get(Draft, draft_id)
            assert draft is not None
            freezing.enqueue(session, draft, settings, actor="maria", now=kit.MONDAY - queued_at)
    frozen = {entry.to_email: entry.raw for entry in kit.entries(store)}
    await run(store, smtp_capture.settings())
    arrived = {received.rcpt_tos[0]: received.data for received in smtp_capture.messages}
    assert arrived["fresh@example.com"] == frozen["fresh@example.com"]  # byte for byte
    waited_mail = kit.parse(arrived["waited@example.com"])
    assert waited_mail["Date"].datetime == kit.MONDAY
    assert kit.parse(frozen["waited@example.com"])["Date"].datetime == kit.MONDAY - timedelta(
        hours=3
    )
    assert waited_mail["Message-ID"] == kit.parse(frozen["waited@example.com"])["Message-ID"]
    # The outbox keeps the bytes that went out.
    assert {entry.to_email: entry.raw for entry in kit.entries(store)} == arrived


@pytest.mark.parametrize("fault", [Fault.CONNECT_421, Fault.RCPT_451, Fault.CLOSE_BEFORE_DATA])
async def test_failures_before_the_body_are_retried(
    store: Store, fault_smtp: Callable[..., FaultServer], fault: Fault
) -> None:
    server = fault_smtp(fault, fail_times=2)
    draft = kit.add_draft(store)
    report = await run(store, server.settings(timeout=0.5))
    assert len(report.sent) == 1 and kit.states(store) == {draft: "sent"}
    assert len(server.messages) == 1
    assert kit.entries(store)[0].attempts == 1  # retried inside one claim


async def test_a_4xx_that_persists_requeues_with_backoff(
    store: Store, fault_smtp: Callable[..., FaultServer]
) -> None:
    server = fault_smtp(Fault.RCPT_451)
    kit.add_drafts(store, 5)
    report = await run(store, server.settings())
    assert len(report.requeued) == 3  # three in a row: the server is down, the rest waits
    assert report.stopped.startswith("the server kept failing temporarily")
    rows = kit.entries(store)
    assert [r.state for r in rows] == ["queued"] * 5
    assert [r.attempts for r in rows] == [1, 1, 1, 0, 0]
    assert rows[0].not_before == kit.MONDAY + timedelta(minutes=5)
    assert rows[0].wait_reason.startswith("temporary failure (451 4.7.1 greylisted")
    assert rows[3].not_before is None and server.messages == []
    # The plan shows why the first three wait; the next run retries the untried ones first.
    again = await run(store, server.settings())
    assert [r.attempts for r in kit.entries(store)] == [1, 1, 1, 1, 1]
    assert len(again.requeued) == 2


@pytest.mark.parametrize(
    ("fault", "reply"),
    [
        (Fault.RCPT_550, "550 5.1.1 <nobody@example.com>: mailbox unknown"),
        (Fault.DATA_552, "552 5.3.4 message too big for fault.test"),
    ],
)
async def test_a_5xx_fails_with_the_servers_reply(
    store: Store, fault_smtp: Callable[..., FaultServer], fault: Fault, reply: str
) -> None:
    server = fault_smtp(fault)
    draft = kit.add_draft(store)
    report = await run(store, server.settings())
    assert len(report.failed) == 1 and kit.states(store) == {draft: "failed"}
    entry = kit.entries(store)[0]
    assert entry.last_reply == reply and entry.attempts == 1
    assert entry.wait_reason == f"the server refused it: {reply}"


# STALL_AFTER_BODY is left to tests/test_smtp.py: the fault server's stalled session task is
# only weakly held once the client hangs up, so the garbage collector may destroy it mid-test.
@pytest.mark.parametrize("fault", [Fault.CLOSE_AFTER_BODY])
async def test_no_reply_after_the_body_is_uncertain_and_never_retried(
    store: Store, fault_smtp: Callable[..., FaultServer], fault: Fault
) -> None:
    server = fault_smtp(fault, fail_times=1)
    draft = kit.add_draft(store)
    report = await run(store, server.settings(timeout=0.5))
    assert len(report.uncertain) == 1 and kit.states(store) == {draft: "uncertain"}
    assert len(server.messages) == 1  # the server has it; we cannot know
    entry = kit.entries(store)[0]
    assert "no reply after the body was sent" in entry.last_reply
    assert f"outreach outbox resolve {entry.id} --sent|--resend" in entry.wait_reason
    await run(store, server.settings(timeout=0.5))  # a later run leaves it to a person
    assert len(server.messages) == 1 and kit.states(store) == {draft: "uncertain"}


async def test_unusable_settings_put_the_message_back(
    store: Store, smtp_capture: CaptureServer
) -> None:
    draft = kit.add_draft(store)
    with pytest.raises(ConfigError, match="does not offer STARTTLS"):
        await run(store, smtp_capture.settings(security="starttls"))
    assert kit.states(store) == {draft: "queued"}
    assert kit.entries(store)[0].attempts == 0 and smtp_capture.messages == []


def sink_settings(port: int, dovecot: Dovecot, user: str, append_sent: str) -> Settings:
    imap = {
        "host": dovecot.host,
        "port": dovecot.port,
        "security": "none",
        "username": user,
        "append_sent": append_sent,
    }
    return kit.settings(port, imap=imap)


def imap_for(dovecot: Dovecot, user: str) -> Callable[[], Mailbox]:
    def factory() -> Mailbox:
        return ImapMailbox(
            host=dovecot.host, port=dovecot.port, security="none", username=user,
            password=dovecot.password,
        )  # fmt: skip

    return factory


@pytest.mark.dovecot
@pytest.mark.parametrize("in_sent", [True, False])
async def test_accepted_then_disconnected_is_resolved_by_the_sent_folder(
    store: Store, smtp_sink: Callable[..., SinkServer], dovecot: Dovecot, in_sent: bool
) -> None:
    sink = smtp_sink("-q", ".")  # keeps the message, drops the line before answering
    user = dovecot.new_user()
    settings = sink_settings(sink.port, dovecot, user, append_sent="never")
    draft = kit.add_draft(store)
    report = await run(store, sink.settings(), settings)
    assert len(sink.dumps(expect=1)) == 1
    assert len(report.uncertain) == 1 and kit.states(store) == {draft: "uncertain"}
    entry = kit.entries(store)[0]
    if in_sent:  # the provider filed its copy, as Gmail or Microsoft 365 do
        dovecot.deliver(user, entry.raw, folder="Sent")
    # A decoy whose Message-ID merely contains ours must not count (Dovecot matches substrings).
    decoy = entry.raw.replace(entry.message_id.encode(), entry.message_id[:-1].encode() + b"x>")
    dovecot.deliver(user, decoy, folder="Sent")
    resolved = await run(store, sink.settings(), settings, mailbox_factory=imap_for(dovecot, user))
    if in_sent:
        assert resolved.found_in_sent == [entry.id]
        assert kit.states(store) == {draft: "sent"}
        assert kit.entries(store)[0].last_reply == "found in the Sent folder"
    else:
        assert resolved.found_in_sent == [] and kit.states(store) == {draft: "uncertain"}
    assert len(sink.dumps(expect=2, deadline=0.2)) == 1  # never sent again by itself


@pytest.mark.dovecot
@pytest.mark.parametrize(("append_sent", "filed"), [("auto", 1), ("always", 1), ("never", 0)])
async def test_a_sent_copy_is_filed_once(
    store: Store,
    smtp_capture: CaptureServer,
    dovecot: Dovecot,
    append_sent: str,
    filed: int,
) -> None:
    user = dovecot.new_user()
    settings = sink_settings(smtp_capture.port, dovecot, user, append_sent)
    kit.add_draft(store)
    factory = imap_for(dovecot, user)
    report = await run(store, smtp_capture.settings(), settings, mailbox_factory=factory)
    assert report.filed == filed
    entry = kit.entries(store)[0]
    with factory() as box:
        assert len(box.search_message_id("Sent", entry.message_id)) == filed
    # A crash between APPEND and the commit: the next run searches first and files nothing.
    with store.session() as session:
        session.get_one(sending.OutboxEntry, entry.id).filed_sent = False
    again = await run(store, smtp_capture.settings(), settings, mailbox_factory=factory)
    assert again.filed == 0
    with factory() as box:
        assert len(box.search_message_id("Sent", entry.message_id)) == filed


@pytest.mark.parametrize(
    ("host", "itself"),
    [
        ("smtp.gmail.com", True),
        ("smtp.googlemail.com", True),
        ("smtp.office365.com", True),
        ("smtp-mail.outlook.com", True),
        ("smtp.mail.me.com", True),
        ("smtp.zoho.eu", True),
        ("mail.nordlys.example", False),
    ],
)
def test_which_providers_file_sent_copies_themselves(host: str, itself: bool) -> None:
    settings = kit.settings()
    settings = settings.model_copy(update={"smtp": settings.smtp.model_copy(update={"host": host})})
    assert server_files_sent(settings) is itself


async def test_a_draft_that_cannot_be_built_leaves_the_rest_of_its_batch_queued(
    store: Store, smtp_capture: CaptureServer
) -> None:
    good = [kit.add_draft(store, f"ok{n}@example.com") for n in range(3)]
    bad = kit.add_draft(store, "bell@example.com", subject="A role \x07 at Nordlys")
    report = await run_sender(store, kit.settings(smtp_capture.port), clock=lambda: kit.MONDAY)
    assert report.enqueued == 3 and len(report.sent) == 3
    assert any(f"draft {bad} not queued" in w and "subject" in w for w in report.warnings)
    assert sorted(kit.states(store)) == sorted(good)
    assert len(smtp_capture.messages) == 3


@pytest.mark.dovecot
async def test_a_store_restored_from_a_backup_does_not_send_again_what_the_sent_folder_has(
    store: Store, smtp_capture: CaptureServer, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    user = dovecot.new_user()
    imap = {"host": dovecot.host, "port": dovecot.port, "security": "none", "username": user}
    settings = kit.settings(smtp_capture.port, imap={**imap, "append_sent": "never"})
    went, waiting = (
        kit.add_draft(store, "went@example.com"),
        kit.add_draft(store, "new@example.com"),
    )
    with store.session() as session:
        for draft_id in (went, waiting):
            freezing.enqueue(session, session.get_one(Draft, draft_id), settings, actor="maria",
                            now=utcnow())  # fmt: skip
    gone = next(entry for entry in kit.entries(store) if entry.draft_id == went)
    # The backup was taken here. Later `went` was sent and filed in the Sent folder, the mailbox
    # was synced... and then the store was restored from the backup: `went` is queued again.
    dovecot.deliver(user, gone.raw, folder="Sent")
    run_sync(settings, store)  # the restored store knows a sync newer than both approvals
    report = await run_sender(
        store, settings, clock=utcnow, sleep=kit.no_sleep, mailbox_factory=imap_for(dovecot, user)
    )
    assert [m.rcpt_tos for m in smtp_capture.messages] == [("new@example.com",)]
    assert report.found_in_sent == [gone.id] and report.sent != []
    assert kit.states(store) == {went: "sent", waiting: "sent"}
    entry = next(entry for entry in kit.entries(store) if entry.draft_id == went)
    assert entry.last_reply.startswith("found in the Sent folder before sending")
