"""The store: engine, sessions and migrations. SQLite (WAL, foreign keys) or PostgreSQL."""

from __future__ import annotations

from outreach.store.engine import Store, open_store

__all__ = ["Store", "open_store"]
