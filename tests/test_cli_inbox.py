"""`outreach sync` and `outreach conversations …` in a workspace, against a real Dovecot."""

from __future__ import annotations

import json
import re
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

import pytest
from sqlalchemy import select

from outreach import users
from outreach.config import load_config
from outreach.inbox.sync import sync_lock
from outreach.servers.configured import mailbox_name
from outreach.store import Store, open_store
from outreach.store.models import Draft, OutboxEntry, Revision
from tests import inbox_kit as kit
from tests.config_kit import configure as configure_toml
from tests.test_cli import run

if TYPE_CHECKING:
    from tests.services.dovecot import Dovecot


def configure(workspace: Path, dovecot: Dovecot, user: str, *, suggest: bool = False) -> None:
    """Point the workspace's [imap] at the Dovecot user and start the sync in 2020."""
    configure_toml(
        workspace,
        imap={"host": dovecot.host, "port": dovecot.port, "security": "none", "username": user},
        sync={"since": date(2020, 1, 1), "suggest_replies": suggest},
    )


@pytest.fixture
def inbox(
    workspace: Path, dovecot: Dovecot, monkeypatch: pytest.MonkeyPatch
) -> tuple[str, dict[str, kit.Person]]:
    user = dovecot.new_user()
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    configure(workspace, dovecot, user)
    store = open_store(load_config(workspace / "config.toml").database_url)
    try:
        people = kit.add_people(store, ["ana@paywise.example", "kim@nope.example"])
        with store.session() as session:  # the reviewer the command line acts as
            users.add_user(session, "maria", "correct horse battery")
    finally:
        store.close()
    ana, kim = people["ana@paywise.example"], people["kim@nope.example"]
    answer = "Thanks Maria, yes I'd love to hear more."
    dovecot.deliver(user, kit.gmail_reply(ana.email, "<g1@x>", answer, ana.message_id))
    dovecot.deliver(
        user,
        kit.plain(kit.head(kim.email, msgid="<k1@x>", in_reply_to=kim.message_id), "Unsubscribe\n"),
    )
    dovecot.deliver(user, kit.unrelated(1))
    return user, people


def test_sync_prints_one_line_and_conversations_show_the_reply(
    inbox: tuple[str, dict[str, kit.Person]], capsys: pytest.CaptureFixture[str]
) -> None:
    user, _ = inbox
    code, out, err = run(["sync"], capsys)
    assert code == 0, err
    assert out.count("\n") == 1
    assert out.startswith(f"synced {user}: 1 new reply, 0 bounces, 0 auto-replies, 1 opt-out")

    code, out, _ = run(["conversations", "list", "--json"], capsys)
    rows = {row["email"]: row for row in json.loads(out)}
    assert rows["ana@paywise.example"]["status"] == "needs_response"
    assert rows["ana@paywise.example"]["incoming"] == 1
    assert rows["kim@nope.example"]["status"] == "closed"

    code, out, _ = run(["conversations", "list"], capsys)
    assert "2 conversations; 1 need a response" in out

    code, out, _ = run(["conversations", "show", "ana@paywise.example"], capsys)
    assert code == 0 and "yes I'd love to hear more" in out
    assert "I came across your work" not in out
    code, out, _ = run(["conversations", "show", "ana@paywise.example", "--full"], capsys)
    assert "I came across your work" in out

    code, out, _ = run(["conversations", "show", "ana@paywise.example", "--json"], capsys)
    (conversation,) = json.loads(out)["conversations"]
    (item,) = conversation["items"]
    assert item["classification"] == "human" and "I came across your work" in item["elided"]

    code, out, _ = run(["conversations", "mark", "ana@paywise.example", "--positive"], capsys)
    assert code == 0 and "positive" in out
    code, out, _ = run(["conversations", "list", "--json"], capsys)
    assert {r["email"]: r["sentiment"] for r in json.loads(out)}["ana@paywise.example"] == (
        "positive"
    )

    code, out, _ = run(["sync"], capsys)
    assert code == 0 and "0 new replies" in out and "(0 stored of 0 new" in out


def test_user_errors_are_one_line_exit_1(
    inbox: tuple[str, dict[str, kit.Person]], capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run(["conversations", "show", "nobody@example.org"], capsys)
    assert code == 1 and err.count("\n") == 1 and "no candidate with email" in err
    code, _, err = run(["conversations", "mark", "ana@paywise.example", "--negative"], capsys)
    assert code == 1 and "has no conversation" in err  # nothing synced yet
    code, _, err = run(["conversations", "mark", "ana@paywise.example"], capsys)
    assert code == 2 and "--positive" in err


def test_a_second_sync_at_once_exits_1(
    inbox: tuple[str, dict[str, kit.Person]],
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    settings = load_config(workspace / "config.toml")
    store = open_store(settings.database_url)
    try:
        with sync_lock(store, mailbox_name(settings)):
            code, out, err = run(["sync"], capsys)
    finally:
        store.close()
    assert code == 1 and out == ""
    assert err.count("\n") == 1 and "another `outreach sync`" in err


def test_unreachable_server_exits_1_with_the_reason(
    workspace: Path,
    dovecot: Dovecot,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    code, _, err = run(["sync"], capsys)
    assert code == 1 and "no mailbox to sync: set [imap] host" in err
    configure(workspace, dovecot, "nobody@example.test")
    config = workspace / "config.toml"
    config.write_text(config.read_text().replace(f"port = {dovecot.port}", "port = 1"))
    code, _, err = run(["sync"], capsys)
    assert code == 1 and "no IMAP password for nobody@example.test" in err
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", "secret")
    code, _, err = run(["sync"], capsys)
    assert code == 1 and err.count("\n") == 1 and "cannot connect" in err


def test_suggest_replies_drafts_one_reply_for_approval(
    inbox: tuple[str, dict[str, kit.Person]],
    workspace: Path,
    dovecot: Dovecot,
    capsys: pytest.CaptureFixture[str],
) -> None:
    user, people = inbox
    configure(workspace, dovecot, user, suggest=True)
    code, out, err = run(["sync"], capsys)
    assert code == 0, err
    assert "1 reply drafts in the queue" in out
    store: Store = open_store(load_config(workspace / "config.toml").database_url)
    try:
        with store.session() as session:
            (draft,) = session.scalars(select(Draft).where(Draft.kind == "reply")).all()
            revision = session.scalars(select(Revision).where(Revision.draft_id == draft.id)).one()
        assert draft.status == "pending" and draft.candidate_id == people["ana@paywise.example"].id
        assert draft.in_reply_to == "<g1@x>" and "<g1@x>" in draft.references
        assert draft.conversation_id is not None
        assert revision.subject.startswith("Re:")
    finally:
        store.close()
    code, out, _ = run(["sync"], capsys)  # nothing new: no second draft
    assert code == 0 and "reply drafts" not in out


def test_waiting_draft_reply_reply_interviewed_and_no_answer(
    inbox: tuple[str, dict[str, kit.Person]],
    workspace: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _, people = inbox
    ana = people["ana@paywise.example"]
    code, out, err = run(["sync"], capsys)
    assert code == 0 and re.search(r"; 1 candidate waiting for an answer, oldest \d+ days$", out)
    code, out, _ = run(["conversations", "list", "--waiting"], capsys)
    assert "overdue" in out and re.search(
        r"\n1 candidate waiting for an answer, oldest \d+ days\n$", out
    )
    code, out, _ = run(["conversations", "list", "--waiting", "--json"], capsys)
    (row,) = json.loads(out)
    assert (row["kind"], row["email"], row["overdue"]) == ("answer", ana.email, True)

    # `draft --template reply` answers in the thread (it used to write "Re: Your message").
    chosen = workspace / "chosen.csv"
    chosen.write_text("email\nana@paywise.example\nkim@nope.example\n")
    code, out, err = run(["draft", "--template", "reply", "--candidates", str(chosen)], capsys)
    assert code == 0, err
    assert (
        "drafted 1 into the review queue, skipped 1" in out and "kim@nope.example: opted_out" in err
    )
    store: Store = open_store(load_config(workspace / "config.toml").database_url)
    try:
        with store.read() as session:
            (draft,) = session.scalars(select(Draft).where(Draft.kind == "reply")).all()
            revision = session.scalars(select(Revision).where(Revision.draft_id == draft.id)).one()
        assert draft.in_reply_to == "<g1@x>" and draft.references == [ana.message_id, "<g1@x>"]
        assert revision.subject == f"Re: {kit.SUBJECT}"
        assert "wrote:\n> Thanks Maria, yes I'd love to hear more." in revision.body
    finally:
        store.close()

    # `outreach reply` sends the person's own words from that draft, approved as theirs.
    code, out, err = run(
        [
            "reply",
            ana.email,
            "--message",
            "Great, Tuesday at 10?\n\nMaria",
            "--yes",
            "--as",
            "maria",
        ],
        capsys,
    )
    assert code == 0, err
    assert "approved and queued for ana@paywise.example" in out and f"Re: {kit.SUBJECT}" in out
    store = open_store(load_config(workspace / "config.toml").database_url)
    try:
        with store.read() as session:
            draft = session.get_one(Draft, draft.id)
            raw = session.scalars(select(OutboxEntry.raw)).one()
        assert (draft.status, draft.approved_by, draft.approved_revision) == ("queued", "maria", 2)
        assert b"In-Reply-To: <g1@x>\r\n" in raw and b"Great, Tuesday at 10?" in raw
    finally:
        store.close()
    code, out, _ = run(["conversations", "list", "--waiting"], capsys)
    assert "nobody is waiting for you" in out
    code, out, _ = run(["conversations", "show", ana.email], capsys)
    assert "[queued]" in out and "1 in / 1 out" in out
    assert re.search(r"← 2026-03-02 10:15 CET ana@paywise.example \[human\]", out)  # one zone

    code, out, _ = run(["conversations", "interviewed", ana.email, "--on", "2026-03-01"], capsys)
    assert code == 0 and "interviewed on 2026-03-01" in out
    code, out, _ = run(["conversations", "list", "--waiting", "--json"], capsys)
    assert [(r["kind"], r["overdue"]) for r in json.loads(out)] == [("feedback", True)]
    code, out, _ = run(["conversations", "interviewed", ana.email, "--clear"], capsys)
    assert code == 0 and "cleared" in out
    code, _, err = run(["conversations", "interviewed", ana.email, "--on", "tuesday"], capsys)
    assert code == 1 and err.count("\n") == 1 and "write it like 2026-03-02" in err
    code, _, err = run(["conversations", "interviewed", ana.email], capsys)
    assert code == 2
    code, out, _ = run(["conversations", "no-answer", ana.email, "--reason", "said thanks"], capsys)
    assert code == 0 and "no answer needed (said thanks)" in out
    code, _, err = run(["reply", "nobody@example.org", "--message", "x", "--yes"], capsys)
    assert code == 1 and "no candidate with email" in err
