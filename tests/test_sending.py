"""The outbox: only approved text goes in, the exact frozen bytes go out, once."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select

from outreach.candidates.records import suppress
from outreach.errors import NotFound, SendError, StateError
from outreach.review import approval, queue
from outreach.sending import freezing, recovery
from outreach.sending import outbox as sending
from outreach.sending.sender import RunReport, run_sender
from outreach.store import Store
from outreach.store.models import Draft, Event, OutboxEntry, Revision
from tests import outbox_kit as kit
from tests.services import smtp as services
from tests.services.smtp import CaptureServer

smtp_capture = services.smtp_capture
smtp_capture_factory = services.smtp_capture_factory


def clock() -> kit.datetime:
    return kit.MONDAY


async def send_all(store: Store, server: CaptureServer, **kwargs: object) -> RunReport:
    settings = kit.settings(server.port)
    return await run_sender(store, settings, clock=clock, sleep=kit.no_sleep, **kwargs)  # type: ignore[arg-type]


def enqueue(store: Store, draft_id: int) -> int:
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        return freezing.enqueue(session, draft, kit.settings(), actor="maria", now=kit.MONDAY).id


def test_enqueue_refuses_a_draft_without_a_valid_approval(store: Store) -> None:
    pending = kit.add_draft(store, approve=False)
    with pytest.raises(StateError, match="only approved drafts enter the outbox"):
        enqueue(store, pending)
    tampered = kit.add_draft(store, "kim@example.com")
    with store.session() as session:
        draft = queue.get_draft(session, tampered)
        queue.current(session, draft).body = "Something nobody approved"
    with pytest.raises(StateError, match="body or thread. differs from what was approved"):
        enqueue(store, tampered)
    assert kit.entries(store) == []


async def test_approved_drafts_are_sent_once_with_the_servers_reply(
    store: Store, smtp_capture: CaptureServer
) -> None:
    ids = kit.add_drafts(store, 3)
    report = await send_all(store, smtp_capture)
    assert (len(report.sent), report.enqueued) == (3, 3)
    assert len(smtp_capture.messages) == 3
    rows = kit.entries(store)
    assert [r.state for r in rows] == ["sent"] * 3
    assert sorted(r.last_reply for r in rows) == [f"2.0.0 Ok: queued as Q{n}" for n in (1, 2, 3)]
    assert all(r.sent_at == kit.MONDAY and r.attempts == 1 for r in rows)
    # Exactly the frozen bytes went out, to the candidate, from the sender.
    assert sorted(m.data for m in smtp_capture.messages) == sorted(r.raw for r in rows)
    assert {m.rcpt_tos for m in smtp_capture.messages} == {
        (f"cand{n}@example.com",) for n in range(3)
    }
    assert {m.mail_from for m in smtp_capture.messages} == {kit.SENDER}
    with store.session() as session:
        assert {queue.get_draft(session, i).status for i in ids} == {"sent"}
        actions = list(
            session.scalars(
                select(Event.action).where(
                    Event.subject_type == "draft", Event.subject_id == ids[0]
                )
            )
        )
    assert actions[-3:] == ["draft.queued", "draft.sending", "draft.sent"]
    again = await send_all(store, smtp_capture)
    assert again.sent == [] and len(smtp_capture.messages) == 3


async def test_headers_threading_and_utf8(store: Store, smtp_capture: CaptureServer) -> None:
    first = kit.add_draft(
        store, "jorg@example.com", name="Jörg Åström-Müller", subject="Ett jobb för dig – Göteborg"
    )
    with store.session() as session:
        original = queue.get_draft(session, first).message_id
    follow = kit.add_draft(
        store,
        "jorg@example.com",
        kind="follow_up",
        subject="Ett jobb för dig – Göteborg",
        body="Hej igen!",
        in_reply_to=original,
        references=["<older@elsewhere.example>"],
    )
    await send_all(store, smtp_capture)
    raws = {kit.parse(m.data)["Message-ID"]: m.data for m in smtp_capture.messages}
    with store.session() as session:
        follow_id = queue.get_draft(session, follow).message_id
    assert set(raws) == {original, follow_id}
    for raw in raws.values():
        assert raw.isascii() and b"\r\n" in raw and b"\n\n" not in raw.replace(b"\r\n", b"")
    one, two = kit.parse(raws[original]), kit.parse(raws[follow_id])
    assert str(one["From"]) == "Maria Berg <maria@nordlys.example>"
    assert str(one["To"]) == "Jörg Åström-Müller <jorg@example.com>"
    assert str(one["Subject"]) == "Ett jobb för dig – Göteborg"
    assert one["Date"].datetime == kit.MONDAY
    assert original is not None and original.endswith("@nordlys.example>")
    assert one["In-Reply-To"] is None and one["References"] is None
    assert str(two["Subject"]) == "Re: Ett jobb för dig – Göteborg"
    assert str(two["In-Reply-To"]) == original
    assert str(two["References"]).split() == ["<older@elsewhere.example>", original]
    assert two.get_content().strip() == "Hej igen!"


@pytest.mark.parametrize(
    ("field", "value"),
    [("name", "Eve\r\nBcc: victim@example.com"), ("subject", "Hi\nBcc: victim@example.com")],
)
async def test_header_injection_is_refused(
    store: Store, smtp_capture: CaptureServer, field: str, value: str
) -> None:
    draft_id = kit.add_draft(store, **{field: value})  # type: ignore[arg-type]
    with pytest.raises(SendError, match="line break"):
        enqueue(store, draft_id)
    report = await send_all(store, smtp_capture)
    assert report.warnings == [f"draft {draft_id} not queued: {field_error(field)}"]
    assert smtp_capture.messages == [] and kit.entries(store) == []
    with store.session() as session:  # the reviewer sees why, and must approve again
        draft = queue.get_draft(session, draft_id)
        assert (draft.status, draft.error) == (
            "pending",
            f"approval withdrawn: {field_error(field)}",
        )
    assert (await send_all(store, smtp_capture)).warnings == []  # reported once


def field_error(field: str) -> str:
    what = "recipient name" if field == "name" else "subject"
    return f"{what} of draft contains a line break; edit the {what}"


async def test_text_changed_after_queueing_is_refused_at_send_time(
    store: Store, smtp_capture: CaptureServer
) -> None:
    draft_id = kit.add_draft(store)
    entry_id = enqueue(store, draft_id)
    with store.session() as session:
        revision = session.scalar(select(Revision).where(Revision.draft_id == draft_id))
        assert revision is not None
        revision.body = "Changed behind the reviewer's back"
    report = await send_all(store, smtp_capture)
    assert smtp_capture.messages == []
    problem = (
        f"draft {draft_id}: what would be sent (recipient, subject, body or thread) differs "
        "from what was approved"
    )
    assert report.cancelled == [(entry_id, f"refused: {problem}; the draft is pending again")]
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        assert (draft.status, draft.error) == ("pending", f"approval withdrawn: {problem}")


async def test_reapproval_after_freezing_is_refused(
    store: Store, smtp_capture: CaptureServer
) -> None:
    draft_id = kit.add_draft(store)
    entry_id = enqueue(store, draft_id)
    with store.session() as session:  # a bug elsewhere re-approves other text: the hash moves
        draft = queue.get_draft(session, draft_id)
        queue.current(session, draft).body = "Other text"
        draft.approved_hash = approval.fingerprint(approval.visible_of(session, draft))
    report = await send_all(store, smtp_capture)
    assert smtp_capture.messages == []
    assert report.cancelled[0][0] == entry_id
    assert "approved again after its message was frozen" in report.cancelled[0][1]


async def test_suppression_at_send_time_cancels_with_the_reason(
    store: Store, smtp_capture: CaptureServer
) -> None:
    keep, drop = kit.add_draft(store, "keep@example.com"), kit.add_draft(store, "drop@example.com")
    for draft_id in (keep, drop):
        enqueue(store, draft_id)
    with store.session() as session:
        suppress(session, store.salt(), "drop@example.com", "opted_out", actor="sync")
    report = await send_all(store, smtp_capture)
    assert [m.rcpt_tos for m in smtp_capture.messages] == [("keep@example.com",)]
    reason = "suppressed: drop@example.com is on the suppression list (opted_out)"
    assert [r for _, r in report.cancelled] == [reason]
    assert kit.states(store) == {keep: "sent", drop: "cancelled"}
    with store.session() as session:
        assert queue.get_draft(session, drop).reject_reason == reason


async def test_first_contact_cap_across_campaigns(
    store: Store, smtp_capture: CaptureServer
) -> None:
    firsts = [kit.add_draft(store, subject=f"Role {n}") for n in range(3)]
    follow = kit.add_draft(store, kind="follow_up", subject="Role 0")
    report = await send_all(store, smtp_capture)
    assert len(smtp_capture.messages) == 3  # two first contacts and the follow-up
    states = kit.states(store)
    assert [states[d] for d in firsts] == ["sent", "sent", "queued"]
    assert states[follow] == "sent"
    held = [e for e in kit.entries(store) if e.state == "queued"][0]
    assert held.not_before == kit.MONDAY + timedelta(days=30)
    assert report.held == [
        (held.id, "first-contact cap (2 in 30 days) reached for jamie@example.com")
    ]
    assert (await send_all(store, smtp_capture)).sent == []


async def test_resolve_uncertain(store: Store) -> None:
    with pytest.raises(NotFound):
        with store.session() as session:
            sending.resolve(session, 99, sent=True, actor="maria", now=kit.MONDAY)
    ids = [enqueue(store, d) for d in kit.add_drafts(store, 2)]
    with store.session() as session:
        with pytest.raises(StateError, match="only uncertain ones resolve"):
            sending.resolve(session, ids[0], sent=True, actor="maria", now=kit.MONDAY)
        for entry_id in ids:
            entry = session.get_one(OutboxEntry, entry_id)
            entry.state, entry.started_at = "sending", kit.MONDAY
        found = recovery.reconcile(session, kit.SENDER, epoch="", now=kit.MONDAY, actor="t")
        assert sorted(found.uncertain) == ids and found.requeued == []
    with store.session() as session:
        assert sending.resolve(session, ids[0], sent=True, actor="maria", now=kit.MONDAY) == "sent"
        assert sending.resolve(session, ids[1], sent=False, actor="maria", now=kit.MONDAY) == (
            "queued"
        )
        drafts = [session.get_one(Draft, session.get_one(OutboxEntry, i).draft_id) for i in ids]
        assert [d.status for d in drafts] == ["sent", "queued"]
        assert session.get_one(OutboxEntry, ids[0]).last_reply == "marked as sent by maria"


async def test_sender_html_adds_a_sanitised_html_part(
    store: Store, smtp_capture: CaptureServer
) -> None:
    from email import message_from_bytes, policy

    kit.add_draft(store, body="Hi Jamie,\n\n**Bold** idea <script>alert(1)</script>\n\nMaria")
    settings = kit.settings(smtp_capture.port)
    settings = settings.model_copy(
        update={"sender": settings.sender.model_copy(update={"html": True})}
    )
    await run_sender(store, settings, clock=clock, sleep=kit.no_sleep)
    message = message_from_bytes(smtp_capture.messages[0].data, policy=policy.default)
    assert message.get_content_type() == "multipart/alternative"
    html = message.get_body(("html",))
    assert html is not None
    content = html.get_content()
    assert "<strong>Bold</strong>" in content and "<script>" not in content
