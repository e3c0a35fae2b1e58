"""What the review queue's reads return: typed models the pages, the CLI and the JSON API share.

``reads`` builds them; the JSON API declares them as its response models, so the OpenAPI
schema is these classes and nothing restates them. A candidate's profile and a draft's flags
stay mappings: their keys are the candidate's own fields and the grounding check's findings.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field


class DraftRow(BaseModel):
    """One line of the queue: the draft, its candidate and its current subject."""

    id: int
    status: str
    kind: str
    template: str
    campaign_id: int | None
    campaign: str | None
    candidate_id: int
    candidate_name: str
    candidate_email: str
    subject: str
    flags: int = Field(description="How many things the grounding check asks you to look at")
    viewed: bool = Field(description="Whether you (or, without a viewer, anyone) read it")
    due_at: datetime
    created_at: datetime
    approved_by: str | None
    hold_reason: str


class DraftPage(BaseModel):
    """One page of the queue, newest due first."""

    items: list[DraftRow]
    total: int
    page: int
    per_page: int
    pages: int
    counts: dict[str, int] = Field(default_factory=dict, description="Drafts in each status")


class RevisionInfo(BaseModel):
    number: int
    author: str
    instruction: str
    created_at: datetime


class DiffSegment(BaseModel):
    op: Literal["equal", "insert", "delete"]
    text: str


class MarkedSegment(BaseModel):
    """A stretch of the body; the grounding flags that point at it, if any."""

    text: str
    flags: list[str]


class ConversationMessage(BaseModel):
    direction: str
    date: datetime | None
    subject: str
    from_addr: str
    classification: str
    text: str


class DraftDetail(BaseModel):
    """Everything the draft page shows: profile, conversation, revisions, flags and the diff."""

    id: int
    status: str
    kind: str
    template: str
    campaign: str | None
    campaign_id: int | None
    step: int | None = Field(default=None, description="The campaign step, counted from 0")
    due_at: datetime
    created_at: datetime
    viewed_at: datetime | None
    approved_by: str | None
    approved_at: datetime | None
    approved_revision: int | None
    approved_hash: str | None
    reject_reason: str
    hold_reason: str
    error: str
    candidate: dict[str, Any]
    subject: str
    body: str
    revision: int
    author: str
    revisions: list[RevisionInfo]
    flags: list[dict[str, Any]]
    flags_elsewhere: list[dict[str, Any]] = Field(
        description="Flags whose words an edit removed (cleared)"
    )
    marked_body: list[MarkedSegment]
    grounds: dict[str, Any] = Field(default_factory=dict)
    diff_subject: list[DiffSegment]
    diff_body: list[DiffSegment]
    changed: bool
    conversation: list[ConversationMessage]
    previous_id: int | None
    next_id: int | None


class EditStat(BaseModel):
    """How much reviewers change one template's drafts (``edits.word_distance``)."""

    template: str
    approved: int
    mean_words_changed: float
    changed_share: float
    unchanged: int


class Metrics(BaseModel):
    pending: int
    approved_today: int
    approval_rate: float | None
    decided_30d: int
    median_review_seconds: float | None
    edits: list[EditStat]


class CampaignOption(BaseModel):
    """A campaign the queue can be filtered by."""

    id: int
    name: str
