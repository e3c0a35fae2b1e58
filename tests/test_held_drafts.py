"""Automation never cancels or replaces a draft a person edited or approved: it holds it.

Through `outreach sync` against a real Dovecot, with the fake model server counting calls.
Once, one new mail cancelled an approved reply as "redrafted (--redo)", and a person with nine
conversations got eight model calls and one surviving draft. Suggested replies now come one
per conversation per new message, and a reply (or follow-up) a person worked on is held with
the news until they decide.
"""

from __future__ import annotations

import html
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach import users
from outreach.config import load_config
from outreach.review import queue
from outreach.sending import freezing
from outreach.sending import outbox as sending
from outreach.store import Store, open_store
from outreach.store.models import Candidate, Draft, OutboxEntry, Revision, utcnow
from outreach.web import create_app
from tests import inbox_kit as kit
from tests.llm_server import FakeLLMServer
from tests.test_cli import run
from tests.test_cli_inbox import configure
from tests.test_drafting import use_model
from tests.webutil import log_in, seed, settings_for

if TYPE_CHECKING:
    from tests.services.dovecot import Dovecot

JAMIE = "jamie@paywise.example"


def ours(n: int) -> str:
    return f"<outreach-{n}@nordlys.example>"


@pytest.fixture
def mailbox(
    workspace: Path, dovecot: Dovecot, llm_server: FakeLLMServer, monkeypatch: pytest.MonkeyPatch
) -> str:
    """Jamie, with nine first mails of ours, each on its own subject; sync suggests replies."""
    user = dovecot.new_user()
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    configure(workspace, dovecot, user, suggest=True)
    use_model(workspace, llm_server.base_url)
    with workspace_store(workspace) as store, store.session() as session:
        users.add_user(session, "maria", "correct horse battery")  # the command line's reviewer
        jamie = Candidate(email=JAMIE, name="Jamie Lind")
        session.add(jamie)
        session.flush()
        for n in range(1, 10):
            draft = queue.create_draft(
                session,
                queue.NewDraft(
                    jamie.id, "outreach", "intro", f"Role {n} at Nordlys", "Hi", "template"
                ),
            )
            queue.approve(session, draft, actor="maria", message_id=ours(n))
            queue.set_status(session, draft, queue.SENT, actor="sender")
    return user


class workspace_store:  # noqa: N801 - reads as a function at the call sites
    """The workspace's store, opened for a block and closed after it."""

    def __init__(self, workspace: Path) -> None:
        self.store = open_store(load_config(workspace / "config.toml").database_url)

    def __enter__(self) -> Store:
        return self.store

    def __exit__(self, *_: object) -> None:
        self.store.close()


def jamie_writes(dovecot: Dovecot, user: str, n: int, to: str, time: str, text: str) -> None:
    headers = kit.head(
        f"Jamie Lind <{JAMIE}>",
        subject=f"Re: Role {n} at Nordlys",
        msgid=f"<jamie-{n}-{time.replace(':', '')}@paywise.example>",
        in_reply_to=to,
        date=f"Mon, 02 Mar 2026 {time}:00 +0100",
    )
    dovecot.deliver(user, kit.plain(headers, text + "\n"))


def sync(capsys: pytest.CaptureFixture[str]) -> str:
    code, out, err = run(["sync"], capsys)
    assert code == 0, err
    return out


def replies(workspace: Path) -> list[Draft]:
    with workspace_store(workspace) as store, store.session() as session:
        query = select(Draft).where(Draft.kind == "reply").order_by(Draft.id)
        return list(session.scalars(query))


def test_nine_conversations_get_nine_suggestions_and_nothing_twice(
    mailbox: str,
    workspace: Path,
    dovecot: Dovecot,
    llm_server: FakeLLMServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    for n in range(1, 10):
        jamie_writes(dovecot, mailbox, n, ours(n), "10:14", f"About role {n}: tell me more.")
    assert "9 reply drafts in the queue" in sync(capsys)
    assert len(llm_server.completions) == 9
    drafts = replies(workspace)
    assert [d.status for d in drafts] == ["pending"] * 9
    assert len({d.conversation_id for d in drafts}) == 9
    assert "reply drafts" not in sync(capsys)  # nothing new: no call, no draft
    assert len(llm_server.completions) == 9


def test_a_reply_a_person_approved_is_held_with_the_news_not_cancelled(
    mailbox: str,
    workspace: Path,
    dovecot: Dovecot,
    llm_server: FakeLLMServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    jamie_writes(dovecot, mailbox, 1, ours(1), "10:02", "Sounds good. What is the salary range?")
    sync(capsys)
    (draft,) = replies(workspace)
    settings = load_config(workspace / "config.toml")
    with workspace_store(workspace) as store, store.session() as session:
        approved = queue.get_draft(session, draft.id)
        queue.approve(session, approved, actor="maria", message_id="<reply-1@nordlys.example>")
        freezing.enqueue(session, approved, settings, actor="maria", now=utcnow())  # waits its turn
    jamie_writes(dovecot, mailbox, 1, "<jamie-1-1002@paywise.example>", "10:14", "Also: remote?")
    sync(capsys)

    assert len(llm_server.completions) == 1  # no new suggestion: the person decides
    (held,) = replies(workspace)
    reason = "Jamie wrote again on 2026-03-02 at 10:14, after you approved this"
    assert (held.id, held.status, held.hold_reason) == (draft.id, "pending", reason)
    with workspace_store(workspace) as store, store.session() as session:
        entry = session.scalars(select(OutboxEntry).where(OutboxEntry.draft_id == draft.id)).one()
        assert entry.state == "cancelled" and entry.sent_at is None  # out of the outbox
    code, out, _ = run(["queue", "list"], capsys)
    assert code == 0 and f"draft {draft.id} held: {reason}\n" in out
    code, out, _ = run(["queue", "show", str(draft.id)], capsys)
    assert f"held: {reason}" in out

    with workspace_store(workspace) as store, store.session() as session:  # read, approve again
        again = queue.get_draft(session, draft.id)
        queue.approve(session, again, actor="maria", message_id="<unused@nordlys.example>")
    sync(capsys)
    (kept,) = replies(workspace)
    assert (kept.status, kept.hold_reason, len(llm_server.completions)) == ("approved", "", 1)


def test_a_reply_a_person_edited_is_held_and_an_untouched_one_replaced(
    mailbox: str,
    workspace: Path,
    dovecot: Dovecot,
    llm_server: FakeLLMServer,
    capsys: pytest.CaptureFixture[str],
) -> None:
    jamie_writes(dovecot, mailbox, 1, ours(1), "10:02", "What is the salary range?")
    jamie_writes(dovecot, mailbox, 2, ours(2), "10:03", "Is the team in Stockholm?")
    sync(capsys)
    first, second = replies(workspace)
    with workspace_store(workspace) as store, store.session() as session:
        queue.add_revision(
            session,
            queue.get_draft(session, first.id),
            subject="Re: Role 1 at Nordlys",
            body="Hi Jamie, the range is in the ad.",
            author="maria",
            actor="maria",
        )
    jamie_writes(dovecot, mailbox, 1, "<jamie-1-1002@paywise.example>", "10:20", "And equity?")
    jamie_writes(dovecot, mailbox, 2, "<jamie-2-1003@paywise.example>", "10:21", "And remote?")
    assert "1 reply drafts in the queue" in sync(capsys)

    assert len(llm_server.completions) == 3  # two first suggestions, one to replace
    drafts = {d.id: d for d in replies(workspace)}
    assert drafts[first.id].status == "pending"
    assert drafts[first.id].hold_reason == (
        "Jamie wrote again on 2026-03-02 at 10:20, after you edited this"
    )
    assert drafts[second.id].status == "cancelled"
    assert drafts[second.id].reject_reason == "superseded: Jamie wrote again on 2026-03-02 at 10:21"
    (new,) = [d for d in drafts.values() if d.id not in (first.id, second.id)]
    assert new.status == "pending" and new.conversation_id == second.conversation_id
    assert new.in_reply_to == "<jamie-2-1021@paywise.example>"
    with workspace_store(workspace) as store, store.session() as session:
        mine = session.scalars(
            select(Revision.body).where(Revision.draft_id == first.id).order_by(Revision.number)
        ).all()
    assert mine[-1] == "Hi Jamie, the range is in the ad."  # the person's words, untouched
    sync(capsys)
    assert len(llm_server.completions) == 3


def test_a_follow_up_a_person_approved_is_held_when_the_candidate_replies(
    mailbox: str, workspace: Path, dovecot: Dovecot, capsys: pytest.CaptureFixture[str]
) -> None:
    settings = load_config(workspace / "config.toml")
    with workspace_store(workspace) as store, store.session() as session:
        jamie = session.scalars(select(Candidate)).one()
        follow_ups = [
            queue.create_draft(
                session,
                queue.NewDraft(jamie.id, "follow_up", "follow_up", "Re: Role 1", "Hi?", "template"),
            )
            for _ in range(3)
        ]
        queue.approve(session, follow_ups[0], actor="maria", message_id="<f1@nordlys.example>")
        freezing.enqueue(session, follow_ups[0], settings, actor="maria", now=utcnow())
        queue.add_revision(
            session, follow_ups[1], subject="Re: Role 1", body="Mine", author="maria", actor="maria"
        )
        ids = [d.id for d in follow_ups]
    jamie_writes(dovecot, mailbox, 1, ours(1), "09:30", "Thanks, I am interested.")
    sync(capsys)
    with workspace_store(workspace) as store, store.session() as session:
        rows = {d.id: d for d in session.scalars(select(Draft).where(Draft.id.in_(ids)))}
    news = "Jamie replied on 2026-03-02 at 09:30"
    assert (rows[ids[0]].status, rows[ids[0]].hold_reason) == (
        "pending",
        f"{news}, after you approved this",
    )
    assert (rows[ids[1]].status, rows[ids[1]].hold_reason) == (
        "pending",
        f"{news}, after you edited this",
    )
    assert rows[ids[2]].status == "cancelled"  # no person had touched it


def test_the_web_queue_and_draft_page_show_why_a_draft_is_held(
    store: Store, workspace: Path
) -> None:
    seed(store, drafts=1)
    reason = "Jamie wrote again on 2026-03-02 at 10:14, after you approved this"
    with store.session() as session:
        draft = queue.get_draft(session, 1)
        queue.approve(session, draft, actor="maria", message_id="<d1@nordlys.example>")
        assert sending.hold(session, draft, reason, actor="sync", now=utcnow())
    with TestClient(create_app(settings_for(workspace), store)) as client:
        log_in(client)
        assert f"Held: {reason}" in html.unescape(client.get("/queue").text)
        page = html.unescape(client.get("/drafts/1").text)
        held = page.split('id="held"')[1].split("</section>")[0]
        assert reason in held and "Read the new mail, then choose" in held
        assert all(choice in held for choice in ("Send anyway", "Rewrite", "Drop"))
        assert client.get("/api/drafts/1").json()["hold_reason"] == reason
