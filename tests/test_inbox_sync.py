"""The sync against a real Dovecot: threading, classification, stop rules and robustness."""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

import imapclient
import pytest
from sqlalchemy import func, select

from outreach.candidates.records import is_suppressed
from outreach.config import Settings
from outreach.errors import SyncError
from outreach.inbox.sync import SyncReport, run_sync, sync_lock
from outreach.review import queue
from outreach.sending import recovery
from outreach.store import Store, open_store
from outreach.store.models import (
    Candidate,
    Conversation,
    Draft,
    Enrolment,
    Message,
    OutboxEntry,
    SyncState,
)
from tests import inbox_kit as kit

if TYPE_CHECKING:
    from tests.services.dovecot import Dovecot

REPO = Path(__file__).resolve().parents[1]
PEOPLE = [
    "ana@paywise.example",
    "ben@corp.example",
    "cleo@icloud.example",
    "dan@mozmail.example",
    "eva@telia.example",
    "fritz@gmx.example",
    "gus@ooo.example",
    "hugo@gone.example",
    "ida@gone.example",
    "jon@slow.example",
    "kim@nope.example",
    "liv@maybe.example",
    "sven@ooo.example",
    "greta@ooo.example",
]


@pytest.fixture
def user(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    return dovecot.new_user()


def make_settings(dovecot: Dovecot, user: str, url: str, **sync: Any) -> Settings:
    return kit.settings(dovecot.host, dovecot.port, user, url, **sync)


def sync_once(settings: Settings, store: Store, **kwargs: Any) -> SyncReport:
    return run_sync(settings, store, now=lambda: kit.NOW, **kwargs)


def stored(store: Store, email: str) -> list[Message]:
    with store.session() as session:
        query = (
            select(Message)
            .join(Candidate, Message.candidate_id == Candidate.id)
            .where(Candidate.email == email)
            .order_by(Message.id)
        )
        return list(session.scalars(query))


def conversation_of(store: Store, email: str) -> Conversation:
    with store.session() as session:
        conversation = session.scalars(
            select(Conversation)
            .join(Candidate)
            .where(Candidate.email == email)
            .order_by(Conversation.id.desc())
        ).first()
        assert conversation is not None, email
        return conversation


def enrolment_status(store: Store, person: kit.Person) -> str:
    with store.session() as session:
        return str(
            session.scalar(select(Enrolment.status).where(Enrolment.id == person.enrolment_id))
        )


def candidate_status(store: Store, email: str) -> str:
    with store.session() as session:
        return str(session.scalar(select(Candidate.status).where(Candidate.email == email)))


def suppressed(store: Store, email: str) -> str | None:
    salt = store.salt()
    with store.session() as session:
        return is_suppressed(session, salt, email)


def snapshot(store: Store) -> list[tuple[Any, ...]]:
    """What a sync leaves behind, independent of row ids and run times."""
    with store.session() as session:
        messages = session.execute(
            select(
                Message.folder,
                Message.uid,
                Message.message_id,
                Message.classification,
                Message.reply_text,
                Candidate.email,
                Conversation.subject,
                Conversation.status,
            )
            .join(Candidate, Message.candidate_id == Candidate.id)
            .join(Conversation, Message.conversation_id == Conversation.id)
            .order_by(Message.folder, Message.uid)
        ).all()
        people = session.execute(
            select(Candidate.email, Candidate.status).order_by(Candidate.email)
        ).all()
        drafts = session.execute(
            select(Candidate.email, Draft.kind, Draft.status)
            .join(Candidate)
            .order_by(Candidate.email, Draft.kind)
        ).all()
        states = session.execute(
            select(SyncState.folder, SyncState.last_uid).order_by(SyncState.folder)
        ).all()
        conversations = session.scalar(select(func.count(Conversation.id)))
    return [
        *map(tuple, messages),
        *map(tuple, people),
        *map(tuple, drafts),
        *map(tuple, states),
        (conversations,),
    ]


# The whole day's mail ----------------------------------------------------------------------


def deliver_day(dovecot: Dovecot, user: str, people: dict[str, kit.Person]) -> None:
    """A morning's mail: replies from four clients in three languages, and everything else."""
    p = {email.split("@")[0]: person for email, person in people.items()}
    sent_copy = kit.plain(
        kit.head(
            f"Maria Berg <{kit.RECRUITER}>",
            to=f"Ana Doe <{p['ana'].email}>",
            subject=kit.SUBJECT,
            msgid=p["ana"].message_id,
            date="Mon, 02 Mar 2026 09:02:00 +0100",
        ),
        kit.QUOTED,
    )
    dovecot.deliver(user, sent_copy, folder="Sent")
    replies = [
        kit.gmail_reply(
            p["ana"].email,
            "<CAgmail-1@mail.gmail.com>",
            "Thanks Maria, yes I'd love to hear more about the role.",
            p["ana"].message_id,
        ),
        kit.outlook_reply(
            p["ben"].email,
            "<DB9PR-2@outlook.com>",
            "Hello Maria, I am interested. Could we talk on Thursday afternoon?",
            p["ben"].message_id,
        ),
        kit.apple_reply(
            p["cleo"].email,
            "<APPLE-3@icloud.example>",
            "Sounds interesting, tell me more about the team.",
            p["cleo"].message_id,
        ),
        kit.thunderbird_reply(
            p["dan"].email,
            "<tb-4@mozmail.example>",
            "Happy to chat next week, Tuesday works for me.",
            p["dan"].message_id,
        ),
        kit.swedish_reply(
            p["eva"].email,
            "<sv-5@telia.example>",
            "Hej Maria, det låter spännande! Vi kan ses på fredag.",
            p["eva"].message_id,
        ),
        kit.german_reply(
            p["fritz"].email,
            "<de-6@gmx.example>",
            "Hallo Maria, danke für die Nachricht. Ich melde mich nächste Woche.",
            p["fritz"].message_id,
        ),
        kit.out_of_office(
            p["gus"].email,
            f"Out of Office: {kit.SUBJECT}",
            "I am out of the office until 16 March 2026 with limited access to email.\n",
            p["gus"].message_id,
            Auto_Submitted="auto-replied",
        ),
        kit.out_of_office(
            p["sven"].email,
            f"Frånvaro: {kit.SUBJECT}",
            "Jag är på semester och tillbaka den 20 mars 2026.\n",
            p["sven"].message_id,
            Auto_Submitted="auto-replied",
        ),
        kit.out_of_office(
            p["greta"].email,
            f"Abwesenheitsnotiz: {kit.SUBJECT}",
            "Ich bin bis zum 23.03.2026 nicht im Büro.\n",
            p["greta"].message_id,
            X_Autoreply="yes",
        ),
        kit.dsn_bounce(p["hugo"].email, p["hugo"].message_id),
        kit.qmail_bounce(p["ida"].email, p["ida"].message_id),
        kit.dsn_bounce(p["jon"].email, p["jon"].message_id, status="4.2.2", action="delayed"),
        kit.plain(
            kit.head(
                p["kim"].email, msgid="<stop-11@nope.example>", in_reply_to=p["kim"].message_id
            ),
            "Please remove me from your list.\n",
        ),
        kit.plain(
            kit.head(
                p["liv"].email, msgid="<maybe-12@maybe.example>", in_reply_to=p["liv"].message_id
            ),
            "Thanks for thinking of me. I'm not interested in moving right now, but I might be next "
            "spring, so could you get back to me then? Please unsubscribe me from the automated "
            "sequence though.\n",
        ),
        kit.unrelated(1),
        kit.unrelated(2),
        kit.plain(
            kit.head(
                p["ana"].email,
                to="rust-users@lists.example",
                subject="[rust-users] Async traits",
                msgid="<list-1@paywise.example>",
                List_Id="<rust-users.lists.example>",
            ),
            "Has anyone tried the new async trait support?\n",
        ),
    ]
    for raw in replies:
        dovecot.deliver(user, raw)


@pytest.fixture
def day(
    dovecot: Dovecot, user: str, store: Store
) -> Iterator[tuple[Settings, dict[str, kit.Person]]]:
    people = kit.add_people(store, PEOPLE)
    deliver_day(dovecot, user, people)
    yield (
        make_settings(dovecot, user, str(store.engine.url.render_as_string(hide_password=False))),
        people,
    )


ANSWERS = {
    "ana@paywise.example": "yes I'd love to hear more",
    "ben@corp.example": "Could we talk on Thursday",
    "cleo@icloud.example": "tell me more about the team",
    "dan@mozmail.example": "Tuesday works for me",
    "eva@telia.example": "Vi kan ses på fredag",
    "fritz@gmx.example": "Ich melde mich nächste Woche",
}


def test_a_day_of_mail_is_threaded_classified_and_acted_on(
    day: tuple[Settings, dict[str, kit.Person]], store: Store
) -> None:
    settings, people = day
    report = sync_once(settings, store)
    counts = report.counts
    assert counts["replies"] == 6 and counts["auto_replies"] == 3
    assert counts["hard_bounces"] == 2 and counts["soft_bounces"] == 1
    assert counts["opt_outs"] == 1 and counts["flagged"] == 1
    assert report.summary().startswith(
        f"synced {settings.imap.username}: 6 new replies, 3 bounces, 3 auto-replies, 1 opt-out"
    )

    for email, answer in ANSWERS.items():
        person = people[email]
        (reply,) = [m for m in stored(store, email) if m.direction == "in"]
        assert reply.classification == "human", (email, reply.details)
        assert answer in reply.reply_text, (email, reply.reply_text)
        assert "I came across your work" not in reply.reply_text, (email, reply.reply_text)
        assert "I came across your work" in reply.elided_text, email
        assert reply.raw is not None and reply.raw_size == len(reply.raw)
        assert conversation_of(store, email).status == "needs_response"
        assert enrolment_status(store, person) == "replied"
        assert kit.draft_status(store, person.follow_up_id) == queue.CANCELLED
        assert candidate_status(store, email) == "active"

    # Ana's reply joined the conversation of our own message from the Sent folder.
    ana = stored(store, "ana@paywise.example")
    assert [m.direction for m in ana] == ["out", "in"]
    assert ana[0].conversation_id == ana[1].conversation_id
    assert ana[1].details["matched_by"] == "thread"

    for email, returns in [
        ("gus@ooo.example", "2026-03-16"),
        ("sven@ooo.example", "2026-03-20"),
        ("greta@ooo.example", "2026-03-23"),
    ]:
        (auto,) = stored(store, email)
        assert auto.classification == "auto_reply"
        assert auto.details.get("return_date") == returns, auto.details
        assert enrolment_status(store, people[email]) == "active"  # not a reply
        assert kit.draft_status(store, people[email].follow_up_id) == queue.PENDING
        assert conversation_of(store, email).status == "open"

    for email in ("hugo@gone.example", "ida@gone.example"):
        (bounce,) = stored(store, email)
        assert bounce.classification == "bounce" and bounce.details["permanent"] is True
        assert candidate_status(store, email) == "bounced"
        assert suppressed(store, email) == "hard_bounce"
        assert enrolment_status(store, people[email]) == "bounced"
        assert kit.draft_status(store, people[email].follow_up_id) == queue.CANCELLED
    assert stored(store, "hugo@gone.example")[0].details["matched_by"] == "thread"

    (soft,) = stored(store, "jon@slow.example")
    assert soft.classification == "bounce" and soft.details["permanent"] is False
    assert candidate_status(store, "jon@slow.example") == "active"
    assert suppressed(store, "jon@slow.example") is None

    assert stored(store, "kim@nope.example")[0].classification == "opt_out"
    assert candidate_status(store, "kim@nope.example") == "opted_out"
    assert suppressed(store, "kim@nope.example") == "opted_out"
    assert kit.draft_status(store, people["kim@nope.example"].follow_up_id) == queue.CANCELLED
    assert enrolment_status(store, people["kim@nope.example"]) == "opted_out"

    assert stored(store, "liv@maybe.example")[0].classification == "opt_out_unclear"
    assert conversation_of(store, "liv@maybe.example").status == "needs_response"
    assert candidate_status(store, "liv@maybe.example") == "active"
    assert suppressed(store, "liv@maybe.example") is None

    # Only candidate mail is stored: not the friend's dinner plans, not Ana's list post.
    with store.session() as session:
        senders = set(session.scalars(select(Message.from_addr)))
        subjects = set(session.scalars(select(Message.subject)))
    assert "lena@friends.example" not in senders
    assert not any("rust-users" in s for s in subjects)
    assert counts["ignored"] == 1 and counts["unrelated"] == 0  # unrelated never fetched

    # Running again changes nothing.
    before = snapshot(store)
    again = sync_once(settings, store)
    assert again.counts["stored"] == 0 and sum(again.folders.values()) == 0
    assert snapshot(store) == before


def test_uncertain_send_found_in_sent_folder_is_confirmed(
    dovecot: Dovecot, user: str, store: Store
) -> None:
    people = kit.add_people(store, ["ana@paywise.example"])
    ana = people["ana@paywise.example"]
    with store.session() as session:
        draft = session.get(Draft, ana.draft_id)
        assert draft is not None
        raw = kit.plain(
            kit.head(
                f"Maria Berg <{kit.RECRUITER}>",
                to=ana.email,
                subject=kit.SUBJECT,
                msgid=ana.message_id,
            ),
            kit.QUOTED,
        )
        entry = OutboxEntry(
            draft_id=draft.id,
            candidate_id=ana.id,
            mailbox=kit.RECRUITER,
            message_id=ana.message_id,
            to_email=ana.email,
            raw=raw,
            kind="outreach",
            state="uncertain",
        )
        session.add(entry)
        queue.set_status(session, draft, queue.UNCERTAIN, actor="sender")
    dovecot.deliver(user, raw, folder="Sent")
    settings = make_settings(dovecot, user, store.engine.url.render_as_string(hide_password=False))
    report = sync_once(settings, store)
    assert report.counts["confirmed"] == 1
    with store.session() as session:
        entry = session.scalars(select(OutboxEntry)).one()
        assert entry.state == "sent" and entry.filed_sent
        assert kit.draft_status(store, ana.draft_id) == "sent"
        (copy,) = session.scalars(select(Message)).all()
        assert copy.direction == "out" and copy.outbox_id == entry.id and copy.folder == "Sent"


def test_a_send_that_became_uncertain_after_its_copy_was_synced_is_confirmed(
    dovecot: Dovecot, user: str, store: Store
) -> None:
    """The copy reached the Sent folder while the row was still `sending`; the crash came later.

    The folder has nothing new for the next sync, which asks it for the uncertain send anyway.
    """
    people = kit.add_people(store, ["ana@paywise.example"])
    ana = people["ana@paywise.example"]
    raw = kit.plain(
        kit.head(
            f"Maria Berg <{kit.RECRUITER}>", to=ana.email, subject=kit.SUBJECT, msgid=ana.message_id
        ),
        kit.QUOTED,
    )
    with store.session() as session:
        draft = session.get_one(Draft, ana.draft_id)
        session.add(
            OutboxEntry(
                draft_id=draft.id, candidate_id=ana.id, mailbox=kit.RECRUITER,
                message_id=ana.message_id, to_email=ana.email, raw=raw, kind="outreach",
                state="sending", started_at=kit.NOW,
            )
        )  # fmt: skip
        queue.set_status(session, draft, queue.SENDING, actor="sender")
    dovecot.deliver(user, raw, folder="Sent")
    settings = make_settings(dovecot, user, store.engine.url.render_as_string(hide_password=False))
    assert sync_once(settings, store).counts["confirmed"] == 0  # still being sent: not ours to say
    with store.session() as session:  # the sender had died: the next run finds the row
        found = recovery.reconcile(session, kit.RECRUITER, epoch="", now=kit.NOW, actor="sender")
    assert len(found.uncertain) == 1
    report = sync_once(settings, store)
    assert report.counts["confirmed"] == 1 and report.counts["stored"] == 0
    with store.read() as session:
        entry = session.scalars(select(OutboxEntry)).one()
        assert entry.state == "sent" and entry.last_reply == "found in the Sent folder"
    assert kit.draft_status(store, ana.draft_id) == "sent"


def test_threading_by_subject_and_by_address(dovecot: Dovecot, user: str, store: Store) -> None:
    people = kit.add_people(store, ["ana@paywise.example"])
    ana = people["ana@paywise.example"]
    settings = make_settings(dovecot, user, store.engine.url.render_as_string(hide_password=False))
    dovecot.deliver(user, kit.gmail_reply(ana.email, "<a1@x>", "Yes, interested.", ana.message_id))
    sync_once(settings, store)
    # A client that dropped both In-Reply-To and References: sender and subject still match.
    dovecot.deliver(
        user, kit.plain(kit.head(ana.email, msgid="<a2@x>"), "One more question: remote days?\n")
    )
    # A brand-new subject from a known candidate: a new conversation.
    dovecot.deliver(
        user,
        kit.plain(kit.head(ana.email, subject="My portfolio", msgid="<a3@x>"), "Here it is.\n"),
    )
    sync_once(settings, store)
    first, second, third = stored(store, ana.email)
    assert (
        second.conversation_id == first.conversation_id
        and second.details["matched_by"] == "subject"
    )
    assert third.conversation_id != first.conversation_id and third.details["matched_by"] == "new"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_malformed_mail_is_kept_and_flagged(dovecot: Dovecot, user: str, store: Store) -> None:
    kit.add_people(store, ["ana@paywise.example"])
    settings = make_settings(
        dovecot, user, store.engine.url.render_as_string(hide_password=False), max_body_bytes=10_000
    )
    ana = "Ana Doe <ana@paywise.example>"
    broken_mime = (
        kit.head(ana, msgid="<m1@x>") + 'Content-Type: multipart/mixed; boundary="nope"\r\n\r\n'
        "no boundary ever appears\r\n"
    ).encode()
    unknown_charset = kit.plain(kit.head(ana, msgid="<m2@x>"), "Hej d\xe5!\n", "latin-1").replace(
        b"charset=latin-1", b"charset=x-klingon"
    )
    bad_words = kit.plain(
        kit.head(ana, msgid="<m3@x>", subject="=?utf-8?q?broken=ZZ?= =?x-unknown?b?###?="),
        "Subject is broken.\n",
    )
    no_id = kit.plain(
        kit.head(ana, msgid=None, subject="No id here"), "My client forgot the Message-ID.\n"
    )
    b = "att"
    huge = (
        kit.head(ana, msgid="<m5@x>", subject="My CV")
        + f'Content-Type: multipart/mixed; boundary="{b}"\r\n\r\n'
        f"--{b}\r\nContent-Type: text/plain\r\n\r\nMy CV is attached.\r\n"
        f"--{b}\r\nContent-Type: application/pdf; name=cv.pdf\r\nContent-Transfer-Encoding: base64\r\n\r\n"
        + "QUFBQUFBQUFB\r\n" * 20_000
        + f"--{b}--\r\n"
    ).encode()
    for raw in (broken_mime, unknown_charset, bad_words, no_id, huge):
        dovecot.deliver(user, raw)
    report = sync_once(settings, store)
    assert report.counts["stored"] == 5
    rows = {m.message_id or "none": m for m in stored(store, "ana@paywise.example")}
    assert "malformed-mime" in rows["<m1@x>"].flags
    assert "Hej" in rows["<m2@x>"].reply_text and rows["<m2@x>"].flags
    assert rows["<m3@x>"].flags
    assert "missing-message-id" in rows["none"].flags and "forgot" in rows["none"].reply_text
    cv = rows["<m5@x>"]
    assert "truncated" in cv.flags and cv.raw is not None and len(cv.raw) < 20_000 < cv.raw_size
    assert "My CV is attached." in cv.reply_text
    # Re-running stores no second copy of the message without a Message-ID.
    assert sync_once(settings, store).counts["stored"] == 0


def test_uidvalidity_reset_loses_and_duplicates_nothing(
    dovecot: Dovecot, user: str, store: Store
) -> None:
    people = kit.add_people(store, ["ana@paywise.example", "ben@corp.example"])
    settings = make_settings(dovecot, user, store.engine.url.render_as_string(hide_password=False))
    ana, ben = people["ana@paywise.example"], people["ben@corp.example"]
    dovecot.deliver(user, kit.gmail_reply(ana.email, "<a1@x>", "Yes, interested.", ana.message_id))
    dovecot.deliver(user, kit.unrelated(1))
    dovecot.deliver(
        user, kit.plain(kit.head(ana.email, msgid=None, subject="No id"), "Sent from a fax.\n")
    )
    sync_once(settings, store)
    dovecot.set_uidvalidity(user, "INBOX", 777)
    dovecot.deliver(user, kit.outlook_reply(ben.email, "<b1@x>", "Count me in.", ben.message_id))
    report = sync_once(settings, store)
    assert report.counts["uidvalidity_resets"] == 1
    assert report.counts["stored"] == 1 and report.counts["relinked"] == 2
    with store.session() as session:
        rows = session.execute(select(Message.message_id, Message.uidvalidity)).all()
        state = session.scalars(select(SyncState).where(SyncState.folder == "INBOX")).one()
    assert sorted((m or "", v) for m, v in rows) == [("", 777), ("<a1@x>", 777), ("<b1@x>", 777)]
    assert state.uidvalidity == 777
    assert sync_once(settings, store).counts["stored"] == 0


def _fresh_store(tmp_path: Path, name: str, emails: list[str]) -> Store:
    other = open_store(f"sqlite:///{tmp_path / name}")
    kit.add_people(other, emails)
    return other


def _fill(dovecot: Dovecot, user: str, people: dict[str, kit.Person], n: int) -> None:
    raws = []
    for i in range(n):
        person = list(people.values())[i % len(people)]
        raws.append(
            kit.gmail_reply(person.email, f"<r{i}@x>", f"Reply number {i}.", person.message_id)
        )
        raws.append(kit.unrelated(i))
    dovecot.append_many(user, raws)


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_dropped_connection_fails_the_run_and_the_next_run_resumes(
    dovecot: Dovecot, user: str, store: Store, tmp_path: Path
) -> None:
    emails = PEOPLE[:5]
    people = kit.add_people(store, emails)
    _fill(dovecot, user, people, 30)
    settings = make_settings(dovecot, user, store.engine.url.render_as_string(hide_password=False))
    chunks: list[int] = []

    def drop_after_first_chunk(folder: str, done: int, total: int) -> None:
        chunks.append(done)
        if folder == "INBOX" and len(chunks) == 1:
            dovecot.kill_connections(user)

    with pytest.raises(SyncError, match="connection"):
        sync_once(settings, store, progress=drop_after_first_chunk, chunk=10)
    with store.session() as session:
        inbox = session.scalars(select(SyncState).where(SyncState.folder == "INBOX")).one()
    assert inbox.last_uid == 10  # the first chunk committed, with its watermark
    sync_once(settings, store, chunk=10)

    once = _fresh_store(tmp_path, "once.db", emails)
    try:
        settings_once = make_settings(
            dovecot, user, once.engine.url.render_as_string(hide_password=False)
        )
        sync_once(settings_once, once, chunk=10)
        assert snapshot(store) == snapshot(once)
    finally:
        once.close()


KILLER = """
import os, signal, sys
from datetime import datetime, UTC
from outreach.inbox.sync import run_sync
from outreach.store import open_store
from tests import inbox_kit as kit
host, port, user, url = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4]
settings = kit.settings(host, port, user, url)
store = open_store(url)
calls = []
def progress(folder, done, total):
    calls.append(done)
    if len(calls) == 3:  # inside the third chunk's transaction, before it commits
        os.kill(os.getpid(), signal.SIGKILL)
run_sync(settings, store, now=lambda: kit.NOW, progress=progress, chunk=10)
"""


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_kill_9_mid_sync_then_rerun_ends_as_one_run(
    dovecot: Dovecot, user: str, store: Store, tmp_path: Path
) -> None:
    emails = PEOPLE[:5]
    people = kit.add_people(store, emails)
    _fill(dovecot, user, people, 30)
    url = store.engine.url.render_as_string(hide_password=False)
    done = subprocess.run(
        [sys.executable, "-c", KILLER, dovecot.host, str(dovecot.port), user, url],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    with store.session() as session:
        inbox = session.scalars(select(SyncState).where(SyncState.folder == "INBOX")).one()
        kept = session.scalar(select(func.count(Message.id)))
    assert inbox.last_uid == 20 and kept == 10  # two chunks committed, the third rolled back
    settings = make_settings(dovecot, user, url)
    sync_once(settings, store, chunk=10)

    once = _fresh_store(tmp_path, "once.db", emails)
    try:
        sync_once(
            make_settings(dovecot, user, once.engine.url.render_as_string(hide_password=False)),
            once,
            chunk=10,
        )
        assert snapshot(store) == snapshot(once)
    finally:
        once.close()


def test_a_second_sync_at_once_says_so(dovecot: Dovecot, user: str, store: Store) -> None:
    settings = make_settings(dovecot, user, store.engine.url.render_as_string(hide_password=False))
    with sync_lock(store, user):
        with pytest.raises(SyncError, match="another `outreach sync` of .* is running"):
            sync_once(settings, store)
    assert sync_once(settings, store).counts["stored"] == 0  # the lock is free again


def test_reads_change_nothing_in_the_mailbox(dovecot: Dovecot, user: str, store: Store) -> None:
    people = kit.add_people(store, ["ana@paywise.example"])
    ana = people["ana@paywise.example"]
    dovecot.deliver(user, kit.gmail_reply(ana.email, "<a1@x>", "Yes!", ana.message_id))
    sync_once(
        make_settings(dovecot, user, store.engine.url.render_as_string(hide_password=False)), store
    )
    client = imapclient.IMAPClient(dovecot.host, dovecot.port, ssl=False)
    try:
        client.login(user, dovecot.password)
        client.select_folder("INBOX", readonly=True)
        flags = client.get_flags(client.search(["ALL"]))
    finally:
        client.logout()
    assert flags and all(b"\\Seen" not in f for f in flags.values())


def test_a_local_maildir_syncs_like_imap(tmp_path: Path, store: Store) -> None:
    import mailbox

    people = kit.add_people(store, ["ana@paywise.example"])
    ana = people["ana@paywise.example"]
    maildir = mailbox.Maildir(tmp_path / "Maildir", create=True)
    maildir.add(kit.gmail_reply(ana.email, "<a1@x>", "Yes, interested.", ana.message_id))
    maildir.add(kit.unrelated(1))
    url = store.engine.url.render_as_string(hide_password=False)
    settings = kit.settings("", 0, "", url, maildir=str(tmp_path / "Maildir"))
    report = sync_once(settings, store)
    assert report.mailbox == f"maildir:{tmp_path / 'Maildir'}"
    assert report.counts["replies"] == 1 and report.counts["stored"] == 1
    maildir.add(kit.outlook_reply(ana.email, "<a2@x>", "And one more thing.", ana.message_id))
    assert sync_once(settings, store).counts["stored"] == 1
    assert [m.message_id for m in stored(store, ana.email)] == ["<a1@x>", "<a2@x>"]
