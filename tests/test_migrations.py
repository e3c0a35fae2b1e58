"""The SQLAlchemy models and the Alembic migrations describe the same schema, on both engines.

The candidate search index is engine-specific and lives in migration 0010 only, not in the
models: SQLite's FTS5 table (and its shadow tables), PostgreSQL's stored ``search_vector``
column with its GIN index (``outreach.candidates.search`` queries them with SQL). The
comparison leaves exactly those out.
"""

from __future__ import annotations

from typing import Any

from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from outreach.store import Store
from outreach.store.models import Base

SEARCH_TABLE = "candidates_fts"  # SQLite FTS5, with candidates_fts_data, _idx, ...
SEARCH_COLUMN, SEARCH_INDEX = "search_vector", "ix_candidates_search"  # PostgreSQL


def _modelled(_: Any, name: str | None, kind: str, reflected: bool, __: Any) -> bool:
    """Leave out the engine-specific search objects that only the migrations create."""
    if kind == "table" and name and name.startswith(SEARCH_TABLE):
        return False
    return not (reflected and name in (SEARCH_COLUMN, SEARCH_INDEX))


def test_autogenerate_finds_nothing_to_migrate(store: Store) -> None:
    with store.engine.connect() as connection:
        context = MigrationContext.configure(
            connection,
            opts={
                "compare_type": True,
                "compare_server_default": False,
                "include_object": _modelled,
            },
        )
        differences = compare_metadata(context, Base.metadata)
    assert differences == [], "models and migrations disagree; write a migration:\n" + "\n".join(
        map(str, differences)
    )
