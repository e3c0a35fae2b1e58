"""The stop rules: what mail from a candidate does to their sequence and drafts. One place.

    human reply           conversation needs_response; live enrolments -> replied; follow-up
                          drafts set aside (``set_aside``); colleagues at the same company held
    unclear opt-out       the same (the sync also flags the message for the recruiter)
    clear opt-out         address suppressed; candidate opted_out; every unsent draft
                          cancelled; enrolments -> opted_out; conversation closed
    hard bounce           address suppressed; candidate bounced; every unsent draft
                          cancelled; enrolments -> bounced (only for a bounce about our mail)
    out-of-office         follow-ups move to a business day after the stated return date
    colleague's reply     the others at that company (not freemail) -> held, for a person

Automation never cancels or replaces a person's work: ``set_aside`` cancels only drafts no
person edited or approved, and holds the others with the news ("Jamie replied on 2026-03-02
at 10:14, after you approved this") for the reviewer to send anyway, rewrite or drop
(``outreach.review.held``). An opt-out or a hard bounce is the exception: the address is
suppressed and no draft to it can ever be sent, so its drafts are cancelled with the reason.
Drafts change only through ``queue.cancel`` and ``sending.hold``; every change writes an
audit event. The inbox sync (``outreach.inbox.ingest``) calls one of these per message, and
suggested replies (``outreach.inbox.sync``) use ``set_aside`` and ``news``.
"""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, date, datetime, time
from zoneinfo import ZoneInfo

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.campaigns.followups import add_business_days
from outreach.campaigns.lifecycle import domain_of
from outreach.candidates.records import suppress
from outreach.conversations.threads import CLOSED, NEEDS_RESPONSE, event, set_status
from outreach.review import queue
from outreach.sending import outbox as sending
from outreach.store.models import Candidate, Conversation, Draft, Enrolment, utcnow
from outreach.store.values import LIVE_ENROLMENTS, EnrolmentStatus

FOLLOW_UPS = ("follow_up",)


def cancel_pending(
    session: Session,
    candidate_id: int,
    *,
    reason: str,
    actor: str,
    kinds: tuple[str, ...] | None = None,
) -> int:
    """Cancel the candidate's drafts that have not started sending; returns how many."""
    query = select(Draft).where(
        Draft.candidate_id == candidate_id, Draft.status.in_(queue.CANCELLABLE)
    )
    if kinds is not None:
        query = query.where(Draft.kind.in_(kinds))
    return sum(queue.cancel(session, d, actor=actor, reason=reason) for d in session.scalars(query))


def stop_enrolments(
    session: Session, candidate_id: int, *, status: str, reason: str, actor: str
) -> int:
    """End the candidate's active enrolments with ``status``; returns how many."""
    query = select(Enrolment).where(
        Enrolment.candidate_id == candidate_id, Enrolment.status.in_(LIVE_ENROLMENTS)
    )
    stopped = 0
    for enrolment in session.scalars(query):
        enrolment.status, enrolment.stop_reason, enrolment.next_due_at = status, reason, None
        event(
            session,
            actor,
            f"enrolment.{status}",
            "enrolment",
            enrolment.id,
            candidate_id,
            reason=reason,
        )
        stopped += 1
    return stopped


def _set_candidate_status(
    session: Session, candidate: Candidate, status: str, *, actor: str, reason: str
) -> None:
    if candidate.status != status:
        event(
            session,
            actor,
            f"candidate.{status}",
            "candidate",
            candidate.id,
            candidate.id,
            reason=reason,
        )
        candidate.status, candidate.updated_at = status, utcnow()


def news(name: str, at: datetime, timezone: str, *, verb: str = "wrote again") -> str:
    """What a hold says happened: "Jamie wrote again on 2026-03-02 at 10:14" (local time)."""
    local = at.astimezone(ZoneInfo(timezone))
    first = name.split(",")[-1].split()[0] if name.strip() else "The candidate"
    return f"{first} {verb} on {local:%Y-%m-%d} at {local:%H:%M}"


def set_aside(
    session: Session,
    drafts: Iterable[Draft],
    *,
    happened: str,
    since: datetime,
    actor: str,
    cancel_reason: str,
) -> tuple[int, int]:
    """Drafts that newer mail makes stale: cancel those no person touched, hold the others.

    A draft a person approved or edited before ``since`` (when the news arrived) is held with
    ``happened`` ("Jamie wrote again on … at 10:14") and what they did; one they worked on
    after it is theirs, made with the news in front of them, and left alone. Automation never
    cancels a person's work. Returns how many were cancelled and how many held.
    """
    cancelled = held = 0
    for draft in drafts:
        touched = queue.touched_at(session, draft)
        if touched is None:
            cancelled += queue.cancel(session, draft, actor=actor, reason=cancel_reason)
        elif touched < since:
            did = "approved" if draft.status in (queue.APPROVED, queue.QUEUED) else "edited"
            reason = f"{happened}, after you {did} this"
            held += sending.hold(session, draft, reason, actor=actor, now=utcnow())
    return cancelled, held


def record_reply(
    session: Session,
    conversation: Conversation,
    *,
    actor: str,
    reason: str = "replied",
    happened: str = "They replied",
    at: datetime | None = None,
) -> None:
    """A person answered: the recruiter should respond and the sequence stops.

    Pending follow-ups are set aside (``set_aside``), with ``happened`` as the news.
    """
    set_status(session, conversation, NEEDS_RESPONSE, actor=actor)
    cid = conversation.candidate_id
    stop_enrolments(session, cid, status="replied", reason=reason, actor=actor)
    follow_ups = session.scalars(
        select(Draft).where(
            Draft.candidate_id == cid,
            Draft.status.in_(queue.CANCELLABLE),
            Draft.kind.in_(FOLLOW_UPS),
        )
    )
    set_aside(
        session,
        follow_ups,
        happened=happened,
        since=at or utcnow(),
        actor=actor,
        cancel_reason=reason,
    )
    # Colleagues at the same company wait for the recruiter to decide.
    hold_colleagues(session, cid, actor=actor)


def record_opt_out(
    session: Session,
    salt: str,
    candidate: Candidate,
    conversation: Conversation | None,
    *,
    actor: str,
    reason: str,
) -> None:
    """A clear opt-out: never contact the address again and cancel everything pending."""
    suppress(session, salt, candidate.email, "opted_out", actor)
    _set_candidate_status(session, candidate, "opted_out", actor=actor, reason=reason)
    cancel_pending(session, candidate.id, reason=reason, actor=actor)
    stop_enrolments(session, candidate.id, status="opted_out", reason=reason, actor=actor)
    if conversation is not None:
        set_status(session, conversation, CLOSED, actor=actor)


def record_hard_bounce(
    session: Session, salt: str, candidate: Candidate, *, actor: str, reason: str
) -> None:
    """The address does not exist: mark the candidate bounced and stop everything."""
    suppress(session, salt, candidate.email, "hard_bounce", actor)
    _set_candidate_status(session, candidate, "bounced", actor=actor, reason=reason)
    cancel_pending(session, candidate.id, reason=f"hard bounce: {reason}", actor=actor)
    stop_enrolments(session, candidate.id, status="bounced", reason=reason, actor=actor)


def record_absence(
    session: Session, candidate_id: int, return_date: date, holidays: Iterable[date] = ()
) -> int:
    """Hold follow-ups until a business day after a stated return date; never move them earlier."""
    back = add_business_days(return_date, 1, holidays)
    moment = datetime.combine(back, time(9, 0), tzinfo=UTC)
    enrolments = list(
        session.scalars(
            select(Enrolment).where(
                Enrolment.candidate_id == candidate_id, Enrolment.status == EnrolmentStatus.ACTIVE
            )
        )
    )
    for enrolment in enrolments:
        if enrolment.away_until is None or enrolment.away_until < moment:
            enrolment.away_until = moment
        # Already scheduled: move it; not yet scheduled: `schedule` will respect away_until.
        if enrolment.next_due_at is not None and enrolment.next_due_at < moment:
            enrolment.next_due_at = moment
    return len(enrolments)


def hold_colleagues(session: Session, candidate_id: int, *, actor: str = "sync") -> list[str]:
    """A reply from one person holds the others at the same company in their campaigns."""
    candidate = session.get(Candidate, candidate_id)
    domain = domain_of(candidate.email) if candidate else ""
    if not domain:
        return []
    campaigns = select(Enrolment.campaign_id).where(Enrolment.candidate_id == candidate_id)
    rows = session.execute(
        select(Enrolment, Candidate.email)
        .join(Candidate, Candidate.id == Enrolment.candidate_id)
        .where(
            Enrolment.campaign_id.in_(campaigns),
            Enrolment.status == EnrolmentStatus.ACTIVE,
            Enrolment.candidate_id != candidate_id,
            func.lower(Candidate.email).like(f"%@{domain}"),
        )
    ).all()
    held = []
    for enrolment, email in rows:
        enrolment.status = EnrolmentStatus.HELD
        enrolment.stop_reason = f"a colleague at {domain} replied; decide whether to continue"
        held.append(email)
        event(session, actor, "enrolment.held", "enrolment", enrolment.id,
              enrolment.candidate_id, domain=domain)  # fmt: skip
    return held
