"""Pacing: daily cap, gaps with jitter, working hours where the candidate lives, order, reasons."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from outreach.config import Settings
from outreach.sending.pacing import Pacing, Waiting, WorkingHours, plan
from outreach.sending.sender import mailbox_plan, run_sender
from outreach.store import Store
from tests import outbox_kit as kit
from tests.services import smtp as services
from tests.services.smtp import CaptureServer

smtp_capture = services.smtp_capture
smtp_capture_factory = services.smtp_capture_factory

STOCKHOLM = ZoneInfo("Europe/Stockholm")
MON_11 = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)  # Monday 11:00 in Stockholm
HOURS = WorkingHours.parse("Mon-Fri 09:00-17:00")


def pacing(**kwargs: object) -> Pacing:
    return Pacing(sender_zone=STOCKHOLM, **kwargs)  # type: ignore[arg-type]


def local(slot_at: datetime, zone: str = "Europe/Stockholm") -> str:
    return slot_at.astimezone(ZoneInfo(zone)).strftime("%a %H:%M:%S")


def test_working_hours_parse_and_next_open() -> None:
    assert WorkingHours.parse("always") is None
    assert HOURS == WorkingHours(frozenset(range(5)), 9 * 60, 17 * 60)
    weekend = WorkingHours.parse("Fri-Mon 10:00-24:00")
    assert weekend is not None and weekend.days == frozenset({4, 5, 6, 0})
    assert HOURS is not None
    friday_late = datetime(2027, 3, 5, 17, 0, tzinfo=STOCKHOLM)
    assert HOURS.next_open(friday_late, STOCKHOLM) == datetime(2027, 3, 8, 9, 0, tzinfo=STOCKHOLM)
    inside = datetime(2027, 3, 3, 9, 0, tzinfo=STOCKHOLM)
    assert HOURS.next_open(inside, STOCKHOLM) == inside
    with pytest.raises(ValueError, match="Mon-Fri 09:00-17:00"):
        WorkingHours.parse("weekdays")


def test_daily_cap_moves_the_rest_to_the_next_working_morning() -> None:
    items = [Waiting(n, "outreach") for n in range(1, 5)]
    slots = plan(items, pacing(daily_cap=2, hours=HOURS), now=MON_11, recent_sends=[MON_11])
    assert [s.id for s in slots] == [1, 2, 3, 4]
    assert [local(s.at) for s in slots] == [
        "Mon 11:00:00",
        "Tue 09:00:00",
        "Tue 09:00:00",
        "Wed 09:00:00",
    ]
    assert slots[0].due and not slots[1].due
    assert slots[1].reason == "daily cap reached (2/day), next slot Tue 09:00"
    assert slots[3].reason == "daily cap reached (2/day), next slot Wed 09:00"


def test_gap_with_jitter_is_bounded_and_stable() -> None:
    rules = pacing(min_gap=90, jitter=30)
    items = [Waiting(n, "outreach") for n in range(1, 21)]
    last = MON_11 - timedelta(seconds=10)
    slots = plan(items, rules, now=MON_11, last_sent=last)
    assert slots == plan(items, rules, now=MON_11, last_sent=last)  # same look, same plan
    times = [last] + [s.at for s in slots]
    gaps = [(b - a).total_seconds() for a, b in zip(times, times[1:], strict=False)]
    assert all(60 <= g <= 120 for g in gaps) and len(set(gaps)) > 1
    assert slots[0].reason.startswith("paced: 90 s ± 30 s after the last send, next slot Mon")
    assert slots[3].reason.startswith("paced: 3 earlier in line, 90 s ± 30 s apart")


def test_no_gap_means_no_jitter() -> None:
    slots = plan([Waiting(n, "outreach") for n in range(3)], pacing(jitter=30), now=MON_11)
    assert [s.at for s in slots] == [MON_11] * 3 and all(s.due for s in slots)


def test_working_hours_in_the_candidates_timezone() -> None:
    items = [
        Waiting(1, "outreach", "America/New_York"),  # 05:00 there
        Waiting(2, "outreach", "Asia/Tokyo"),  # 19:00 there
        Waiting(3, "outreach", ""),  # the sender's: Stockholm, 11:00
        Waiting(4, "outreach", "Not/AZone"),  # unknown: the sender's
    ]
    slots = {s.id: s for s in plan(items, pacing(hours=HOURS), now=MON_11)}
    assert slots[3].due and slots[4].due
    assert local(slots[1].at, "America/New_York") == "Mon 09:00:00"
    assert slots[1].reason == "outside working hours in America/New_York, next slot Mon 09:00"
    assert local(slots[2].at, "Asia/Tokyo") == "Tue 09:00:00"
    assert slots[2].reason == "outside working hours in Asia/Tokyo, next slot Tue 09:00"


def test_weekend_waits_for_monday() -> None:
    saturday = datetime(2027, 3, 6, 12, 0, tzinfo=UTC)
    (slot,) = plan([Waiting(1, "outreach")], pacing(hours=HOURS), now=saturday)
    assert local(slot.at) == "Mon 09:00:00"
    assert slot.reason == "outside working hours in Europe/Stockholm, next slot Mon 09:00"


def test_follow_ups_and_replies_go_before_first_contacts() -> None:
    items = [
        Waiting(1, "outreach"),
        Waiting(2, "outreach"),
        Waiting(3, "follow_up"),
        Waiting(4, "reply"),
        Waiting(5, "follow_up"),
    ]
    slots = plan(items, pacing(min_gap=60), now=MON_11)
    assert [s.id for s in slots] == [4, 3, 5, 1, 2]


def test_a_held_message_says_why_and_lets_others_pass() -> None:
    hold = MON_11 + timedelta(minutes=20)
    items = [Waiting(1, "outreach", hold_until=hold, hold_reason="temporary failure (451)")]
    items.append(Waiting(2, "outreach"))
    slots = plan(items, pacing(min_gap=60), now=MON_11)
    assert [s.id for s in slots] == [2, 1]
    assert slots[1].at == hold
    assert slots[1].reason == "temporary failure (451), next slot Mon 11:20"


def paced_settings(**pacing_keys: object) -> Settings:
    keys: dict[str, object] = {"working_hours": "Mon-Fri 09:00-17:00", "daily_cap": 100}
    keys.update({"min_gap_seconds": 90, "jitter_seconds": 0, **pacing_keys})
    return kit.settings(pacing=keys)


async def test_the_sender_sends_what_is_due_and_says_when_the_next_goes(
    store: Store, smtp_capture: CaptureServer
) -> None:
    settings = paced_settings()
    kit.add_drafts(store, 3)
    kit.add_draft(store, "ny@example.com", timezone="America/New_York")
    now = [MON_11]
    transport = smtp_capture.settings()
    report = await run_sender(store, settings, clock=lambda: now[0], smtp=transport)
    assert len(report.sent) == 1 and len(smtp_capture.messages) == 1
    assert report.next_slot is not None
    assert report.next_slot.reason == "paced: 90 s after the last send, next slot Mon 11:01"
    again = await run_sender(store, settings, clock=lambda: now[0], smtp=transport)
    assert again.sent == []  # the same moment: nothing is due
    now[0] = MON_11 + timedelta(seconds=90)
    assert len((await run_sender(store, settings, clock=lambda: now[0], smtp=transport)).sent) == 1
    slots = mailbox_plan(store, settings, Pacing.from_settings(settings), now=now[0])
    assert [s.reason.split(",")[0] for s in slots] == [
        "paced: 90 s after the last send",
        "outside working hours in America/New_York",
    ]


async def test_wait_mode_sleeps_between_sends(store: Store, smtp_capture: CaptureServer) -> None:
    settings = paced_settings(jitter_seconds=30, daily_cap=3)
    kit.add_drafts(store, 4)
    now = [MON_11]

    async def sleep(seconds: float) -> None:  # an injected clock: sleeping moves it
        now[0] += timedelta(seconds=seconds)

    report = await run_sender(
        store, settings, clock=lambda: now[0], smtp=smtp_capture.settings(), sleep=sleep,
        wait=True, limit=3,
    )  # fmt: skip
    assert len(report.sent) == 3
    sent = sorted(e.sent_at for e in kit.entries(store) if e.sent_at is not None)
    gaps = [(b - a).total_seconds() for a, b in zip(sent, sent[1:], strict=False)]
    assert all(60 <= g <= 120 for g in gaps)
    slots = mailbox_plan(store, settings, Pacing.from_settings(settings), now=now[0])
    assert slots[0].reason == "daily cap reached (3/day), next slot Tue 09:00"
