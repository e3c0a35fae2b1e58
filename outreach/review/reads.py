"""The read side of the review queue: listing with filters and pages, metrics, draft detail.

Every listing is one query (drafts joined with their candidate, current revision and
campaign) bounded by a page, ordered newest due first along ``ix_drafts_status_due``.
State changes live in ``queue.py``; nothing here writes. What these functions return are the
typed models of ``models.py``, which the JSON API serves as they are.
"""

from __future__ import annotations

import difflib
import re
import statistics
from collections.abc import Mapping, MutableMapping, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any, TypeVar
from zoneinfo import ZoneInfo

from sqlalchemy import Select, and_, case, func, or_, select
from sqlalchemy.orm import Session, aliased

from outreach.candidates.records import profile
from outreach.review import queue
from outreach.review.edits import word_distance
from outreach.review.models import (
    CampaignOption,
    DraftDetail,
    DraftPage,
    DraftRow,
    EditStat,
    Metrics,
    RevisionInfo,
)
from outreach.store.models import (
    Campaign,
    Candidate,
    CandidateTag,
    Draft,
    DraftView,
    Message,
    Revision,
    utcnow,
)

PER_PAGE = 50
STATUSES = (
    queue.PENDING,
    queue.APPROVED,
    queue.QUEUED,
    queue.SENDING,
    queue.SENT,
    queue.FAILED,
    queue.UNCERTAIN,
    queue.REJECTED,
    queue.CANCELLED,
)
ARCHIVE = (queue.SENT, queue.REJECTED, queue.CANCELLED)
ACTIVE = tuple(status for status in STATUSES if status not in ARCHIVE)
METRIC_WINDOW = 200  # the latest approvals the review-time and edit metrics look at
WORDS = re.compile(r"\s+|\S+\s*")  # a word with the space after it, or leading space
_Query = TypeVar("_Query", bound="Select[*tuple[Any, ...]]")


@dataclass(frozen=True)
class Filters:
    """What the queue shows: a status and optional campaign, kind and flagged filters."""

    status: str = queue.PENDING
    campaign: int | None = None
    kind: str | None = None
    flagged: bool | None = None

    def apply(self, query: _Query) -> _Query:
        """The query narrowed to these filters."""
        query = query.where(Draft.status == self.status)
        if self.campaign is not None:
            query = query.where(Draft.campaign_id == self.campaign)
        if self.kind:
            query = query.where(Draft.kind == self.kind)
        if self.flagged is not None:
            flag_count = func.json_array_length(Draft.flags)
            query = query.where(flag_count > 0 if self.flagged else flag_count == 0)
        return query

    def params(self) -> dict[str, str]:
        """The filters as query-string parameters (only those set)."""
        out = {"status": self.status} if self.status != queue.PENDING else {}
        if self.campaign is not None:
            out["campaign"] = str(self.campaign)
        if self.kind:
            out["kind"] = self.kind
        if self.flagged is not None:
            out["flagged"] = "true" if self.flagged else "false"
        return out


OPENED = Draft.viewed_at.is_not(None).label("viewed")
ROW_COLUMNS = (
    Draft.id,
    Draft.status,
    Draft.kind,
    Draft.template,
    Draft.campaign_id,
    Campaign.name.label("campaign"),
    Draft.candidate_id,
    Candidate.name.label("candidate_name"),
    Candidate.email.label("candidate_email"),
    Revision.subject,
    func.json_array_length(Draft.flags).label("flags"),
    OPENED,
    Draft.due_at,
    Draft.created_at,
    Draft.approved_by,
    Draft.hold_reason,
)


def list_drafts(
    session: Session,
    filters: Filters = Filters(),
    *,
    page: int = 1,
    per_page: int = PER_PAGE,
    status_counts: Mapping[str, int] | None = None,
    viewer: str | None = None,
) -> DraftPage:
    """One page of drafts with their candidate and current subject, newest due first.

    ``status_counts`` (from ``counts``) saves counting again when only the status filters.
    With a ``viewer``, a row is "viewed" when that reviewer has read its current revision;
    without, when anyone has opened the draft.
    """
    page, per_page = max(page, 1), min(max(per_page, 1), 500)
    # First the page's ids along the (status, due_at) index, then their rows: the plan stays
    # an index walk of one page whatever the table's statistics say.
    ids = list(
        session.scalars(
            filters.apply(select(Draft.id))
            .order_by(Draft.due_at.desc(), Draft.id.desc())
            .limit(per_page)
            .offset((page - 1) * per_page)
        )
    )
    columns: tuple[Any, ...] = ROW_COLUMNS
    if viewer is not None:
        read = (
            select(DraftView.draft_id)
            .where(
                DraftView.draft_id == Draft.id,
                DraftView.username == viewer,
                DraftView.revision == Draft.current_revision,
            )
            .exists()
        )
        columns = tuple(read.label("viewed") if c is OPENED else c for c in ROW_COLUMNS)
    query = (
        select(*columns)
        .join(Candidate, Candidate.id == Draft.candidate_id)
        .join(
            Revision,
            and_(Revision.draft_id == Draft.id, Revision.number == Draft.current_revision),
        )
        .outerjoin(Campaign, Campaign.id == Draft.campaign_id)
        .where(Draft.id.in_(ids))
    )
    found = {row.id: row._asdict() for row in session.execute(query)} if ids else {}
    rows = [found[i] for i in ids if i in found]
    only_status = filters == Filters(status=filters.status)
    if status_counts is not None and only_status and filters.status in status_counts:
        total = status_counts[filters.status]
    else:
        total = session.scalar(filters.apply(select(func.count(Draft.id)))) or 0
    return DraftPage(
        items=[DraftRow.model_validate({**row, "viewed": bool(row["viewed"])}) for row in rows],
        total=total,
        page=page,
        per_page=per_page,
        pages=max((total + per_page - 1) // per_page, 1),
    )


def counts(session: Session, *, archive: bool = True) -> dict[str, int]:
    """How many drafts are in each status; without ``archive``, only the working statuses.

    Sent, rejected and cancelled drafts pile up forever; leaving them out keeps the queue
    page's cost bounded by the work in hand, not by history.
    """
    wanted = STATUSES if archive else ACTIVE
    query = select(Draft.status, func.count(Draft.id)).group_by(Draft.status)
    if not archive:
        query = query.where(Draft.status.in_(ACTIVE))
    found = {status: int(n) for status, n in session.execute(query)}
    return {status: found.get(status, 0) for status in wanted}


def campaigns(session: Session) -> list[CampaignOption]:
    """Campaign ids and names, for the filter."""
    rows = session.execute(select(Campaign.id, Campaign.name).order_by(Campaign.name))
    return [CampaignOption(id=cid, name=name) for cid, name in rows]


def metrics(
    session: Session,
    *,
    timezone: str = "UTC",
    now: datetime | None = None,
    cache: MutableMapping[tuple[int, int], tuple[int, int]] | None = None,
    status_counts: Mapping[str, int] | None = None,
) -> Metrics:
    """Pending, approved today, approval rate, median review time and edits per template.

    Review time runs from the first time a reviewer opened a draft to its approval; approvals
    without an earlier opening are left out. The edit figures compare revision 1 (the AI or
    template text) with the approved revision, over the latest approvals. ``cache`` keeps the
    distance of each (draft, revision) pair, which never changes, between calls.
    """
    now = now or utcnow()
    approved_today, approved_month, decided = _decisions(session, now, ZoneInfo(timezone))
    latest = session.execute(
        select(
            Draft.id, Draft.template, Draft.approved_revision, Draft.viewed_at, Draft.approved_at
        )
        .where(Draft.approved_at.is_not(None))
        .order_by(Draft.approved_at.desc())
        .limit(METRIC_WINDOW)
    ).all()
    cache = {} if cache is None else cache
    keys = [(did, rev or 1) for did, _, rev, _, _ in latest]
    _measure_edits(session, [key for key in keys if key not in cache], cache)
    waits: list[float] = []
    per_template: dict[str, list[tuple[int, int]]] = {}
    for (_, template, _, viewed, approved), key in zip(latest, keys, strict=True):
        if viewed is not None and approved is not None and approved > viewed:
            waits.append((approved - viewed).total_seconds())
        if key in cache:
            per_template.setdefault(template or "(none)", []).append(cache[key])
    if len(cache) > 4 * METRIC_WINDOW:  # keep only the window's pairs
        for stale in set(cache) - set(keys):
            del cache[stale]
    edits = [_edit_stat(name, pairs) for name, pairs in sorted(per_template.items())]
    pending = (
        status_counts[queue.PENDING]
        if status_counts is not None
        else session.scalar(select(func.count(Draft.id)).where(Draft.status == queue.PENDING))
    )
    return Metrics(
        pending=pending or 0,
        approved_today=approved_today,
        approval_rate=round(approved_month / decided, 3) if decided else None,
        decided_30d=decided,
        median_review_seconds=round(statistics.median(waits), 1) if waits else None,
        edits=edits,
    )


def _decisions(session: Session, now: datetime, zone: ZoneInfo) -> tuple[int, int, int]:
    """Approvals today (in the sender's zone) and in 30 days, and decisions in 30 days."""
    today = now.astimezone(zone).replace(hour=0, minute=0, second=0, microsecond=0)
    month = now - timedelta(days=30)
    today_n, month_n = session.execute(
        select(func.count(case((Draft.approved_at >= today, 1))), func.count(Draft.id)).where(
            Draft.approved_at >= month
        )
    ).one()
    rejected = session.scalar(
        select(func.count(Draft.id)).where(
            Draft.status == queue.REJECTED, Draft.updated_at >= month
        )
    )
    return int(today_n), int(month_n), int(month_n) + (rejected or 0)


def _edit_stat(template: str, pairs: Sequence[tuple[int, int]]) -> EditStat:
    """One template's figures from (words changed, words in revision 1) per approved draft."""
    return EditStat(
        template=template,
        approved=len(pairs),
        mean_words_changed=round(statistics.fmean(d for d, _ in pairs), 1),
        changed_share=round(sum(d for d, _ in pairs) / max(sum(w for _, w in pairs), 1), 3),
        unchanged=sum(1 for d, _ in pairs if d == 0),
    )


def _measure_edits(
    session: Session,
    keys: Sequence[tuple[int, int]],
    cache: MutableMapping[tuple[int, int], tuple[int, int]],
) -> None:
    """Words changed and words in revision 1, for each (draft, approved revision) pair."""
    if not keys:
        return
    first, final = aliased(Revision), aliased(Revision)
    rows = session.execute(
        select(first.draft_id, final.number, first.subject, first.body, final.subject, final.body)
        .join(final, final.draft_id == first.draft_id)
        .where(first.number == 1, first.draft_id.in_([did for did, _ in keys]))
    )
    wanted = set(keys)
    for did, number, s1, b1, s2, b2 in rows:
        if (did, number) in wanted:
            before = f"{s1}\n{b1}"
            cache[(did, number)] = (word_distance(before, f"{s2}\n{b2}"), len(before.split()))


def neighbours(session: Session, draft: Draft, filters: Filters) -> tuple[int | None, int | None]:
    """The previous and next draft in the queue's order (newest due first) under the filters."""
    due, did = draft.due_at, draft.id
    after = filters.apply(
        select(Draft.id).where(or_(Draft.due_at < due, and_(Draft.due_at == due, Draft.id < did)))
    ).order_by(Draft.due_at.desc(), Draft.id.desc())
    before = filters.apply(
        select(Draft.id).where(or_(Draft.due_at > due, and_(Draft.due_at == due, Draft.id > did)))
    ).order_by(Draft.due_at.asc(), Draft.id.asc())
    previous: int | None = session.scalar(before.limit(1))
    following: int | None = session.scalar(after.limit(1))
    return previous, following


def diff(before: str, after: str) -> list[dict[str, str]]:
    """Word-level diff as segments: {"op": "equal"|"insert"|"delete", "text": ...}."""
    a, b = WORDS.findall(before), WORDS.findall(after)
    out: list[dict[str, str]] = []
    matcher = difflib.SequenceMatcher(None, a, b, autojunk=False)
    for op, i1, i2, j1, j2 in matcher.get_opcodes():
        if op == "equal":
            out.append({"op": "equal", "text": "".join(a[i1:i2])})
            continue
        if i2 > i1:
            out.append({"op": "delete", "text": "".join(a[i1:i2])})
        if j2 > j1:
            out.append({"op": "insert", "text": "".join(b[j1:j2])})
    return out


def _flag_spans(text: str, flag: Mapping[str, Any]) -> list[tuple[int, int]]:
    """Where a flag's words are: its own place (the nearest after an edit), else everywhere."""
    needle = str(flag.get("text") or "")
    found = [(m.start(), m.end()) for m in re.finditer(re.escape(needle), text)]
    found = found if needle.strip() else []
    at = flag.get("body_start")
    if found and isinstance(at, int) and at >= 0:
        return [min(found, key=lambda span: abs(span[0] - at))]
    return found


def mark_flags(text: str, flags: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """Split text into segments; those a grounding flag points at carry its messages.

    A flag stored with its place in the body (``body_start``) marks that one place, or the
    nearest occurrence of its words after an edit; older flags mark every occurrence.
    """
    spans: list[tuple[int, int, str]] = []
    for flag in flags:
        message = str(flag.get("message") or flag.get("code"))
        spans += [(start, end, message) for start, end in _flag_spans(text, flag)]
    spans.sort()
    segments: list[dict[str, Any]] = []
    pos = 0
    for start, end, message in spans:
        if start < pos:  # overlaps the previous mark: fold it in
            if segments and segments[-1]["flags"]:
                if end > pos:
                    segments[-1]["text"] += text[pos:end]
                    pos = end
                if message not in segments[-1]["flags"]:
                    segments[-1]["flags"].append(message)
            continue
        if start > pos:
            segments.append({"text": text[pos:start], "flags": []})
        segments.append({"text": text[start:end], "flags": [message]})
        pos = end
    if pos < len(text):
        segments.append({"text": text[pos:], "flags": []})
    return segments


def draft_detail(session: Session, draft: Draft, filters: Filters = Filters()) -> DraftDetail:
    """Everything the draft page shows: profile, conversation, revisions, flags and the diff."""
    candidate = session.get(Candidate, draft.candidate_id)
    assert candidate is not None  # the foreign key guarantees it
    tags = session.scalars(
        select(CandidateTag.tag).where(CandidateTag.candidate_id == candidate.id)
    )
    history = queue.revisions(session, draft)
    now = next(r for r in history if r.number == draft.current_revision)
    original = history[0]
    messages = session.scalars(
        select(Message)
        .where(Message.candidate_id == candidate.id)
        .order_by(Message.date.desc(), Message.id.desc())
        .limit(20)
    ).all()
    campaign = session.get(Campaign, draft.campaign_id) if draft.campaign_id else None
    previous, following = neighbours(session, draft, filters)
    flags = [dict(f) for f in draft.flags or ()]
    # A flag whose words an edit took out is cleared; a flag about the whole draft stays.
    cleared = [f for f in flags if f.get("text") and str(f["text"]) not in now.body]
    current = [f for f in flags if f not in cleared]
    detail = {
        "id": draft.id,
        "status": draft.status,
        "kind": draft.kind,
        "template": draft.template,
        "campaign": campaign.name if campaign else None,
        "campaign_id": draft.campaign_id,
        "step": draft.step if draft.enrolment_id is not None else None,  # a campaign step
        "due_at": draft.due_at,
        "created_at": draft.created_at,
        "viewed_at": draft.viewed_at,
        "approved_by": draft.approved_by,
        "approved_at": draft.approved_at,
        "approved_revision": draft.approved_revision,
        "approved_hash": draft.approved_hash,
        "reject_reason": draft.reject_reason,
        "hold_reason": draft.hold_reason,
        "error": draft.error,
        "candidate": profile(candidate, tags),
        "subject": now.subject,
        "body": now.body,
        "revision": now.number,
        "author": now.author,
        "revisions": [RevisionInfo.model_validate(r, from_attributes=True) for r in history],
        "flags": current,
        "flags_elsewhere": cleared,
        "marked_body": mark_flags(now.body, current),
        "grounds": dict((draft.context or {}).get("grounds") or {}),
        "diff_subject": diff(original.subject, now.subject),
        "diff_body": diff(original.body, now.body),
        "changed": (original.subject, original.body) != (now.subject, now.body),
        "conversation": [
            {
                "direction": m.direction,
                "date": m.date,
                "subject": m.subject,
                "from_addr": m.from_addr,
                "classification": m.classification,
                "text": m.reply_text,
            }
            for m in reversed(messages)
        ],
        "previous_id": previous,
        "next_id": following,
    }
    return DraftDetail.model_validate(detail)
