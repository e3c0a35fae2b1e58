"""Candidates: where their data came from (`source`) and a search index over them.

`search_text` holds the words a recruiter searches by (name, email, company, tags, skills),
folded to lower-case ASCII-ish words by ``outreach.candidates.search.terms``. SQLite indexes it
with an FTS5 table kept current by triggers; PostgreSQL with a GIN index over a stored
tsvector column, `search_vector`.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01
"""

import re
import unicodedata
from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from alembic import op

revision: str = "0010"
down_revision: str | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

_NOT_WORD = re.compile(r"[\W_]+")


def _terms(*parts: str) -> str:
    # A copy of outreach.candidates.search.terms as it was when this migration was written.
    text = unicodedata.normalize("NFKD", " ".join(parts))
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).casefold()
    return " ".join(_NOT_WORD.sub(" ", text).split())


def upgrade() -> None:
    # Plain ALTER TABLE on both engines: a batch copy of `candidates` on SQLite would drop the
    # table, and with it (ON DELETE CASCADE) everything the candidates own.
    op.add_column("candidates", sa.Column("source", sa.Text(), nullable=False, server_default=""))
    op.add_column(
        "candidates", sa.Column("search_text", sa.Text(), nullable=False, server_default="")
    )
    bind = op.get_bind()
    tags: dict[int, list[str]] = {}
    for cid, tag in bind.execute(sa.text("select candidate_id, tag from candidate_tags")):
        tags.setdefault(cid, []).append(tag)
    rows = bind.execute(sa.text("select id, email, name, company, skills from candidates")).all()
    skills_type = sa.JSON()
    processor = skills_type.result_processor(bind.dialect, None)
    updates = []
    for cid, email, name, company, raw in rows:
        skills: Any = (processor(raw) if processor and isinstance(raw, str) else raw) or []
        words = _terms(name or "", email or "", company or "", *tags.get(cid, []), *skills)
        updates.append({"i": cid, "t": words})
    if updates:
        bind.execute(sa.text("update candidates set search_text = :t where id = :i"), updates)
    if bind.dialect.name == "sqlite":
        op.execute(
            "CREATE VIRTUAL TABLE candidates_fts USING fts5(search_text, content='candidates', "
            "content_rowid='id', tokenize='unicode61', prefix='1 2 3')"
        )
        op.execute("INSERT INTO candidates_fts(candidates_fts) VALUES ('rebuild')")
        op.execute(
            # An import indexes its rows in one statement instead (outreach.candidates.search):
            # a trigger per row makes a 100,000-row import about ten times slower.
            "CREATE TRIGGER candidates_fts_insert AFTER INSERT ON candidates "
            "WHEN NOT EXISTS (SELECT 1 FROM meta WHERE key = 'search_bulk') BEGIN "
            "INSERT INTO candidates_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER candidates_fts_delete AFTER DELETE ON candidates BEGIN "
            "INSERT INTO candidates_fts(candidates_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); END"
        )
        op.execute(
            "CREATE TRIGGER candidates_fts_update AFTER UPDATE OF search_text ON candidates BEGIN "
            "INSERT INTO candidates_fts(candidates_fts, rowid, search_text) "
            "VALUES ('delete', old.id, old.search_text); "
            "INSERT INTO candidates_fts(rowid, search_text) VALUES (new.id, new.search_text); END"
        )
    else:
        # A stored vector (not an index over an expression) lets the planner also walk the
        # primary key backwards and test each row cheaply when most candidates match.
        op.execute(
            "ALTER TABLE candidates ADD COLUMN search_vector tsvector GENERATED ALWAYS AS "
            "(to_tsvector('simple'::regconfig, search_text)) STORED"
        )
        op.execute("CREATE INDEX ix_candidates_search ON candidates USING gin (search_vector)")
    op.create_index("ix_candidates_source", "candidates", ["source"])


def downgrade() -> None:
    op.drop_index("ix_candidates_source", table_name="candidates")
    if op.get_bind().dialect.name == "sqlite":
        for name in ("insert", "delete", "update"):
            op.execute(f"DROP TRIGGER candidates_fts_{name}")
        op.execute("DROP TABLE candidates_fts")
    else:
        op.execute("DROP INDEX ix_candidates_search")
        op.execute("ALTER TABLE candidates DROP COLUMN search_vector")
    op.drop_column("candidates", "search_text")  # SQLite 3.35+ drops a column in place
    op.drop_column("candidates", "source")
