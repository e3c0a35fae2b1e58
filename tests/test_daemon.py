"""Every way into sending checks the approval: the API, and the sender `serve` runs."""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach import queue, users
from outreach.cli.web import background_jobs
from outreach.config import Settings
from outreach.store import Store
from outreach.store.models import Draft, OutboxEntry, Revision
from outreach.web import create_app
from tests.services.smtp import CaptureServer
from tests.webutil import seed, settings_for


def smtp_to(workspace: Path, port: int) -> Settings:
    config = workspace / "config.toml"
    text = config.read_text().replace('host = "localhost"', 'host = "127.0.0.1"', 1)
    text = text.replace("port = 587", f"port = {port}").replace(
        'security = "starttls"', 'security = "none"', 1
    )
    text = text.replace('working_hours = "Mon-Fri 09:00-17:00"', 'working_hours = "always"')
    config.write_text(text.replace("min_gap_seconds = 90", "min_gap_seconds = 0"))
    return settings_for(workspace)


@pytest.fixture
def api(
    store: Store, workspace: Path, smtp_capture: CaptureServer
) -> Iterator[tuple[TestClient, dict[str, int]]]:
    seeded = seed(store, drafts=3)
    settings = smtp_to(workspace, smtp_capture.port)
    with store.session() as session:
        token = users.issue_token(session, users.web_secret(), "maria")
    with TestClient(create_app(settings, store)) as client:
        client.headers["Authorization"] = f"Bearer {token}"
        yield client, {"a": seeded["drafts"][0], "b": seeded["drafts"][1], "c": seeded["drafts"][2]}


def test_the_api_queues_only_approved_text(
    api: tuple[TestClient, dict[str, int]], store: Store
) -> None:
    client, ids = api
    refused = client.post(f"/api/drafts/{ids['a']}/send")
    assert refused.status_code == 409
    assert "only approved drafts enter the outbox" in refused.json()["detail"]
    assert client.post(f"/api/drafts/{ids['a']}/approve", json={"revision": 1}).status_code == 200
    queued = client.post(f"/api/drafts/{ids['a']}/send")
    assert queued.status_code == 200 and queued.json()["state"] == "queued"
    # A draft whose text was changed behind its approval is refused.
    assert client.post(f"/api/drafts/{ids['b']}/approve", json={"revision": 1}).status_code == 200
    with store.session() as session:
        revision = session.scalars(select(Revision).where(Revision.draft_id == ids["b"])).one()
        revision.body = "Changed after approval."
    tampered = client.post(f"/api/drafts/{ids['b']}/send")
    assert tampered.status_code == 409
    assert "differs from what was approved" in tampered.json()["detail"]
    listing = client.get("/api/outbox").json()
    assert [row["draft_id"] for row in listing] == [ids["a"]]


def test_the_sender_serve_runs_sends_approved_mail_only(
    store: Store, workspace: Path, smtp_capture: CaptureServer
) -> None:
    seeded = seed(store, drafts=3)
    settings = smtp_to(workspace, smtp_capture.port)
    first, second, third = seeded["drafts"]
    with store.session() as session:
        for draft_id in (first, second):
            draft = queue.get_draft(session, draft_id)
            queue.approve(
                session, draft, actor="maria", message_id=f"<d{draft_id}@nordlys.example>"
            )
        revision = session.scalars(select(Revision).where(Revision.draft_id == second)).one()
        revision.body = "Changed after approval."
    app = create_app(settings, store, background=background_jobs(settings, store))
    with TestClient(app):
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline and not smtp_capture.messages:
            time.sleep(0.05)  # waiting for the background task, not moving a clock
    assert [m.rcpt_tos for m in smtp_capture.messages] == [("jamie@paywise.example",)]
    assert f"<d{first}@nordlys.example>".encode() in smtp_capture.messages[0].data
    with store.session() as session:
        states = dict(session.execute(select(Draft.id, Draft.status)).all())
        outbox = list(session.scalars(select(OutboxEntry.draft_id)))
    assert states[first] == "sent" and states[third] == "pending"
    assert states[second] == "pending" and second not in outbox  # never frozen, never sent
