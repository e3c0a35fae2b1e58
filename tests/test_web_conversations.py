"""The conversation pages and their JSON through the in-process client."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach.conversations import stops
from outreach.conversations import threads as core
from outreach.store import Store
from outreach.store.models import (
    Candidate,
    Conversation,
    Draft,
    Message,
    OutboxEntry,
    Revision,
    utcnow,
)
from outreach.web import create_app
from tests.llm_server import FakeLLMServer, ok
from tests.webutil import log_in, seed, settings_for

JAMIE = "jamie@paywise.example"


@pytest.fixture
def client(store: Store, workspace: Path) -> Iterator[TestClient]:
    seed(store, drafts=1)
    now = utcnow()
    with store.session() as session:
        jamie = session.scalars(select(Candidate).where(Candidate.email == JAMIE)).one()
        thread = core.open_conversation(session, jamie.id, "Backend role", now, actor="test")
        for uid, direction, text, elided in [
            (1, "out", "Hi Jamie, would you like to talk?", ""),
            (2, "in", "Yes! <script>alert(1)</script> Thursday works.", "> Hi Jamie, would you"),
        ]:
            session.add(
                Message(
                    mailbox="m",
                    folder="INBOX",
                    uidvalidity=1,
                    uid=uid,
                    message_id=f"<{uid}@x>",
                    from_addr=JAMIE if direction == "in" else "maria@nordlys.example",
                    date=now + timedelta(minutes=uid),
                    subject="Re: Backend role",
                    direction=direction,
                    classification="human" if direction == "in" else "own",
                    reply_text=text,
                    elided_text=elided,
                    candidate_id=jamie.id,
                    conversation_id=thread.id,
                )
            )
        core.touch(thread, now)
        stops.record_reply(session, thread, actor="sync")
    with TestClient(create_app(settings_for(workspace), store)) as test_client:
        yield test_client


def test_pages_need_a_login(client: TestClient) -> None:
    response = client.get("/conversations", follow_redirects=False)
    assert response.status_code == 303 and "/login" in response.headers["location"]
    assert client.get("/api/conversations").status_code == 401


def test_list_show_and_mark(client: TestClient, store: Store) -> None:
    csrf = log_in(client)
    listing = client.get("/conversations?status=needs_response")
    assert listing.status_code == 200
    assert JAMIE in listing.text and 'Needs response <span class="count">1</span>' in listing.text
    assert 'href="/conversations"' in client.get("/queue").text  # in the navigation

    page = client.get(f"/conversations/{JAMIE}")
    assert page.status_code == 200
    assert "Thursday works." in page.text and "<script>alert(1)</script>" not in page.text
    assert "&lt;script&gt;" in page.text
    assert "<details><summary" in page.text and "&gt; Hi Jamie, would you" in page.text
    assert client.get("/conversations/nobody@example.org").status_code == 404

    refused = client.post(f"/conversations/{JAMIE}/mark", data={"sentiment": "positive"})
    assert refused.status_code == 403
    done = client.post(
        f"/conversations/{JAMIE}/mark",
        data={"sentiment": "positive", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert done.status_code == 303 and done.headers["location"] == f"/conversations/{JAMIE}"
    with store.session() as session:
        assert session.scalars(select(Conversation.sentiment)).one() == "positive"
    assert "Marked the conversation positive." in client.get(done.headers["location"]).text

    rows = client.get("/api/conversations").json()
    assert [(r["email"], r["sentiment"], r["incoming"], r["outgoing"]) for r in rows] == [
        (JAMIE, "positive", 1, 1)
    ]
    shown = client.get(f"/api/conversations/{JAMIE}").json()
    items = shown["conversations"][0]["items"]
    assert [i["direction"] for i in items] == ["out", "in"] and items[1]["elided"]
    assert client.get("/api/conversations/nobody@example.org").status_code == 404


@pytest.fixture
def model_client(
    store: Store, workspace: Path, client: TestClient, llm_server: FakeLLMServer
) -> Iterator[TestClient]:
    """The same seeded store, served with the model at the fake LLM server."""
    with TestClient(create_app(settings_for(workspace, llm_server.base_url), store)) as other:
        yield other


def test_answer_from_the_page_draft_edit_send(
    model_client: TestClient, store: Store, llm_server: FakeLLMServer
) -> None:
    client = model_client
    csrf = log_in(client)
    page = client.get(f"/conversations/{JAMIE}").text
    assert 'class="count" aria-label="1 waiting"' in page  # the navigation counts Jamie
    assert "Draft with the model" in page and "Your reply ends with their message" in page
    llm_server.push(ok(json.dumps({"reply": "Thursday at 10 suits us; I will send an invite."})))
    drafted = client.post(
        f"/conversations/{JAMIE}/reply",
        data={"action": "draft", "instruction": "offer Thursday at 10", "csrf_token": csrf},
        follow_redirects=False,
    )
    assert drafted.status_code == 303 and drafted.headers["location"].endswith("#reply-")
    prompt = json.dumps(llm_server.completions[-1].body["messages"])
    assert "offer Thursday at 10" in prompt and "Hi Jamie, would you like to talk?" in prompt
    page = client.get(f"/conversations/{JAMIE}").text
    assert "Thursday at 10 suits us; I will send an invite." in page
    with store.read() as session:
        (draft,) = session.scalars(select(Draft).where(Draft.kind == "reply")).all()
    assert f'name="draft_id" value="{draft.id}"' in page and 'name="revision" value="1"' in page
    sent = client.post(
        f"/conversations/{JAMIE}/reply",
        data={"action": "send", "draft_id": str(draft.id), "revision": "1", "csrf_token": csrf,
              "text": "Hi Jamie,\n\nThursday at 10 it is.\n\nMaria"},
        follow_redirects=False,
    )  # fmt: skip
    assert sent.status_code == 303
    page = client.get(f"/conversations/{JAMIE}").text
    assert "is approved and in the outbox" in page and 'data-state="queued"' in page
    with store.read() as session:
        draft = session.get_one(Draft, draft.id)
        raw = session.scalars(select(OutboxEntry.raw)).one()
        authors = session.scalars(select(Revision.author).order_by(Revision.number)).all()
    assert (draft.status, draft.approved_by, draft.approved_revision) == ("queued", "maria", 2)
    assert list(authors)[-2:] == ["ai:test-model", "maria"]
    assert b"In-Reply-To: <2@x>\r\nReferences: <2@x>\r\n" in raw  # theirs named no earlier ids
    assert b"Subject: Re: Backend role\r\n" in raw
    assert client.get("/api/waiting").json() == []
    assert 'aria-label="1 waiting"' not in page


def test_no_answer_needed_interview_and_the_api(client: TestClient, store: Store) -> None:
    csrf = log_in(client)
    (row,) = client.get("/api/waiting").json()
    assert (row["kind"], row["email"], row["excerpt"]) == (
        "answer", JAMIE, "Yes! <script>alert(1)</script> Thursday works."
    )  # fmt: skip
    page = client.get("/waiting").text
    assert "&lt;script&gt;alert(1)" in page and "<script>alert(1)" not in page
    refused = client.post(f"/conversations/{JAMIE}/no-answer", data={"reason": "thanks"})
    assert refused.status_code == 403
    empty = client.post(
        f"/conversations/{JAMIE}/no-answer", data={"reason": "", "csrf_token": csrf}
    )  # followed to the page, which shows why
    assert "say why no answer is needed" in empty.text
    client.post(
        f"/conversations/{JAMIE}/no-answer", data={"reason": "said thanks", "csrf_token": csrf}
    )
    assert client.get("/api/waiting").json() == []
    assert "Nobody is waiting for you" in client.get("/waiting").text
    client.post(
        f"/conversations/{JAMIE}/interviewed", data={"on": "2026-01-05", "csrf_token": csrf}
    )
    (row,) = client.get("/api/waiting").json()
    assert (row["kind"], row["overdue"]) == ("feedback", True)
    assert "feedback owed" in client.get("/waiting").text
    client.post(f"/conversations/{JAMIE}/interviewed", data={"on": "", "csrf_token": csrf})
    assert client.get("/api/waiting").json() == []

    answered = client.post(
        f"/api/conversations/{JAMIE}/reply",
        json={"text": "Thanks, Jamie!"},
        headers={"X-CSRF-Token": csrf},
    )
    assert answered.status_code == 200, answered.text
    body = answered.json()
    assert body["to"] == JAMIE and body["message_id"].endswith("@nordlys.example>")
    assert client.post(f"/api/conversations/{JAMIE}/reply", json={"text": "x"}).status_code == 403
    shown = client.get(f"/api/conversations/{JAMIE}").json()
    # (the seeded messages are dated minutes ahead, so ours sorts first by date)
    assert sorted(i["state"] for i in shown["conversations"][0]["items"]) == [
        "queued", "received", "sent"
    ]  # fmt: skip
