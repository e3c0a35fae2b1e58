"""Sending with retries: only ``Transient`` outcomes (nothing handed over) are tried again.

Waits grow exponentially with jitter and stop after ``attempts`` tries or ``max_seconds`` of
waiting, whichever comes first; ``Permanent`` and ``Uncertain`` outcomes return at once.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

from tenacity import AsyncRetrying, RetryCallState, retry_if_result, stop_after_attempt
from tenacity.stop import stop_base
from tenacity.wait import wait_random_exponential

from outreach.servers.smtp import Outcome, SmtpConnection, Transient


class _stop_after_waiting(stop_base):
    """Stop once the waits so far add up to max_seconds (counts injected sleeps too)."""

    def __init__(self, max_seconds: float) -> None:
        self.max_seconds = max_seconds

    def __call__(self, retry_state: RetryCallState) -> bool:
        return retry_state.idle_for >= self.max_seconds


async def send_with_retry(
    conn: SmtpConnection,
    sender: str,
    recipients: Sequence[str],
    data: bytes,
    *,
    attempts: int = 4,
    max_seconds: float = 120.0,
    sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    sha256: str | None = None,
) -> Outcome:
    """Send, retrying only Transient outcomes with jittered exponential backoff."""
    jitter = wait_random_exponential(multiplier=2.0, max=max(max_seconds / 2, 1.0))

    def wait(state: RetryCallState) -> float:
        return max(0.0, min(jitter(state), max_seconds - state.idle_for))

    retrying = AsyncRetrying(
        sleep=sleep,
        stop=stop_after_attempt(attempts) | _stop_after_waiting(max_seconds),
        wait=wait,
        retry=retry_if_result(lambda outcome: isinstance(outcome, Transient)),
        retry_error_callback=lambda state: state.outcome.result() if state.outcome else None,
        reraise=True,
    )
    outcome: Outcome = await retrying(conn.send, sender, recipients, data, sha256=sha256)
    return outcome
