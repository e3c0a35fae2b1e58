"""Saving an edit: the command line, the web form and the JSON API store the same text."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from fastapi.testclient import TestClient

from outreach import users
from outreach.cli import cli
from outreach.review import edits, queue
from outreach.store import Store, open_store
from outreach.web import create_app
from tests.webutil import log_in, seed, settings_for

# What a person might hand in: CRLF from a browser, trailing spaces and tabs from an editor,
# a tab inside a line (kept), blank lines around the body, a subject with spaces around it.
SUBJECT = "  Kafka at Nordlys\t "
BODY = "\r\n\r\nHi Jamie,  \r\n\r\n\tYour Kafka work\tstood out.\t\r\nMaria   \r\n\r\n\r\n"
CLEAN_SUBJECT = "Kafka at Nordlys"
CLEAN_BODY = "Hi Jamie,\n\n\tYour Kafka work\tstood out.\nMaria\n"


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        ("a\r\nb\rc\n", "a\nb\nc\n"),
        ("a \t\nb\t", "a\nb\n"),
        ("\n\n  indented\n\n\n", "  indented\n"),
        (" \t\r\n", ""),
        ("one\n\n\ntwo", "one\n\n\ntwo\n"),
    ],
)
def test_normalise_body(given: str, expected: str) -> None:
    assert edits.normalise_body(given) == expected


def test_word_distance_and_share() -> None:
    assert edits.word_distance("a b c d", "a x c d e") == 2
    assert edits.edit_share("a b c d", "a b c d") == 0.0
    assert edits.edit_share("a b c d", "a x c d") == 0.25
    assert edits.edit_share("a b", "w x y z q") == 1.0


def test_cli_web_and_api_save_the_same_text_and_approval_hash(workspace: Path) -> None:
    store: Store = open_store(f"sqlite:///{workspace / 'outreach.db'}")
    ids = seed(store, drafts=3)
    with store.session() as session:
        token = users.issue_token(session, users.web_secret(), "maria")
        for draft_id in (1, 2, 3):  # the hash covers recipient and thread: make them equal
            draft = queue.get_draft(session, draft_id)
            draft.candidate_id, draft.kind = ids["jamie"], "outreach"
    # The command line: the editor writes the text as given, CRLF and all.
    script = workspace / "editor.py"
    script.write_text(
        "import pathlib, sys\n"
        f"pathlib.Path(sys.argv[1]).write_bytes({('Subject:' + SUBJECT + chr(10) + BODY)!r}"
        ".encode())\n"
    )
    ran = CliRunner().invoke(
        cli, ["queue", "edit", "1", "--as", "maria"], env={"EDITOR": f"{sys.executable} {script}"}
    )
    assert ran.exit_code == 0, ran.output
    assert "saved revision 2" in ran.output
    with TestClient(create_app(settings_for(workspace), store)) as client:
        csrf = log_in(client)
        form = client.post(
            "/drafts/2/save", data={"csrf_token": csrf, "subject": SUBJECT, "body": BODY}
        )
        assert "Saved revision 2." in form.text
        api = client.post(
            "/api/drafts/3/revisions",
            json={"subject": SUBJECT, "body": BODY},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert api.status_code == 201 and api.json()["revision"] == 2
        # The same text again, by any path, is no new revision.
        again = client.post(
            "/drafts/1/save",
            data={"csrf_token": csrf, "subject": CLEAN_SUBJECT, "body": CLEAN_BODY + "  \n"},
        )
        assert "Nothing changed" in again.text
    with store.session() as session:
        hashes = []
        for draft_id in (1, 2, 3):  # command line, web form, API
            draft = queue.get_draft(session, draft_id)
            revision = queue.current(session, draft)
            assert (revision.number, revision.subject, revision.body) == (
                2,
                CLEAN_SUBJECT,
                CLEAN_BODY,
            )
            assert revision.author == "maria"
            queue.approve(session, draft, actor="maria", message_id=f"<{draft_id}@x>")
            hashes.append(draft.approved_hash)
    assert hashes[0] is not None and hashes[0] == hashes[1] == hashes[2]
    store.close()
