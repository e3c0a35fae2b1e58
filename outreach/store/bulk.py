"""Bulk inserts for imports: COPY on PostgreSQL, one executemany on SQLite.

SQLAlchemy's executemany spends most of its time building per-row parameters; for a
100,000-row import we prepare the values once per column with the column types' own bind
processors, then hand the driver plain tuples.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session


def bulk_insert(session: Session, table: Table, rows: Sequence[Mapping[str, Any]]) -> None:
    """Insert rows (dicts with the same keys) into table, inside the session's transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    names = list(rows[0])
    processors: list[Callable[[Any], Any] | None] = [
        # COPY takes JSON as text; psycopg's own JSON adapter does not apply there.
        json.dumps
        if dialect.name == "postgresql" and isinstance(table.c[name].type, JSON)
        else table.c[name].type.bind_processor(dialect)
        for name in names
    ]
    plan = list(zip(names, processors, strict=True))
    values = [
        tuple(row[name] if process is None else process(row[name]) for name, process in plan)
        for row in rows
    ]
    columns = ", ".join(f'"{name}"' for name in names)
    if dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(f'COPY "{table.name}" ({columns}) FROM STDIN') as copy:
                for value in values:
                    copy.write_row(value)
        return
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in names)
    connection.exec_driver_sql(f'INSERT INTO "{table.name}" ({columns}) VALUES ({marks})', values)
