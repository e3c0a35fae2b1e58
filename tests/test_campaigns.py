"""Campaigns: enrolment etiquette, step 1 drafted, follow-ups due in business days, stop rules."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from outreach.campaigns import followups
from outreach.campaigns import lifecycle as campaigns
from outreach.campaigns import stats as campaign_stats
from outreach.candidates.records import forget, import_file
from outreach.config import Settings, settings_from_dict
from outreach.conversations import stops
from outreach.drafting.drafter import Drafter
from outreach.errors import InputError, StateError
from outreach.review import queue
from outreach.sending.sender import run_sender
from outreach.store import Store
from outreach.store.models import Draft, Enrolment, Revision
from tests.services.smtp import CaptureServer

REPO = Path(__file__).resolve().parents[1]
MONDAY = datetime(2027, 3, 1, 10, 0, tzinfo=UTC)

PEOPLE = """email,name,company,achievements,tags
ann@acme.example,Ann Acme,Acme,Built Acme's billing,backend
bob@acme.example,Bob Acme,Acme,Ran Acme's SRE team,backend
cid@acme.example,Cid Acme,Acme,Wrote Acme's API,backend
dan@acme.example,Dan Acme,Acme,Led Acme's data team,backend
eve@gmail.com,Eve Free,,Maintains a Postgres extension,backend
fay@gmail.com,Fay Free,,Speaks at PyCon,backend
gus@other.example,Gus Other,Other,Scaled Other's search,backend
"""
CAMPAIGN = """
name = "backend-2027"
candidates = "tag:backend"
role = { title = "Senior Backend Engineer", location = "Stockholm", link = "https://nordlys.example/jobs/42" }
steps = [
  { template = "intro" },
  { template = "follow_up", wait_days = 2 },
  { template = "follow_up", wait_days = 5 },
]
"""


def make_settings(tmp_path: Path, port: int) -> Settings:
    return settings_from_dict(
        {
            "sender": {
                "name": "Maria Berg",
                "email": "maria@nordlys.example",
                "signature": "Maria",
            },
            "smtp": {"host": "127.0.0.1", "port": port, "security": "none"},
            "pacing": {"working_hours": "always", "min_gap_seconds": 0, "jitter_seconds": 0},
            "templates": {"dir": str(REPO / "templates")},
            "campaigns": {"holidays": [date(2027, 3, 3)]},
        },
        path=tmp_path / "config.toml",
    )


@pytest.fixture
def world(store: Store, tmp_path: Path, smtp_capture: CaptureServer) -> dict[str, Any]:
    settings = make_settings(tmp_path, smtp_capture.port)
    people = tmp_path / "people.csv"
    people.write_text(PEOPLE)
    import_file(store, people)
    forget(store, "gus@other.example")
    path = tmp_path / "campaign.toml"
    path.write_text(CAMPAIGN)
    campaigns.create(store, campaigns.load_campaign_file(path), settings)
    return {"settings": settings, "drafter": Drafter(settings, store, llm=None), "path": path}


def drafts_by_step(store: Store) -> dict[int, list[Draft]]:
    result: dict[int, list[Draft]] = {}
    with store.session() as session:
        for draft in session.scalars(select(Draft).order_by(Draft.id)):
            result.setdefault(draft.step or 0, []).append(draft)
    return result


def approve_all(store: Store, settings: Settings) -> None:
    with store.session() as session:
        for draft in session.scalars(select(Draft).where(Draft.status == "pending")):
            queue.approve(session, draft, actor="maria", sender=settings.sender.email)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('name = "x"\ncandidates = "tag:a"\nsteps = []\n', "steps is missing"),
        (CAMPAIGN + 'color = "red"\n', "unknown key 'color'"),
        (CAMPAIGN.replace('"backend-2027"', '"a/b <c>"'), "name 'a/b <c>': use letters, digits"),
        (CAMPAIGN.replace("wait_days = 2", "wait_days = 0"), "steps[2].wait_days must be"),
        (CAMPAIGN + "[pacing]\ndaily_limit = 3\n", "pacing.daily_limit is not a pacing setting"),
        (
            'name = "x"\ncandidates = "tag:a"\nsteps = [{ template = "intro" }]\nrole = { salary = "1" }\n',
            "role: unknown role key .salary.",
        ),
    ],
)
def test_bad_campaign_files(tmp_path: Path, text: str, message: str) -> None:
    path = tmp_path / "c.toml"
    path.write_text(text)
    with pytest.raises(InputError, match=message.replace("[", r"\[").replace("]", r"\]")):
        campaigns.load_campaign_file(path)


async def test_start_enrols_with_etiquette_and_drafts_step_one(
    store: Store, world: dict[str, Any]
) -> None:
    report = await campaigns.start(
        store, world["settings"], world["drafter"], "backend-2027", now=MONDAY
    )
    assert report.enrolled == 5 and report.drafted == 5
    skipped = " ".join(report.skipped)
    assert "dan@acme.example: already 3 active at acme.example" in skipped
    assert "gus" not in skipped  # forgotten: gone from every selection
    step_one = drafts_by_step(store)[0]
    assert {d.status for d in step_one} == {"pending"} and all(d.enrolment_id for d in step_one)
    assert {d.kind for d in step_one} == {"outreach"}
    with pytest.raises(StateError, match="only a new one can start"):
        await campaigns.start(store, world["settings"], world["drafter"], "backend-2027")


async def test_same_role_in_another_active_campaign_is_not_enrolled_twice(
    store: Store, world: dict[str, Any]
) -> None:
    await campaigns.start(store, world["settings"], world["drafter"], "backend-2027", now=MONDAY)
    second = world["path"].read_text().replace('"backend-2027"', '"backend-again"')
    world["path"].write_text(second)
    campaigns.create(store, campaigns.load_campaign_file(world["path"]), world["settings"])
    report = await campaigns.start(store, world["settings"], world["drafter"], "backend-again")
    assert report.enrolled == 0
    assert sum("another active campaign for this role" in s for s in report.skipped) == 5
    # The company cap counts active enrolments across campaigns: Dan still waits.
    assert any(s.startswith("dan@acme.example: already 3 active") for s in report.skipped)


async def test_follow_ups_are_drafted_in_thread_when_due(
    store: Store, world: dict[str, Any], smtp_capture: CaptureServer
) -> None:
    settings, drafter = world["settings"], world["drafter"]
    await campaigns.start(store, settings, drafter, "backend-2027", now=MONDAY)
    approve_all(store, settings)
    sent = await run_sender(store, settings, clock=lambda: MONDAY)
    assert len(sent.sent) == 5 and len(smtp_capture.messages) == 5
    # Sending step 1 scheduled step 2, in the same transaction: two business days after
    # Monday, with Wednesday a holiday, is Thursday.
    with store.session() as session:
        due_at = set(session.scalars(select(Enrolment.next_due_at)))
    assert due_at == {MONDAY + timedelta(days=3)}
    report = await followups.advance(store, settings, drafter, now=MONDAY + timedelta(days=2))
    assert (report.scheduled, report.drafted) == (0, 0)
    report = await followups.advance(store, settings, drafter, now=MONDAY + timedelta(days=3))
    assert report.drafted == 5
    steps = drafts_by_step(store)
    with store.session() as session:
        for follow_up in steps[1]:
            first = next(d for d in steps[0] if d.enrolment_id == follow_up.enrolment_id)
            assert follow_up.kind == "follow_up" and follow_up.in_reply_to == first.message_id
            assert follow_up.references == [first.message_id]
            revision = queue.current(session, follow_up)
            assert revision.subject.startswith("Re: Senior Backend Engineer")
    # Nothing more until those are approved and sent; then the last step, then completion.
    assert (
        await followups.advance(store, settings, drafter, now=MONDAY + timedelta(days=9))
    ).drafted == 0
    approve_all(store, settings)
    await run_sender(store, settings, clock=lambda: MONDAY + timedelta(days=3))
    received = [message_from_bytes(m.data, policy=policy.default) for m in smtp_capture.messages]
    replies = [m for m in received if m["In-Reply-To"]]
    assert len(replies) == 5 and all(m["Subject"].startswith("Re: ") for m in replies)
    final = await followups.advance(store, settings, drafter, now=MONDAY + timedelta(days=12))
    assert final.drafted == 5
    approve_all(store, settings)
    await run_sender(store, settings, clock=lambda: MONDAY + timedelta(days=12))
    with store.session() as session:
        assert set(session.scalars(select(Enrolment.status))) == {"completed"}
    done = await followups.advance(store, settings, drafter, now=MONDAY + timedelta(days=30))
    assert done.drafted == 0
    stats = campaign_stats.collect(store, "backend-2027")
    assert stats.status == "completed" and [s.sent for s in stats.steps] == [5, 5, 5]


async def test_pause_holds_follow_ups_and_resume_loses_nothing(
    store: Store, world: dict[str, Any]
) -> None:
    settings, drafter = world["settings"], world["drafter"]
    await campaigns.start(store, settings, drafter, "backend-2027", now=MONDAY)
    approve_all(store, settings)
    await run_sender(store, settings, clock=lambda: MONDAY)
    campaigns.set_status(store, "backend-2027", "paused")
    later = MONDAY + timedelta(days=7)
    assert (await followups.advance(store, settings, drafter, now=later)).drafted == 0
    campaigns.set_status(store, "backend-2027", "active")
    assert (await followups.advance(store, settings, drafter, now=later)).drafted == 5
    assert (await followups.advance(store, settings, drafter, now=later)).drafted == 0
    assert len(drafts_by_step(store)[1]) == 5


async def test_stop_rules(store: Store, world: dict[str, Any]) -> None:
    settings, drafter = world["settings"], world["drafter"]
    await campaigns.start(store, settings, drafter, "backend-2027", now=MONDAY)
    approve_all(store, settings)
    await run_sender(store, settings, clock=lambda: MONDAY)
    await followups.advance(store, settings, drafter, now=MONDAY + timedelta(days=3))
    with store.session() as session:
        ids = {e.candidate_id: e for e in session.scalars(select(Enrolment))}
        ann = next(cid for cid, e in ids.items() if e.candidate_id == min(ids))
        assert (
            stops.stop_enrolments(
                session, ann, status="replied", reason="Ann replied", actor="sync"
            )
            == 1
        )
        stops.cancel_pending(
            session, ann, reason="Ann replied", actor="sync", kinds=stops.FOLLOW_UPS
        )
        held = stops.hold_colleagues(session, ann)
        assert sorted(held) == ["bob@acme.example", "cid@acme.example"]
    with store.session() as session:
        statuses = {e.candidate_id: e.status for e in session.scalars(select(Enrolment))}
        follow_ups = session.scalars(
            select(Draft).where(Draft.step == 1, Draft.candidate_id == ann)
        )
        assert [d.status for d in follow_ups] == ["cancelled"]
        assert statuses[ann] == "replied" and list(statuses.values()).count("held") == 2
        eve = session.scalar(
            select(Enrolment)
            .join(Draft, Draft.enrolment_id == Enrolment.id)
            .join(Revision, Revision.draft_id == Draft.id)
            .where(Revision.body.contains("Eve"))
        )
        assert eve is not None
        eve.next_due_at = MONDAY + timedelta(days=20)
        stops.record_absence(session, eve.candidate_id, date(2027, 3, 10))
        assert eve.next_due_at == MONDAY + timedelta(days=20)  # never earlier than planned
        stops.record_absence(session, eve.candidate_id, date(2027, 4, 2))
        assert eve.next_due_at == datetime(2027, 4, 5, 9, 0, tzinfo=UTC)  # Friday → Monday


def test_business_days_skip_weekends_and_holidays() -> None:
    friday = date(2027, 3, 5)
    assert followups.add_business_days(friday, 1) == date(2027, 3, 8)
    assert followups.add_business_days(date(2027, 3, 2), 2, [date(2027, 3, 3)]) == date(2027, 3, 5)


async def test_mail_of_a_paused_campaign_waits_and_goes_on_resume(
    store: Store, world: dict[str, Any], smtp_capture: CaptureServer
) -> None:
    settings, drafter = world["settings"], world["drafter"]
    await campaigns.start(store, settings, drafter, "backend-2027", now=MONDAY)
    approve_all(store, settings)
    campaigns.set_status(store, "backend-2027", "paused")
    report = await run_sender(store, settings, clock=lambda: MONDAY)
    assert report.sent == [] and smtp_capture.messages == []
    assert report.next_slot is not None
    assert report.next_slot.reason.startswith("campaign backend-2027 is paused; resume it to send")
    campaigns.set_status(store, "backend-2027", "active")
    report = await run_sender(store, settings, clock=lambda: MONDAY)
    assert len(report.sent) == 5 and len(smtp_capture.messages) == 5
