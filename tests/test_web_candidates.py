"""The candidate pages through the in-process client: search, page, edit, tag, upload, forget."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach.candidates import search
from outreach.store import Store
from outreach.store.models import Campaign, Candidate, Draft, Event, Suppression
from outreach.store.values import EnrolmentStatus
from outreach.web import create_app
from tests.webutil import XSS_NAME, log_in, seed, settings_for


@pytest.fixture
def client(store: Store, workspace: Path) -> Iterator[tuple[TestClient, str, dict[str, Any]]]:
    ids = seed(store, drafts=1)
    with store.session() as session:
        jamie = session.get(Candidate, ids["jamie"])
        assert jamie is not None
        jamie.source = "GitHub"
        search.reindex(session)  # seed() writes rows directly
        session.get(Campaign, ids["campaign"]).steps = [{"template": "intro"}]  # type: ignore[union-attr]
        session.get(Campaign, ids["campaign"]).status = "active"  # type: ignore[union-attr]
    with TestClient(create_app(settings_for(workspace), store)) as test_client:
        yield test_client, log_in(test_client), ids


def test_pages_need_a_login(store: Store, workspace: Path) -> None:
    with TestClient(create_app(settings_for(workspace), store)) as anonymous:
        response = anonymous.get("/candidates", follow_redirects=False)
        assert response.status_code == 303 and "/login" in response.headers["location"]


def test_search_shows_source_and_escapes(client: tuple[TestClient, str, dict[str, Any]]) -> None:
    http, _, ids = client
    page = http.get("/candidates", params={"q": "kafka"}).text
    assert "Jamie Lind" in page and "GitHub" in page and f"/candidates/{ids['jamie']}" in page
    assert "1 match" in page
    everyone = http.get("/candidates").text
    assert XSS_NAME not in everyone and "&lt;img src=x" in everyone
    assert "No candidates match" in http.get("/candidates", params={"q": "nobody"}).text
    assert "Jamie Lind" in http.get("/candidates", params={"source": "GitHub"}).text


def test_candidate_page_edit_and_tags(client: tuple[TestClient, str, dict[str, Any]]) -> None:
    http, csrf, ids = client
    url = f"/candidates/{ids['jamie']}"
    page = http.get(url).text
    assert "GitHub" in page and "Senior Backend Engineer 1" in page  # its draft
    response = http.post(
        f"{url}/edit",
        data={"csrf_token": csrf, "company": "Klarna", "skills": "Go; Rust", "source": "referral"},
        follow_redirects=False,
    )
    assert response.status_code == 303
    page = http.get(url).text
    assert "Saved company, skills, source." in page and "Klarna" in page and "Go, Rust" in page
    assert "Jamie Lind" in http.get("/candidates", params={"q": "klarna rust"}).text
    bad = http.post(url + "/edit", data={"csrf_token": csrf, "timezone": "Mars/Base"})
    assert "Not saved: timezone" in bad.text
    http.post(url + "/tags", data={"csrf_token": csrf, "tag": "shortlist"})
    assert "Jamie Lind" in http.get("/candidates", params={"tag": "shortlist"}).text
    http.post(url + "/tags", data={"csrf_token": csrf, "tag": "shortlist", "remove": "1"})
    assert "No candidates match" in http.get("/candidates", params={"q": "shortlist"}).text
    assert http.post(url + "/tags", data={"tag": "x"}).status_code == 403  # no CSRF token


def test_draft_and_enrol_from_the_page(
    client: tuple[TestClient, str, dict[str, Any]], store: Store
) -> None:
    http, csrf, ids = client
    url = f"/candidates/{ids['eve']}"
    response = http.post(
        url + "/draft", data={"csrf_token": csrf, "template": "follow_up"}, follow_redirects=False
    )
    assert response.status_code == 303 and response.headers["location"].startswith("/drafts/")
    response = http.post(url + "/enrol", data={"csrf_token": csrf, "campaign": "backend-2026"})
    assert "Enrolled in backend-2026" in response.text
    again = http.post(url + "/enrol", data={"csrf_token": csrf, "campaign": "backend-2026"})
    assert "already enrolled" in again.text
    with store.read() as session:
        drafts = session.scalars(select(Draft).where(Draft.candidate_id == ids["eve"])).all()
    assert {d.template for d in drafts} >= {"follow_up", "intro"}
    assert EnrolmentStatus.ACTIVE in http.get(url).text


def test_upload_reports_bad_rows_like_the_command_line(
    client: tuple[TestClient, str, dict[str, Any]],
) -> None:
    http, csrf, _ = client
    data = "email,name,timezone\nok@example.com,Ok Person,\nnot-an-address,Bad,\nb@example.com,B,Mars/Base\n"
    page = http.post(
        "/candidates/upload",
        data={"csrf_token": csrf, "tags": "spring", "source": "job fair"},
        files={"file": ("people.csv", data.encode(), "text/csv")},
    ).text
    assert "Imported 1 new" in page and "2 bad rows" in page
    assert "people.csv, line 3: &#39;not-an-address&#39; is not a valid email address" in page
    assert re.search(r"people.csv, line 4: timezone", page)
    listed = http.get("/candidates", params={"q": "ok person", "tag": "spring"}).text
    assert "job fair" in listed
    broken = http.post(
        "/candidates/upload",
        data={"csrf_token": csrf},
        files={"file": ("x.json", b"[{", "application/json")},
    ).text
    assert "x.json" in broken and "not imported" in broken


def test_forget_needs_the_address_typed(
    client: tuple[TestClient, str, dict[str, Any]], store: Store
) -> None:
    http, csrf, ids = client
    url = f"/candidates/{ids['jamie']}/forget"
    page = http.post(url, data={"csrf_token": csrf, "confirm": "yes"}).text
    assert "type the person&#39;s email address" in page
    page = http.post(url, data={"csrf_token": csrf, "confirm": "Jamie@Paywise.example"}).text
    assert "Forgot jamie@paywise.example" in page and "Jamie Lind" not in page
    with store.read() as session:
        assert session.get(Candidate, ids["jamie"]) is None
        assert session.scalar(select(Suppression.reason)) == "forgotten"
        assert session.scalar(select(Event.actor).where(Event.action == "candidate.forgotten")) == (
            "maria"
        )
    assert http.get(f"/candidates/{ids['jamie']}").status_code == 404


def test_expiring_page_says_when_no_retention_is_set(
    client: tuple[TestClient, str, dict[str, Any]],
) -> None:
    http, _, ids = client
    assert "No retention period is set" in http.get("/candidates/expiring").text
    assert (
        "forgotten on request (no retention period set)"
        in http.get(f"/candidates/{ids['jamie']}").text
    )
