"""Model spending stays bounded: a daily and a per-run token budget, and usage from the calls.

Every model call is stored with its tokens (``ai_calls``), so today's use is a sum over those
rows, failures included. Before a batch starts, its cost is estimated from the prompts it will
send (one token per three characters, a safe side for English and Swedish) plus the full answer
the client allows (``max_tokens``), twice over with ``llm.verify``. A batch that does not fit in
what is left of the day's or the run's budget is refused whole, with a message that says what
is left and what to change — it never stops halfway, leaving some candidates with model text and
some without. Days are UTC days.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from outreach.errors import LLMError
from outreach.store.models import AICall, Draft

CHARS_PER_TOKEN = 3


class TokenBudgetReached(LLMError):
    """A batch would pass llm.max_tokens_per_day or llm.max_tokens_per_run."""


def estimate(messages: Sequence[dict[str, str]], max_tokens: int, *, calls: int = 1) -> int:
    """An upper estimate of one draft's tokens: its prompt and a full-length answer, per call."""
    prompt = sum(len(m.get("content", "")) for m in messages)
    return calls * (prompt // CHARS_PER_TOKEN + 1 + max_tokens)


def _day_start(day: date) -> datetime:
    return datetime.combine(day, time(0), tzinfo=UTC)


def used_on(session: Session, day: date) -> int:
    """Tokens (in and out) of every model call stored on this UTC day."""
    total = session.scalar(
        select(func.coalesce(func.sum(func.coalesce(AICall.tokens_in, 0) + func.coalesce(
            AICall.tokens_out, 0)), 0)).where(
            AICall.created_at >= _day_start(day),
            AICall.created_at < _day_start(day + timedelta(days=1)),
        )
    )  # fmt: skip
    return int(total or 0)


@dataclass(frozen=True)
class Budget:
    """The limits (0: none) and what today has used so far."""

    per_day: int
    per_run: int
    used_today: int

    def check(self, needed: int, drafts: int) -> None:
        """Refuse a batch whose estimate does not fit; say what is left and how to go on."""
        if self.per_run and needed > self.per_run:
            raise TokenBudgetReached(
                f"drafting {drafts} draft(s) needs up to {needed:,} model tokens, more than "
                f"llm.max_tokens_per_run = {self.per_run:,}; nothing was drafted — draft fewer "
                "candidates at a time or raise the limit in config.toml"
            )
        left = self.per_day - self.used_today
        if self.per_day and needed > left:
            raise TokenBudgetReached(
                f"drafting {drafts} draft(s) needs up to {needed:,} model tokens, but only "
                f"{max(left, 0):,} of today's {self.per_day:,} (llm.max_tokens_per_day) are "
                "left; nothing was drafted — draft fewer candidates, wait until tomorrow (UTC) "
                "or raise the limit in config.toml"
            )


def usage(session: Session, since: date) -> dict[str, list[dict[str, Any]]]:
    """Tokens and calls per UTC day and per template since a day, from the stored calls."""
    tokens_in = func.coalesce(func.sum(AICall.tokens_in), 0)
    tokens_out = func.coalesce(func.sum(AICall.tokens_out), 0)
    rows = session.execute(
        select(AICall.created_at, AICall.tokens_in, AICall.tokens_out, AICall.error)
        .where(AICall.created_at >= _day_start(since))
        .order_by(AICall.created_at)
    ).all()
    days: dict[str, dict[str, Any]] = {}
    for created, t_in, t_out, error in rows:
        day = created.date().isoformat() if created.tzinfo is None else (
            created.astimezone(UTC).date().isoformat())  # fmt: skip
        row = days.setdefault(day, {"day": day, "calls": 0, "failed": 0, "tokens_in": 0,
                                    "tokens_out": 0})  # fmt: skip
        row["calls"] += 1
        row["failed"] += 1 if error else 0
        row["tokens_in"] += t_in or 0
        row["tokens_out"] += t_out or 0
    templates = session.execute(
        select(
            func.coalesce(Draft.template, "(no draft)"),
            func.count(AICall.id),
            tokens_in,
            tokens_out,
        )
        .select_from(AICall)
        .outerjoin(Draft, Draft.id == AICall.draft_id)
        .where(AICall.created_at >= _day_start(since))
        .group_by(func.coalesce(Draft.template, "(no draft)"))
        .order_by(func.coalesce(Draft.template, "(no draft)"))
    ).all()
    return {
        "days": [{**r, "tokens": r["tokens_in"] + r["tokens_out"]} for r in days.values()],
        "templates": [
            {
                "template": t,
                "calls": n,
                "tokens_in": int(i or 0),
                "tokens_out": int(o or 0),
                "tokens": int(i or 0) + int(o or 0),
            }
            for t, n, i, o in templates
        ],
    }
