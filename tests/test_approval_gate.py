"""The approval gate, end to end: what reaches a real SMTP server is what a person approved.

Each attack of issue 11's first finding is replayed against the real sender and a loopback
SMTP server, on SQLite and PostgreSQL: a candidate re-imported after approval with a name that
is an RFC 2047 encoded word carrying CR/LF, new headers and an HTML body; the same through an
inbound reply's subject and a model's answer in a template's Subject line; a long display name
holding ``<attacker@…>, ``; a change of any approved field; bytes changed in the outbox.
"""

from __future__ import annotations

import base64
import hashlib
import json
import mailbox
import shutil
from datetime import timedelta
from email.headerregistry import Address
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select, update

import outreach
from outreach.candidates.records import import_file
from outreach.config import Settings, settings_from_dict
from outreach.drafting.drafter import Drafter, DraftSpec, make_llm
from outreach.inbox.sync import run_sync, suggest_replies
from outreach.review import queue
from outreach.sending import freezing
from outreach.sending.preview import outbox_listing
from outreach.sending.sender import RunReport, run_sender
from outreach.store import Store
from outreach.store.models import Candidate, Draft, OutboxEntry, Revision
from tests import inbox_kit
from tests import outbox_kit as kit
from tests.llm_server import FakeLLMServer
from tests.services import smtp as services
from tests.services.smtp import CaptureServer

smtp_capture = services.smtp_capture
smtp_capture_factory = services.smtp_capture_factory

# The name of issue 11: decoded, it ends the To line, adds Reply-To and an HTML body.
EVIL = (
    "=?utf-8?q?Ivan=0D=0AReply-To:_attacker@evil.example=0D=0AContent-Type:_text/html"
    "=0D=0A=0D=0A<h1>Unapproved</h1><!--?="
)
STARTER = Path(outreach.__file__).parent / "starter" / "templates"
BODY = "Hi Ivan,\n\nWould you like to talk about the backend role?\n\nMaria"
PLAIN_HEADERS = {
    "from", "to", "subject", "date", "message-id", "mime-version", "content-type",
    "content-transfer-encoding",
}  # fmt: skip


def clock() -> kit.datetime:
    return kit.MONDAY


async def send(store: Store, server: CaptureServer, settings: Settings | None = None) -> RunReport:
    settings = settings or kit.settings(server.port)
    return await run_sender(store, settings, clock=clock, sleep=kit.no_sleep)


def approve_again(store: Store, draft_id: int) -> None:
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        queue.approve(session, draft, actor="maria", sender=kit.SENDER)


def draft_row(store: Store, draft_id: int) -> Draft:
    with store.session() as session:
        return queue.get_draft(session, draft_id)


def assert_only_approved(data: bytes, *, body: str, **headers: str) -> Any:
    """The arrived message has exactly our headers, one text/plain part and the approved body."""
    msg = kit.parse(data)
    assert {name.lower() for name in msg.keys()} == PLAIN_HEADERS | {
        name.lower().replace("_", "-") for name in headers
    }
    assert len(msg.keys()) == len(set(msg.keys()))  # no header twice
    assert "Reply-To" not in msg and b"evil.example" not in data.split(b"\r\n\r\n")[1]
    assert not msg.is_multipart() and msg.get_content_type() == "text/plain"
    assert msg.get_content().replace("\r\n", "\n") == body + "\n"
    assert b"<h1>" not in data
    return msg


@pytest.mark.parametrize("frozen", [False, True], ids=["approved", "queued"])
async def test_a_name_reimported_after_approval_withdraws_it_and_then_stays_data(
    store: Store, smtp_capture: CaptureServer, tmp_path: Path, frozen: bool
) -> None:
    draft_id = kit.add_draft(store, "ivan@example.com", name="Ivan Petrov", body=BODY)
    if frozen:  # already in the outbox when the candidate changes
        with store.session() as session:
            freezing.enqueue(
                session, queue.get_draft(session, draft_id), kit.settings(), actor="maria",
                now=kit.MONDAY,
            )  # fmt: skip
    again = tmp_path / "again.csv"
    again.write_text(f"email,name\nivan@example.com,{EVIL}\n")
    assert import_file(store, again).ok
    with store.session() as session:
        assert session.scalar(select(Candidate.name)) == EVIL

    report = await send(store, smtp_capture)
    assert smtp_capture.messages == [] and report.sent == []
    draft = draft_row(store, draft_id)
    assert draft.status == "pending" and draft.approved_hash is None
    assert draft.error.startswith("approval withdrawn: ")
    assert "recipient, subject, body or thread" in draft.error
    if frozen:
        (cancelled,) = report.cancelled
        assert "the draft is pending again" in cancelled[1]
    else:
        assert report.warnings == [f"draft {draft_id} not queued: {draft.error[20:]}"]

    # A person looks at the new name and approves it: it arrives as that text, nothing more.
    approve_again(store, draft_id)
    report = await send(store, smtp_capture)
    (arrived,) = smtp_capture.messages
    assert arrived.rcpt_tos == ("ivan@example.com",)
    msg = assert_only_approved(arrived.data, body=BODY)
    assert msg["To"].addresses == (Address(EVIL, addr_spec="ivan@example.com"),)
    assert draft_row(store, draft_id).error == ""


async def test_an_inbound_subject_that_decodes_to_headers_stays_text(
    store: Store, smtp_capture: CaptureServer, tmp_path: Path
) -> None:
    ana = inbox_kit.add_people(store, ["ana@paywise.example"])["ana@paywise.example"]
    inner = "=?utf-8?q?Hi=0D=0AReply-To:_attacker@evil.example=0D=0AX-Injected:_yes?="
    # Encoded once more, as issue 11 sent it: the sync decodes it once, into `inner`.
    outer = f"=?utf-8?b?{base64.b64encode(inner.encode()).decode()}?="
    head = inbox_kit.head(ana.email, subject=outer, msgid="<r1@x>", in_reply_to=ana.message_id)
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    maildir.add(inbox_kit.plain(head, "Sounds good, tell me more.\n"))
    (tmp_path / "templates").mkdir()
    shutil.copy(STARTER / "reply.j2", tmp_path / "templates")
    settings = settings_from_dict(
        {
            "sender": {"name": "Maria Berg", "email": kit.SENDER, "timezone": "Europe/Stockholm"},
            "smtp": {"host": "127.0.0.1", "port": smtp_capture.port, "security": "none"},
            "imap": {"maildir": str(tmp_path / "Maildir")},
            "sync": {"since": "2020-01-01", "suggest_replies": True},
            "pacing": {"working_hours": "always", "min_gap_seconds": 0, "jitter_seconds": 0},
        },
        path=tmp_path / "config.toml",
    )
    run_sync(settings, store, now=lambda: inbox_kit.NOW)
    (reply_id,) = await suggest_replies(settings, store)
    with store.session() as session:
        subject = session.scalars(select(Revision.subject).where(Revision.draft_id == reply_id))
        assert subject.one() == f"Re: {inner}"
    approve_again(store, reply_id)
    await send(store, smtp_capture, settings)
    (arrived,) = smtp_capture.messages
    msg = kit.parse(arrived.data)
    assert str(msg["Subject"]) == f"Re: {inner}"
    assert "X-Injected" not in msg and "Reply-To" not in msg
    assert str(msg["In-Reply-To"]) == "<r1@x>"
    assert {name.lower() for name in msg.keys()} == PLAIN_HEADERS | {"in-reply-to", "references"}


async def test_a_model_answer_in_the_subject_line_stays_text(
    store: Store, smtp_capture: CaptureServer, tmp_path: Path, llm_server: FakeLLMServer
) -> None:
    (tmp_path / "templates").mkdir()
    (tmp_path / "templates" / "pitch.j2").write_text(
        'Subject: {{ ai("A subject line about the role", name="line", max_words=12) }}\n'
        "Kind: outreach\nDescription: A pitch whose subject the model writes.\nLanguage: en\n\n"
        "Hi {{ candidate.first_name }},\n\nThe backend role is yours to discuss.\n\nMaria\n"
    )
    settings = settings_from_dict(
        {
            "sender": {"name": "Maria Berg", "email": kit.SENDER, "timezone": "Europe/Stockholm"},
            "smtp": {"host": "127.0.0.1", "port": smtp_capture.port, "security": "none"},
            "llm": {"provider": "openai", "base_url": llm_server.base_url, "model": "test-model"},
            "pacing": {"working_hours": "always", "min_gap_seconds": 0, "jitter_seconds": 0},
        },
        path=tmp_path / "config.toml",
    )
    kit.add_candidate(store, "ivan@example.com", "Ivan Petrov")
    llm_server.default = lambda request: json.dumps({"line": EVIL})
    drafter = Drafter(settings, store, llm=make_llm(settings))
    try:
        report = await drafter.draft_many(["ivan@example.com"], DraftSpec(template="pitch"))
    finally:
        await drafter.aclose()
    (draft_id,) = report.drafted
    approve_again(store, draft_id)
    await send(store, smtp_capture, settings)
    (arrived,) = smtp_capture.messages
    msg = assert_only_approved(
        arrived.data, body="Hi Ivan,\n\nThe backend role is yours to discuss.\n\nMaria"
    )
    assert str(msg["Subject"]) == EVIL


async def test_a_long_name_with_an_address_in_it_keeps_its_quotes(
    store: Store, smtp_capture: CaptureServer
) -> None:
    name = (
        "Ivan Petrov, Head of Platform Engineering at Paywise <attacker@evil.example>, Someone Else"
    )
    kit.add_draft(store, "ivan@example.com", name=name, body=BODY)
    await send(store, smtp_capture)
    (arrived,) = smtp_capture.messages
    assert arrived.rcpt_tos == ("ivan@example.com",)
    msg = assert_only_approved(arrived.data, body=BODY)
    assert msg["To"].addresses == (Address(name, addr_spec="ivan@example.com"),)
    assert max(len(line) for line in arrived.data.split(b"\r\n")) <= 78


CHANGES = {
    "name": (Candidate, "name", "Ivan the Terrible"),
    "address": (Candidate, "email", "ivan.petrov@example.com"),
    "subject": (Revision, "subject", "Another subject"),
    "body": (Revision, "body", "Another body"),
    "thread": (Draft, "in_reply_to", "<elsewhere@example.com>"),
    "references": (Draft, "references", ["<elsewhere@example.com>"]),
}


@pytest.mark.parametrize("change", list(CHANGES))
@pytest.mark.parametrize("frozen", [False, True], ids=["approved", "queued"])
async def test_any_change_after_approval_is_refused(
    store: Store, smtp_capture: CaptureServer, change: str, frozen: bool
) -> None:
    draft_id = kit.add_draft(store, "ivan@example.com", name="Ivan Petrov", kind="follow_up")
    if frozen:
        with store.session() as session:
            draft = queue.get_draft(session, draft_id)
            freezing.enqueue(session, draft, kit.settings(), actor="maria", now=kit.MONDAY)
    model, column, value = CHANGES[change]
    with store.session() as session:  # behind the reviewer's back, straight in the store
        session.execute(update(model).values({column: value}))
    report = await send(store, smtp_capture)
    assert smtp_capture.messages == [] and report.sent == []
    draft = draft_row(store, draft_id)
    assert draft.status == "pending" and "differs from what was approved" in draft.error


async def test_bytes_changed_in_the_outbox_fail_loudly_and_are_not_sent(
    store: Store, smtp_capture: CaptureServer
) -> None:
    draft_id = kit.add_draft(store, "ivan@example.com", name="Ivan Petrov", body=BODY)
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        entry = freezing.enqueue(session, draft, kit.settings(), actor="maria", now=kit.MONDAY)
        entry.raw = entry.raw.replace(b"Would you like", b"Send your password")
    report = await send(store, smtp_capture)
    assert smtp_capture.messages == [] and report.failed == [entry.id]
    (row,) = kit.entries(store)
    assert row.state == "failed" and "do not match the hash" in row.wait_reason
    assert draft_row(store, draft_id).status == "failed"
    listing = outbox_listing(store, kit.settings(smtp_capture.port), now=kit.MONDAY)
    assert [(r["state"], "do not match the hash" in str(r["why"])) for r in listing] == [
        ("failed", True)
    ]
    assert report.warnings and "do not match the hash" in report.warnings[0]


async def test_a_restamped_message_goes_out_with_its_new_hash(
    store: Store, smtp_capture: CaptureServer
) -> None:
    draft_id = kit.add_draft(store)
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        queued_at = kit.MONDAY - timedelta(hours=3)
        entry = freezing.enqueue(session, draft, kit.settings(), actor="maria", now=queued_at)
        assert entry.raw_hash == hashlib.sha256(entry.raw).hexdigest()
    await send(store, smtp_capture)
    (arrived,) = smtp_capture.messages
    (row,) = kit.entries(store)
    assert kit.parse(arrived.data)["Date"].datetime == kit.MONDAY
    assert row.raw == arrived.data and row.raw_hash == hashlib.sha256(arrived.data).hexdigest()


def test_every_frozen_row_keeps_the_hash_of_its_bytes(store: Store) -> None:
    ids = kit.add_drafts(store, 3)
    with store.session() as session:
        entries, refused = freezing.freeze(
            session, ids, kit.settings(), actor="maria", now=kit.MONDAY
        )
    assert refused == [] and sorted(entries) == sorted(ids)
    with store.session() as session:
        rows = session.execute(select(OutboxEntry.raw, OutboxEntry.raw_hash)).all()
    assert [hashlib.sha256(raw).hexdigest() for raw, _ in rows] == [h for _, h in rows]
