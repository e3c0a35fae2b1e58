"""Shared by the web tests: seed a store, log a client in, serve the app with uvicorn."""

from __future__ import annotations

import re
import socket
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import uvicorn
from fastapi.testclient import TestClient

from outreach import users
from outreach.config import Settings, load_config
from outreach.review import queue
from outreach.store import Store
from outreach.store.models import Campaign, Candidate, utcnow
from tests.config_kit import configure

PASSWORD = "correct horse battery"
XSS_NAME = "<img src=x onerror=alert(1)>"
ROLE = {"title": "Senior Backend Engineer", "location": "Stockholm", "hiring_manager": "Lena Ek"}
CSRF_FIELD = re.compile(r'name="csrf_token" value="([^"]+)"')


def settings_for(workspace: Path, llm_base_url: str | None = None) -> Settings:
    """The workspace's settings, optionally pointing the model at the fake LLM server."""
    if llm_base_url:
        llm = {"provider": "openai", "base_url": llm_base_url, "model": "test-model"}
        return configure(workspace, llm=llm)
    return load_config(workspace / "config.toml")


def seed(store: Store, *, drafts: int = 3, user: str = "maria") -> dict[str, Any]:
    """A reviewer, a campaign, two candidates (one with a hostile name) and pending drafts.

    Draft i is due i hours ago, so draft 1 is the newest due; every odd draft has a flag.
    """
    now = utcnow()
    with store.session() as session:
        users.add_user(session, user, PASSWORD)
        campaign = Campaign(name="backend-2026", sender_email="maria@nordlys.example")
        jamie = Candidate(
            email="jamie@paywise.example",
            name="Jamie Lind",
            headline="Staff engineer",
            company="Paywise",
            skills=["Go", "Kafka"],
            achievements=["Led the ML platform at Paywise"],
        )
        hostile = Candidate(email="eve@evil.example", name=XSS_NAME, headline="<b>bold</b>")
        session.add_all([campaign, jamie, hostile])
        session.flush()
        ids = []
        for i in range(1, drafts + 1):
            person = hostile if i == 2 else jamie
            flags = (
                [{"code": "unsupported", "message": "not in the profile", "text": "Kafka"}]
                if i % 2
                else []
            )
            body = (
                f"Hi {person.name},\n\nYour Kafka work stood out (draft {i}).\n"
                "<script>alert('body')</script>\n\nMaria"
            )
            draft = queue.create_draft(
                session,
                queue.NewDraft(
                    candidate_id=person.id,
                    kind="follow_up" if i == 3 else "outreach",
                    template="intro",
                    subject=f"Senior Backend Engineer {i}",
                    body=body,
                    author="ai:test-model",
                    flags=flags,
                    context={"role": ROLE},
                    campaign_id=campaign.id if i <= 2 else None,
                    due_at=now - timedelta(hours=i),
                ),
            )
            ids.append(draft.id)
        return {"drafts": ids, "campaign": campaign.id, "jamie": jamie.id, "eve": hostile.id}


def csrf_of(html: str) -> str:
    """The CSRF token in a page's forms."""
    match = CSRF_FIELD.search(html)
    assert match, "no CSRF field on the page"
    return match.group(1)


def log_in(client: TestClient, user: str = "maria", password: str = PASSWORD) -> str:
    """Log the client in through the login form; returns the session's CSRF token."""
    token = csrf_of(client.get("/login").text)
    response = client.post(
        "/login",
        data={"username": user, "password": password, "csrf_token": token, "next": "/queue"},
        follow_redirects=False,
    )
    assert response.status_code == 303, response.text
    return csrf_of(client.get("/queue").text)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class Served:
    """uvicorn serving the app on a free loopback port, in a thread."""

    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(app, host="127.0.0.1", port=self.port, log_level="warning")
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def __enter__(self) -> Served:
        self.thread.start()
        while not self.server.started:
            if not self.thread.is_alive():
                raise RuntimeError("uvicorn did not start")
            self.thread.join(0.02)
        return self

    def __exit__(self, *_: object) -> None:
        self.server.should_exit = True
        self.thread.join(10)
