"""The tables: SQLAlchemy 2 typed models for every record the store keeps (docs/architecture.md).

Times are stored as UTC and come back timezone-aware. Everything a candidate owns hangs off
``candidates.id`` with ON DELETE CASCADE, so forgetting a person erases all of it at once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    DateTime,
    Dialect,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Text,
    TypeDecorator,
    UniqueConstraint,
)
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

from outreach.config.clock import real_time

NAMING = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class UTCDateTime(TypeDecorator[datetime]):
    """Aware datetimes in, aware UTC datetimes out, on every engine."""

    impl = DateTime
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to the store; pass an aware datetime")
        return value.astimezone(UTC).replace(tzinfo=None)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        return None if value is None else value.replace(tzinfo=UTC)


utcnow = real_time  # the default of every timestamp column (a fixed clock is passed in)


class Base(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map = {datetime: UTCDateTime(), dict[str, Any]: JSON, list[Any]: JSON}


def _candidate_fk() -> Mapped[int]:
    return mapped_column(ForeignKey("candidates.id", ondelete="CASCADE"), index=True)


class Meta(Base):
    """Store-wide values: the hash salt, created once when the store is made."""

    __tablename__ = "meta"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[str] = mapped_column(Text)


class Candidate(Base):
    __tablename__ = "candidates"
    id: Mapped[int] = mapped_column(primary_key=True)
    email: Mapped[str] = mapped_column(String(320), unique=True)
    name: Mapped[str] = mapped_column(String(200), default="")
    headline: Mapped[str] = mapped_column(Text, default="")
    company: Mapped[str] = mapped_column(String(200), default="")
    role: Mapped[str] = mapped_column(String(200), default="")
    location: Mapped[str] = mapped_column(String(200), default="")
    timezone: Mapped[str] = mapped_column(String(64), default="")
    language: Mapped[str] = mapped_column(String(16), default="")
    skills: Mapped[list[Any]] = mapped_column(default=list)
    achievements: Mapped[list[Any]] = mapped_column(default=list)
    links: Mapped[list[Any]] = mapped_column(default=list)
    notes: Mapped[str] = mapped_column(Text, default="")
    extra: Mapped[dict[str, Any]] = mapped_column(default=dict)
    # Where their data came from ("LinkedIn profile", "referral by Lena Ek", "applied").
    source: Mapped[str] = mapped_column(Text, default="", server_default="", index=True)
    # The words search looks in (outreach.candidates.search.terms); indexed per engine.
    search_text: Mapped[str] = mapped_column(Text, default="", server_default="")
    status: Mapped[str] = mapped_column(String(16), default="active", index=True)
    interviewed_at: Mapped[datetime | None] = mapped_column()  # feedback is owed from then
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class CandidateTag(Base):
    __tablename__ = "candidate_tags"
    candidate_id: Mapped[int] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), primary_key=True
    )
    tag: Mapped[str] = mapped_column(String(100), primary_key=True, index=True)


class Suppression(Base):
    """Never contact this address again. Only a salted hash of the address is kept."""

    __tablename__ = "suppressions"
    id: Mapped[int] = mapped_column(primary_key=True)
    address_hash: Mapped[str] = mapped_column(String(64), unique=True)
    reason: Mapped[str] = mapped_column(String(32))  # opted_out | hard_bounce | forgotten
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Event(Base):
    """Append-only audit log."""

    __tablename__ = "events"
    id: Mapped[int] = mapped_column(BigInteger().with_variant(Integer, "sqlite"), primary_key=True)
    at: Mapped[datetime] = mapped_column(default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(200))
    action: Mapped[str] = mapped_column(String(64), index=True)
    subject_type: Mapped[str] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(index=True)
    candidate_id: Mapped[int | None] = mapped_column(
        ForeignKey("candidates.id", ondelete="CASCADE"), index=True
    )
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)


class User(Base):
    """A reviewer who can log in to the web UI."""

    __tablename__ = "users"
    id: Mapped[int] = mapped_column(primary_key=True)
    username: Mapped[str] = mapped_column(String(100), unique=True)
    password_hash: Mapped[str] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class WebSession(Base):
    """A signed-in browser session; the cookie holds a random id, the store only its hash.

    Deleting the row ends the session wherever its cookie is replayed.
    """

    __tablename__ = "web_sessions"
    id_hash: Mapped[str] = mapped_column(String(64), primary_key=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    expires_at: Mapped[datetime] = mapped_column(index=True)


class Campaign(Base):
    __tablename__ = "campaigns"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(200), unique=True)
    sender_email: Mapped[str] = mapped_column(String(320))
    role: Mapped[dict[str, Any]] = mapped_column(default=dict)
    steps: Mapped[list[Any]] = mapped_column(default=list)
    selection: Mapped[str] = mapped_column(Text, default="")
    pacing: Mapped[dict[str, Any]] = mapped_column(default=dict)
    allow_overlap: Mapped[bool] = mapped_column(Boolean, default=False)
    status: Mapped[str] = mapped_column(String(16), default="draft")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Enrolment(Base):
    __tablename__ = "enrolments"
    __table_args__ = (
        UniqueConstraint("campaign_id", "candidate_id"),
        Index("ix_enrolments_due", "status", "next_due_at"),
    )
    id: Mapped[int] = mapped_column(primary_key=True)
    campaign_id: Mapped[int] = mapped_column(ForeignKey("campaigns.id", ondelete="CASCADE"))
    candidate_id: Mapped[int] = _candidate_fk()
    step: Mapped[int] = mapped_column(default=0)
    status: Mapped[str] = mapped_column(String(16), default="active")
    next_due_at: Mapped[datetime | None] = mapped_column()
    away_until: Mapped[datetime | None] = mapped_column()  # an out-of-office holds the next step
    last_sent_at: Mapped[datetime | None] = mapped_column()
    stop_reason: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Conversation(Base):
    __tablename__ = "conversations"
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = _candidate_fk()
    subject: Mapped[str] = mapped_column(Text, default="")
    status: Mapped[str] = mapped_column(String(20), default="open")  # open|needs_response|closed
    sentiment: Mapped[str] = mapped_column(String(10), default="")  # positive|negative|""
    last_message_at: Mapped[datetime | None] = mapped_column()
    # A person said the candidate's last message needs no answer, and why; newer mail waits again.
    no_answer_at: Mapped[datetime | None] = mapped_column()
    no_answer_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class Draft(Base):
    __tablename__ = "drafts"
    __table_args__ = (Index("ix_drafts_status_due", "status", "due_at"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    candidate_id: Mapped[int] = _candidate_fk()
    kind: Mapped[str] = mapped_column(String(16))  # outreach | follow_up | feedback | reply
    template: Mapped[str] = mapped_column(String(200), default="", index=True)
    campaign_id: Mapped[int | None] = mapped_column(
        ForeignKey("campaigns.id", ondelete="SET NULL"), index=True
    )
    step: Mapped[int | None] = mapped_column()
    enrolment_id: Mapped[int | None] = mapped_column(
        ForeignKey("enrolments.id", ondelete="SET NULL"), index=True
    )
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="SET NULL"), index=True
    )
    status: Mapped[str] = mapped_column(String(16), default="pending")
    current_revision: Mapped[int] = mapped_column(default=1)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    context: Mapped[dict[str, Any]] = mapped_column(default=dict)  # role, notes, outcome used
    error: Mapped[str] = mapped_column(Text, default="")
    reject_reason: Mapped[str] = mapped_column(Text, default="")
    # Why automation set aside a draft a person edited or approved; cleared when one approves.
    hold_reason: Mapped[str] = mapped_column(Text, default="", server_default="")
    viewed_at: Mapped[datetime | None] = mapped_column()
    approved_by: Mapped[str | None] = mapped_column(String(100))
    approved_at: Mapped[datetime | None] = mapped_column(index=True)
    approved_revision: Mapped[int | None] = mapped_column()
    approved_hash: Mapped[str | None] = mapped_column(String(64))
    message_id: Mapped[str | None] = mapped_column(String(998), unique=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[Any]] = mapped_column(default=list)
    due_at: Mapped[datetime] = mapped_column(default=utcnow)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Revision(Base):
    __tablename__ = "revisions"
    __table_args__ = (UniqueConstraint("draft_id", "number"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"))
    number: Mapped[int] = mapped_column()
    subject: Mapped[str] = mapped_column(Text)
    body: Mapped[str] = mapped_column(Text)
    author: Mapped[str] = mapped_column(String(200))  # ai:<model> | template | <user>
    ai_text: Mapped[dict[str, Any]] = mapped_column(default=dict)  # slot -> text the model wrote
    instruction: Mapped[str] = mapped_column(Text, default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class DraftView(Base):
    """The revision of a draft each reviewer last opened: an approval must name the same one."""

    __tablename__ = "draft_views"
    draft_id: Mapped[int] = mapped_column(
        ForeignKey("drafts.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(String(200), primary_key=True)
    revision: Mapped[int] = mapped_column()
    viewed_at: Mapped[datetime] = mapped_column(default=utcnow)


class AICall(Base):
    """One row per model call, failures included."""

    __tablename__ = "ai_calls"
    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int | None] = mapped_column(
        ForeignKey("drafts.id", ondelete="CASCADE"), index=True
    )
    provider: Mapped[str] = mapped_column(String(32))
    model: Mapped[str] = mapped_column(String(200))
    base_url: Mapped[str] = mapped_column(Text, default="")
    messages: Mapped[list[Any]] = mapped_column(default=list)
    options: Mapped[dict[str, Any]] = mapped_column(default=dict)
    response_text: Mapped[str | None] = mapped_column(Text)
    raw_response: Mapped[dict[str, Any] | None] = mapped_column(JSON)
    tokens_in: Mapped[int | None] = mapped_column()
    tokens_out: Mapped[int | None] = mapped_column()
    duration_ms: Mapped[int] = mapped_column(default=0)
    attempts: Mapped[int] = mapped_column(default=1)
    error: Mapped[str | None] = mapped_column(Text)
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class OutboxEntry(Base):
    """An approved message on its way out; the exact bytes are frozen when it is queued."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_state_not_before", "state", "not_before"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    draft_id: Mapped[int] = mapped_column(ForeignKey("drafts.id", ondelete="CASCADE"), unique=True)
    candidate_id: Mapped[int] = _candidate_fk()
    mailbox: Mapped[str] = mapped_column(String(320))
    message_id: Mapped[str] = mapped_column(String(998), unique=True)
    to_email: Mapped[str] = mapped_column(String(320))
    raw: Mapped[bytes] = mapped_column(LargeBinary)
    approved_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")
    raw_hash: Mapped[str] = mapped_column(String(64), default="", server_default="")  # of raw
    kind: Mapped[str] = mapped_column(String(16))
    state: Mapped[str] = mapped_column(String(16), default="queued")
    attempts: Mapped[int] = mapped_column(default=0)
    lease_until: Mapped[datetime | None] = mapped_column()
    not_before: Mapped[datetime | None] = mapped_column()
    wait_reason: Mapped[str] = mapped_column(Text, default="")
    last_reply: Mapped[str] = mapped_column(Text, default="")
    sent_at: Mapped[datetime | None] = mapped_column()
    filed_sent: Mapped[bool] = mapped_column(Boolean, default=False)
    # Set (durably) before this attempt's DATA command: the message may have gone out.
    started_at: Mapped[datetime | None] = mapped_column()
    # What the claim's progress marks were written under; see outreach.sending.sender.
    claim_epoch: Mapped[str] = mapped_column(String(80), default="", server_default="")
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Message(Base):
    """A synced message that belongs to a candidate conversation (nothing else is stored)."""

    __tablename__ = "messages"
    __table_args__ = (UniqueConstraint("mailbox", "folder", "uidvalidity", "uid"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(320))
    folder: Mapped[str] = mapped_column(String(300))
    uidvalidity: Mapped[int] = mapped_column(BigInteger)
    uid: Mapped[int] = mapped_column(BigInteger)
    message_id: Mapped[str | None] = mapped_column(String(998), index=True)
    in_reply_to: Mapped[str | None] = mapped_column(String(998))
    references: Mapped[list[Any]] = mapped_column(default=list)
    from_addr: Mapped[str] = mapped_column(String(320), default="")
    to_addrs: Mapped[list[Any]] = mapped_column(default=list)
    date: Mapped[datetime | None] = mapped_column()
    subject: Mapped[str] = mapped_column(Text, default="")
    direction: Mapped[str] = mapped_column(String(4), default="in")  # in | out
    classification: Mapped[str] = mapped_column(String(20), default="human")
    details: Mapped[dict[str, Any]] = mapped_column(default=dict)
    reply_text: Mapped[str] = mapped_column(Text, default="")
    elided_text: Mapped[str] = mapped_column(Text, default="")
    raw: Mapped[bytes | None] = mapped_column(LargeBinary)
    raw_size: Mapped[int] = mapped_column(default=0)
    flags: Mapped[list[Any]] = mapped_column(default=list)
    candidate_id: Mapped[int] = _candidate_fk()
    conversation_id: Mapped[int | None] = mapped_column(
        ForeignKey("conversations.id", ondelete="CASCADE"), index=True
    )
    # Ours: the outbox row whose state this message shows (see outreach.sending.recorded).
    outbox_id: Mapped[int | None] = mapped_column(
        ForeignKey("outbox.id", ondelete="SET NULL"), index=True
    )
    created_at: Mapped[datetime] = mapped_column(default=utcnow)


class SyncState(Base):
    __tablename__ = "sync_state"
    __table_args__ = (UniqueConstraint("mailbox", "folder"),)
    id: Mapped[int] = mapped_column(primary_key=True)
    mailbox: Mapped[str] = mapped_column(String(320))
    folder: Mapped[str] = mapped_column(String(300))
    uidvalidity: Mapped[int] = mapped_column(BigInteger, default=0)
    last_uid: Mapped[int] = mapped_column(BigInteger, default=0)
    highestmodseq: Mapped[int | None] = mapped_column(BigInteger)
    last_run_at: Mapped[datetime | None] = mapped_column()


class Account(Base):
    """A mailbox outreach signs in to: provider preset, servers, sign-in, pacing and health.

    Secrets (a password, or the OAuth grant with its refresh and access tokens) are kept only
    as Fernet ciphertext in ``secret``; see ``outreach.accounts.vault``.
    """

    __tablename__ = "accounts"
    id: Mapped[int] = mapped_column(primary_key=True)
    name: Mapped[str] = mapped_column(String(64), unique=True)
    provider: Mapped[str] = mapped_column(String(16))  # gmail | microsoft | fastmail | imap
    email: Mapped[str] = mapped_column(String(320))
    display_name: Mapped[str] = mapped_column(String(200), default="")
    username: Mapped[str] = mapped_column(String(320), default="")
    imap_host: Mapped[str] = mapped_column(String(255), default="")
    imap_port: Mapped[int] = mapped_column(default=993)
    imap_security: Mapped[str] = mapped_column(String(8), default="tls")
    smtp_host: Mapped[str] = mapped_column(String(255), default="")
    smtp_port: Mapped[int] = mapped_column(default=587)
    smtp_security: Mapped[str] = mapped_column(String(8), default="starttls")
    sent_folder: Mapped[str] = mapped_column(String(300), default="")
    all_mail_folder: Mapped[str] = mapped_column(String(300), default="")
    files_sent: Mapped[bool] = mapped_column(Boolean, default=False)  # server keeps a Sent copy
    auth: Mapped[str] = mapped_column(String(16))  # password | oauth2 | token_command
    token_command: Mapped[str] = mapped_column(Text, default="")
    secret: Mapped[bytes | None] = mapped_column(LargeBinary)  # Fernet token, never plaintext
    scope: Mapped[str] = mapped_column(Text, default="")
    token_expires_at: Mapped[datetime | None] = mapped_column()
    granted_at: Mapped[datetime | None] = mapped_column()  # when the person last signed in
    refreshed_at: Mapped[datetime | None] = mapped_column()  # the grant's last use
    daily_limit: Mapped[int | None] = mapped_column()  # the provider's ceilings for pacing
    per_minute_limit: Mapped[int | None] = mapped_column()
    state: Mapped[str] = mapped_column(String(20), default="new")  # new|connected|reconnect
    last_error: Mapped[str] = mapped_column(Text, default="")
    last_error_at: Mapped[datetime | None] = mapped_column()
    last_sync_at: Mapped[datetime | None] = mapped_column()
    last_send_at: Mapped[datetime | None] = mapped_column()
    created_at: Mapped[datetime] = mapped_column(default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)


class Health(Base):
    """The state of one background loop of `outreach serve` (sender, sync, scheduler)."""

    __tablename__ = "health"
    component: Mapped[str] = mapped_column(String(32), primary_key=True)
    state: Mapped[str] = mapped_column(String(16))  # ok | failing | stopped
    owner: Mapped[str] = mapped_column(String(300), default="")  # host:pid running the loop
    detail: Mapped[str] = mapped_column(Text, default="")  # what the last good round did
    error: Mapped[str] = mapped_column(Text, default="")  # the last failure
    failures: Mapped[int] = mapped_column(default=0)  # failed rounds in a row
    last_success_at: Mapped[datetime | None] = mapped_column()
    last_failure_at: Mapped[datetime | None] = mapped_column()
    failing_since: Mapped[datetime | None] = mapped_column()
    next_try_at: Mapped[datetime | None] = mapped_column()
    updated_at: Mapped[datetime] = mapped_column(default=utcnow)
