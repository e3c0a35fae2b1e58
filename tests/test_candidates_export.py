"""The Art. 15 export: everything about one person, and nobody else, in one ZIP."""

from __future__ import annotations

import email
import io
import json
import zipfile
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from outreach.candidates import export
from outreach.cli import main
from outreach.cli.root import cli
from outreach.errors import NotFound
from outreach.store import Store, open_store
from outreach.store.models import (
    AICall,
    Candidate,
    Conversation,
    Draft,
    Event,
    Message,
    OutboxEntry,
    Revision,
    utcnow,
)


def raw_mail(sender: str, to: str, subject: str, body: str, message_id: str) -> bytes:
    return (
        f"From: {sender}\r\nTo: {to}\r\nSubject: {subject}\r\nMessage-ID: {message_id}\r\n"
        f"Content-Type: text/plain; charset=utf-8\r\n\r\n{body}\r\n"
    ).encode()


def person(store: Store, address: str, messages: int = 2) -> int:
    """A candidate with a draft (two revisions, one AI call), a sent message and replies."""
    now = utcnow()
    with store.session() as session:
        c = Candidate(email=address, name="Jamie Lind", source="GitHub", skills=["Go"])
        session.add(c)
        session.flush()
        thread = Conversation(candidate_id=c.id, subject="Backend role", last_message_at=now)
        draft = Draft(candidate_id=c.id, kind="outreach", template="intro", status="sent")
        session.add_all([thread, draft])
        session.flush()
        session.add_all(
            [
                Revision(draft_id=draft.id, number=1, subject="Hi", body="AI text", author="ai:m"),
                Revision(draft_id=draft.id, number=2, subject="Hi", body="Edited", author="maria"),
                AICall(
                    draft_id=draft.id,
                    provider="openai",
                    model="m",
                    messages=[{"role": "user", "content": f"profile of {address}"}],
                    response_text='{"hook": "Go"}',
                ),
            ]
        )
        out = OutboxEntry(
            draft_id=draft.id,
            candidate_id=c.id,
            mailbox="maria@nordlys.example",
            message_id=f"<out-{c.id}@nordlys.example>",
            to_email=address,
            raw=raw_mail("maria@nordlys.example", address, "Hi", "Edited", f"<out-{c.id}@x>"),
            kind="outreach",
            state="sent",
            sent_at=now,
        )
        session.add(out)
        session.flush()
        for i in range(messages):
            incoming = i % 2 == 1
            session.add(
                Message(
                    mailbox="maria@nordlys.example",
                    folder="INBOX" if incoming else "Sent",
                    uidvalidity=1,
                    uid=c.id * 1000 + i,
                    message_id=f"<{c.id}-{i}@x>",
                    from_addr=address if incoming else "maria@nordlys.example",
                    date=now + timedelta(minutes=i),
                    subject="Re: Hi",
                    direction="in" if incoming else "out",
                    reply_text=f"message {i}",
                    raw=raw_mail(address, "maria@nordlys.example", "Re: Hi", f"message {i}", "<r>")
                    if incoming
                    else None,
                    outbox_id=None if incoming or i else out.id,
                    candidate_id=c.id,
                    conversation_id=thread.id,
                )
            )
        session.add(
            Event(
                actor="maria",
                action="candidate.edited",
                subject_type="candidate",
                subject_id=c.id,
                candidate_id=c.id,
                details={"fields": ["name"]},
            )  # fmt: skip
        )
        return c.id


def unzip(data: bytes) -> tuple[dict[str, Any], dict[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        files = {name: archive.read(name) for name in archive.namelist()}
    return json.loads(files["data.json"]), files


def check_archive(data: bytes, address: str) -> None:
    """What an export of `person(store, address, 4)` must hold."""
    doc, files = unzip(data)
    assert doc["profile"]["email"] == address and doc["profile"]["source"] == "GitHub"
    assert [m["text"] for m in doc["messages"]] == [f"message {i}" for i in range(4)]
    assert [r["body"] for r in doc["drafts"][0]["revisions"]] == ["AI text", "Edited"]
    assert doc["ai_calls"][0]["messages_sent"] == [
        {"role": "user", "content": f"profile of {address}"}
    ]
    assert "candidate.edited" in [e["action"] for e in doc["events"]]
    emls = sorted(name for name in files if name.endswith(".eml"))
    assert emls == ["messages/0001-out.eml", "messages/0002-in.eml", "messages/0004-in.eml"]
    parsed = email.message_from_bytes(files["messages/0002-in.eml"])
    assert parsed["From"] == address and parsed.get_payload().strip() == "message 1"
    assert email.message_from_bytes(files["messages/0001-out.eml"])["To"] == address
    assert "other@example.com" not in files["data.json"].decode()
    assert "README.txt" in files


def test_export_holds_everything_about_the_person_and_no_one_else(store: Store) -> None:
    cid = person(store, "jamie@paywise.example", messages=4)
    person(store, "other@example.com")
    check_archive(
        export.export_zip(store, "Jamie@Paywise.example", actor="maria"), "jamie@paywise.example"
    )
    with store.read() as session:
        logged = session.scalars(select(Event).where(Event.action == "candidate.exported")).one()
    assert (logged.actor, logged.candidate_id) == ("maria", cid)
    with pytest.raises(NotFound):
        export.export_zip(store, "nobody@example.com")


def test_cli_export_writes_the_zip_and_never_overwrites(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from outreach.config import load_config

    store = open_store(load_config(workspace / "config.toml").database_url)
    person(store, "jamie@paywise.example", messages=4)
    store.close()
    runner = CliRunner()
    result = runner.invoke(cli, ["candidates", "export", "jamie@paywise.example"])
    assert result.exit_code == 0, result.output
    path = workspace / "jamie_paywise.example-export.zip"
    check_archive(path.read_bytes(), "jamie@paywise.example")
    assert path.stat().st_mode & 0o077 == 0
    with pytest.raises(SystemExit) as stopped:
        main(["candidates", "export", "jamie@paywise.example"])
    assert stopped.value.code == 1
    assert capsys.readouterr().err == (
        "error: jamie_paywise.example-export.zip: already exists; "
        "choose another --output or move it away\n"
    )
