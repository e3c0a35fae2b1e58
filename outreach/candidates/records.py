"""Candidates: import from CSV or JSON, validate, list, show, and forget (erasure).

An import checks every row first and writes the valid ones in one transaction, in bulk.
Forgetting a person erases everything linked to them and keeps only a salted hash of the
address in the suppression list, so they are never contacted again.
"""

from __future__ import annotations

import contextlib
import gc
import hashlib
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from pathlib import Path
from typing import Any

from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from outreach.candidates import search
from outreach.candidates.files import read_table
from outreach.candidates.rows import (
    LIST_FIELDS,
    TEXT_FIELDS,
    RowError,
    Rows,
    normalise_email,
    normalise_emails,
    validate,
)
from outreach.errors import InputError, NotFound
from outreach.store import Store
from outreach.store.bulk import bulk_insert
from outreach.store.models import Candidate, CandidateTag, Event, Suppression, utcnow

CHUNK = 500  # rows per IN (...) lookup; well under every engine's parameter limit


@dataclass
class ImportReport:
    path: str
    created: int = 0
    updated: int = 0
    unchanged: int = 0
    skipped: list[RowError] = field(default_factory=list)  # suppressed people, not errors
    errors: list[RowError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    dry_run: bool = False

    @property
    def ok(self) -> bool:
        return not self.errors


def address_hash(salt: str, email: str) -> str:
    """The salted SHA-256 of a normalised address, as kept in the suppression list."""
    return hashlib.sha256(f"{salt}:{email.strip().lower()}".encode()).hexdigest()


def import_file(
    store: Store,
    path: Path,
    *,
    tags: Sequence[str] = (),
    source: str = "",
    dry_run: bool = False,
    actor: str = "cli",
) -> ImportReport:
    """Import candidates from a CSV or JSON file; valid rows in one transaction, all errors kept."""
    # A large file makes hundreds of thousands of small objects that all live until the end;
    # the cyclic collector would walk them again and again (it made imports 2-3x slower).
    with _collector_paused():
        return _import(store, path, tags=tags, source=source, dry_run=dry_run, actor=actor)


@contextlib.contextmanager
def _collector_paused() -> Iterator[None]:
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _import(
    store: Store, path: Path, *, tags: Sequence[str], source: str, dry_run: bool, actor: str
) -> ImportReport:
    table, warnings = read_table(path)
    if not len(table):
        raise InputError(f"{path}: no candidate rows after the header")
    rows, errors = validate(table, [t.strip() for t in tags if t.strip()])
    if source.strip():  # --source names where rows without their own `source` came from
        given = rows.fields.get("source") or [""] * len(rows)
        rows.fields["source"] = [value or source.strip() for value in given]
    report = ImportReport(str(path), errors=errors, warnings=warnings, dry_run=dry_run)
    salt = store.salt()
    with store.session() as session:
        suppressed = suppression_reasons(session, salt, rows.emails)
        if suppressed:
            keep = []
            for index, email in enumerate(rows.emails):
                if email in suppressed:
                    reason = "suppressed (opted out or forgotten)"
                    report.skipped.append(RowError(rows.lines[index], reason))
                else:
                    keep.append(index)
            rows = rows.subset(keep)
        _write_rows(session, rows, report, actor)
        if dry_run:
            session.rollback()
        else:
            session.add(
                Event(
                    actor=actor,
                    action="candidates.imported",
                    subject_type="import",
                    details={
                        "file": path.name,
                        "created": report.created,
                        "updated": report.updated,
                        "errors": len(report.errors),
                    },
                )
            )
    return report


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_rows(session: Session, rows: Rows, report: ImportReport, actor: str) -> None:
    existing = by_email(session, rows.emails)
    now = utcnow()
    new = rows
    if existing:
        new = rows.subset([i for i, email in enumerate(rows.emails) if email not in existing])
    if len(new):
        before = session.scalar(select(func.max(Candidate.id))) or 0
        columns: dict[str, Sequence[Any]] = {"email": new.emails, **new.fields}
        columns["search_text"] = search.texts_of(new)
        if new.extra is not None:
            columns["extra"] = new.extra
        # What the file has no column for is the same, empty, for every new candidate.
        same: dict[str, Any] = {"status": "active", "created_at": now, "updated_at": now}
        same.update((name, "") for name in TEXT_FIELDS if name not in columns)
        same.update((name, []) for name in LIST_FIELDS if name not in columns)
        if "extra" not in columns:
            same["extra"] = {}
        with search.indexed_in_bulk(session, before):
            bulk_insert(session, Candidate.metadata.tables["candidates"], columns, same)
        ids = _new_ids(session, before, new.emails)
        bulk_insert(
            session,
            CandidateTag.metadata.tables["candidate_tags"],
            {
                "candidate_id": list(chain.from_iterable(map(repeat, ids, map(len, new.tags)))),
                "tag": list(chain.from_iterable(new.tags)),
            },
        )
        report.created = len(new)
    updates, events, tag_rows = [], [], []
    current_tags = _tags_of(session, [c.id for c in existing.values()])
    for index, email in enumerate(rows.emails):
        candidate = existing.get(email)
        if candidate is None:
            continue
        changes = _changes(candidate, rows.given(index))
        missing_tags = [t for t in rows.tags[index] if t not in current_tags.get(candidate.id, ())]
        tag_rows += [{"candidate_id": candidate.id, "tag": t} for t in missing_tags]
        if not changes and not missing_tags:
            report.unchanged += 1
            continue
        report.updated += 1
        if missing_tags or {"name", "company", "skills"} & changes.keys():
            changes["search_text"] = search.search_text(
                email=candidate.email,
                name=changes.get("name", candidate.name),
                company=changes.get("company", candidate.company),
                tags=[*current_tags.get(candidate.id, ()), *missing_tags],
                skills=changes.get("skills", candidate.skills),
            )
        if changes:
            updates.append({"id": candidate.id, **changes, "updated_at": now})
        events.append(
            {
                "actor": actor,
                "action": "candidate.updated",
                "subject_type": "candidate",
                "subject_id": candidate.id,
                "candidate_id": candidate.id,
                "details": {
                    "fields": sorted(changes.keys() - {"search_text"}),
                    "tags_added": missing_tags,
                    "line": rows.lines[index],
                },
                "at": now,
            }
        )
    if updates:
        session.execute(update(Candidate), updates)
    if tag_rows:
        session.execute(insert(CandidateTag), tag_rows)
    if events:
        session.execute(insert(Event), events)


def _new_ids(session: Session, before: int, emails: Sequence[str]) -> list[int]:
    """The ids the rows just inserted got, in insert order.

    SQLite numbers new rows max(id)+1, +2, ... in insert order; when the rows above `before`
    are exactly ours (no other writer slipped in), that is the answer without a lookup.
    """
    low, high, count = session.execute(
        select(func.min(Candidate.id), func.max(Candidate.id), func.count()).where(
            Candidate.id > before
        )
    ).one()
    dialect = session.get_bind().dialect.name
    if (
        dialect == "sqlite"
        and count == len(emails)
        and high - low + 1 == count
        and low == before + 1
    ):
        return list(range(low, high + 1))
    by_email = dict(
        session.execute(select(Candidate.email, Candidate.id).where(Candidate.id > before)).all()
    )
    return [by_email[email] for email in emails]


def _changes(candidate: Candidate, values: Mapping[str, Any]) -> dict[str, Any]:
    """Fields the new row changes; empty values in the file never erase what we have."""
    changes: dict[str, Any] = {}
    for name in (*TEXT_FIELDS, *LIST_FIELDS):
        if name in values and values[name] != getattr(candidate, name):
            changes[name] = values[name]
    if "extra" in values:
        merged = {**candidate.extra, **values["extra"]}
        if merged != candidate.extra:
            changes["extra"] = merged
    return changes


def _tags_of(session: Session, ids: Sequence[int]) -> dict[int, set[str]]:
    tags: dict[int, set[str]] = {}
    for chunk in _chunks(ids):
        rows = session.execute(
            select(CandidateTag.candidate_id, CandidateTag.tag).where(
                CandidateTag.candidate_id.in_(chunk)
            )
        )
        for cid, tag in rows:
            tags.setdefault(cid, set()).add(tag)
    return tags


# Reading back -------------------------------------------------------------------------------


def profile(candidate: Candidate, tags: Iterable[str] = ()) -> dict[str, Any]:
    """A plain dict of a candidate's profile (for JSON output, templates and prompts)."""
    data: dict[str, Any] = {"id": candidate.id, "email": candidate.email}
    data.update({name: getattr(candidate, name) for name in (*TEXT_FIELDS, *LIST_FIELDS)})
    data.update(extra=dict(candidate.extra), status=candidate.status, tags=sorted(tags))
    return data


def list_candidates(store: Store, *, tag: str | None = None) -> list[dict[str, Any]]:
    """Every candidate (optionally with a tag) as profile dicts, ordered by email."""
    with store.session() as session:
        query = select(Candidate).order_by(Candidate.email)
        if tag:
            query = query.join(CandidateTag).where(CandidateTag.tag == tag)
        candidates = list(session.scalars(query))
        tags = _tags_of(session, [c.id for c in candidates])
        return [profile(c, tags.get(c.id, ())) for c in candidates]


def select_emails(store: Store, selector: str) -> list[str]:
    """Addresses chosen by `tag:NAME`, an address (or several, comma-separated) or a file."""
    if selector.startswith("tag:"):
        tag = selector[4:].strip()
        with store.session() as session:
            query = (
                select(Candidate.email)
                .join(CandidateTag)
                .where(CandidateTag.tag == tag)
                .order_by(Candidate.email)
            )
            emails = list(session.scalars(query))
        if not emails:
            raise InputError(f"no candidates tagged {tag!r}; see `outreach candidates list`")
        return emails
    path = Path(selector)
    if not path.exists() and "@" in selector:
        return _known_addresses(store, selector)
    if not path.exists():
        raise InputError(
            f"--candidates {selector!r}: no such file; use tag:NAME, an email address "
            "or a CSV/JSON file"
        )
    table, _ = read_table(path)
    problems: dict[int, str] = {}
    emails = normalise_emails(table.columns["email"], problems)
    if problems:
        first = min(problems)
        raise InputError(f"{path}, line {table.lines[first]}: {problems[first]}")
    return list(dict.fromkeys(emails))


def _known_addresses(store: Store, selector: str) -> list[str]:
    """Addresses given as `a@x.example` or `a@x.example,b@y.example`, each a known candidate."""
    wanted = [normalise_email(part) for part in selector.split(",") if part.strip()]
    with store.read() as session:
        known = set(by_email(session, wanted))
    for email in wanted:
        if email not in known:
            raise NotFound(f"--candidates: no candidate with email {email}; import them first")
    return list(dict.fromkeys(wanted))


def get_candidate(session: Session, email: str) -> Candidate:
    """The candidate with this address; NotFound when there is none."""
    address = email.strip().lower()
    candidate = session.scalar(select(Candidate).where(Candidate.email == address))
    if candidate is None:
        raise NotFound(f"no candidate with email {address}; see `outreach candidates list`")
    return candidate


def show_candidate(store: Store, email: str) -> dict[str, Any]:
    """One candidate's profile dict."""
    with store.session() as session:
        candidate = get_candidate(session, email)
        return profile(candidate, _tags_of(session, [candidate.id]).get(candidate.id, ()))


def by_email(session: Session, emails: Sequence[str]) -> dict[str, Candidate]:
    """The candidates with these (normalised) addresses, by address; unknown ones are absent."""
    wanted = list(dict.fromkeys(emails))
    keys: Sequence[Any] = wanted
    column: Any = Candidate.email
    if len(wanted) > CHUNK and _count(session, Candidate) <= 4 * len(wanted):
        # One scan of (id, email) beats many IN (...) look-ups by address.
        chosen = set(wanted)
        rows = session.execute(select(Candidate.id, Candidate.email))
        keys, column = [cid for cid, email in rows if email in chosen], Candidate.id
    found: dict[str, Candidate] = {}
    for chunk in _chunks(keys):
        found.update(
            (c.email, c) for c in session.scalars(select(Candidate).where(column.in_(chunk)))
        )
    return found


def suppression_reasons(session: Session, salt: str, emails: Sequence[str]) -> dict[str, str]:
    """For each of these addresses on the suppression list, the reason; the rest are absent."""
    wanted = list(dict.fromkeys(emails))
    scan = False
    if len(wanted) > CHUNK:  # a whole file: count first, hashing it all may be for nothing
        total = _count(session, Suppression)
        if not total:
            return {}
        scan = total <= 4 * len(wanted)  # one scan beats many IN (...) look-ups
    hashes = {address_hash(salt, email): email for email in wanted}
    query = select(Suppression.address_hash, Suppression.reason)
    if scan:
        rows = session.execute(query)
        return {hashes[digest]: reason for digest, reason in rows if digest in hashes}
    reasons: dict[str, str] = {}
    for chunk in _chunks(list(hashes)):
        rows = session.execute(query.where(Suppression.address_hash.in_(chunk)))
        reasons.update((hashes[digest], reason) for digest, reason in rows)
    return reasons


def _count(session: Session, model: type[Candidate] | type[Suppression]) -> int:
    return session.scalar(select(func.count()).select_from(model)) or 0


def is_suppressed(session: Session, salt: str, email: str) -> str | None:
    """The suppression reason for this address, or None when we may contact it."""
    return session.scalar(
        select(Suppression.reason).where(Suppression.address_hash == address_hash(salt, email))
    )


def suppress(session: Session, salt: str, email: str, reason: str, actor: str) -> None:
    """Add an address to the suppression list (idempotent)."""
    digest = address_hash(salt, email)
    if session.scalar(select(Suppression.id).where(Suppression.address_hash == digest)) is None:
        session.add(Suppression(address_hash=digest, reason=reason))
        session.add(
            Event(
                actor=actor, action="suppressed", subject_type="address", details={"reason": reason}
            )
        )


def forget(store: Store, email: str, *, actor: str = "cli", request: str = "") -> bool:
    """Erase a person and all linked to them, keeping only the address hash (suppressed).

    Whether a candidate record existed; `request` notes the person asked ("erasure").
    """
    with store.session() as session:
        return erase(session, store.salt(), email, actor=actor, request=request)


def erase(
    session: Session,
    salt: str,
    email: str,
    *,
    actor: str,
    why: str = "candidate.forgotten",
    request: str = "",
) -> bool:
    """Erase one person in this transaction (see `forget`); `why` is the audit event's action."""
    address = email.strip().lower()
    candidate = session.scalar(select(Candidate.id).where(Candidate.email == address))
    if candidate is not None:
        # ON DELETE CASCADE removes tags, drafts, revisions, AI calls, outbox rows,
        # messages, conversations, enrolments and the events that name the person.
        session.execute(delete(Candidate).where(Candidate.id == candidate))
    digest = address_hash(salt, address)
    existing = session.scalar(select(Suppression).where(Suppression.address_hash == digest))
    if existing is None:
        session.add(Suppression(address_hash=digest, reason="forgotten"))
    else:
        existing.reason = "forgotten"
    details = {"address_hash": digest, **({"on_request": request} if request else {})}
    session.add(Event(actor=actor, action=why, subject_type="address", details=details))
    return candidate is not None
