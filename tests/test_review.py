"""The queue's read side (listing, metrics, diff, flags), the reviewers, and the queue commands."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from click.testing import CliRunner, Result
from sqlalchemy import select

from outreach import users
from outreach.cli import cli
from outreach.cli.web import check_bind
from outreach.errors import InputError, OutreachError
from outreach.jobs.loops import serve_jobs
from outreach.review import edits, opened, queue
from outreach.review import reads as review
from outreach.store import Store, open_store
from outreach.store.models import Draft, Event, utcnow
from tests.llm_server import FakeLLMServer
from tests.webutil import PASSWORD, free_port, seed, settings_for


class Ran:
    """A command's exit code and everything it said (a user error's one line included)."""

    def __init__(self, result: Result) -> None:
        self.exit_code = result.exit_code
        self.output = result.output
        if isinstance(result.exception, OutreachError):
            self.exit_code, self.output = 1, f"{result.output}error: {result.exception}\n"


def invoke(*args: str, env: dict[str, str] | None = None) -> Ran:
    return Ran(CliRunner().invoke(cli, list(args), env=env))


def workspace_store(workspace: Path) -> Store:
    return open_store(f"sqlite:///{workspace / 'outreach.db'}")


# Read side ---------------------------------------------------------------------------------


def test_listing_filters_pages_and_neighbours(store: Store) -> None:
    ids = seed(store, drafts=6)
    with store.session() as session:
        page = review.list_drafts(session, review.Filters(), page=2, per_page=4)
        assert [row.id for row in page.items] == [5, 6]
        assert (page.total, page.pages) == (6, 2)
        flagged = review.list_drafts(session, review.Filters(flagged=True))
        assert [row.id for row in flagged.items] == [1, 3, 5]
        unflagged = review.list_drafts(session, review.Filters(flagged=False))
        assert [row.id for row in unflagged.items] == [2, 4, 6]
        in_campaign = review.list_drafts(session, review.Filters(campaign=ids["campaign"]))
        assert [row.campaign for row in in_campaign.items] == ["backend-2026"] * 2
        draft = queue.get_draft(session, 3)
        assert review.neighbours(session, draft, review.Filters()) == (2, 4)
        assert review.neighbours(session, draft, review.Filters(flagged=True)) == (1, 5)
        assert review.list_drafts(session, review.Filters(kind="follow_up")).items[0].id == 3
        assert review.counts(session)["pending"] == 6


def test_metrics_rate_review_time_and_edits_per_template(store: Store) -> None:
    seed(store, drafts=4)
    now = utcnow()
    with store.session() as session:
        one = queue.get_draft(session, 1)
        opened.mark_viewed(session, one, "maria")
        one.viewed_at = now - timedelta(minutes=4)
        queue.add_revision(
            session, one, subject="Senior Backend Engineer 1", body="Hi Jamie, short.",
            author="maria", actor="maria",
        )  # fmt: skip
        queue.approve(session, one, actor="maria", message_id="<1@nordlys.example>")
        two = queue.get_draft(session, 2)
        opened.mark_viewed(session, two, "maria")
        two.viewed_at = now - timedelta(minutes=2)
        queue.approve(session, two, actor="maria", message_id="<2@nordlys.example>")
        queue.reject(session, queue.get_draft(session, 3), actor="maria", reason="no")
    cache: dict[tuple[int, int], tuple[int, int]] = {}
    with store.session() as session:
        figures = review.metrics(session, timezone="Europe/Stockholm", cache=cache)
    assert figures.pending == 1 and figures.approved_today == 2
    assert figures.approval_rate == round(2 / 3, 3) and figures.decided_30d == 3
    assert figures.median_review_seconds is not None
    assert 170 <= figures.median_review_seconds <= 250  # 4 and 2 minutes, approved just now
    (intro,) = figures.edits
    assert intro.template == "intro" and intro.approved == 2 and intro.unchanged == 1
    assert intro.mean_words_changed > 0 and 0 < intro.changed_share < 1
    assert set(cache) == {(1, 2), (2, 1)} and cache[(2, 1)][0] == 0


def test_word_distance_and_diff() -> None:
    assert edits.word_distance("a b c d", "a x c d e") == 2
    segments = review.diff("Hi Jamie Lind,\nthanks", "Hi Jamie,\nthanks")
    assert "".join(s["text"] for s in segments if s["op"] != "insert") == "Hi Jamie Lind,\nthanks"
    assert "".join(s["text"] for s in segments if s["op"] != "delete") == "Hi Jamie,\nthanks"


def test_flags_are_marked_where_their_text_is() -> None:
    flags = [
        {"code": "unsupported", "message": "not in profile", "text": "Kafka"},
        {"code": "name", "message": "unknown name", "text": "Kafka team"},
        {"code": "empty", "message": "ignored", "text": ""},
    ]
    marked = review.mark_flags("Your Kafka team and Kafka.", flags)
    assert "".join(s["text"] for s in marked) == "Your Kafka team and Kafka."
    assert marked[1] == {"text": "Kafka team", "flags": ["not in profile", "unknown name"]}
    assert marked[3] == {"text": "Kafka", "flags": ["not in profile"]}


def test_bulk_approval_takes_only_opened_drafts(store: Store) -> None:
    seed(store, drafts=3)
    with store.session() as session:
        opened.mark_viewed(session, queue.get_draft(session, 2), "maria")
        approved, skipped = queue.approve_viewed(
            session, [1, 2, 2, 99], actor="maria", sender="maria@nordlys.example"
        )
    assert approved == [2]
    assert skipped == [
        "draft 1: not opened yet; open it before approving",
        "draft 99: no such draft",
    ]


# Users ------------------------------------------------------------------------------------


def test_users_are_stored_with_argon2_and_authenticate(store: Store) -> None:
    with store.session() as session:
        user = users.add_user(session, "lena", PASSWORD)
        assert user.password_hash.startswith("$argon2id$") and PASSWORD not in user.password_hash
        with pytest.raises(InputError, match="exists already"):
            users.add_user(session, "lena", PASSWORD)
        with pytest.raises(InputError, match="at least 10"):
            users.add_user(session, "short", "x")
        with pytest.raises(InputError, match="username"):
            users.add_user(session, "<b>", PASSWORD)
    assert users.sign_in(store, "lena", PASSWORD, hours=1) is not None
    assert users.sign_in(store, "lena", "wrong password", hours=1) is None
    assert users.sign_in(store, "nobody", PASSWORD, hours=1) is None
    assert users.web_secret() == users.web_secret()


# Command line ------------------------------------------------------------------------------


def test_init_creates_the_first_user_once(tmp_path: Path) -> None:
    first = invoke("init", str(tmp_path / "ws"), "--user", "maria")
    assert first.exit_code == 0, first.output
    password = re.search(r"web login: maria / (\S+)", first.output)
    assert password
    store = open_store(f"sqlite:///{tmp_path / 'ws' / 'outreach.db'}")
    assert users.sign_in(store, "maria", password.group(1), hours=1) is not None
    store.close()
    again = invoke("init", str(tmp_path / "ws"))
    assert "web login" not in again.output


def test_queue_commands_list_show_approve_reject(workspace: Path) -> None:
    store = workspace_store(workspace)
    seed(store, drafts=3)
    listed = invoke("queue", "list", "--json")
    assert listed.exit_code == 0, listed.output
    data = json.loads(listed.output)
    assert [item["id"] for item in data["items"]] == [1, 2, 3] and data["total"] == 3
    assert "2 pending drafts" in invoke("queue", "list", "--flagged").output
    shown = invoke("queue", "show", "1")
    assert (
        "Subject: Senior Backend Engineer 1" in shown.output
        and "flag: Not in the inputs:" in shown.output
    )
    assert json.loads(invoke("queue", "show", "1", "--json").output)["candidate"]["name"] == (
        "Jamie Lind"
    )
    with store.session() as session:
        users.add_user(session, "lena", PASSWORD)
    approved = invoke("queue", "approve", "1", "2", "--as", "lena", "--unread")
    assert approved.exit_code == 0 and approved.output.count("approved draft") == 2
    unnamed = invoke("queue", "reject", "3", "--reason", "wrong team")
    assert unnamed.exit_code == 1 and "several reviewers: say which you are" in unnamed.output
    as_maria = {"OUTREACH_REVIEWER": "maria", "USER": "root"}
    rejected = invoke("queue", "reject", "3", "--reason", "wrong team", env=as_maria)
    assert rejected.exit_code == 0
    again = invoke("queue", "approve", "3", "--unread", env=as_maria)
    assert again.exit_code == 1 and "draft 3 is rejected" in again.output
    missing = invoke("queue", "show", "42", env=as_maria)
    assert missing.exit_code == 1 and "no draft 42" in missing.output
    no_reason = invoke("queue", "reject", "3")
    assert no_reason.exit_code == 2
    with store.session() as session:
        one = queue.get_draft(session, 1)
        assert (one.approved_by, one.status) == ("lena", "approved")
        assert queue.get_draft(session, 3).reject_reason == "wrong team"
        actors = session.execute(select(Event.action, Event.actor)).all()
    # Every person's event names a reviewer; the operating system's login never appears.
    assert ("draft.rejected", "maria") in actors and ("draft.approved", "lena") in actors
    assert {actor for _, actor in actors} <= {"maria", "lena", "drafting", "cli"}
    assert invoke("queue", "show", "1", "--as", "root").output.strip() == (
        "error: no user root; add one with `outreach user add root`"
    )
    store.close()


def test_queue_edit_uses_the_editor_and_withdraws_an_approval(workspace: Path) -> None:
    store = workspace_store(workspace)
    seed(store, drafts=1)
    invoke("queue", "approve", "1", "--unread")
    editor = f"{sys.executable} -c \"import sys,pathlib; p=pathlib.Path(sys.argv[1]); " \
        "p.write_text(p.read_text().replace('stood out', 'caught my eye'))\""  # fmt: skip
    edited = invoke("queue", "edit", "1", "--as", "maria", env={"EDITOR": editor})
    assert edited.exit_code == 0, edited.output
    assert "saved revision 2; its approval was withdrawn" in edited.output
    with store.session() as session:
        draft = queue.get_draft(session, 1)
        revision = queue.current(session, draft)
        assert draft.status == "pending" and "caught my eye" in revision.body
        assert revision.subject == "Senior Backend Engineer 1" and revision.author == "maria"
        assert revision.body.endswith("Maria\n")  # the one form every path stores
    untouched = invoke("queue", "edit", "1", env={"EDITOR": f"{sys.executable} -c pass"})
    assert "nothing changed" in untouched.output
    store.close()


def test_queue_approve_takes_the_revision_you_displayed(workspace: Path) -> None:
    store = workspace_store(workspace)
    seed(store, drafts=3)
    with store.session() as session:
        users.add_user(session, "lena", PASSWORD)
    unread = invoke("queue", "approve", "1", "--as", "maria")
    assert unread.exit_code == 1
    assert unread.output.strip() == (
        "error: draft 1: maria has not read it; run `outreach queue show 1` first "
        "(or pass --unread)"
    )
    assert invoke("queue", "approve", "1", "--as", "maria", "--unread").exit_code == 0
    assert invoke("queue", "show", "2", "--as", "maria").exit_code == 0
    with store.session() as session:  # lena saves revision 2 after maria displayed revision 1
        queue.add_revision(
            session,
            queue.get_draft(session, 2),
            subject="Senior Backend Engineer 2",
            body="Lena's new text.",
            author="lena",
            actor="lena",
        )
    stale = invoke("queue", "approve", "2", "--as", "maria")
    assert stale.exit_code == 1 and "Lena's new text." in stale.output
    assert (
        "error: draft 2: this draft changed since you opened it (you read revision 1; it is now "
        "revision 2); read the new text before approving"
    ) in stale.output
    with store.session() as session:
        assert queue.get_draft(session, 2).status == "pending"
    again = invoke("queue", "approve", "2", "--as", "maria")  # the new text was displayed above
    assert again.exit_code == 0, again.output
    # Whoever edits a draft has read their own text; another reviewer has not.
    editor = f"{sys.executable} -c \"import sys,pathlib; p=pathlib.Path(sys.argv[1]); " \
        "p.write_text(p.read_text().replace('stood out', 'caught my eye'))\""  # fmt: skip
    assert invoke("queue", "edit", "3", "--as", "lena", env={"EDITOR": editor}).exit_code == 0
    assert invoke("queue", "approve", "3", "--as", "maria").exit_code == 1
    assert invoke("queue", "approve", "3", "--as", "lena").exit_code == 0
    with store.session() as session:
        approved = [queue.get_draft(session, i) for i in (1, 2, 3)]
        assert [(d.status, d.approved_by, d.approved_revision) for d in approved] == [
            ("approved", "maria", 1),
            ("approved", "maria", 2),
            ("approved", "lena", 2),
        ]
    store.close()


def test_queue_regenerate_through_the_model(workspace: Path, llm_server: FakeLLMServer) -> None:
    settings_for(workspace, llm_server.base_url)
    store = workspace_store(workspace)
    seed(store, drafts=1)
    result = invoke("queue", "regenerate", "1", "--instruction", "shorter")
    assert result.exit_code == 0, result.output
    assert "regenerated as revision 2" in result.output
    with store.session() as session:
        assert queue.current(session, queue.get_draft(session, 1)).instruction == "shorter"
    store.close()


def test_queue_regenerate_without_a_model_is_one_line(workspace: Path) -> None:
    seed(workspace_store(workspace), drafts=1)
    result = invoke("queue", "regenerate", "1")
    assert result.exit_code == 1 and "needs a model" in result.output


def test_user_commands(workspace: Path) -> None:
    added = invoke("user", "add", "lena")
    assert added.exit_code == 0 and "password (shown once):" in added.output
    typed = CliRunner().invoke(cli, ["user", "add", "olle", "--password-stdin"], input=PASSWORD)
    assert typed.exception is None
    assert typed.exit_code == 0 and "shown once" not in typed.output
    token = invoke("user", "token", "olle").output.strip()
    store = workspace_store(workspace)
    with store.session() as session:
        user = users.user_for_token(session, users.web_secret(), token)
        assert user is not None and user.username == "olle"
    assert users.sign_in(store, "olle", PASSWORD, hours=1) is not None
    store.close()
    assert invoke("user", "token", "nobody").exit_code == 1


def test_serve_binds_loopback_unless_told_otherwise() -> None:
    assert check_bind("127.0.0.1", 8000, public=False) is None
    assert check_bind("::1", 8000, public=False) is None
    with pytest.raises(InputError, match="pass --public"):
        check_bind("0.0.0.0", 8000, public=False)
    warning = check_bind("0.0.0.0", 8000, public=True)
    assert warning and "plain HTTP" in warning and "TLS" in warning


def test_serve_runs_the_sync_when_a_mailbox_is_configured(workspace: Path) -> None:
    settings = settings_for(workspace)
    store = workspace_store(workspace)
    assert len(serve_jobs(settings, store)) == 2  # the sender and the campaign scheduler
    with_maildir = settings.model_copy(
        update={"imap": settings.imap.model_copy(update={"maildir": str(workspace / "Maildir")})}
    )
    assert len(serve_jobs(with_maildir, store)) == 3
    store.close()


def test_serve_refuses_a_public_address_without_the_flag(workspace: Path) -> None:
    result = invoke("serve", "--host", "0.0.0.0")
    assert result.exit_code == 1 and "pass --public" in result.output


@pytest.mark.slow
def test_serve_answers_on_loopback(workspace: Path) -> None:
    port = free_port()
    env = {**os.environ, "OUTREACH_CONFIG": str(workspace / "config.toml")}
    process = subprocess.Popen(
        [str(Path(sys.executable).parent / "outreach"), "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        response: Any = None
        for _ in range(200):
            try:
                response = httpx.get(f"http://127.0.0.1:{port}/queue", follow_redirects=False)
                break
            except httpx.TransportError:
                time.sleep(0.05)
        assert response is not None, process.stderr.read1().decode() if process.stderr else ""
        assert response.status_code == 303 and response.headers["location"].startswith("/login")
    finally:
        process.terminate()
        process.wait(10)
        for stream in (process.stdout, process.stderr):
            if stream:
                stream.close()


def test_store_has_the_review_index(store: Store) -> None:
    from sqlalchemy import inspect

    names = {index["name"] for index in inspect(store.engine).get_indexes(Draft.__tablename__)}
    assert {"ix_drafts_status_due", "ix_drafts_approved_at"} <= names
