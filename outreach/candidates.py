"""Candidates: import from CSV or JSON, validate, list, show, and forget (erasure).

An import checks every row first and writes the valid ones in one transaction, in bulk.
Forgetting a person erases everything linked to them and keeps only a salted hash of the
address in the suppression list, so they are never contacted again.
"""

from __future__ import annotations

import contextlib
import csv
import functools
import gc
import hashlib
import io
import json
import re
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email
from sqlalchemy import delete, func, insert, select, update
from sqlalchemy.orm import Session

from .config import check_timezone
from .errors import InputError, NotFound
from .store import Store
from .store.bulk import bulk_insert
from .store.models import Candidate, CandidateTag, Event, Suppression, utcnow

TEXT_FIELDS = ("name", "headline", "company", "role", "location", "timezone", "language", "notes")
LIST_FIELDS = ("skills", "achievements", "links")
KNOWN = {"email", "tags", *TEXT_FIELDS, *LIST_FIELDS}
TEXT_SET, LIST_SET = frozenset(TEXT_FIELDS), frozenset(LIST_FIELDS)
DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")
CHUNK = 500  # rows per IN (...) lookup; well under every engine's parameter limit


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


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


@dataclass(frozen=True)
class Row:
    line: int
    values: dict[str, Any]  # email, text fields, list fields (only those given), tags, extra


def normalise_email(raw: str) -> str:
    """Validate an address (syntax only, no DNS) and return its normalised, lower-case form."""
    address = raw.strip()
    local, at, domain = address.rpartition("@")
    # Fast path for the usual plain ASCII local part: the domain, the costly part to check,
    # is validated by email-validator once per distinct domain. Anything else takes the
    # full validation below.
    if at and len(local) <= 64 and local.isascii() and DOT_ATOM.match(local):
        try:
            checked = f"{local}@{_domain(domain)}"
        except EmailNotValidError as exc:
            raise InputError(f"{address!r} is not a valid email address: {exc}") from None
        if len(checked) <= 254:
            return checked.lower()
    try:
        result = validate_email(address, check_deliverability=False)
    except EmailNotValidError as exc:
        raise InputError(f"{address!r} is not a valid email address: {exc}") from None
    return result.normalized.lower()


@functools.lru_cache(maxsize=4096)
def _domain(domain: str) -> str:
    """The normalised domain, checked by email-validator (raises EmailNotValidError)."""
    return validate_email(f"postmaster@{domain}", check_deliverability=False).domain


def address_hash(salt: str, email: str) -> str:
    """The salted SHA-256 of a normalised address, as kept in the suppression list."""
    return hashlib.sha256(f"{salt}:{email.strip().lower()}".encode()).hexdigest()


# Reading files ------------------------------------------------------------------------------


def read_text(path: Path) -> tuple[str, list[str]]:
    """Read a file as UTF-8 (with or without BOM); fall back to cp1252/Latin-1 with a warning."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        return data.decode("utf-8-sig"), []
    except UnicodeDecodeError:
        pass
    for encoding in ("cp1252", "latin-1"):
        try:
            text = data.decode(encoding)
        except UnicodeDecodeError:
            continue
        return text, [f"{path}: not UTF-8; read as {encoding}. Save it as UTF-8 to be sure"]
    raise InputError(f"{path}: unreadable text encoding; save it as UTF-8")  # pragma: no cover


def read_rows(path: Path) -> tuple[list[tuple[int, dict[str, Any]]], list[str]]:
    """Raw records with their line numbers, from a CSV (header row) or a JSON list."""
    text, warnings = read_text(path)
    if not text.strip():
        raise InputError(f"{path}: the file is empty; it needs a header row with an email column")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        return _json_records(path, text), warnings
    return _csv_records(path, text), warnings


def _csv_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    header = text.splitlines()[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.DictReader(io.StringIO(text, newline=""), delimiter=delimiter)
    fields = [(name or "").strip().lower() for name in reader.fieldnames or []]
    if "email" not in fields:
        raise InputError(
            f"{path}, line 1: no 'email' column (found: {', '.join(fields) or 'nothing'}); "
            "add a header row with an email column"
        )
    reader.fieldnames = fields
    records = []
    line = reader.line_num + 1
    for record in reader:
        extra = record.pop(None, None)
        if extra:
            record["__overflow__"] = extra
        records.append((line, record))
        line = reader.line_num + 1
    return records


def _json_records(path: Path, text: str) -> list[tuple[int, dict[str, Any]]]:
    decoder = json.JSONDecoder()
    index = _skip_space(text, 0)
    if index >= len(text) or text[index] != "[":
        raise InputError(f"{path}, line 1: expected a JSON list of objects, one per candidate")
    index = _skip_space(text, index + 1)
    records: list[tuple[int, dict[str, Any]]] = []
    while index < len(text) and text[index] != "]":
        line = text.count("\n", 0, index) + 1
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {exc.lineno}: invalid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise InputError(f"{path}, line {line}: expected an object with an email field")
        records.append((line, {str(k).strip().lower(): v for k, v in value.items()}))
        index = _skip_space(text, index)
        if index < len(text) and text[index] == ",":
            index = _skip_space(text, index + 1)
    if index >= len(text):
        line = text.count("\n") + 1
        raise InputError(f"{path}, line {line}: the JSON list is not closed with ]")
    return records


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


# Validating rows ----------------------------------------------------------------------------


def _split(value: Any) -> list[str]:
    if not value:
        return []
    if isinstance(value, list):
        return [text for text in (str(v).strip() for v in value) if text]
    return list(_split_text(str(value)))


@functools.lru_cache(maxsize=65536)
def _split_text(text: str) -> tuple[str, ...]:
    # Skill and tag lists repeat across a file; split each distinct one once.
    return tuple(part for part in map(str.strip, text.split(";")) if part)


def validate_record(
    line: int, record: Mapping[str, Any], tags: Sequence[str], keys: Iterable[str] | None = None
) -> Row:
    """Turn one raw record into a Row; raise InputError with the reason.

    `keys` are the record's column names when every record of a file has the same ones.
    """
    if record.get("__overflow__"):
        raise InputError("more values than header columns; quote values that contain the delimiter")
    raw_email = record.get("email")
    if not raw_email or not str(raw_email).strip():
        raise InputError("email is empty")
    values: dict[str, Any] = {"email": normalise_email(str(raw_email))}
    present = list(record) if keys is None else keys
    extra: dict[str, Any] = {}
    for name in present:
        value = record.get(name)
        if value is None or value == "":
            continue
        if name in TEXT_SET:
            text = str(value).strip()
            if text:
                values[name] = text
        elif name in LIST_SET:
            items = _split(value)
            if items:
                values[name] = items
        elif name not in KNOWN and name[0] != "_":
            extra[name] = value
    if "timezone" in values:
        try:
            check_timezone(values["timezone"])
        except ValueError as exc:
            raise InputError(f"timezone: {exc}") from None
    if "language" in values:
        if not LANGUAGE.match(values["language"]):
            raise InputError(f"language {values['language']!r}: use a code like en, sv or pt-BR")
        values["language"] = values["language"].replace("_", "-")
    own = record.get("tags")
    values["tags"] = sorted({*_split(own), *tags}) if own else sorted(set(tags))
    if extra:
        values["extra"] = extra
    return Row(line, values)


def _same_keys(records: Sequence[tuple[int, Mapping[str, Any]]]) -> bool:
    first = records[0][1].keys()
    return all(record.keys() == first for _, record in records)


def validate_rows(
    records: Iterable[tuple[int, Mapping[str, Any]]], tags: Sequence[str]
) -> tuple[list[Row], list[RowError]]:
    """Validate all records; duplicates within the file are errors naming the first line."""
    rows: list[Row] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    listed = list(records)
    # CSV records share one header: look at its columns once, not per row.
    shared = [k for k in listed[0][1] if k] if listed and _same_keys(listed) else None
    for line, record in listed:
        try:
            row = validate_record(line, record, tags, shared)
        except InputError as exc:
            errors.append(RowError(line, str(exc)))
            continue
        first = seen.setdefault(row.values["email"], line)
        if first != line:
            errors.append(RowError(line, f"{row.values['email']} repeats line {first}"))
            continue
        rows.append(row)
    return rows, errors


# Writing ------------------------------------------------------------------------------------


def import_file(
    store: Store,
    path: Path,
    *,
    tags: Sequence[str] = (),
    dry_run: bool = False,
    actor: str = "cli",
) -> ImportReport:
    """Import candidates from a CSV or JSON file; valid rows in one transaction, all errors kept."""
    # A large file makes hundreds of thousands of small objects that all live until the end;
    # the cyclic collector would walk them again and again (it made imports 2-3x slower).
    with _collector_paused():
        return _import(store, path, tags=tags, dry_run=dry_run, actor=actor)


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
    store: Store, path: Path, *, tags: Sequence[str], dry_run: bool, actor: str
) -> ImportReport:
    records, warnings = read_rows(path)
    if not records:
        raise InputError(f"{path}: no candidate rows after the header")
    rows, errors = validate_rows(records, [t.strip() for t in tags if t.strip()])
    report = ImportReport(str(path), errors=errors, warnings=warnings, dry_run=dry_run)
    salt = store.salt()
    with store.session() as session:
        hashes = [address_hash(salt, r.values["email"]) for r in rows]
        suppressed = _suppressed_hashes(session, hashes)
        kept = []
        for row, digest in zip(rows, hashes, strict=True):
            if digest in suppressed:
                report.skipped.append(RowError(row.line, "suppressed (opted out or forgotten)"))
            else:
                kept.append(row)
        _write_rows(session, kept, report, actor)
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


def _suppressed_hashes(session: Session, hashes: Sequence[str]) -> set[str]:
    wanted = set(hashes)
    total = session.scalar(select(func.count()).select_from(Suppression)) or 0
    if total <= 4 * len(wanted):  # one scan beats many IN (...) lookups
        return wanted.intersection(session.scalars(select(Suppression.address_hash)))
    found: set[str] = set()
    for chunk in _chunks(hashes):
        query = select(Suppression.address_hash).where(Suppression.address_hash.in_(chunk))
        found.update(session.scalars(query))
    return found


def _chunks(items: Sequence[Any], size: int = CHUNK) -> Iterator[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _write_rows(session: Session, rows: Sequence[Row], report: ImportReport, actor: str) -> None:
    existing = _existing(session, [r.values["email"] for r in rows])
    now = utcnow()
    new = [r for r in rows if r.values["email"] not in existing]
    if new:
        before = session.scalar(select(func.max(Candidate.id))) or 0
        bulk_insert(
            session,
            Candidate.metadata.tables["candidates"],
            NEW_COLUMNS,
            [_new_candidate(r.values, now) for r in new],
        )
        wanted = {r.values["email"] for r in new}
        ids = {
            email: cid
            for cid, email in session.execute(
                select(Candidate.id, Candidate.email).where(Candidate.id > before)
            )
            if email in wanted
        }
        new_tags = [(ids[r.values["email"]], tag) for r in new for tag in r.values["tags"]]
        bulk_insert(
            session,
            CandidateTag.metadata.tables["candidate_tags"],
            ("candidate_id", "tag"),
            new_tags,
        )
        report.created = len(new)
    updates, events, tag_rows = [], [], []
    current_tags = _tags_of(session, [c.id for c in existing.values()])
    for row in rows:
        candidate = existing.get(row.values["email"])
        if candidate is None:
            continue
        changes = _changes(candidate, row.values)
        missing_tags = [
            t for t in row.values["tags"] if t not in current_tags.get(candidate.id, ())
        ]
        tag_rows += [{"candidate_id": candidate.id, "tag": t} for t in missing_tags]
        if not changes and not missing_tags:
            report.unchanged += 1
            continue
        report.updated += 1
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
                    "fields": sorted(changes),
                    "tags_added": missing_tags,
                    "line": row.line,
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


def _existing(session: Session, emails: Sequence[str]) -> dict[str, Candidate]:
    wanted = set(emails)
    total = session.scalar(select(func.count()).select_from(Candidate)) or 0
    if total <= 4 * len(wanted):  # one scan of (id, email) beats many IN (...) lookups
        ids = [
            cid
            for cid, email in session.execute(select(Candidate.id, Candidate.email))
            if email in wanted
        ]
        found = [
            c
            for chunk in _chunks(ids)
            for c in session.scalars(select(Candidate).where(Candidate.id.in_(chunk)))
        ]
    else:
        found = [
            c
            for chunk in _chunks(emails)
            for c in session.scalars(select(Candidate).where(Candidate.email.in_(chunk)))
        ]
    return {c.email: c for c in found}


NO_ITEMS: list[str] = []  # shared, never changed: one object for every empty list column
NO_FIELDS: dict[str, Any] = {}
NEW_COLUMNS = (*TEXT_FIELDS, *LIST_FIELDS, "email", "extra", "status", "created_at", "updated_at")


def _new_candidate(values: Mapping[str, Any], now: datetime) -> tuple[Any, ...]:
    """A new candidate's row, in NEW_COLUMNS order; fields the file left out are empty."""
    get = values.get
    return (
        *[get(name, "") for name in TEXT_FIELDS],
        *[get(name, NO_ITEMS) for name in LIST_FIELDS],
        values["email"],
        get("extra", NO_FIELDS),
        "active",
        now,
        now,
    )


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
    """Addresses chosen by `tag:NAME` or by a CSV/JSON file with an email column."""
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
    if not path.exists():
        raise InputError(
            f"--candidates {selector!r}: no such file; use tag:NAME or a CSV/JSON file"
        )
    records, _ = read_rows(path)
    emails = []
    for line, record in records:
        try:
            emails.append(normalise_email(str(record.get("email") or "")))
        except InputError as exc:
            raise InputError(f"{path}, line {line}: {exc}") from None
    return list(dict.fromkeys(emails))


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


def forget(store: Store, email: str, *, actor: str = "cli") -> bool:
    """Erase a candidate and everything linked to them; keep only the address hash, suppressed.

    Returns whether a candidate record existed. The address is suppressed either way.
    """
    address = email.strip().lower()
    salt = store.salt()
    with store.session() as session:
        candidate = session.scalar(select(Candidate).where(Candidate.email == address))
        existed = candidate is not None
        if candidate is not None:
            # ON DELETE CASCADE removes tags, drafts, revisions, AI calls, outbox rows,
            # messages, conversations, enrolments and the events that name the person.
            session.execute(delete(Candidate).where(Candidate.id == candidate.id))
        digest = address_hash(salt, address)
        existing = session.scalar(select(Suppression).where(Suppression.address_hash == digest))
        if existing is None:
            session.add(Suppression(address_hash=digest, reason="forgotten"))
        else:
            existing.reason = "forgotten"
        session.add(
            Event(
                actor=actor,
                action="candidate.forgotten",
                subject_type="address",
                details={"address_hash": digest},
            )
        )
    return existed
