"""What the outbox will send, when, and why each message waits: the plan, the listing, a dry run.

Nothing here sends or writes to the store. ``mailbox_plan`` is the pacing plan the sender
follows (``pacing.plan`` over the mailbox's queued messages and recent sends); the listing
and the dry run show that same plan to a person.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from sqlalchemy import select

from outreach.config import Settings
from outreach.sending import freezing, waiting
from outreach.sending import outbox as sending
from outreach.sending.pacing import Pacing, Slot, plan
from outreach.store import Store
from outreach.store.models import OutboxEntry


def mailbox_plan(store: Store, settings: Settings, pacing: Pacing, *, now: datetime) -> list[Slot]:
    """The send order and slots of the sender mailbox's queued messages."""
    mailbox = settings.sender.email
    with store.read() as session:
        items = waiting.waiting(session, mailbox, settings, now=now)
        last, recent = waiting.history(session, mailbox, now=now)
    return plan(items, pacing, now=now, last_sent=last, recent_sends=recent)


def dry_run(
    store: Store,
    settings: Settings,
    folder: Path,
    *,
    now: datetime,
    pacing: Pacing | None = None,
    limit: int | None = None,
) -> list[tuple[Path, str]]:
    """Write the exact .eml of every message the outbox would send, in order; send nothing.

    Queued messages are written as frozen. Approved drafts not yet frozen are built as they
    would be now. A message whose Date is more than a few minutes old when it is really sent
    goes out dated then (``messages.restamp``).
    """
    pacing = pacing or Pacing.from_settings(settings)
    slots = mailbox_plan(store, settings, pacing, now=now)
    written: list[tuple[Path, str]] = []
    folder.mkdir(parents=True, exist_ok=True)
    with store.session() as session:
        query = select(OutboxEntry.id, OutboxEntry.raw).where(
            OutboxEntry.id.in_([s.id for s in slots])
        )
        raws = {entry_id: raw for entry_id, raw in session.execute(query)}
        jobs: list[tuple[str, bytes, str]] = [
            (f"outbox{s.id}", raws[s.id], s.reason or "due now") for s in slots
        ]
        built, refused = freezing.build_all(
            session, freezing.approved_draft_ids(session), settings, now=now
        )
        if refused:
            raise refused[0][1]
        later = "approved, frozen at the next run"
        jobs += [(f"draft{item.draft_id}", item.values["raw"], later) for item in built]
    for number, (name, raw, why) in enumerate(jobs[:limit] if limit else jobs, start=1):
        path = folder / f"{number:04d}-{name}.eml"
        path.write_bytes(raw)
        written.append((path, why))
    return written


def outbox_listing(
    store: Store,
    settings: Settings,
    *,
    now: datetime,
    pacing: Pacing | None = None,
    states: Sequence[str] = (sending.QUEUED, sending.SENDING, sending.UNCERTAIN, sending.FAILED),
) -> list[dict[str, object]]:
    """Every outbox row in the given states: queued ones in send order with slot and reason."""
    pacing = pacing or Pacing.from_settings(settings)
    slots = {s.id: (n, s) for n, s in enumerate(mailbox_plan(store, settings, pacing, now=now))}
    with store.session() as session:
        entries = list(
            session.scalars(select(OutboxEntry).where(OutboxEntry.state.in_(tuple(states))))
        )
    keyed: list[tuple[tuple[bool, int, int], dict[str, object]]] = []
    for entry in entries:
        order, slot = slots.get(entry.id, (len(slots), None))
        why = entry.wait_reason
        if slot is not None:
            why = slot.reason or "due now"
        row: dict[str, object] = {
            "id": entry.id,
            "draft_id": entry.draft_id,
            "to": entry.to_email,
            "kind": entry.kind,
            "state": entry.state,
            "attempts": entry.attempts,
            "next_at": slot.at.isoformat() if slot else None,
            "why": why,
            "last_reply": entry.last_reply,
            "sent_at": entry.sent_at.isoformat() if entry.sent_at else None,
        }
        keyed.append(((entry.state != sending.QUEUED, order, entry.id), row))
    return [row for _, row in sorted(keyed, key=lambda pair: pair[0])]
