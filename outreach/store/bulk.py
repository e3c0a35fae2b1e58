"""Bulk inserts for imports: COPY on PostgreSQL, one executemany on SQLite.

SQLAlchemy's executemany spends most of its time building per-row parameters. Here the
caller hands over columns; only the values that need it are converted (JSON, and times on
SQLite, with the column types' own bind processors), each distinct object once, and the
driver gets plain rows zipped together in C.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from itertools import repeat
from json.encoder import encode_basestring_ascii
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import Session
from sqlalchemy.types import TypeEngine

Process = Callable[[Any], Any]


def json_text(value: Any) -> str:
    """`json.dumps(value)`, quicker for the usual list of strings."""
    if type(value) is tuple or type(value) is list:
        try:
            return "[" + ", ".join(map(encode_basestring_ascii, value)) + "]"
        except TypeError:  # not all strings
            pass
    return json.dumps(value)


def _converter(column_type: TypeEngine[Any], dialect: Dialect) -> Process | None:
    if isinstance(column_type, JSON):
        return json_text  # what SQLAlchemy stores, and what COPY takes as JSON text
    return column_type.dialect_impl(dialect).bind_processor(dialect)


def _each_object_once(process: Process, values: Sequence[Any]) -> list[Any]:
    """`process` over values, once per distinct object (values repeat the same list or dict)."""
    # Keyed by id(): every value stays alive in `values` while the ids are in use.
    distinct = {id(value): value for value in values}
    done = {key: process(value) for key, value in distinct.items()}
    return list(map(done.__getitem__, map(id, values)))


def bulk_insert(
    session: Session,
    table: Table,
    columns: Mapping[str, Sequence[Any]],
    same: Mapping[str, Any] | None = None,
) -> None:
    """Insert rows in the session's transaction: `columns` give a value per row, `same` one for all.

    Every sequence in `columns` has one value per row.
    """
    count = len(next(iter(columns.values())))
    if not count:
        return
    connection = session.connection()
    dialect = connection.dialect
    names: list[str] = []
    prepared: list[Any] = []
    for name, values in columns.items():
        convert = _converter(table.c[name].type, dialect)
        names.append(name)
        prepared.append(values if convert is None else _each_object_once(convert, values))
    for name, value in (same or {}).items():
        convert = _converter(table.c[name].type, dialect)
        names.append(name)
        prepared.append(repeat(value if convert is None else convert(value), count))
    rows = zip(*prepared, strict=True)
    quoted = ", ".join(f'"{name}"' for name in names)
    raw: Any = connection.connection.driver_connection
    if dialect.name == "postgresql":
        with raw.cursor() as cursor:
            with cursor.copy(f'COPY "{table.name}" ({quoted}) FROM STDIN') as copy:
                for row in rows:
                    copy.write_row(row)
        return
    # sqlite3 runs the whole insert in C, in the transaction the session began.
    cursor = raw.cursor()
    try:
        marks = ", ".join("?" for _ in names)
        cursor.executemany(f'INSERT INTO "{table.name}" ({quoted}) VALUES ({marks})', rows)
    finally:
        cursor.close()
