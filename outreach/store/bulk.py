"""Bulk inserts for imports: COPY on PostgreSQL, one executemany on SQLite.

SQLAlchemy's executemany spends most of its time building per-row parameters; for a
100,000-row import we convert only the columns that need it (JSON, times) with the column
types' own bind processors, remember conversions of repeated values, and hand the driver
plain rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

Process = Callable[[Any], Any]


def _key(value: Any) -> Hashable | None:
    """A hashable stand-in for a value, or None when it has none."""
    if isinstance(value, list):
        return ("list", *value) if all(isinstance(v, str) for v in value) else None
    if isinstance(value, dict):
        items = tuple(value.items())
        return ("dict", *items) if all(isinstance(v, str) for _, v in items) else None
    return value if isinstance(value, Hashable) else None


def _remembering(process: Process) -> Process:
    """Wrap a converter so repeated values (the same skills, the same timestamp) convert once."""
    seen: dict[Hashable, Any] = {}

    def run(value: Any) -> Any:
        key = _key(value)
        if key is None:
            return process(value)
        try:
            return seen[key]
        except KeyError:
            seen[key] = result = process(value)
            return result

    return run


def bulk_insert(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows (dicts with the same keys) into table, inside the session's transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    names = list(rows[0])
    converters: list[tuple[int, Process]] = []
    for index, name in enumerate(names):
        column_type = table.c[name].type
        # COPY takes JSON as text; psycopg's own JSON adapter does not apply there.
        copy_json = dialect.name == "postgresql" and isinstance(column_type, JSON)
        convert: Process | None = json.dumps if copy_json else column_type.bind_processor(dialect)
        if convert is not None:
            converters.append((index, _remembering(convert)))
    values = []
    for row in rows:
        value = [row[name] for name in names]
        for index, convert_one in converters:
            value[index] = convert_one(value[index])
        values.append(tuple(value))
    columns = ", ".join(f'"{name}"' for name in names)
    if dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
                for prepared in values:
                    copy.write_row(prepared)
        return
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in names)
    connection.exec_driver_sql(f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})', values)
