"""Bulk inserts for imports: COPY on PostgreSQL, one executemany on SQLite.

SQLAlchemy's executemany spends most of its time building per-row parameters; for a
100,000-row import we convert only the columns that need it (JSON, times) with the column
types' own bind processors, remember conversions of repeated values, and hand the driver
plain rows.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Hashable, Sequence
from typing import Any

from sqlalchemy import JSON, Table
from sqlalchemy.orm import Session

Process = Callable[[Any], Any]


def _remembering(process: Process) -> Process:
    """Wrap a converter so repeated values (the same skills, the same timestamp) convert once."""
    seen: dict[Hashable, Any] = {}
    last: list[Any] = [object(), None]  # the previous value (by identity) and its result

    def run(value: Any) -> Any:
        if value is last[0]:
            return last[1]
        kind = type(value)
        key = tuple(value) if kind is list else tuple(value.items()) if kind is dict else value
        try:
            result = seen[key]
        except KeyError:
            result = seen[key] = process(value)
        except TypeError:  # unhashable inside (a list of dicts): convert it every time
            result = process(value)
        last[0], last[1] = value, result
        return result

    return run


def bulk_insert(
    session: Session, table: Table, columns: Sequence[str], rows: Sequence[Sequence[Any]]
) -> None:
    """Insert rows (value tuples in `columns` order) into table, in the session's transaction."""
    if not rows:
        return
    connection = session.connection()
    dialect = connection.dialect
    converters: list[tuple[int, Process]] = []
    for index, name in enumerate(columns):
        column_type = table.c[name].type
        # COPY takes JSON as text; psycopg's own JSON adapter does not apply there.
        copy_json = dialect.name == "postgresql" and isinstance(column_type, JSON)
        convert: Process | None = json.dumps if copy_json else column_type.bind_processor(dialect)
        if convert is not None:
            converters.append((index, _remembering(convert)))
    values: Sequence[Sequence[Any]] = rows
    if converters:
        # Column by column: transposing and zipping back run in C, the converters once a value.
        columns_of = list(zip(*rows, strict=True))
        for index, convert_one in converters:
            columns_of[index] = tuple(map(convert_one, columns_of[index]))
        values = list(zip(*columns_of, strict=True))
    names = ", ".join(f'"{name}"' for name in columns)
    if dialect.name == "postgresql":
        raw = connection.connection.driver_connection
        with raw.cursor() as cursor:  # type: ignore[union-attr]
            with cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN') as copy:
                for prepared_row in values:
                    copy.write_row(prepared_row)
        return
    marks = ", ".join("?" if dialect.paramstyle == "qmark" else "%s" for _ in columns)
    connection.exec_driver_sql(f'INSERT INTO "{table.name}" ({names}) VALUES ({marks})', values)
