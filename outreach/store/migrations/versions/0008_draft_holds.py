"""Drafts: a hold reason, shown until a person decides again (automation never cancels their work).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0008"
down_revision: str | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("drafts") as batch:
        batch.add_column(sa.Column("hold_reason", sa.Text(), nullable=False, server_default=""))


def downgrade() -> None:
    # Not batch mode: rebuilding `drafts` on SQLite would cascade-delete their outbox rows.
    op.drop_column("drafts", "hold_reason")
