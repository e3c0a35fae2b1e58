"""The conversation pages and their JSON through the in-process client."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach.conversations import threads as core
from outreach.store import Store
from outreach.store.models import Candidate, Conversation, Message, utcnow
from outreach.web import create_app
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
        core.record_reply(session, thread, actor="sync")
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
