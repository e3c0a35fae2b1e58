"""Reliability: per-message send progress in the outbox, and the background loops' health.

``outbox.started_at`` is set, durably, before a message's DATA command; ``claim_epoch`` names
what a claim's progress marks were written under (see ``outreach.sending.sender``). ``health`` keeps
one row per background loop of `outreach serve`.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-01
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0006"
down_revision: str | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(sa.Column("started_at", sa.DateTime(), nullable=True))
        batch.add_column(
            sa.Column("claim_epoch", sa.String(length=80), nullable=False, server_default="")
        )
    op.create_table(
        "health",
        sa.Column("component", sa.String(length=32), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("owner", sa.String(length=300), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("error", sa.Text(), nullable=False),
        sa.Column("failures", sa.Integer(), nullable=False),
        sa.Column("last_success_at", sa.DateTime(), nullable=True),
        sa.Column("last_failure_at", sa.DateTime(), nullable=True),
        sa.Column("failing_since", sa.DateTime(), nullable=True),
        sa.Column("next_try_at", sa.DateTime(), nullable=True),
        sa.Column("updated_at", sa.DateTime(), nullable=False),
        sa.PrimaryKeyConstraint("component", name=op.f("pk_health")),
    )


def downgrade() -> None:
    op.drop_table("health")
    # In place, not batch mode: rebuilding a table on SQLite runs its foreign-key cascades.
    op.drop_column("outbox", "claim_epoch")
    op.drop_column("outbox", "started_at")
