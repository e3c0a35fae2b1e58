"""Requests to see or erase one's data, by reply: recognised in English, Swedish and German
in mail delivered to Dovecot, logged, and put in front of the recruiter; "delete" in an
ordinary reply is no request. The phrasing rules are also checked one by one."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach.candidates import overview
from outreach.inbox import data_requests
from outreach.inbox.sync import run_sync
from outreach.store import Store
from outreach.store.models import Candidate, Event, Message
from outreach.web import create_app
from tests import inbox_kit as kit
from tests.webutil import log_in, settings_for

if TYPE_CHECKING:
    from tests.services.dovecot import Dovecot

ERASE = [
    "Please delete my data.",
    "Hi, I'd like you to remove all my personal information from your systems. Thanks",
    "Under GDPR I request erasure of everything you hold about me.",
    "I invoke my right to be forgotten.",
    "Make sure my details are deleted, please.",
    "Vänligen radera mina personuppgifter.",
    "Kan ni ta bort mina uppgifter ur ert system?",
    "Bitte löschen Sie meine Daten.",
    "Ich verlange die Löschung meiner personenbezogenen Daten gemäß Art. 17 DSGVO.",
]
ACCESS = [
    "Can you send me a copy of my data?",
    "What personal data do you hold on me and where did you get my email?",
    "This is a subject access request.",
    "Jag vill begära ett registerutdrag.",
    "Vilka uppgifter har ni om mig? Var fick ni tag på mina uppgifter?",
    "Ich bitte um Auskunft über meine gespeicherten Daten nach Art. 15 DSGVO.",
    "Welche Daten haben Sie über mich gespeichert?",
]
NEITHER = [
    "I had to delete my draft, sorry for the delay.",
    "Sure, delete the old invite and I'll accept the new one.",
    "Thanks! You can delete the first attachment, the second one is my updated CV.",
    "We deleted the legacy data pipeline last year, which was fun.",
    "Vi raderade den gamla filen.",
    "Ich habe die Datei gelöscht.",
    "Sounds good, Thursday works. Delete the earlier slot.",
    "Please remove the Tuesday meeting from my calendar.",
    "Not interested, thanks.",
]


@pytest.mark.parametrize("text", ERASE)
def test_erasure_phrasings(text: str) -> None:
    assert data_requests.detect(text) == data_requests.ERASURE


@pytest.mark.parametrize("text", ACCESS)
def test_access_phrasings(text: str) -> None:
    assert data_requests.detect(text) == data_requests.ACCESS


@pytest.mark.parametrize("text", NEITHER)
def test_mail_that_mentions_delete_is_no_request(text: str) -> None:
    assert data_requests.detect(text) is None


@pytest.fixture
def user(dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    return dovecot.new_user()


def test_requests_by_reply_reach_the_recruiter(
    dovecot: Dovecot, user: str, store: Store, workspace: Path
) -> None:
    emails = ["ana@paywise.example", "bo@fjall.example", "cleo@bank.example", "dag@ok.example"]
    people = kit.add_people(store, emails)
    replies = {
        "ana@paywise.example": kit.gmail_reply(
            "ana@paywise.example",
            "<r1@x>",
            "Thanks, but please delete all my personal data from your systems.",
            people["ana@paywise.example"].message_id,
        ),
        "bo@fjall.example": kit.swedish_reply(
            "bo@fjall.example",
            "<r2@x>",
            "Hej! Vilka uppgifter har ni om mig? Jag vill ha ett registerutdrag.",
            people["bo@fjall.example"].message_id,
        ),
        "cleo@bank.example": kit.german_reply(
            "cleo@bank.example",
            "<r3@x>",
            "Bitte löschen Sie meine Daten.",
            people["cleo@bank.example"].message_id,
        ),
        "dag@ok.example": kit.outlook_reply(
            "dag@ok.example",
            "<r4@x>",
            "Sounds good! I deleted the old invite; Thursday works.",
            people["dag@ok.example"].message_id,
        ),
    }
    for raw in replies.values():
        dovecot.deliver(user, raw)
    url = store.engine.url.render_as_string(hide_password=False)
    report = run_sync(
        kit.settings(dovecot.host, dovecot.port, user, url), store, now=lambda: kit.NOW
    )
    assert "3 asking to see or erase their data" in report.summary()
    with store.read() as session:
        kinds = dict(
            session.execute(
                select(Candidate.email, Message.details["data_request"].as_string())
                .join(Message, Message.candidate_id == Candidate.id)
                .where(Message.direction == "in")
            ).all()
        )
        logged = session.scalars(
            select(Event.details["kind"].as_string()).where(
                Event.action == "candidate.data_request"
            )
        ).all()
        waiting = overview.open_requests(session)
    assert kinds == {
        "ana@paywise.example": "erasure",
        "bo@fjall.example": "access",
        "cleo@bank.example": "erasure",
        "dag@ok.example": None,
    }
    assert sorted(logged) == ["access", "erasure", "erasure"]
    assert {r["email"]: r["kind"] for r in waiting} == {
        "ana@paywise.example": "erasure",
        "bo@fjall.example": "access",
        "cleo@bank.example": "erasure",
    }

    # The recruiter sees them on the candidates page and answers with one click each.
    with TestClient(create_app(settings_for(workspace), store)) as http:
        from outreach import users

        with store.session() as session:
            users.add_user(session, "maria", "correct horse battery")
        csrf = log_in(http)
        page = http.get("/candidates").text
        assert "Requests about their data" in page and "asks to erase their data" in page
        ana, bo = people["ana@paywise.example"].id, people["bo@fjall.example"].id
        done = http.post(
            f"/candidates/{ana}/forget",
            data={"csrf_token": csrf, "confirm": "ana@paywise.example", "on_request": "erasure"},
        )
        assert "Forgot ana@paywise.example" in done.text
        exported = http.post(f"/candidates/{bo}/export", data={"csrf_token": csrf})
        assert exported.headers["content-type"] == "application/zip"
        cleo = people["cleo@bank.example"].id
        http.post(f"/candidates/{cleo}/requests/handled", data={"csrf_token": csrf, "note": "x"})
        assert "Requests about their data" not in http.get("/candidates").text
    with store.read() as session:
        forgotten = session.scalars(
            select(Event.details).where(Event.action == "candidate.forgotten")
        ).one()
        assert overview.open_requests(session) == []
    assert forgotten["on_request"] == "erasure"
