"""What an approval covers: the message as its recipient will see it, under one hash.

A person approves more than a revision's text: the name and address the mail goes to, the
subject as sent (with ``Re:`` for a reply in a thread), the body, and the thread it joins
(In-Reply-To and References). ``fingerprint`` hashes exactly these; ``queue.approve`` records
it, and freezing into the outbox and claiming for sending compute it again from what the store
holds then. A change to any of them after approval (a candidate re-imported under another name,
an edit, a regenerated text, another thread) no longer matches, so the message is not sent.
``approval_problem`` is the one rule that says whether a draft may be sent; freezing, claiming
and the sender's last check before DATA all ask it.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from outreach.mail.subjects import reply_subject
from outreach.mail.thread import answering
from outreach.store.models import Candidate, Draft, OutboxEntry, Revision
from outreach.store.values import DraftKind

THREADED = (DraftKind.FOLLOW_UP, DraftKind.REPLY)
# Part of every hash: approvals recorded before they covered the recipient and the thread
# (subject and body only) can never match one computed now.
SCHEME = "outreach approval 2: to, subject, body, thread"


@dataclass(frozen=True)
class Visible:
    """Everything of a message its recipient sees that comes from the store."""

    to_name: str
    to_email: str
    subject: str
    body: str
    in_reply_to: str | None
    references: tuple[str, ...]


def visible(
    *,
    kind: str,
    to_name: str,
    to_email: str,
    subject: str,
    body: str,
    in_reply_to: str | None,
    references: Sequence[Any],
) -> Visible:
    """The message as sent: a reply in a thread gets "Re:", the replied-to id joins References."""
    refs = [str(ref) for ref in references]
    if in_reply_to is not None and in_reply_to not in refs:
        refs.append(in_reply_to)
    threaded = kind in THREADED and in_reply_to is not None
    return Visible(
        to_name=to_name,
        to_email=to_email,
        subject=reply_subject(subject) if threaded else subject,
        body=body,
        in_reply_to=in_reply_to,
        references=tuple(refs),
    )


def fingerprint(seen: Visible) -> str:
    """The one hash of what a recipient sees, recorded with an approval and checked at send.

    Each field goes in with its length first, so no two different messages hash alike however
    their texts are cut (the sender checks this for every message it claims: no JSON here).
    """
    digest = hashlib.sha256()
    texts = [SCHEME, seen.to_name, seen.to_email, seen.subject, seen.body]
    texts += [seen.in_reply_to or "", *seen.references]
    digest.update(b"%d %d\n" % (seen.in_reply_to is not None, len(seen.references)))
    for text in texts:
        data = text.encode("utf-8", "surrogatepass")
        digest.update(b"%d:" % len(data))
        digest.update(data)
    return digest.hexdigest()


def thread(
    session: Session,
    *,
    kind: str,
    enrolment_id: int | None,
    in_reply_to: str | None,
    references: Sequence[Any],
) -> tuple[str | None, list[str]]:
    """In-Reply-To and References: the draft's own, else the last message of its enrolment."""
    refs = [str(ref) for ref in references]
    if in_reply_to is not None or kind not in THREADED or enrolment_id is None:
        return in_reply_to, refs
    return sequence_threads(session, [enrolment_id]).get(enrolment_id, (None, refs))


def sequence_threads(
    session: Session, enrolment_ids: Sequence[int]
) -> dict[int, tuple[str | None, list[str]]]:
    """For each enrolment, the thread headers of an answer to its last message sent.

    The one rule for a campaign's follow-ups (``mail.thread.answering``), used when they are
    drafted (``campaigns.lifecycle``) and when a draft without them is approved.
    """
    if not enrolment_ids:
        return {}
    rows = session.execute(
        select(Draft.enrolment_id, Draft.message_id, Draft.in_reply_to, Draft.references)
        .join(OutboxEntry, OutboxEntry.draft_id == Draft.id)
        .where(Draft.enrolment_id.in_(list(enrolment_ids)), OutboxEntry.state == "sent")
        .order_by(Draft.enrolment_id, OutboxEntry.sent_at, Draft.id)
    )
    last = {row.enrolment_id: row for row in rows}  # the latest sent of each, by send time
    return {
        enrolment_id: answering(row.message_id, [str(r) for r in row.references], row.in_reply_to)
        for enrolment_id, row in last.items()
        if row.message_id
    }


def visible_of(session: Session, draft: Draft) -> Visible:
    """What the recipient of this draft would see if it were sent now."""
    candidate = session.get_one(Candidate, draft.candidate_id)
    revision = session.scalars(
        select(Revision).where(
            Revision.draft_id == draft.id, Revision.number == draft.current_revision
        )
    ).one()
    in_reply_to, references = thread(
        session,
        kind=draft.kind,
        enrolment_id=draft.enrolment_id,
        in_reply_to=draft.in_reply_to,
        references=draft.references,
    )
    return visible(
        kind=draft.kind,
        to_name=candidate.name,
        to_email=candidate.email,
        subject=revision.subject,
        body=revision.body,
        in_reply_to=in_reply_to,
        references=references,
    )


def approval_problem(
    *,
    draft_id: int,
    approved_at: datetime | None,
    approved_by: str | None,
    approved_hash: str | None,
    approved_revision: int | None,
    current_revision: int,
    fingerprint: str | None,
    message_id: str | None,
) -> str | None:
    """The one rule: why a draft with these fields may NOT be sent, or None when it may.

    ``fingerprint`` is ``approval.fingerprint`` of what would be sent now (None: no revision).
    """
    if approved_at is None or approved_hash is None or not approved_by:
        return f"draft {draft_id} has no approval"
    if approved_revision != current_revision:
        return f"draft {draft_id} changed after approval (revision {current_revision})"
    if fingerprint != approved_hash:
        return (
            f"draft {draft_id}: what would be sent (recipient, subject, body or thread) "
            "differs from what was approved"
        )
    if not message_id:
        return f"draft {draft_id} has no Message-ID"
    return None


def approval_is_valid(session: Session, draft: Draft) -> str | None:
    """Why this draft may NOT be sent, or None when its approval covers what would be sent."""
    return approval_problem(
        draft_id=draft.id,
        approved_at=draft.approved_at,
        approved_by=draft.approved_by,
        approved_hash=draft.approved_hash,
        approved_revision=draft.approved_revision,
        current_revision=draft.current_revision,
        fingerprint=fingerprint(visible_of(session, draft)),
        message_id=draft.message_id,
    )
