"""The right of access (GDPR Art. 15): everything stored about one person, in one ZIP.

``data.json`` holds the profile (with its source and tags), every conversation and message
both ways, every draft with all its revisions, campaign enrolments, the audit events about
them and every AI call that was sent their data. ``messages/`` holds each message as the
.eml it was on the wire: the synced raw message, or the frozen bytes we sent. Exporting is
itself recorded (`candidate.exported`), so the person's history shows who asked and when.
"""

from __future__ import annotations

import io
import json
import zipfile
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.candidates import overview
from outreach.candidates.records import get_candidate
from outreach.errors import InputError
from outreach.store import Store
from outreach.store.models import AICall, Draft, Event, Message, OutboxEntry, Revision, utcnow

FORMAT = 1  # bump when data.json changes shape


def _plain(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, bytes):
        return None
    raise TypeError(f"cannot export {type(value).__name__}")


def _safe(text: str) -> str:
    return "".join(ch if ch.isalnum() or ch in "-_." else "_" for ch in text)[:80]


def export_zip(
    store: Store, email: str, *, actor: str = "cli", now: datetime | None = None
) -> bytes:
    """The ZIP (data.json and messages/*.eml) of everything stored about this person."""
    now = now or utcnow()
    with store.session() as session:
        candidate = get_candidate(session, email)
        data, files = _collect(session, candidate.id)
        data = {"format": FORMAT, "exported_at": now, **data}
        session.add(
            Event(
                actor=actor,
                action="candidate.exported",
                subject_type="candidate",
                subject_id=candidate.id,
                candidate_id=candidate.id,
                details={"messages": len(files)},
                at=now,
            )
        )
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        text = json.dumps(data, default=_plain, ensure_ascii=False, indent=2)
        archive.writestr("data.json", text)
        for name, raw in files:
            archive.writestr(name, raw)
        archive.writestr("README.txt", README)
    return buffer.getvalue()


def write_export(
    store: Store, email: str, output: Path | None = None, *, actor: str = "cli"
) -> Path:
    """Write the export ZIP to `output` (default: ADDRESS-export.zip here); never overwrite."""
    path = output or Path(f"{_safe(email.strip().lower())}-export.zip")
    if path.exists():
        raise InputError(f"{path}: already exists; choose another --output or move it away")
    data = export_zip(store, email, actor=actor)
    try:
        with path.open("xb") as handle:
            handle.write(data)
    except OSError as exc:
        raise InputError(f"{path}: cannot write it ({exc.strerror})") from None
    path.chmod(0o600)  # it holds a person's data
    return path


def _collect(session: Session, cid: int) -> tuple[dict[str, Any], list[tuple[str, bytes]]]:
    candidate = overview.get(session, cid)
    page = overview.overview(session, candidate, events=0)
    files: list[tuple[str, bytes]] = []
    messages = []
    frozen = {
        entry.id: entry
        for entry in session.scalars(select(OutboxEntry).where(OutboxEntry.candidate_id == cid))
    }
    filed = set()
    for n, m in enumerate(
        session.scalars(
            select(Message).where(Message.candidate_id == cid).order_by(Message.date, Message.id)
        ),
        start=1,
    ):
        raw = m.raw
        if raw is None and m.outbox_id in frozen:
            raw = frozen[m.outbox_id].raw
        name = f"messages/{n:04d}-{m.direction}.eml" if raw else None
        if raw and name:
            files.append((name, raw))
        if m.outbox_id is not None:
            filed.add(m.outbox_id)
        messages.append(
            {
                "conversation_id": m.conversation_id,
                "direction": m.direction,
                "date": m.date,
                "from": m.from_addr,
                "to": m.to_addrs,
                "subject": m.subject,
                "message_id": m.message_id,
                "classification": m.classification,
                "text": m.reply_text,
                "quoted_text": m.elided_text,
                "file": name,
            }
        )
    outbox = []
    for entry in frozen.values():
        name = None
        if entry.id not in filed:
            name = f"messages/outbox-{entry.id}.eml"
            files.append((name, entry.raw))
        outbox.append(
            {
                "to": entry.to_email,
                "message_id": entry.message_id,
                "state": entry.state,
                "sent_at": entry.sent_at,
                "file": name,
            }
        )
    drafts = []
    draft_ids = []
    for draft in session.scalars(select(Draft).where(Draft.candidate_id == cid).order_by(Draft.id)):
        draft_ids.append(draft.id)
        revisions = session.scalars(
            select(Revision).where(Revision.draft_id == draft.id).order_by(Revision.number)
        )
        drafts.append(
            {
                "id": draft.id,
                "kind": draft.kind,
                "template": draft.template,
                "status": draft.status,
                "created_at": draft.created_at,
                "approved_by": draft.approved_by,
                "approved_at": draft.approved_at,
                "context": draft.context,
                "revisions": [
                    {
                        "number": r.number,
                        "subject": r.subject,
                        "body": r.body,
                        "author": r.author,
                        "created_at": r.created_at,
                    }
                    for r in revisions
                ],
            }
        )
    calls = (
        [
            {
                "draft_id": c.draft_id,
                "at": c.created_at,
                "provider": c.provider,
                "model": c.model,
                "messages_sent": c.messages,
                "response": c.response_text,
                "error": c.error,
            }
            for c in session.scalars(
                select(AICall).where(AICall.draft_id.in_(draft_ids)).order_by(AICall.id)
            )
        ]
        if draft_ids
        else []
    )
    data = {
        "profile": page["profile"],
        "created_at": page["created_at"],
        "updated_at": page["updated_at"],
        "conversations": page["conversations"],
        "messages": messages,
        "outbox": outbox,
        "drafts": drafts,
        "enrolments": page["enrolments"],
        "ai_calls": calls,
        "events": overview.events_of(session, cid),
    }
    return data, files


README = """This archive holds everything the recruiter's outreach tool stores about you.

data.json      your profile (and where it came from), conversations, every message's text,
               drafts written to you with all their versions, campaigns you were part of,
               the log of what was done with your data, and every request to an AI model
               that included your data, with its answer.
messages/      each message as it was sent or received (.eml files; any mail program opens them).
"""
