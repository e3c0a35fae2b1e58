"""Draft states: approvals cover the exact text; edits withdraw them; rejects need reasons."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach.cli import cli
from outreach.errors import InputError, StateError
from outreach.review import approval, opened, queue
from outreach.store import Store, open_store
from outreach.store.models import Candidate, Event
from outreach.web import create_app
from tests.webutil import log_in, seed, settings_for


def new_draft(store: Store, subject: str = "Hello", body: str = "Hi Jamie") -> int:
    with store.session() as session:
        candidate = Candidate(email="jamie@example.com", name="Jamie")
        session.add(candidate)
        session.flush()
        draft = queue.create_draft(
            session,
            queue.NewDraft(
                candidate_id=candidate.id,
                kind="outreach",
                template="intro",
                subject=subject,
                body=body,
                author="template",
            ),
        )
        return draft.id


def test_approval_records_who_revision_and_hash(store: Store) -> None:
    draft_id = new_draft(store)
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        assert approval.approval_is_valid(session, draft) == f"draft {draft_id} has no approval"
        queue.approve(session, draft, actor="maria", message_id="<1@nordlys.example>")
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        assert (draft.status, draft.approved_by, draft.approved_revision) == (
            "approved",
            "maria",
            1,
        )
        seen = approval.Visible("Jamie", "jamie@example.com", "Hello", "Hi Jamie", None, ())
        assert draft.approved_hash == approval.fingerprint(seen)
        assert draft.viewed_at is not None
        assert approval.approval_is_valid(session, draft) is None
        actions = list(session.scalars(select(Event.action).order_by(Event.id)))
    assert actions == ["draft.created", "draft.viewed", "draft.approved"]


def test_edit_after_approval_withdraws_it(store: Store) -> None:
    draft_id = new_draft(store)
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        queue.approve(session, draft, actor="maria", message_id="<1@x.example>")
        queue.add_revision(
            session, draft, subject="Hello", body="Hi Jamie!", author="maria", actor="maria"
        )
        assert draft.status == "pending" and draft.approved_hash is None
        assert queue.current(session, draft).number == 2
        assert "no approval" in (approval.approval_is_valid(session, draft) or "")
        # The Message-ID fixed at the first approval stays with the draft.
        assert draft.message_id == "<1@x.example>"


def test_text_changed_behind_the_approval_is_detected(store: Store) -> None:
    draft_id = new_draft(store)
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        queue.approve(session, draft, actor="maria", message_id="<2@x.example>")
        queue.current(session, draft).body = "tampered"
        assert "differs from what was approved" in (
            approval.approval_is_valid(session, draft) or ""
        )


def test_state_rules(store: Store) -> None:
    draft_id = new_draft(store)
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        with pytest.raises(InputError, match="give a reason"):
            queue.reject(session, draft, actor="maria", reason=" ")
        with pytest.raises(InputError, match="line break"):
            queue.add_revision(
                session, draft, subject="a\r\nBcc: x", body="b", author="m", actor="m"
            )
        queue.reject(session, draft, actor="maria", reason="wrong person")
        with pytest.raises(StateError, match="only pending drafts can be approved"):
            queue.approve(session, draft, actor="maria", message_id="<3@x.example>")
        assert queue.cancel(session, draft, actor="sync", reason="replied") is False


def test_an_approval_must_name_the_current_revision(store: Store) -> None:
    draft_id = new_draft(store)
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        opened.mark_viewed(session, draft, "maria")
        opened.mark_viewed(session, draft, "maria")  # reading it again records nothing new
        queue.add_revision(
            session, draft, subject="Hello", body="Hi Jamie!", author="lena", actor="lena"
        )
        assert opened.seen_revision(session, draft_id, "maria") == 1
        assert opened.seen_revision(session, draft_id, "lena") == 2  # she wrote it
        with pytest.raises(queue.ChangedSinceOpened, match="changed since you opened it") as info:
            queue.approve(session, draft, actor="maria", message_id="<4@x.example>", seen=1)
        assert (info.value.seen, info.value.revision) == (1, 2)
        assert draft.status == "pending" and draft.approved_hash is None
        opened.mark_viewed(session, draft, "maria")
        queue.approve(session, draft, actor="maria", message_id="<4@x.example>", seen=2)
        assert (draft.status, draft.approved_revision) == ("approved", 2)
        views = session.execute(
            select(Event.actor, Event.details)
            .where(Event.action == "draft.viewed")
            .order_by(Event.id)
        ).all()
    assert [(actor, details["revision"]) for actor, details in views] == [
        ("maria", 1),
        ("lena", 2),
        ("maria", 2),
    ]


def test_every_change_takes_the_clock_it_is_given(store: Store) -> None:
    draft_id = new_draft(store)
    at = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        queue.add_revision(
            session, draft, subject="Hi", body="New.", author="maria", actor="maria", now=at
        )
        queue.approve(session, draft, actor="maria", message_id="<1@x>", seen=2, now=at)
    with store.session() as session:
        draft = queue.get_draft(session, draft_id)
        assert (draft.approved_at, draft.updated_at, draft.viewed_at) == (at, at, at)
        assert queue.current(session, draft).created_at == at
        times = session.execute(
            select(Event.action, Event.at).where(Event.action != "draft.created")
        ).all()
        assert sorted(times) == [
            ("draft.approved", at),
            ("draft.revised", at),
            ("draft.viewed", at),
        ]


def test_the_command_line_and_the_web_app_run_on_outreach_now(
    workspace: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = open_store(f"sqlite:///{workspace / 'outreach.db'}")
    seed(store, drafts=2)
    monkeypatch.setenv("OUTREACH_NOW", "2027-03-01T10:30+01:00")
    ran = CliRunner().invoke(cli, ["queue", "approve", "1", "--unread"])
    assert ran.exit_code == 0, ran.output
    fixed = datetime(2027, 3, 1, 9, 30, tzinfo=UTC)
    with TestClient(create_app(settings_for(workspace), store, clock=lambda: fixed)) as client:
        csrf = log_in(client)
        client.get("/drafts/2")
        client.post("/drafts/2/approve", data={"csrf_token": csrf, "revision": "1"})
    with store.session() as session:
        assert [queue.get_draft(session, i).approved_at for i in (1, 2)] == [fixed, fixed]
        approvals = session.scalars(select(Event.at).where(Event.action == "draft.approved"))
        assert list(approvals) == [fixed, fixed]
    store.close()
