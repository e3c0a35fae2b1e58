"""Reading candidate files into columns: CSV (header row) or JSON (a list of objects).

Text is UTF-8, or UTF-16/UTF-32 when a byte-order mark says so (cp1252 and Latin-1 are read with
a warning). Whatever a file holds, reading ends in a `Table` or one `InputError` naming the line:
a record that is bad in itself (a value over 128 KB, a NUL character, a JSON record nested too
deeply or not an object) is noted in `Table.problems` with its reason, and the records around it
are read as usual, so an import reports it on its line and still writes the good rows.
"""

from __future__ import annotations

import codecs
import csv
import io
import json
import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from itertools import compress
from pathlib import Path
from typing import Any

from outreach.errors import InputError

OVERFLOW = "more values than header columns; quote values that contain the delimiter"
MAX_VALUE = 128 * 1024  # characters in one value (the csv module's own default limit)
MAX_NESTING = 16  # lists and objects inside a JSON record's values
# Byte-order marks, longest first: UTF-32 LE's begins with UTF-16 LE's.
BOMS = (
    (codecs.BOM_UTF32_LE, "utf-32"),
    (codecs.BOM_UTF32_BE, "utf-32"),
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_JSON_TOKEN = re.compile(r'"(?:[^"\\]|\\.)*"|[][{},]')
TOO_LONG = f"the {{name!r}} value is longer than {MAX_VALUE:,} characters (128 KB); shorten it"
HAS_NUL = "the {name!r} value contains a NUL character (\\x00); remove it"


@dataclass
class Table:
    """A file's records as columns: `columns[name][i]` is record i's raw value."""

    lines: list[int]  # the line each record starts on
    columns: dict[str, Sequence[Any]]  # always has "email"; None or "" where a record has none
    problems: dict[int, str] = field(default_factory=dict)  # records found bad while reading

    def __len__(self) -> int:
        return len(self.lines)


def read_text(path: Path) -> tuple[str, list[str]]:
    """Read a file as UTF-8, or as the UTF-16/32 its byte-order mark names; else cp1252/Latin-1."""
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    for bom, encoding in BOMS:
        if data.startswith(bom):
            try:
                return data.decode(encoding), []
            except UnicodeDecodeError as exc:
                raise InputError(
                    f"{path}: not valid {encoding.upper().removesuffix('-SIG')} at byte "
                    f"{exc.start}, though it starts like it; save it as UTF-8"
                ) from None
    if data.count(b"\x00") > len(data) // 4:  # every other (or third) byte: UTF-16/32 text
        raise InputError(
            f"{path}: looks like UTF-16 or UTF-32 without a byte-order mark; save it as UTF-8"
        )
    try:
        return data.decode("utf-8"), []
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
        table = _json_table(path, text)
        _check_values(table, text, lengths=True)
    else:
        table, long_values = _csv_table(path, text)
        _check_values(table, text, lengths=long_values)
    return table, warnings


def _csv_table(path: Path, text: str) -> tuple[Table, bool]:
    """The table, and whether a value is longer than MAX_VALUE (the csv module's limit)."""
    header = text.split("\n", 1)[0]
    delimiter = ";" if header.count(";") > header.count(",") else ","
    limit = csv.field_size_limit()
    try:
        csv.field_size_limit(MAX_VALUE)
        try:
            return _csv_parsed(path, text, delimiter), False
        except csv.Error as exc:
            if "field limit" not in str(exc):
                raise InputError(f"{path}: not a CSV file we can read ({exc})") from None
        # A value over MAX_VALUE stopped the csv module mid-file: read it all again without
        # the limit (no field is longer than the file) and report such values on their lines.
        csv.field_size_limit(max(MAX_VALUE, len(text)))
        return _csv_parsed(path, text, delimiter), True
    finally:
        csv.field_size_limit(limit)


def _csv_parsed(path: Path, text: str, delimiter: str) -> Table:
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    names = [name.strip().lower() for name in next(reader)]
    if any("\x00" in name for name in names):
        raise InputError(f"{path}, line 1: a column name contains a NUL character (\\x00)")
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
    problems: dict[int, str] = {}
    if set(map(len, records)) - {width}:
        for index, record in enumerate(records):
            if len(record) > width:
                if any(value.strip() for value in record[width:]):
                    problems[index] = OVERFLOW
                del record[width:]
            elif len(record) < width:
                record.extend([""] * (width - len(record)))
    columns = list(zip(*records, strict=True)) if records else [()] * width
    table: dict[str, Sequence[Any]] = {
        name: column for name, column in zip(names, columns, strict=True) if name
    }
    return Table(lines, table, problems)


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
    problems: dict[int, str] = {}
    line, counted = 1, 0
    while index < len(text) and text[index] != "]":
        line += text.count("\n", counted, index)
        counted = index
        problem = None
        try:
            value, index = decoder.raw_decode(text, index)
        except json.JSONDecodeError as exc:
            raise InputError(f"{path}, line {exc.lineno}: invalid JSON: {exc.msg}") from None
        except RecursionError:
            value, index = None, _skip_value(text, index)
            problem = f"nested more than {MAX_NESTING} lists or objects deep"
        except ValueError as exc:  # a number too long to convert: Python's 4,300-digit limit
            value, index = None, _skip_value(text, index)
            problem = f"a value is not usable: {str(exc).split(':')[0]}"
        if problem is None and not isinstance(value, dict):
            problem = "expected an object with an email field"
        if problem is None and _nesting(value) > MAX_NESTING:
            problem = f"nested more than {MAX_NESTING} lists or objects deep"
        if problem is not None:
            problems[len(records)] = problem
            value = {}
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
    return Table(lines, columns, problems)


def _skip_value(text: str, index: int) -> int:
    """The end of the JSON value at `index`, found without recursion (it may nest deeply)."""
    depth = 0
    for token in _JSON_TOKEN.finditer(text, index):
        mark = token.group()
        if mark in "[{":
            depth += 1
        elif mark in "]}" or (mark == "," and not depth):
            if not depth:
                return token.start()
            depth -= 1
            if not depth:
                return token.end()
    return len(text)


def _skip_space(text: str, index: int) -> int:
    while index < len(text) and text[index] in " \t\r\n":
        index += 1
    return index


def _nesting(value: Any, depth: int = 0) -> int:
    """How deeply lists and objects nest in a value, counted up to just past MAX_NESTING."""
    if depth > MAX_NESTING or not isinstance(value, list | dict):
        return depth
    items = value.values() if isinstance(value, dict) else value
    return max((_nesting(item, depth + 1) for item in items), default=depth + 1)


def _check_values(table: Table, text: str, *, lengths: bool) -> None:
    """Note records with a NUL character or (`lengths`) a value longer than MAX_VALUE."""
    has_nul = "\x00" in text or "\\u0000" in text  # JSON may escape it
    if not (lengths or has_nul):
        return
    for name, column in table.columns.items():
        if lengths:
            _note(table, name, [_size(value) > MAX_VALUE for value in column], TOO_LONG)
        if has_nul:
            _note(table, name, [_has_nul(value) for value in column], HAS_NUL)


def _note(table: Table, name: str, bad: Sequence[bool], reason: str) -> None:
    for index in compress(range(len(bad)), bad):
        table.problems.setdefault(index, reason.format(name=name))


def _size(value: Any) -> int:
    """The length of a text value, or of a JSON list or object written out."""
    if isinstance(value, str):
        return len(value)
    if isinstance(value, list | dict):
        return len(json.dumps(value, ensure_ascii=False))
    return 0


def _has_nul(value: Any) -> bool:
    if isinstance(value, str):
        return "\x00" in value
    if isinstance(value, dict):
        return any(_has_nul(k) or _has_nul(v) for k, v in value.items())
    return isinstance(value, list) and any(map(_has_nul, value))
