"""Campaign pages: truthful status, SVG funnel and replies over time, pause/resume, retry failed."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from outreach import users
from outreach.campaigns import lifecycle as campaigns
from outreach.candidates.records import import_file
from outreach.drafting.drafter import Drafter
from outreach.review import queue
from outreach.sending.sender import run_sender
from outreach.store import Store
from outreach.store.models import Draft, OutboxEntry
from outreach.web import create_app
from tests.config_kit import configure
from tests.services.smtp import FaultServer
from tests.webutil import PASSWORD, log_in, settings_for

MONDAY = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)


@pytest.fixture
def client(store: Store, workspace: Path) -> Iterator[TestClient]:
    with store.session() as session:
        users.add_user(session, "maria", PASSWORD)
    with TestClient(create_app(settings_for(workspace), store)) as test_client:
        log_in(test_client)
        yield test_client


async def started(store: Store, workspace: Path, port: int) -> None:
    configure(
        workspace,
        smtp={"host": "127.0.0.1", "port": port, "security": "none"},
        pacing={"working_hours": "always"},
    )
    (workspace / "people.csv").write_text(
        "email,name,tags\nann@a.example,Ann <script>x</script>,t\nbo@b.example,Bo,t\n"
    )
    import_file(store, workspace / "people.csv")
    (workspace / "c.toml").write_text(
        'name = "spring-2027"\ncandidates = "tag:t"\nrole = { title = "Engineer" }\n'
        'steps = [{ template = "intro" }, { template = "follow_up", wait_days = 3 }]\n'
    )
    settings = settings_for(workspace)
    campaigns.create(store, campaigns.load_campaign_file(workspace / "c.toml"), settings)
    await campaigns.start(store, settings, Drafter(settings, store, llm=None), "spring-2027")


async def test_campaign_page_shows_funnel_and_escapes(
    store: Store, workspace: Path, client: TestClient
) -> None:
    await started(store, workspace, 2525)
    page = client.get("/campaigns")
    assert '<a href="/campaigns/spring-2027">spring-2027</a>' in page.text
    detail = client.get("/campaigns/spring-2027")
    assert detail.status_code == 200
    assert '<svg class="chart"' in detail.text and 'aria-label="Campaign funnel"' in detail.text
    assert "Enrolled</text>" in detail.text and ">2</text>" in detail.text
    assert "<script>x</script>" not in detail.text
    api = client.get("/api/campaigns/spring-2027").json()
    assert api["enrolled"] == 2 and api["totals"]["drafted"] == 2


async def test_pause_resume_and_retry_failed(
    store: Store, workspace: Path, client: TestClient, fault_smtp: object
) -> None:
    from tests.services.smtp import Fault

    server: FaultServer = fault_smtp(Fault.RCPT_550)  # type: ignore[operator]
    await started(store, workspace, server.port)
    name = "spring-2027"
    settings = settings_for(workspace)
    with store.session() as session:
        for draft in session.scalars(select(Draft)):
            queue.approve(session, draft, actor="maria", sender="maria@nordlys.example")
    report = await run_sender(store, settings, clock=lambda: MONDAY)
    assert len(report.failed) == 2
    page = client.get(f"/campaigns/{name}")
    assert "Messages that need you" in page.text and "Retry failed" in page.text
    assert page.text.count('<span class="badge warn">failed</span>') == 2
    token = log_in(client)
    # Without the CSRF token the action is refused.
    assert client.post(f"/campaigns/{name}/retry", follow_redirects=False).status_code == 403
    done = client.post(
        f"/campaigns/{name}/retry", data={"csrf_token": token}, follow_redirects=False
    )
    assert done.status_code == 303
    with store.session() as session:
        assert set(session.scalars(select(OutboxEntry.state))) == {"queued"}
    paused = client.post(
        f"/campaigns/{name}/pause", data={"csrf_token": token}, follow_redirects=True
    )
    assert "Paused spring-2027" in paused.text and ">Resume</button>" in paused.text
    client.post(f"/campaigns/{name}/resume", data={"csrf_token": token})
    assert client.get(f"/api/campaigns/{name}").json()["status"] == "active"
