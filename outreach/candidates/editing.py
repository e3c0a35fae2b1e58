"""Changing one candidate by hand: profile fields, source and tags, from the web page.

Each change is one function that checks the values the way an import does (timezone, language,
lists separated by ";"), rewrites the search words and writes a `candidate.edited` or
`candidate.tagged` event naming the fields, not their values.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.orm import Session

from outreach.candidates import search
from outreach.candidates.rows import LANGUAGE, LIST_SET, TEXT_FIELDS
from outreach.config import check_timezone
from outreach.errors import InputError
from outreach.store.models import Candidate, CandidateTag, Event, utcnow

EDITABLE = (*TEXT_FIELDS, "skills", "achievements", "links")
MAX_TEXT = 10_000
MAX_TAG = 100


def _clean(name: str, raw: str) -> Any:
    value = raw.replace("\r\n", "\n").strip()
    if len(value) > MAX_TEXT:
        raise InputError(f"{name}: longer than {MAX_TEXT:,} characters; shorten it")
    if name in LIST_SET:
        return [part.strip() for part in value.replace("\n", ";").split(";") if part.strip()]
    if name == "timezone" and value:
        try:
            check_timezone(value)
        except ValueError as exc:
            raise InputError(f"timezone: {exc}") from None
    if name == "language" and value:
        if not LANGUAGE.match(value):
            raise InputError(f"language {value!r}: use a code like en, sv or pt-BR")
        value = value.replace("_", "-")
    return value


def update_profile(
    session: Session, candidate: Candidate, values: Mapping[str, str], *, actor: str
) -> list[str]:
    """Set the given profile fields (text; lists separated by ";"); the names of those changed."""
    changes: dict[str, Any] = {}
    for name, raw in values.items():
        if name not in EDITABLE:
            raise InputError(f"{name}: not a profile field; use one of {', '.join(EDITABLE)}")
        value = _clean(name, raw)
        if value != getattr(candidate, name):
            changes[name] = value
    if not changes:
        return []
    for name, value in changes.items():
        setattr(candidate, name, value)
    candidate.updated_at = utcnow()
    search.refresh(session, candidate)
    session.add(
        Event(
            actor=actor,
            action="candidate.edited",
            subject_type="candidate",
            subject_id=candidate.id,
            candidate_id=candidate.id,
            details={"fields": sorted(changes)},
        )
    )
    return sorted(changes)


def set_tag(session: Session, candidate: Candidate, tag: str, *, on: bool, actor: str) -> bool:
    """Add (`on`) or remove a tag; whether anything changed."""
    tag = tag.strip()
    if not tag or len(tag) > MAX_TAG or ";" in tag:
        raise InputError(f"tag {tag[:40]!r}: give 1-{MAX_TAG} characters without ';'")
    has = session.scalar(
        select(CandidateTag.tag).where(
            CandidateTag.candidate_id == candidate.id, CandidateTag.tag == tag
        )
    )
    if on == (has is not None):
        return False
    if on:
        session.add(CandidateTag(candidate_id=candidate.id, tag=tag))
    else:
        session.execute(
            delete(CandidateTag).where(
                CandidateTag.candidate_id == candidate.id, CandidateTag.tag == tag
            )
        )
    session.flush()
    candidate.updated_at = utcnow()
    search.refresh(session, candidate)
    session.add(
        Event(
            actor=actor,
            action="candidate.tagged" if on else "candidate.untagged",
            subject_type="candidate",
            subject_id=candidate.id,
            candidate_id=candidate.id,
            details={"tag": tag},
        )
    )
    return True


def mark_request_handled(session: Session, candidate: Candidate, *, actor: str, note: str) -> None:
    """Record that a person's request about their data was answered another way."""
    session.add(
        Event(
            actor=actor,
            action="candidate.data_request_handled",
            subject_type="candidate",
            subject_id=candidate.id,
            candidate_id=candidate.id,
            details={"note": note.strip()[:500]},
        )
    )
