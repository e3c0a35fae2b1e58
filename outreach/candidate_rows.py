"""Reading and validating candidate files: CSV (header row) or JSON (a list of objects).

Every record becomes a ``Row`` of normalised values or a ``RowError`` naming its line, so an
import can report every bad row and still write the good ones in one transaction.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email

from .config import check_timezone
from .errors import InputError

TEXT_FIELDS = ("name", "headline", "company", "role", "location", "timezone", "language", "notes")
LIST_FIELDS = ("skills", "achievements", "links")
TEXT_SET, LIST_SET = frozenset(TEXT_FIELDS), frozenset(LIST_FIELDS)
DOT_ATOM = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*\Z")
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


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


TEXT, LIST, EXTRA = 0, 1, 2
Plan = Sequence[tuple[str, int]]


def column_plan(keys: Iterable[str]) -> Plan:
    """How each column of a record is read: profile text, a `;` list, or an extra field."""
    plan = []
    for name in keys:
        if not name or name in ("email", "tags") or name[0] == "_":
            continue
        plan.append((name, TEXT if name in TEXT_SET else LIST if name in LIST_SET else EXTRA))
    return plan


def validate_record(
    line: int, record: Mapping[str, Any], tags: Sequence[str], plan: Plan | None = None
) -> Row:
    """Turn one raw record into a Row; raise InputError with the reason.

    `plan` is the records' column plan when every record of a file has the same columns.
    """
    if record.get("__overflow__"):
        raise InputError("more values than header columns; quote values that contain the delimiter")
    raw_email = record.get("email")
    if not raw_email or not str(raw_email).strip():
        raise InputError("email is empty")
    values: dict[str, Any] = {"email": normalise_email(str(raw_email))}
    extra: dict[str, Any] = {}
    for name, kind in column_plan(record) if plan is None else plan:
        value = record[name]
        if value is None or value == "":
            continue
        if kind == TEXT:
            text = value.strip() if type(value) is str else str(value).strip()
            if text:
                values[name] = text
        elif kind == LIST:
            items = _split(value)
            if items:
                values[name] = items
        else:
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
    tags = sorted(set(tags))
    rows: list[Row] = []
    errors: list[RowError] = []
    seen: dict[str, int] = {}
    listed = list(records)
    # CSV records share one header: look at its columns once, not per row.
    shared = column_plan(listed[0][1]) if listed and _same_keys(listed) else None
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
