"""The outbox as people read it: what waits and why, what is sending, sent, failed, uncertain.

One read for the `/outbox` page: the queue in send order with each message's next slot and the
reason it waits (pacing's words: "daily cap reached (40/day), next slot Tue 09:12"), and the
messages that need a person: failed ones with the server's reply, uncertain ones with why.
Rows are typed; the JSON API serves ``as_dict`` of the same rows.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import and_, select

from outreach.config import Settings
from outreach.sending.outbox import FAILED, QUEUED, SENDING, SENT, UNCERTAIN
from outreach.sending.preview import outbox_listing
from outreach.store import Store
from outreach.store.models import Candidate, Draft, OutboxEntry, Revision

RECENT = timedelta(days=7)  # sent messages the page lists
SENT_ROWS = 50


@dataclass(frozen=True)
class OutboxRow:
    """One message in the outbox, as the page shows it."""

    id: int
    draft_id: int
    state: str
    kind: str
    to: str
    name: str
    subject: str
    why: str  # why it waits, or what went wrong
    last_reply: str  # the server's last words about it
    attempts: int
    next_at: datetime | None
    sent_at: datetime | None

    def as_dict(self) -> dict[str, object]:
        """JSON-ready (times in ISO 8601)."""
        return {k: v.isoformat() if isinstance(v, datetime) else v for k, v in asdict(self).items()}


@dataclass
class OutboxView:
    """The outbox by state; ``waiting`` in send order, ``sent`` newest first."""

    waiting: list[OutboxRow] = field(default_factory=list)
    sending: list[OutboxRow] = field(default_factory=list)
    failed: list[OutboxRow] = field(default_factory=list)
    uncertain: list[OutboxRow] = field(default_factory=list)
    sent: list[OutboxRow] = field(default_factory=list)

    @property
    def attention(self) -> int:
        """Messages a person must decide on."""
        return len(self.failed) + len(self.uncertain)


def outbox_view(store: Store, settings: Settings, *, now: datetime) -> OutboxView:
    """Every message that waits, sends or needs a person, and those sent in the last week."""
    open_rows = outbox_listing(
        store, settings, now=now, states=(QUEUED, SENDING, UNCERTAIN, FAILED)
    )
    with store.read() as session:
        sent_ids = list(
            session.scalars(
                select(OutboxEntry.id)
                .where(OutboxEntry.state == SENT, OutboxEntry.sent_at >= now - RECENT)
                .order_by(OutboxEntry.sent_at.desc())
                .limit(SENT_ROWS)
            )
        )
        ids = [int(str(row["id"])) for row in open_rows] + sent_ids
        people = {
            entry_id: (name, subject)
            for entry_id, name, subject in session.execute(
                select(OutboxEntry.id, Candidate.name, Revision.subject)
                .join(Candidate, Candidate.id == OutboxEntry.candidate_id)
                .join(Draft, Draft.id == OutboxEntry.draft_id)
                .outerjoin(
                    Revision,
                    and_(Revision.draft_id == Draft.id, Revision.number == Draft.current_revision),
                )
                .where(OutboxEntry.id.in_(ids))
            )
        }
        sent = session.scalars(select(OutboxEntry).where(OutboxEntry.id.in_(sent_ids))).all()
    view = OutboxView()
    lists = {QUEUED: view.waiting, SENDING: view.sending, FAILED: view.failed}
    for row in open_rows:
        entry_id = int(str(row["id"]))
        name, subject = people.get(entry_id, ("", ""))
        next_at = row["next_at"]
        item = OutboxRow(
            id=entry_id, draft_id=int(str(row["draft_id"])), state=str(row["state"]),
            kind=str(row["kind"]), to=str(row["to"]), name=name or "", subject=subject or "",
            why=str(row["why"] or ""), last_reply=str(row["last_reply"] or ""),
            attempts=int(str(row["attempts"])),
            next_at=datetime.fromisoformat(next_at) if isinstance(next_at, str) else None,
            sent_at=None,
        )  # fmt: skip
        lists.get(item.state, view.uncertain).append(item)
    by_id = {entry.id: entry for entry in sent}
    for entry_id in sent_ids:
        entry = by_id[entry_id]
        name, subject = people.get(entry_id, ("", ""))
        view.sent.append(
            OutboxRow(
                id=entry.id, draft_id=entry.draft_id, state=SENT, kind=entry.kind,
                to=entry.to_email, name=name or "", subject=subject or "", why="",
                last_reply=entry.last_reply, attempts=entry.attempts, next_at=None,
                sent_at=entry.sent_at,
            )
        )  # fmt: skip
    return view
