"""Pacing: when each queued message may go, and why it waits.

A plan is a pure function of the queue, the mailbox's recent sends and the clock, so it is
never stale: ``outreach outbox list``, the web UI and the sender all compute it the same way.
The rules, per sender mailbox:

- a daily cap (counted per day in the sender's timezone);
- a minimum gap between two sends, plus or minus jitter (drawn from a seed tied to the last
  send, so the plan does not change between two looks at it);
- working hours in the candidate's timezone (the sender's when unknown);
- replies, feedback and follow-ups before first contacts, then oldest first;
- a message's own hold (a retry backoff, a due date, the first-contact cap) with its reason.
"""

from __future__ import annotations

import random
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from outreach.config import WORKING_HOURS, Settings
from outreach.store.values import DraftKind

DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
# Lower goes first: answers to people, then follow-ups, then first contacts.
PRIORITY: dict[str, int] = {
    DraftKind.REPLY: 0,
    DraftKind.FEEDBACK: 0,
    DraftKind.FOLLOW_UP: 1,
    DraftKind.OUTREACH: 2,
}
_NEVER = datetime.min.replace(tzinfo=UTC)


@dataclass(frozen=True)
class WorkingHours:
    """Days of the week (0 = Monday) and a daily window in minutes after midnight."""

    days: frozenset[int]
    start: int
    end: int

    @classmethod
    def parse(cls, text: str) -> WorkingHours | None:
        """Parse "Mon-Fri 09:00-17:00"; "always" gives None (no limit)."""
        if text == "always":
            return None
        match = WORKING_HOURS.match(text)
        if match is None:
            raise ValueError(f'working hours {text!r}: write them like "Mon-Fri 09:00-17:00"')
        first, last = DAYS.index(match[1]), DAYS.index(match[2])
        span = (last - first) % 7
        days = frozenset((first + n) % 7 for n in range(span + 1))
        start = int(match[3]) * 60 + int(match[4])
        end = int(match[5]) * 60 + int(match[6])
        return cls(days, start, min(end, 24 * 60))

    def next_open(self, when: datetime, zone: ZoneInfo) -> datetime:
        """The earliest moment at or after ``when`` inside working hours in ``zone`` (UTC)."""
        local = when.astimezone(zone)
        for offset in range(8):
            day = local.date() + timedelta(days=offset)
            if day.weekday() not in self.days or self.end <= self.start:
                continue
            opens = _at(day, self.start, zone)
            closes = _at(day, self.end, zone)
            if offset == 0 and opens <= local < closes:
                return when
            if local < opens:
                return opens.astimezone(UTC)
        raise ValueError("working hours never open; check pacing.working_hours")


def _at(day: date, minutes: int, zone: ZoneInfo) -> datetime:
    if minutes >= 24 * 60:
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone)
    return datetime.combine(day, time(minutes // 60, minutes % 60), tzinfo=zone)


@dataclass(frozen=True)
class Pacing:
    """The pacing rules of one sender mailbox."""

    sender_zone: ZoneInfo
    daily_cap: int | None = None
    min_gap: float = 0.0
    jitter: float = 0.0
    hours: WorkingHours | None = None

    @classmethod
    def from_settings(cls, settings: Settings) -> Pacing:
        """The rules in config.toml's [pacing]."""
        p = settings.pacing
        return cls(
            sender_zone=ZoneInfo(settings.sender.timezone),
            daily_cap=p.daily_cap,
            min_gap=float(p.min_gap_seconds),
            jitter=float(p.jitter_seconds),
            hours=WorkingHours.parse(p.working_hours),
        )

    @classmethod
    def off(cls, sender_zone: str = "UTC") -> Pacing:
        """No cap, no gap, any hour: for benchmarks and explicit bulk runs."""
        return cls(sender_zone=ZoneInfo(sender_zone))

    def describe_gap(self) -> str:
        jitter = f" ± {self.jitter:g} s" if self.jitter else ""
        return f"{self.min_gap:g} s{jitter}"


@dataclass(frozen=True)
class Waiting:
    """A queued message as pacing sees it."""

    id: int
    kind: str
    timezone: str = ""  # the candidate's IANA zone; "" = the sender's
    hold_until: datetime | None = None  # its own earliest time (backoff, due date, cap)
    hold_reason: str = ""


@dataclass(frozen=True)
class Slot:
    """When a message goes, and why it waits ("" when it is due now)."""

    id: int
    at: datetime
    reason: str

    @property
    def due(self) -> bool:
        return not self.reason


def zone_of(name: str, fallback: ZoneInfo) -> ZoneInfo:
    """The candidate's zone, or the fallback when it is empty or unknown."""
    if not name:
        return fallback
    try:
        return ZoneInfo(name)
    except (ValueError, KeyError):  # ZoneInfoNotFoundError is a KeyError
        return fallback


def when_text(at: datetime, zone: ZoneInfo, now: datetime) -> str:
    """A short local time: "Tue 09:12", with the date when it is a week or more away."""
    local = at.astimezone(zone)
    if at - now >= timedelta(days=6):
        return local.strftime("%a %d %b %H:%M")
    return local.strftime("%a %H:%M")


class _Planner:
    def __init__(self, pacing: Pacing, now: datetime, last_sent: datetime | None) -> None:
        self.p = pacing
        self.now = now
        seed = f"{last_sent.isoformat() if last_sent else ''}"
        self.rng = random.Random(seed)
        self.cap_hit = False

    def gap(self) -> timedelta:
        if not self.p.min_gap:
            return timedelta(0)
        jitter = self.rng.uniform(-self.p.jitter, self.p.jitter) if self.p.jitter else 0.0
        return timedelta(seconds=max(0.0, self.p.min_gap + jitter))

    def day(self, at: datetime) -> date:
        return at.astimezone(self.p.sender_zone).date()

    def next_day(self, at: datetime) -> datetime:
        start = datetime.combine(self.day(at) + timedelta(days=1), time(0))
        return start.replace(tzinfo=self.p.sender_zone).astimezone(UTC)

    def earliest(self, item: Waiting, zone: ZoneInfo, after: datetime) -> datetime:
        at = max(after, item.hold_until or _NEVER)
        return at if self.p.hours is None else self.p.hours.next_open(at, zone)

    def reason(self, item: Waiting, zone: ZoneInfo, at: datetime, ahead: int) -> str:
        if at <= self.now:
            return ""
        slot = when_text(at, zone, self.now)
        own = self.earliest(item, zone, self.now)
        if item.hold_until is not None and item.hold_until > self.now:
            return f"{item.hold_reason or 'on hold'}, next slot {slot}"
        if own == at and own > self.now:
            return f"outside working hours in {zone.key}, next slot {slot}"
        if self.cap_hit:
            return f"daily cap reached ({self.p.daily_cap}/day), next slot {slot}"
        if ahead:
            return (
                f"paced: {ahead} earlier in line, {self.p.describe_gap()} apart, next slot {slot}"
            )
        return f"paced: {self.p.describe_gap()} after the last send, next slot {slot}"


def plan(
    items: Iterable[Waiting],
    pacing: Pacing,
    *,
    now: datetime,
    last_sent: datetime | None = None,
    recent_sends: Sequence[datetime] = (),
) -> list[Slot]:
    """Order the queue and give each message its slot and, when it waits, the reason."""
    planner = _Planner(pacing, now, last_sent)
    groups: dict[tuple[int, str], list[Waiting]] = {}
    for item in items:
        key = (PRIORITY.get(item.kind, 2), item.timezone)
        groups.setdefault(key, []).append(item)
    for queue in groups.values():  # held messages behind free ones, then oldest first
        queue.sort(key=lambda w: (w.hold_until or _NEVER, w.id), reverse=True)
    zones = {key: zone_of(key[1], pacing.sender_zone) for key in groups}
    counts = Counter(planner.day(at) for at in recent_sends)
    at = now
    if last_sent is not None and pacing.min_gap:
        at = max(at, last_sent + planner.gap())
    slots: list[Slot] = []
    while groups:
        if pacing.daily_cap is not None and counts[planner.day(at)] >= pacing.daily_cap:
            at, planner.cap_hit = planner.next_day(at), True
            continue
        ready = [
            key
            for key, queue in groups.items()
            if planner.earliest(queue[-1], zones[key], at) == at
        ]
        if not ready:
            at = min(planner.earliest(q[-1], zones[k], at) for k, q in groups.items())
            continue
        key = min(ready, key=lambda k: (k[0], groups[k][-1].id))
        item = groups[key].pop()
        if not groups[key]:
            del groups[key]
        slots.append(Slot(item.id, at, planner.reason(item, zones[key], at, len(slots))))
        counts[planner.day(at)] += 1
        at = at + planner.gap()
    return slots
