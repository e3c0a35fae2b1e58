"""The web UI's handlers through the in-process client, on SQLite and PostgreSQL."""

from __future__ import annotations

import asyncio
import html
import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach.review import approval, opened, queue
from outreach.store import Store
from outreach.store.models import Draft, Event, Revision
from outreach.web import create_app
from tests.llm_server import FakeLLMServer
from tests.webutil import PASSWORD, XSS_NAME, csrf_of, log_in, seed, settings_for


@pytest.fixture
def seeded(store: Store) -> dict[str, Any]:
    return seed(store, drafts=4)


@pytest.fixture
def client(store: Store, workspace: Path, seeded: dict[str, Any]) -> Iterator[TestClient]:
    with TestClient(create_app(settings_for(workspace), store)) as test_client:
        yield test_client


def draft_row(store: Store, draft_id: int) -> Draft:
    with store.session() as session:
        return queue.get_draft(session, draft_id)


def test_without_a_session_pages_redirect_to_login_and_the_api_says_401(
    client: TestClient,
) -> None:
    response = client.get("/drafts/1?kind=outreach", follow_redirects=False)
    assert response.status_code == 303
    assert response.headers["location"] == "/login?next=/drafts/1%3Fkind%3Doutreach"
    assert (
        client.post("/drafts/1/approve", follow_redirects=False)
        .headers["location"]
        .startswith("/login")
    )
    assert client.get("/api/drafts").status_code == 401
    assert client.post("/api/drafts/1/approve").status_code == 401
    login = client.get("/login?next=/drafts/1")
    assert login.status_code == 200 and 'value="/drafts/1"' in login.text


def test_login_sets_a_signed_httponly_lax_cookie_and_rejects_bad_passwords(
    client: TestClient,
) -> None:
    token = csrf_of(client.get("/login").text)
    bad = client.post("/login", data={"username": "maria", "password": "nope", "csrf_token": token})
    assert bad.status_code == 401 and "do not match" in bad.text
    no_csrf = client.post("/login", data={"username": "maria", "password": PASSWORD})
    assert no_csrf.status_code == 403
    good = client.post(
        "/login",
        data={
            "username": "maria",
            "password": PASSWORD,
            "csrf_token": token,
            "next": "//evil.example",
        },
        follow_redirects=False,
    )
    assert good.status_code == 303 and good.headers["location"] == "/"
    cookie = good.headers["set-cookie"].lower()
    assert "outreach_session=" in cookie and "httponly" in cookie and "samesite=lax" in cookie
    assert client.get("/queue").status_code == 200
    # A tampered cookie is no session at all.
    value = client.cookies["outreach_session"]
    client.cookies.clear()
    client.cookies.set("outreach_session", value[:-3] + ("AAA" if value[-3:] != "AAA" else "BBB"))
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_every_post_needs_the_csrf_token(client: TestClient, store: Store) -> None:
    token = log_in(client)
    for path in ("/drafts/1/approve", "/drafts/1/reject", "/drafts/1/save", "/queue/approve"):
        assert client.post(path, data={"reason": "x"}).status_code == 403, path
        assert client.post(path, data={"csrf_token": "wrong" * 5}).status_code == 403, path
    assert client.post("/api/drafts/1/approve").status_code == 403
    assert client.post("/api/drafts/1/reject", json={"reason": "x"}).status_code == 403
    assert client.post("/logout").status_code == 403
    assert draft_row(store, 1).status == "pending"
    ok = client.post("/api/drafts/1/approve", json={"revision": 1}, headers={"X-CSRF-Token": token})
    assert ok.status_code == 200 and ok.json()["status"] == "approved"


def test_pages_carry_security_headers(client: TestClient) -> None:
    log_in(client)
    response = client.get("/queue")
    csp = response.headers["content-security-policy"]
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert "unsafe-inline" not in csp
    assert response.headers["x-content-type-options"] == "nosniff"
    assert response.headers["server-timing"].startswith("app;dur=")
    assert '<script src="/static/htmx.min.js"' in response.text
    assert "<script>" not in response.text  # no inline script anywhere
    assert client.get("/static/htmx.min.js").status_code == 200


def test_queue_lists_pending_newest_due_first_with_counts_and_filters(
    client: TestClient, seeded: dict[str, Any]
) -> None:
    log_in(client)
    page = client.get("/queue").text
    order = [page.index(f"Senior Backend Engineer {i}<") for i in (1, 2, 3, 4)]
    assert order == sorted(order)
    assert 'Pending <span class="count">4</span>' in page
    flagged = client.get("/queue?flagged=true").text
    assert "Engineer 1<" in flagged and "Engineer 3<" in flagged and "Engineer 2<" not in flagged
    kind = client.get("/queue?kind=follow_up").text
    assert "Engineer 3<" in kind and "Engineer 1<" not in kind
    campaign = client.get(f"/queue?campaign={seeded['campaign']}").text
    assert "Engineer 1<" in campaign and "Engineer 3<" not in campaign
    # htmx asks for the list only.
    partial = client.get("/queue?kind=outreach", headers={"HX-Request": "true"}).text
    assert partial.lstrip().startswith('<section id="queue-list">') and "<html" not in partial
    # Unknown filter values fall back instead of failing.
    assert client.get("/queue?status=bogus&campaign=x&page=-1").status_code == 200


def test_queue_pages_through_many_drafts(store: Store, workspace: Path) -> None:
    seed(store, drafts=120)
    with TestClient(create_app(settings_for(workspace), store)) as client:
        log_in(client)
        first = client.get("/queue").text
        assert "Page 1 of 3 · 120 drafts" in first
        assert "Engineer 50<" in first and "Engineer 51<" not in first
        third = client.get("/queue?page=3").text
        assert "Engineer 101<" in third and "Engineer 120<" in third
        api = client.get("/api/drafts?per_page=10&page=2").json()
        assert [item["id"] for item in api["items"]][0] == 11 and api["pages"] == 12


def test_draft_page_shows_profile_flags_inline_and_escapes_everything(
    client: TestClient, store: Store
) -> None:
    log_in(client)
    assert draft_row(store, 2).viewed_at is None
    page = client.get("/drafts/2").text
    assert XSS_NAME not in page and html.escape(XSS_NAME, quote=False) in page
    assert "<script>alert" not in page and "&lt;script&gt;alert(&#39;body&#39;)" in page
    assert "<b>bold</b>" not in page
    assert draft_row(store, 2).viewed_at is not None
    flagged = client.get("/drafts/1").text
    assert '<mark title="not in the profile">Kafka</mark>' in flagged
    assert "Jamie Lind" in flagged and "Led the ML platform at Paywise" in flagged
    assert "No changes yet" in flagged
    assert client.get("/drafts/999").status_code == 404


def test_approve_records_the_approval_and_goes_to_the_next_draft(
    client: TestClient, store: Store
) -> None:
    token = log_in(client)
    response = client.post(
        "/drafts/1/approve?kind=outreach",
        data={"csrf_token": token, "revision": "1"},
        follow_redirects=False,
    )
    assert response.status_code == 303 and response.headers["location"] == "/drafts/2?kind=outreach"
    draft = draft_row(store, 1)
    assert (draft.status, draft.approved_by, draft.approved_revision) == ("approved", "maria", 1)
    with store.session() as session:
        assert draft.approved_hash == approval.fingerprint(approval.visible_of(session, draft))
        assert approval.approval_is_valid(session, draft) is None
    assert draft.message_id and draft.message_id.endswith("@nordlys.example>") or draft.message_id
    # The last draft leads back to the queue.
    last = client.post(
        "/drafts/4/approve", data={"csrf_token": token, "revision": "1"}, follow_redirects=False
    )
    assert last.headers["location"] == "/queue"


def test_save_makes_a_revision_and_withdraws_an_approval(client: TestClient, store: Store) -> None:
    token = log_in(client)
    client.post("/drafts/1/approve", data={"csrf_token": token, "revision": "1"})
    response = client.post(
        "/drafts/1/save",
        data={
            "csrf_token": token,
            "subject": "Kafka at Nordlys",
            "body": "Hi Jamie,\r\n\r\nShort.",
        },
    )
    assert "Saved revision 2. Its approval was withdrawn" in response.text
    draft = draft_row(store, 1)
    assert (draft.status, draft.current_revision, draft.approved_hash) == ("pending", 2, None)
    with store.session() as session:
        assert queue.current(session, draft).body == "Hi Jamie,\n\nShort.\n"
        assert queue.current(session, draft).author == "maria"
    page = client.get("/drafts/1").text
    assert "<del>" in page and re.search(r"<ins>[^<]*Short\.\s*</ins>", page)
    same = client.post(
        "/drafts/1/save",
        data={"csrf_token": token, "subject": "Kafka at Nordlys", "body": "Hi Jamie,\n\nShort."},
    )
    assert "Nothing changed" in same.text and draft_row(store, 1).current_revision == 2
    bad = client.post("/drafts/1/save", data={"csrf_token": token, "subject": " ", "body": "x"})
    assert "the subject is empty" in bad.text


def test_reject_needs_a_reason(client: TestClient, store: Store) -> None:
    token = log_in(client)
    empty = client.post("/drafts/3/reject", data={"csrf_token": token, "reason": " "})
    assert "give a reason" in empty.text and draft_row(store, 3).status == "pending"
    done = client.post(
        "/drafts/3/reject",
        data={"csrf_token": token, "reason": "wrong team"},
        follow_redirects=False,
    )
    assert done.headers["location"] == "/drafts/4"
    assert (draft_row(store, 3).status, draft_row(store, 3).reject_reason) == (
        "rejected",
        "wrong team",
    )


def test_bulk_approve_takes_only_opened_drafts(client: TestClient, store: Store) -> None:
    token = log_in(client)
    client.get("/drafts/1")
    client.get("/drafts/3")
    page = client.get("/queue").text
    assert 'value="2" aria-label="Select draft 2"\n                 disabled' in page or (
        'value="2"' in page and "Open the draft (again, if it changed) before approving it" in page
    )
    response = client.post("/queue/approve", data={"csrf_token": token, "ids": ["1", "2", "3"]})
    assert "Approved 2 drafts." in response.text
    assert "draft 2: not opened yet" in response.text
    statuses = [draft_row(store, i).status for i in (1, 2, 3)]
    assert statuses == ["approved", "pending", "approved"]
    with store.session() as session:
        viewed = session.scalars(
            select(Event.subject_id).where(Event.action == "draft.viewed").order_by(Event.id)
        ).all()
    assert viewed == [1, 3]
    api = client.post("/api/drafts/approve", json={"ids": [2, 4]}, headers={"X-CSRF-Token": token})
    assert api.json() == {
        "approved": [],
        "skipped": [
            "draft 2: not opened yet; open it before approving",
            "draft 4: not opened yet; open it before approving",
        ],
    }


def test_regenerate_writes_a_new_revision_with_the_model(
    store: Store, workspace: Path, seeded: dict[str, Any], llm_server: FakeLLMServer
) -> None:
    settings = settings_for(workspace, llm_server.base_url)
    with TestClient(create_app(settings, store)) as client:
        token = log_in(client)
        client.post(
            "/drafts/1/save",
            data={"csrf_token": token, "subject": "Mine", "body": "My own words."},
        )
        response = client.post(
            "/drafts/1/regenerate", data={"csrf_token": token, "instruction": "shorter"}
        )
        assert "Regenerated: revision 3" in response.text
    assert "shorter" in str(llm_server.completions[-1].body)
    with store.session() as session:
        numbers = session.execute(
            select(Revision.number, Revision.author, Revision.instruction)
            .where(Revision.draft_id == 1)
            .order_by(Revision.number)
        ).all()
    # The human edit is kept as revision 2; the model wrote revision 3.
    assert [tuple(n) for n in numbers] == [
        (1, "ai:test-model", ""),
        (2, "maria", ""),
        (3, "ai:test-model", "shorter"),
    ]


def test_regenerate_without_a_model_explains_what_to_set(client: TestClient) -> None:
    token = log_in(client)
    page = client.get("/drafts/1").text
    assert "No model is configured" in page
    response = client.post("/drafts/1/regenerate", data={"csrf_token": token, "instruction": "x"})
    assert "regenerating needs a model" in response.text
    api = client.post(
        "/api/drafts/1/regenerate", json={"instruction": "x"}, headers={"X-CSRF-Token": token}
    )
    assert api.status_code == 422 and "needs a model" in api.json()["detail"]


def test_logout_ends_the_session(client: TestClient) -> None:
    token = log_in(client)
    client.post("/logout", data={"csrf_token": token})
    assert client.get("/queue", follow_redirects=False).status_code == 303


def test_background_jobs_run_while_the_app_runs_and_stop_with_it(
    store: Store, workspace: Path
) -> None:
    started, stopped = [], []

    async def job() -> None:
        started.append(True)
        try:
            await asyncio.Event().wait()
        finally:
            stopped.append(True)

    app = create_app(settings_for(workspace), store, background=[job])
    with TestClient(app) as client:
        assert client.get("/login").status_code == 200
        assert started == [True] and stopped == []
    assert stopped == [True]


def test_approve_refuses_a_revision_the_reviewer_did_not_read(
    client: TestClient, store: Store
) -> None:
    token = log_in(client)
    assert 'name="revision" value="1"' in client.get("/drafts/1").text
    with store.session() as session:  # another reviewer saves revision 2 meanwhile
        queue.add_revision(
            session,
            queue.get_draft(session, 1),
            subject="A new subject",
            body="Text maria has not read.",
            author="lena",
            actor="lena",
        )
    stale = client.post(
        "/drafts/1/approve", data={"csrf_token": token, "revision": "1"}, follow_redirects=False
    )
    assert stale.status_code == 409
    assert (
        "this draft changed since you opened it (you read revision 1; it is now revision 2)"
        in html.unescape(stale.text)
    )
    assert "Text maria has not read." in stale.text and "A new subject" in stale.text
    assert 'name="revision" value="2"' in stale.text
    assert draft_row(store, 1).status == "pending"
    unnamed = client.post("/drafts/1/approve", data={"csrf_token": token})
    assert "did not say which revision you read" in unnamed.text
    assert draft_row(store, 1).status == "pending"
    approved = client.post(
        "/drafts/1/approve", data={"csrf_token": token, "revision": "2"}, follow_redirects=False
    )
    assert approved.status_code == 303
    draft = draft_row(store, 1)
    assert (draft.status, draft.approved_revision) == ("approved", 2)


def test_bulk_approval_takes_each_draft_at_the_revision_its_reviewer_opened(
    client: TestClient, store: Store
) -> None:
    token = log_in(client)
    client.get("/drafts/1")
    client.get("/drafts/3")
    with store.session() as session:
        opened.mark_viewed(session, queue.get_draft(session, 2), "lena")  # not maria's reading
        queue.add_revision(
            session,
            queue.get_draft(session, 3),
            subject="Senior Backend Engineer 3",
            body="Revision 2, which maria has not read.",
            author="lena",
            actor="lena",
        )
    page = client.get("/queue").text
    selectable = re.findall(r'value="(\d+)" aria-label="Select draft \d+"\s*>', page)
    assert selectable == ["1"]
    response = client.post("/queue/approve", data={"csrf_token": token, "ids": ["1", "2", "3"]})
    text = html.unescape(response.text)
    assert "Approved 1 draft." in text and "draft 2: not opened yet" in text
    assert "draft 3: this draft changed since you opened it" in text
    assert [draft_row(store, i).status for i in (1, 2, 3)] == ["approved", "pending", "pending"]
    client.get("/api/drafts/3")  # now maria reads revision 2
    api = client.post(
        "/api/drafts/approve", json={"ids": [2, 3]}, headers={"X-CSRF-Token": token}
    ).json()
    assert api == {
        "approved": [3],
        "skipped": ["draft 2: not opened yet; open it before approving"],
    }
    assert draft_row(store, 3).approved_revision == 2
