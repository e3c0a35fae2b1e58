"""Review queue: an index for the approval metrics (approved today, latest approvals).

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-27
"""

from collections.abc import Sequence

from alembic import op

revision: str = "0003"
down_revision: str | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_index("ix_drafts_approved_at", "drafts", ["approved_at"], unique=False)


def downgrade() -> None:
    op.drop_index("ix_drafts_approved_at", table_name="drafts")
