"""The JSON API: token and session access, the draft actions, and fuzzing from its OpenAPI schema."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi import FastAPI
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import response_schema_conformance, status_code_conformance

from outreach import users
from outreach.cli.workspace import write_workspace
from outreach.config import load_config
from outreach.review import models, queue
from outreach.store import Store, open_store
from outreach.web import create_app
from tests.webutil import seed, settings_for


@pytest.fixture
def api(store: Store, workspace: Path) -> Iterator[tuple[TestClient, str]]:
    seed(store, drafts=3)
    app = create_app(settings_for(workspace), store)
    with TestClient(app) as client, store.session() as session:
        token = users.issue_token(session, users.web_secret(), "maria")
    yield client, token


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_a_token_needs_no_csrf_and_a_bad_token_gets_401(api: tuple[TestClient, str]) -> None:
    client, token = api
    listing = client.get("/api/drafts?status=pending", headers=bearer(token)).json()
    assert [item["id"] for item in listing["items"]] == [1, 2, 3]
    assert listing["counts"]["pending"] == 3
    assert client.get("/api/drafts", headers=bearer(token + "x")).status_code == 401
    assert client.get("/api/drafts", headers={"Authorization": "Basic abc"}).status_code == 401
    approved = client.post(
        "/api/drafts/1/approve", json={"revision": 1}, headers=bearer(token)
    ).json()
    assert approved["status"] == "approved" and approved["approved_by"] == "maria"
    assert len(approved["approved_hash"]) == 64 and approved["message_id"].startswith("<")


def test_changing_the_password_revokes_tokens(api: tuple[TestClient, str], store: Store) -> None:
    client, token = api
    with store.session() as session:
        users.set_password(session, "maria", "another long password")
    assert client.get("/api/drafts", headers=bearer(token)).status_code == 401


def test_draft_detail_revisions_and_reject(api: tuple[TestClient, str]) -> None:
    client, token = api
    detail = client.get("/api/drafts/1", headers=bearer(token)).json()
    assert detail["candidate"]["name"] == "Jamie Lind" and detail["viewed_at"]
    assert detail["marked_body"][1] == {"text": "Kafka", "flags": ["not in the profile"]}
    assert detail["next_id"] == 2 and detail["previous_id"] is None
    saved = client.post(
        "/api/drafts/1/revisions",
        json={"subject": "Hello", "body": "Hi Jamie,\r\nshort."},
        headers=bearer(token),
    )
    assert saved.status_code == 201 and saved.json()["revision"] == 2
    detail = client.get("/api/drafts/1", headers=bearer(token)).json()
    assert detail["body"] == "Hi Jamie,\nshort.\n" and detail["changed"]
    assert {"op": "insert", "text": "Jamie,\nshort.\n"} in detail["diff_body"]
    bad = client.post(
        "/api/drafts/1/revisions", json={"subject": "a\nb", "body": ""}, headers=bearer(token)
    )
    assert bad.status_code == 422 and "line break" in bad.json()["detail"]
    rejected = client.post(
        "/api/drafts/2/reject", json={"reason": "duplicate"}, headers=bearer(token)
    )
    assert rejected.json()["status"] == "rejected"
    again = client.post("/api/drafts/2/approve", json={"revision": 1}, headers=bearer(token))
    assert again.status_code == 409 and "is rejected" in again.json()["detail"]
    assert client.get("/api/drafts/99", headers=bearer(token)).status_code == 404
    assert client.get("/api/candidates/1", headers=bearer(token)).json()["skills"] == [
        "Go",
        "Kafka",
    ]
    metrics = client.get("/api/metrics", headers=bearer(token)).json()
    assert metrics["pending"] == 2 and metrics["approval_rate"] == 0.0


def test_the_openapi_schema_describes_the_draft_actions(api: tuple[TestClient, str]) -> None:
    client, token = api
    paths = client.get("/openapi.json", headers=bearer(token)).json()["paths"]
    for path in (
        "/api/drafts",
        "/api/drafts/{draft_id}",
        "/api/drafts/{draft_id}/approve",
        "/api/drafts/{draft_id}/reject",
        "/api/drafts/{draft_id}/revisions",
        "/api/drafts/{draft_id}/regenerate",
        "/api/drafts/approve",
    ):
        assert path in paths, path
    assert not any(p.startswith(("/queue", "/login")) for p in paths)


# Fuzzing -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def fuzz_app(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[FastAPI, str]]:
    folder = tmp_path_factory.mktemp("fuzz") / "ws"
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("OUTREACH_HOME", str(folder.parent / "home"))
        write_workspace(folder)
        store = open_store(f"sqlite:///{folder / 'fuzz.db'}")
        seed(store, drafts=5)
        app = create_app(load_config(folder / "config.toml"), store)
        with store.session() as session:
            token = users.issue_token(session, users.web_secret(), "maria")
        yield app, token
    store.close()


def test_api_fuzzing_never_answers_500(fuzz_app: tuple[FastAPI, str]) -> None:
    """Every operation, fuzzed from the schema (positive and negative cases), with a token."""
    app, token = fuzz_app
    schema = schemathesis.openapi.from_asgi("/openapi.json", app, headers=bearer(token))
    operations = [result.ok() for result in schema.get_all_operations()]
    assert len(operations) >= 9
    strict = [not_a_server_error, status_code_conformance, response_schema_conformance]
    for operation in operations:
        # The review routes must also match their documented statuses and response schemas.
        ours = bool(set(operation.tags or ()) & {"drafts", "candidates"})
        fuzz_operation(operation, token, strict if ours else strict[:1])


def fuzz_operation(operation: Any, token: str, checks: list[Any]) -> None:
    """Call one operation with generated valid and invalid requests; run the checks on each."""

    @given(
        case=st.one_of(
            operation.as_strategy(GenerationMode.POSITIVE),
            operation.as_strategy(GenerationMode.NEGATIVE),
        )
    )
    @settings(
        max_examples=25,
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    def fuzz(case: Any) -> None:
        case.call_and_validate(headers=bearer(token), checks=checks)

    fuzz()


def test_an_approval_names_the_revision_read_and_a_changed_draft_answers_409(
    api: tuple[TestClient, str], store: Store
) -> None:
    client, token = api
    assert client.get("/api/drafts/1", headers=bearer(token)).json()["revision"] == 1
    with store.session() as session:  # someone else saves revision 2 meanwhile
        queue.add_revision(
            session,
            queue.get_draft(session, 1),
            subject="A new subject",
            body="A body nobody approving it has read.",
            author="lena",
            actor="lena",
        )
    assert client.post("/api/drafts/1/approve", headers=bearer(token)).status_code == 422
    stale = client.post("/api/drafts/1/approve", json={"revision": 1}, headers=bearer(token))
    assert stale.status_code == 409
    assert stale.json() == {
        "detail": "draft 1: this draft changed since you opened it (you read revision 1; it is "
        "now revision 2); read the new text before approving",
        "revision": 2,
        "subject": "A new subject",
        "body": "A body nobody approving it has read.",
    }
    with store.session() as session:
        assert queue.get_draft(session, 1).status == "pending"
    approved = client.post("/api/drafts/1/approve", json={"revision": 2}, headers=bearer(token))
    assert approved.status_code == 200
    assert (approved.json()["status"], approved.json()["approved_revision"]) == ("approved", 2)
    schema = client.get("/openapi.json", headers=bearer(token)).json()
    approve_in = schema["components"]["schemas"]["ApproveIn"]
    assert approve_in["required"] == ["revision"]
    assert "409" in approve_in["properties"]["revision"]["description"]


def test_the_api_serves_the_review_read_models_as_they_are(api: tuple[TestClient, str]) -> None:
    client, token = api
    schemas = client.get("/openapi.json", headers=bearer(token)).json()["components"]["schemas"]
    for model in (models.DraftDetail, models.DraftPage, models.DraftRow, models.Metrics):
        assert set(schemas[model.__name__]["properties"]) == set(model.model_fields), model
    detail = client.get("/api/drafts/1", headers=bearer(token)).json()
    assert set(detail) == set(models.DraftDetail.model_fields)
    assert models.DraftDetail.model_validate(detail).candidate["name"] == "Jamie Lind"
