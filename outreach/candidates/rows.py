"""Validating candidate records: a file read into a `Table` (``candidate_files``) is checked
a column at a time: each
distinct timezone, language, skills list or mail domain is checked once however many records
repeat it, and the common checks run over whole columns in C (`map`, `zip`, compiled
patterns). Every bad record becomes a `RowError` naming its line, so an import can report
every bad row and still write the good ones in one transaction.
"""

from __future__ import annotations

import functools
import operator
import re
from collections.abc import Callable, Hashable, Sequence
from dataclasses import dataclass
from itertools import compress
from typing import Any

from email_validator import EmailNotValidError, validate_email

from outreach.candidates.files import Table
from outreach.config import check_timezone
from outreach.errors import InputError

TEXT_FIELDS = (
    "name",
    "headline",
    "company",
    "role",
    "location",
    "timezone",
    "language",
    "notes",
    "source",
)
LIST_FIELDS = ("skills", "achievements", "links")
TEXT_SET, LIST_SET = frozenset(TEXT_FIELDS), frozenset(LIST_FIELDS)
ATOM = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
DOT_ATOM = re.compile(rf"{ATOM}(\.{ATOM})*\Z")
# A plain address: an ASCII dot-atom local part of at most 64 characters, at most 254 in all.
# Its domain still has to pass email-validator (once per distinct domain).
PLAIN_ADDRESS = re.compile(rf"(?=[^@]{{1,64}}@)(?=.{{3,254}}\Z){ATOM}(\.{ATOM})*@[^@]+\Z")
LANGUAGE = re.compile(r"^[A-Za-z]{2,3}([-_][A-Za-z0-9]{2,8})?$")
LAST = operator.itemgetter(-1)


@dataclass(frozen=True)
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


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


# Validating ---------------------------------------------------------------------------------


def validate(table: Table, tags: Sequence[str]) -> tuple[Rows, list[RowError]]:
    """Check every record; the valid ones as Rows, the others as errors (first reason each).

    `tags` are added to every record's own. A repeated address is an error naming the line
    where it first appeared.
    """
    problems = dict(table.problems)
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
