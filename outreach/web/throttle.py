"""Slow down password guessing: growing waits per account and per client address.

Each sign-in attempt counts as a failure until it succeeds. After ``free`` failures on an
account (or ``free_per_address`` from one address) the next attempt must wait 30 s, then
60 s, 120 s … up to 15 minutes, so a guesser gets a few tries an hour. Attempts made while
waiting are refused without checking the password and do not count, so the real user is
never locked out for longer than the current wait; a success clears the account's record
and an hour without failures forgets any record.

The records live in the server's memory: a restart forgets them.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

FIRST_WAIT = 30.0
MAX_WAIT = 900.0
FORGET_AFTER = 3600.0
MAX_RECORDS = 100_000  # a flood of made-up names: beyond this, unblocked records go first
SWEEP_EVERY = 60.0


@dataclass
class _Record:
    failures: int = 0
    last: float = 0.0  # when the latest failure counted


class LoginThrottle:
    """Failed sign-ins per account and per address, and how long the next one must wait."""

    def __init__(
        self,
        *,
        free: int = 5,
        free_per_address: int = 20,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.free = free
        self.free_per_address = free_per_address
        self.clock = clock
        self._records: dict[tuple[str, str], _Record] = {}
        self._next_sweep = 0.0

    def _wait(self, key: tuple[str, str], now: float) -> float:
        record = self._records.get(key)
        free = self.free if key[0] == "account" else self.free_per_address
        if record is None or record.failures < free:
            return 0.0
        wait = min(FIRST_WAIT * 2.0 ** (record.failures - free), MAX_WAIT)
        return max(record.last + wait - now, 0.0)

    def attempt(self, account: str, address: str) -> float:
        """Seconds the caller must still wait (the attempt is refused), or 0 and it counts."""
        now = self.clock()
        self._sweep(now)
        keys = [("account", account), ("address", address)]
        wait = max(self._wait(key, now) for key in keys)
        if wait > 0:
            return wait
        for key in keys:
            record = self._records.get(key)
            if record is None or now - record.last >= FORGET_AFTER:
                record = self._records[key] = _Record()
            record.failures += 1
            record.last = now
        return 0.0

    def succeeded(self, account: str, address: str) -> None:
        """The attempt was right: clear the account; the address is not charged for it."""
        self._records.pop(("account", account), None)
        record = self._records.get(("address", address))
        if record is not None:
            record.failures = max(record.failures - 1, 0)

    def _sweep(self, now: float) -> None:
        if now < self._next_sweep and len(self._records) < MAX_RECORDS:
            return
        self._next_sweep = now + SWEEP_EVERY
        self._records = {key: r for key, r in self._records.items() if now - r.last < FORGET_AFTER}
        if len(self._records) >= MAX_RECORDS:
            # Blocked records last: forgetting one would hand a guesser fresh tries.
            order = sorted(
                self._records, key=lambda k: (self._wait(k, now) > 0, self._records[k].last)
            )
            for key in order[: len(order) // 2]:
                del self._records[key]


def wait_message(seconds: float) -> str:
    """The sign-in page's message for a refused attempt."""
    if seconds <= 90:
        return f"too many failed sign-ins; try again in {math.ceil(seconds)} s"
    return f"too many failed sign-ins; try again in {math.ceil(seconds / 60)} min"
