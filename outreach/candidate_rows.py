"""Reading and validating candidate files: CSV (header row) or JSON (a list of objects).

A file is read into a `Table`, column by column, and validated a column at a time: each
distinct timezone, language, skills list or mail domain is checked once however many records
repeat it, and the common checks run over whole columns in C (`map`, `zip`, compiled
patterns). Every bad record becomes a `RowError` naming its line, so an import can report
every bad row and still write the good ones in one transaction.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import operator
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any

from email_validator import EmailNotValidError, validate_email

from .config import check_timezone
from .errors import InputError

TEXT_FIELDS = ("name", "headline", "company", "role", "location", "timezone", "language", "notes")
LIST_FIELDS = ("skills", "achievements", "links")
TEXT_SET, LIST_SET = frozenset(TEXT_FIELDS), frozenset(LIST_FIELDS)
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
DOT_ATOM = re.compile(rf"{ATOM}(\.{ATOM})*\Z")
# A plain address: an ASCII dot-atom local part of at most 64 characters, at most 254 in all.
# Its domain still has to pass email-validator (once per distinct domain).
PLAIN_ADDRESS = re.compile(rf"(?=[^@]{{1,64}}@)(?=.{{3,254}}\Z){ATOM}(\.{ATOM})*@[^@]+\Z")
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")
LAST = operator.itemgetter(-1)
OVERFLOW = "more values than header columns; quote values that contain the delimiter"


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Table:
    """A file's records as columns: `columns[name][i]` is record i's raw value."""

    lines: list[int]  # the line each record starts on
    columns: dict[str, Sequence[Any]]  # always has "email"; None or "" where a record has none
    overflow: set[int] = field(default_factory=set)  # records with more values than columns

    def __len__(self) -> int:
        return len(self.lines)


@dataclass
class Rows:
    """Valid records as columns, ready to write: every list has one entry per record."""

    lines: list[int]
    emails: list[str]
    fields: dict[str, list[Any]]  # the profile fields the file has: text ("" if empty) or tuples
    extra: list[dict[str, Any]] | None  # None when the file has no extra columns
    tags: list[tuple[str, ...]]

    def __len__(self) -> int:
        return len(self.lines)

    def given(self, index: int) -> dict[str, Any]:
        """The values record `index` gives, as for a candidate; empty ones are left out."""
        values: dict[str, Any] = {}
        for name, column in self.fields.items():
            value = column[index]
            if value:
                values[name] = list(value) if name in LIST_SET else value
        if self.extra and self.extra[index]:
            values["extra"] = self.extra[index]
        return values

    def subset(self, keep: Sequence[int]) -> Rows:
        """The records at the indexes `keep`, in that order."""

        def pick(column: Sequence[Any]) -> list[Any]:
            return [column[i] for i in keep]

        return Rows(
            lines=pick(self.lines),
            emails=pick(self.emails),
            fields={name: pick(column) for name, column in self.fields.items()},
            extra=None if self.extra is None else pick(self.extra),
            tags=pick(self.tags),
        )


def normalise_email(raw: str) -> str:
    """Validate an address (syntax only, no DNS) and return its normalised, lower-case form."""
    address = raw.strip()
    local, at, domain = address.rpartition("@")
    # The usual plain ASCII local part: the domain, the costly part to check, is validated by
    # email-validator once per distinct domain. Anything else takes the full validation.
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


def _is_plain_domain(domain: str) -> bool:
    """Whether email-validator accepts the domain and leaves it exactly as it is."""
    try:
        return _domain(domain) == domain
    except EmailNotValidError:
        return False


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


def read_table(path: Path) -> tuple[Table, list[str]]:
    """A file's records as a Table, from a CSV (header row) or a JSON list; and any warnings."""
    text, warnings = read_text(path)
    if not text.strip():
        raise InputError(f"{path}: the file is empty; it needs a header row with an email column")
    if path.suffix.lower() == ".json" or text.lstrip().startswith("["):
        return _json_table(path, text), warnings
    return _csv_table(path, text), warnings


def _csv_table(path: Path, text: str) -> Table:
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    names = [name.strip().lower() for name in next(reader)]
    if "email" not in names:
        raise InputError(
            f"{path}, line 1: no 'email' column (found: {', '.join(names) or 'nothing'}); "
            "add a header row with an email column"
        )
    repeated = sorted({name for name in names if name and names.count(name) > 1})
    if repeated:
        raise InputError(f"{path}, line 1: the column {repeated[0]!r} appears twice; keep one")
    records, lines = _csv_records(reader, text, delimiter)
    width = len(names)
    overflow: set[int] = set()
    if set(map(len, records)) - {width}:
        for index, record in enumerate(records):
            if len(record) > width:
                if any(value.strip() for value in record[width:]):
                    overflow.add(index)
                del record[width:]
            elif len(record) < width:
                record.extend([""] * (width - len(record)))
    columns = list(zip(*records, strict=True)) if records else [()] * width
    table: dict[str, Sequence[Any]] = {
        name: column for name, column in zip(names, columns, strict=True) if name
    }
    return Table(lines, table, overflow)


def _csv_records(reader: Any, text: str, delimiter: str) -> tuple[list[list[str]], list[int]]:
    """The records after the header and the line each starts on; blank lines are no records."""
    records = list(reader)
    if reader.line_num == len(records) + 1:  # one line each: no value spans lines
        lines = list(range(2, len(records) + 2))
        if [] in records:
            lines = [line for line, record in zip(lines, records, strict=True) if record]
            records = [record for record in records if record]
        return records, lines
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    next(reader)
    records, lines = [], []
    line = reader.line_num + 1
    for record in reader:
        if record:
            records.append(record)
            lines.append(line)
        line = reader.line_num + 1
    return records, lines


def _json_table(path: Path, text: str) -> Table:
    decoder = json.JSONDecoder()
    index = _skip_space(text, 0)
    if index >= len(text) or text[index] != "[":
        raise InputError(f"{path}, line 1: expected a JSON list of objects, one per candidate")
    index = _skip_space(text, index + 1)
    records: list[dict[str, Any]] = []
    lines: list[int] = []
    while index < len(text) and text[index] != "]":
        line = text.count("\n", 0, index) + 1
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {exc.lineno}: invalid JSON: {exc.msg}") from None
        if not isinstance(value, dict):
            raise InputError(f"{path}, line {line}: expected an object with an email field")
        records.append({str(k).strip().lower(): v for k, v in value.items()})
        lines.append(line)
        index = _skip_space(text, index)
        if index < len(text) and text[index] == ",":
            index = _skip_space(text, index + 1)
    if index >= len(text):
        line = text.count("\n") + 1
        raise InputError(f"{path}, line {line}: the JSON list is not closed with ]")
    names = dict.fromkeys(["email", *(name for record in records for name in record if name)])
    columns: dict[str, Sequence[Any]] = {
        name: [record.get(name) for record in records] for name in names
    }
    return Table(lines, columns)


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


# Validating ---------------------------------------------------------------------------------


def validate(table: Table, tags: Sequence[str]) -> tuple[Rows, list[RowError]]:
    """Check every record; the valid ones as Rows, the others as errors (first reason each).

    `tags` are added to every record's own. A repeated address is an error naming the line
    where it first appeared.
    """
    problems = dict.fromkeys(table.overflow, OVERFLOW)
    emails = normalise_emails(table.columns["email"], problems)
    fields: dict[str, list[Any]] = {}
    for name, column in table.columns.items():
        if name in TEXT_SET:
            fields[name] = _texts(column)
        elif name in LIST_SET:
            fields[name] = _each_distinct(column, _split)
    if "timezone" in fields:
        _check(fields["timezone"], _timezone_problem, problems)
    if "language" in fields:
        _check(fields["language"], _language_problem, problems)
        fields["language"] = _each_distinct(fields["language"], lambda code: code.replace("_", "-"))
    extra = _extra(table)
    fixed = sorted(set(tags))
    own = table.columns.get("tags")
    if own is None:
        tag_lists = [tuple(fixed)] * len(table)
    else:
        tag_lists = _each_distinct(own, lambda value: tuple(sorted({*_split(value), *fixed})))
    if problems or len(set(emails)) != len(emails):
        _check_repeats(emails, table.lines, problems)
    rows = Rows(table.lines, emails, fields, extra, tag_lists)
    errors = [RowError(table.lines[i], problems[i]) for i in sorted(problems)]
    if problems:
        rows = rows.subset([i for i in range(len(table)) if i not in problems])
    return rows, errors


def normalise_emails(column: Sequence[Any], problems: dict[int, str]) -> list[str]:
    """Normalised addresses ("" where one is bad, with the reason in `problems`)."""
    lowered = list(map(str.lower, _texts(column)))
    # The common case runs over the whole column in C: a plain ASCII address whose domain
    # email-validator leaves as it is. The rest go through normalise_email one by one.
    domains = list(map(LAST, map(operator.methodcaller("rpartition", "@"), lowered)))
    plain_domains = {domain for domain in set(domains) if _is_plain_domain(domain)}
    matched = map(bool, map(PLAIN_ADDRESS.match, lowered))
    plain = map(operator.and_, matched, map(plain_domains.__contains__, domains))
    for index in list(compress(range(len(lowered)), map(operator.not_, plain))):
        address = lowered[index]
        if not address:
            problems.setdefault(index, "email is empty")
            continue
        try:
            lowered[index] = normalise_email(_texts([column[index]])[0])
        except InputError as exc:
            problems.setdefault(index, str(exc))
            lowered[index] = ""
    return lowered


def _texts(column: Sequence[Any]) -> list[str]:
    """Values as stripped text; "" for none."""
    try:
        return list(map(str.strip, column))
    except TypeError:  # JSON: null, numbers, lists
        return [
            "" if v is None else v.strip() if type(v) is str else str(v).strip() for v in column
        ]


def _each_distinct(column: Sequence[Any], convert: Callable[[Any], Any]) -> list[Any]:
    """`convert` applied to every value, once per distinct value when they are all text."""
    if set(map(type, column)) <= {str}:
        known = {value: convert(value) for value in set(column)}
        return list(map(known.__getitem__, column))
    return [convert(value) for value in column]  # JSON: lists are unhashable, and 1 == True


def _split(value: Any) -> tuple[str, ...]:
    if _empty(value):
        return ()
    if isinstance(value, list):
        return tuple(text for text in (str(v).strip() for v in value) if text)
    return tuple(filter(None, map(str.strip, str(value).split(";"))))


def _check(
    column: Sequence[str], problem: Callable[[str], str | None], problems: dict[int, str]
) -> None:
    """Record the problem of each bad value, checking every distinct value once."""
    bad = {value: reason for value in set(column) if value and (reason := problem(value))}
    if bad:
        for index in compress(range(len(column)), map(bad.__contains__, column)):
            problems.setdefault(index, bad[column[index]])


def _timezone_problem(value: str) -> str | None:
    try:
        check_timezone(value)
    except ValueError as exc:
        return f"timezone: {exc}"
    return None


def _language_problem(value: str) -> str | None:
    if LANGUAGE.match(value):
        return None
    return f"language {value!r}: use a code like en, sv or pt-BR"


def _extra(table: Table) -> list[dict[str, Any]] | None:
    """Per record, the columns outreach has no field for, kept as they are; None if none."""
    names = [name for name in table.columns if name not in ("email", "tags", *TEXT_SET, *LIST_SET)]
    if not names:
        return None
    columns = [table.columns[name] for name in names]
    return [
        {name: value for name, value in zip(names, values, strict=True) if not _empty(value)}
        for values in zip(*columns, strict=True)
    ]


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _check_repeats(emails: Sequence[str], lines: Sequence[int], problems: dict[int, str]) -> None:
    seen: dict[Hashable, int] = {}
    for index, email in enumerate(emails):
        if index in problems:
            continue
        first = seen.setdefault(email, index)
        if first != index:
            problems[index] = f"{email} repeats line {lines[first]}"
