"""Storage limitation: people with no activity for ``privacy.retain_months`` are erased.

A person's last activity is the latest of: their record being added or changed, a message
either way, a draft to them, a campaign step sent, and any audit event about them. Erasing
goes through ``records.erase``, as `forget` does: everything linked to them is deleted and
only the salted hash of the address stays, suppressed, so they are never written to again.
The clock is a parameter (``now``): the command line passes ``OUTREACH_NOW``, tests a date.
"""

from __future__ import annotations

import calendar
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, true
from sqlalchemy.orm import Session

from outreach.candidates.records import erase
from outreach.errors import InputError
from outreach.store import Store
from outreach.store.models import Candidate, Draft, Enrolment, Event, Message

SOON_DAYS = 30  # "expires soon": within this many days


@dataclass(frozen=True)
class Expiry:
    id: int
    email: str
    name: str
    last_activity: datetime
    expires_at: datetime


def months_before(moment: datetime, months: int) -> datetime:
    """The same time `months` calendar months earlier (the 31st becomes the month's last day)."""
    year, month = divmod(moment.year * 12 + moment.month - 1 - months, 12)
    day = min(moment.day, calendar.monthrange(year, month + 1)[1])
    return moment.replace(year=year, month=month + 1, day=day)


def months_after(moment: datetime, months: int) -> datetime:
    """The same time `months` calendar months later."""
    return months_before(moment, -months)


def last_activity(
    session: Session, candidate_id: int | None = None
) -> dict[int, tuple[str, str, datetime]]:
    """For every candidate (or just one): address, name and the time of their last activity."""
    people = {
        cid: (email, name, max(created, updated))
        for cid, email, name, created, updated in session.execute(
            select(
                Candidate.id,
                Candidate.email,
                Candidate.name,
                Candidate.created_at,
                Candidate.updated_at,
            ).where(true() if candidate_id is None else Candidate.id == candidate_id)
        )
    }
    latest: list[Any] = [
        select(Message.candidate_id, func.max(Message.created_at)).group_by(Message.candidate_id),
        select(Message.candidate_id, func.max(Message.date)).group_by(Message.candidate_id),
        select(Draft.candidate_id, func.max(Draft.updated_at)).group_by(Draft.candidate_id),
        select(Enrolment.candidate_id, func.max(Enrolment.last_sent_at)).group_by(
            Enrolment.candidate_id
        ),
        select(Event.candidate_id, func.max(Event.at))
        .where(Event.candidate_id.is_not(None))
        .group_by(Event.candidate_id),
    ]
    for query in latest:
        if candidate_id is not None:
            query = query.where(query.selected_columns[0] == candidate_id)
        for cid, at in session.execute(query):
            if at is not None and cid in people and at > people[cid][2]:
                email, name, _ = people[cid]
                people[cid] = (email, name, at)
    return people


def expiring(
    session: Session, retain_months: int, now: datetime, *, within_days: int = 0
) -> list[Expiry]:
    """The people whose data is due for erasure by `now` + `within_days`, soonest first."""
    if retain_months <= 0:
        return []
    horizon = now + timedelta(days=within_days)
    found = []
    for cid, (email, name, last) in last_activity(session).items():
        due = months_after(last, retain_months)
        if due <= horizon:
            found.append(Expiry(cid, email, name, last, due))
    return sorted(found, key=lambda e: (e.expires_at, e.email))


def expires_at(session: Session, candidate_id: int, retain_months: int) -> datetime | None:
    """When this person's data is due for erasure (None without a retention period)."""
    if retain_months <= 0:
        return None
    found = last_activity(session, candidate_id).get(candidate_id)
    return months_after(found[2], retain_months) if found else None


def expire(
    store: Store,
    retain_months: int,
    now: datetime,
    *,
    dry_run: bool = False,
    actor: str = "retention",
) -> list[Expiry]:
    """Erase everyone due by `now` (or only list them, `dry_run`); who it was."""
    if retain_months <= 0:
        raise InputError(
            "privacy.retain_months is 0 (keep until forgotten); set it in config.toml first"
        )
    salt = store.salt()
    with store.session() as session:
        due = expiring(session, retain_months, now)
        if not dry_run:
            for person in due:
                erase(session, salt, person.email, actor=actor, why="candidate.expired")
    return due
