"""Conversations both ways: "no answer needed" with its reason, interviews, our messages' outbox.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0011"
down_revision: str | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    # Plain ADD COLUMN: a batch rebuild of these tables on SQLite would cascade-delete rows.
    op.add_column("conversations", sa.Column("no_answer_at", sa.DateTime(), nullable=True))
    op.add_column(
        "conversations",
        sa.Column("no_answer_reason", sa.Text(), nullable=False, server_default=""),
    )
    op.add_column("candidates", sa.Column("interviewed_at", sa.DateTime(), nullable=True))
    op.create_index(op.f("ix_messages_outbox_id"), "messages", ["outbox_id"], unique=False)


def downgrade() -> None:
    op.drop_index(op.f("ix_messages_outbox_id"), table_name="messages")
    op.drop_column("candidates", "interviewed_at")
    op.drop_column("conversations", "no_answer_reason")
    op.drop_column("conversations", "no_answer_at")
