"""Approvals cover what the recipient sees; frozen bytes keep their own hash.

An approval's hash now covers the recipient's name and address, the subject as sent, the body
and the thread. Approvals recorded before covered the subject and body only, so they cannot be
trusted for the rest: drafts approved (or queued and never sent) go back to pending with the
reason on the draft, and a person approves them again. Every outbox row gets the SHA-256 of
its frozen bytes, which the sender checks before sending.

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-01
"""

import hashlib
from collections.abc import Sequence
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision: str = "0005"
down_revision: str | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

REASON = (
    "approval withdrawn: it was approved before approvals covered the recipient's name and "
    "address and the thread (outreach 0005); check the draft and approve it again"
)

outbox = sa.table(
    "outbox",
    sa.column("id", sa.Integer),
    sa.column("draft_id", sa.Integer),
    sa.column("raw", sa.LargeBinary),
    sa.column("raw_hash", sa.String),
    sa.column("state", sa.String),
    sa.column("wait_reason", sa.Text),
    sa.column("updated_at", sa.DateTime),
)
drafts = sa.table(
    "drafts",
    sa.column("id", sa.Integer),
    sa.column("candidate_id", sa.Integer),
    sa.column("status", sa.String),
    sa.column("approved_by", sa.String),
    sa.column("approved_at", sa.DateTime),
    sa.column("approved_revision", sa.Integer),
    sa.column("approved_hash", sa.String),
    sa.column("error", sa.Text),
    sa.column("updated_at", sa.DateTime),
)
events = sa.table(
    "events",
    sa.column("at", sa.DateTime),
    sa.column("actor", sa.String),
    sa.column("action", sa.String),
    sa.column("subject_type", sa.String),
    sa.column("subject_id", sa.Integer),
    sa.column("candidate_id", sa.Integer),
    sa.column("details", sa.JSON),
)


def upgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.add_column(
            sa.Column("raw_hash", sa.String(length=64), nullable=False, server_default="")
        )
    bind = op.get_bind()
    hashes = [
        {"row_id": row_id, "digest": hashlib.sha256(raw).hexdigest()}
        for row_id, raw in bind.execute(sa.select(outbox.c.id, outbox.c.raw))
    ]
    if hashes:
        bind.execute(
            outbox.update()
            .where(outbox.c.id == sa.bindparam("row_id"))
            .values(raw_hash=sa.bindparam("digest")),
            hashes,
        )
    now = datetime.now(UTC).replace(tzinfo=None)  # the store keeps naive UTC
    waiting = drafts.c.status.in_(("approved", "queued"))
    withdrawn = list(bind.execute(sa.select(drafts.c.id, drafts.c.candidate_id).where(waiting)))
    bind.execute(
        outbox.update()
        .where(outbox.c.state == "queued")
        .values(state="cancelled", wait_reason=REASON, updated_at=now)
    )
    bind.execute(
        drafts.update()
        .where(waiting)
        .values(
            status="pending",
            approved_by=None,
            approved_at=None,
            approved_revision=None,
            approved_hash=None,
            error=REASON,
            updated_at=now,
        )
    )
    if withdrawn:
        bind.execute(
            events.insert(),
            [
                {"at": now, "actor": "upgrade", "action": "draft.approval_withdrawn",
                 "subject_type": "draft", "subject_id": draft_id, "candidate_id": candidate_id,
                 "details": {"reason": REASON}}
                for draft_id, candidate_id in withdrawn
            ],
        )  # fmt: skip


def downgrade() -> None:
    with op.batch_alter_table("outbox") as batch:
        batch.drop_column("raw_hash")
