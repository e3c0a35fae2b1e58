"""The clock every command, loop and state change reads: real time, or a fixed one for tests.

``OUTREACH_NOW`` (ISO 8601; UTC when it has no offset) fixes it, so a demo or a test sees
the same "now" in the queue's approval times, the audit log, pacing and follow-ups. The
shells read the environment once (``from_env``) and pass the clock down; nothing below them
reads ``OUTREACH_NOW`` itself.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from datetime import UTC, datetime

from outreach.errors import InputError

Clock = Callable[[], datetime]


def real_time() -> datetime:
    """Now, timezone-aware UTC."""
    return datetime.now(UTC)


def from_env() -> Clock:
    """The clock: $OUTREACH_NOW (ISO 8601, fixed; UTC when it has no offset), else real time."""
    fixed = os.environ.get("OUTREACH_NOW", "").strip()
    if not fixed:
        return real_time
    try:
        at = datetime.fromisoformat(fixed)
    except ValueError:
        raise InputError(
            f"OUTREACH_NOW={fixed!r} is not an ISO 8601 time; write it like 2026-03-02T09:30+01:00"
        ) from None
    at = at if at.tzinfo else at.replace(tzinfo=UTC)
    return lambda: at
