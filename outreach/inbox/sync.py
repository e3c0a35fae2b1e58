"""The sync run: new mail of each folder, read incrementally, threaded onto conversations.

Per folder the store keeps UIDVALIDITY and the last UID seen (``SyncState``). A run EXAMINEs
the folder, asks for the UIDs above the watermark (the first run: those since ``sync.since``),
and takes them in chunks: the header fields of the whole chunk first, then the bodies of the
few that may concern a candidate (``relevance``), which are parsed, classified, threaded and
stored (``ingest``). Each chunk's rows, their consequences and the new watermark commit in one
transaction, so a run killed at any point re-reads at most one chunk next time, and the
unique keys and Message-ID checks drop what it had already taken. A changed UIDVALIDITY
resets the watermark and rescans from ``sync.since``: messages already stored are re-linked
to their new UIDs by Message-ID, never duplicated. The Sent folder goes first, so that replies
in the INBOX find our messages already stored; at the end, the Sent folder is asked for every
send still ``uncertain``. One run at a time: see ``sync_lock``.
"""

from __future__ import annotations

import logging
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.candidates.records import profile, suppression_reasons
from outreach.config import Settings
from outreach.conversations import replies, stops
from outreach.drafting.drafter import Drafter, DraftSpec, make_llm
from outreach.errors import SyncError
from outreach.inbox.ingest import Context, ingest
from outreach.inbox.relevance import Known, relevant, scan
from outreach.review import queue
from outreach.sending.sent_folder import settle_uncertain
from outreach.servers.configured import mailbox_name, open_mailbox
from outreach.servers.mailbox import Mailbox, chunks
from outreach.store import Store
from outreach.store.locks import exclusive
from outreach.store.models import (
    Candidate,
    Conversation,
    Draft,
    Message,
    OutboxEntry,
    SyncState,
    utcnow,
)
from outreach.store.values import CandidateStatus, DraftKind

log = logging.getLogger(__name__)
CHUNK = 500  # UIDs per transaction
_CONVERSATIONAL = ("human", "calendar_reply", "opt_out_unclear")
Progress = Callable[[str, int, int], None]  # folder, UIDs done, UIDs to do


@dataclass
class SyncReport:
    """What one run did, for the summary line and --json."""

    mailbox: str
    folders: dict[str, int] = field(default_factory=dict)  # folder -> messages scanned
    counts: Counter[str] = field(default_factory=Counter)

    def summary(self) -> str:
        """One line: new replies, bounces, auto-replies, opt-outs and what was scanned."""
        c = self.counts
        parts = [
            _n(c["replies"], "new reply", "new replies"),
            _n(c["hard_bounces"] + c["soft_bounces"], "bounce", "bounces"),
            _n(c["auto_replies"], "auto-reply", "auto-replies"),
            _n(c["opt_outs"], "opt-out", "opt-outs"),
        ]
        if c["flagged"]:
            parts.append(f"{c['flagged']} to read (unclear opt-out)")
        if c["data_requests"]:
            parts.append(f"{c['data_requests']} asking to see or erase their data")
        if c["unverified_bounces"]:
            parts.append(
                f"{c['unverified_bounces']} to read (a bounce about no mail we sent; "
                "nothing suppressed)"
            )
        if c["confirmed"]:
            parts.append(f"{c['confirmed']} uncertain sends confirmed")
        scanned = sum(self.folders.values())
        return (
            f"synced {self.mailbox}: {', '.join(parts)} "
            f"({c['stored']} stored of {scanned} new in {len(self.folders)} folders)"
        )


def _n(count: int, one: str, many: str) -> str:
    return f"{count} {one if count == 1 else many}"


@contextmanager
def sync_lock(store: Store, mailbox: str) -> Iterator[None]:
    """Hold the sync lock of a mailbox; raise SyncError at once when another run holds it.

    The lock vanishes with the process, even after kill -9 (see ``outreach.store.locks``).
    """
    busy = SyncError(f"another `outreach sync` of {mailbox} is running; this one stops")
    with exclusive(store, "sync", mailbox, busy):
        yield


def load_known(session: Session, settings: Settings) -> Known:
    """Candidates' addresses, our Message-IDs and stored ones, and the recruiter's addresses."""
    known = Known(
        candidates={
            email: cid for cid, email in session.execute(select(Candidate.id, Candidate.email))
        },
        own=frozenset(
            a.strip().lower()
            for a in (settings.sender.email, settings.imap.username, settings.smtp.username)
            if a and "@" in a
        ),
    )
    known.add_ids(session.scalars(select(Draft.message_id).where(Draft.message_id.is_not(None))))
    known.add_ids(session.scalars(select(OutboxEntry.message_id)))
    known.add_ids(
        session.scalars(select(Message.message_id).where(Message.message_id.is_not(None)))
    )
    return known


def run_sync(
    settings: Settings,
    store: Store,
    *,
    mailbox: Mailbox | None = None,
    now: Callable[[], datetime] = utcnow,
    progress: Progress | None = None,
    chunk: int = CHUNK,
) -> SyncReport:
    """Sync every folder of the mailbox once, under the sync lock; raise SyncError on failure.

    ``progress`` is called inside each chunk's transaction, just before it commits.
    """
    name = mailbox_name(settings)
    with sync_lock(store, name):
        box = mailbox if mailbox is not None else open_mailbox(settings)
        try:
            salt = store.salt()
            with store.session() as session:
                known = load_known(session, settings)
            ctx = Context(
                mailbox=name,
                salt=salt,
                known=known,
                now=now(),
                holidays=settings.campaigns.holidays,
                timezone=settings.sender.timezone,
            )
            report = SyncReport(mailbox=name, counts=ctx.counts)
            sent = box.sent_folder()
            folders = sorted(box.folders(), key=lambda f: f != sent)  # Sent first
            for folder in folders:
                report.folders[folder] = _sync_folder(
                    settings, store, box, folder, ctx, progress, chunk
                )
            # An uncertain send whose copy was synced before it became uncertain: ask again.
            settled = settle_uncertain(store, settings.sender.email, box, clock=now, actor="sync")
            ctx.counts["confirmed"] += len(settled)
            return report
        finally:
            if mailbox is None:
                box.close()


def _sync_folder(
    settings: Settings,
    store: Store,
    box: Mailbox,
    folder: str,
    ctx: Context,
    progress: Progress | None,
    chunk: int,
) -> int:
    """Take a folder's new messages in chunks; returns how many were scanned."""
    state = box.select(folder)
    with store.session() as session:
        row = _state_row(session, ctx.mailbox, folder)
        last_uid, known_validity = row.last_uid, row.uidvalidity
    first = known_validity != state.uidvalidity
    if first and known_validity:
        ctx.counts["uidvalidity_resets"] += 1
    if first:
        last_uid = 0  # first run, or UIDVALIDITY changed: rescan from sync.since
    uids = (
        []
        if state.uidnext - 1 <= last_uid
        else box.uids_after(folder, last_uid, settings.sync.since if first else None)
    )
    done = 0
    for part in chunks(uids, chunk):
        headers = box.fetch_headers(folder, part)
        wanted = [h for h in headers if relevant(scan(h.header_bytes), ctx.known)]
        bodies = (
            box.fetch_bodies(folder, [h.uid for h in wanted], settings.sync.max_body_bytes)
            if wanted
            else {}
        )
        with store.session() as session:
            for item in wanted:
                body = bodies.get(item.uid)
                if body is not None:  # None: expunged since the header fetch
                    ingest(
                        session,
                        ctx,
                        folder=folder,
                        uidvalidity=state.uidvalidity,
                        item=item,
                        body=body,
                        max_body_bytes=settings.sync.max_body_bytes,
                    )
            row = _state_row(session, ctx.mailbox, folder)
            row.uidvalidity, row.last_uid = state.uidvalidity, max(part)
            done += len(part)
            if progress is not None:
                progress(folder, done, len(uids))
    with store.session() as session:
        row = _state_row(session, ctx.mailbox, folder)
        if row.uidvalidity != state.uidvalidity:
            row.uidvalidity, row.last_uid = state.uidvalidity, 0
        # Everything below UIDNEXT (as EXAMINE saw it) was searched and taken.
        row.last_uid = max(row.last_uid, state.uidnext - 1)
        row.highestmodseq, row.last_run_at = state.highestmodseq, ctx.now
    return len(uids)


def _state_row(session: Session, mailbox: str, folder: str) -> SyncState:
    row = session.scalar(
        select(SyncState).where(SyncState.mailbox == mailbox, SyncState.folder == folder)
    )
    if row is None:
        row = SyncState(mailbox=mailbox, folder=folder, uidvalidity=0, last_uid=0)
        session.add(row)
        session.flush()
    return row


async def suggest_replies(
    settings: Settings, store: Store, *, drafter: Drafter | None = None
) -> list[int]:
    """Suggest a reply, for approval, to each conversation whose candidate wrote again.

    At most one suggestion per conversation per new message. An earlier suggestion no person
    touched is replaced; a reply a person edited or approved is held with the news instead
    ("Jamie wrote again on … at 10:14, after you approved this") and nothing is drafted: the
    person decides. Returns the ids of the new drafts.
    """
    wanted = _replies_to_draft(store, settings)
    if not wanted:
        return []
    own = drafter is None
    drafter = drafter or Drafter(settings, store, llm=make_llm(settings))
    try:
        report = await drafter.draft_items(wanted)
    finally:
        if own:
            await drafter.aclose()
    return report.drafted


def _replies_to_draft(store: Store, settings: Settings) -> list[tuple[dict[str, Any], DraftSpec]]:
    """Conversations needing a response whose latest message from the candidate has no reply
    drafted since; earlier reply drafts are set aside (``stops.set_aside``)."""
    out: list[tuple[dict[str, Any], DraftSpec]] = []
    salt = store.salt()
    with store.session() as session:
        rows = session.execute(
            select(Conversation, Candidate)
            .join(Candidate)
            .where(
                Conversation.status == "needs_response", Candidate.status == CandidateStatus.ACTIVE
            )
            .order_by(Conversation.id)
        ).all()
        suppressed = suppression_reasons(session, salt, [c.email for _, c in rows])
        for conversation, candidate in rows:
            messages = session.scalars(
                select(Message)
                .where(Message.conversation_id == conversation.id)
                .order_by(Message.date, Message.id)
            ).all()
            talk = [
                m for m in messages if m.direction == "out" or m.classification in _CONVERSATIONAL
            ]
            incoming = [m for m in talk if m.direction == "in"]
            if not incoming or candidate.email in suppressed:
                continue
            latest = max(incoming, key=lambda m: m.created_at)
            earlier = session.scalars(
                select(Draft).where(
                    Draft.conversation_id == conversation.id, Draft.kind == DraftKind.REPLY
                )
            ).all()
            if any(d.created_at >= latest.created_at for d in earlier):
                continue  # this message has had its suggestion (drafted, rejected or sent)
            happened = stops.news(
                candidate.name or candidate.email,
                latest.date or latest.created_at,
                settings.sender.timezone,
            )
            open_ = [d for d in earlier if d.status in queue.CANCELLABLE]
            stops.set_aside(
                session,
                open_,
                happened=happened,
                since=latest.created_at,
                actor="sync",
                cancel_reason=f"superseded: {happened}",
            )
            if any(d.status in queue.CANCELLABLE for d in open_):
                continue  # a person's reply stands, held or made after the news
            spec = replies.reply_spec(
                session, conversation, candidate, settings, message_id=latest.id
            )
            out.append((profile(candidate), spec))
    return out
