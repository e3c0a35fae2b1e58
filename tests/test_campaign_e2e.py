"""A whole campaign against a real SMTP server and real Dovecot, with an injected clock.

20 candidates, 3 steps. Some reply (their follow-ups stop), one is out of office (moved past
the return date), one bounces (suppressed), one opts out, and two work at the same company
(one replies, the other is held). Asserts exactly which follow-ups were drafted and sent.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import message_from_bytes, policy
from pathlib import Path

import pytest
from sqlalchemy import select

from outreach.campaigns import followups
from outreach.campaigns import lifecycle as campaigns
from outreach.campaigns import stats as campaign_stats
from outreach.candidates.records import import_file, is_suppressed
from outreach.config import Settings, settings_from_dict
from outreach.drafting.drafter import Drafter
from outreach.inbox.sync import run_sync
from outreach.review import queue
from outreach.sending.sender import run_sender
from outreach.sending.sent_folder import imap_factory
from outreach.store import Store
from outreach.store.models import Candidate, Draft, Enrolment
from tests import inbox_kit as kit
from tests.services.dovecot import Dovecot
from tests.services.smtp import CaptureServer

pytestmark = pytest.mark.dovecot
REPO = Path(__file__).resolve().parents[1]
MONDAY = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
REPLIERS = ["rita@r1.example", "rolf@r2.example", "rune@r3.example"]
QUIET = [f"quiet{n}@q{n}.example" for n in range(1, 13)]
OOO, BOUNCE, OPTOUT = "otto@away.example", "bert@gone.example", "olga@nope.example"
ANN, BOB = "ann@acme.example", "bob@acme.example"
EVERYONE = REPLIERS + QUIET + [OOO, BOUNCE, OPTOUT, ANN, BOB]


def make_settings(
    tmp_path: Path, smtp: CaptureServer, dovecot: Dovecot, user: str, url: str
) -> Settings:
    return settings_from_dict(
        {
            "sender": {"name": "Maria Berg", "email": kit.RECRUITER, "signature": "Maria"},
            "database": {"url": url},
            "smtp": {"host": "127.0.0.1", "port": smtp.port, "security": "none"},
            "imap": {
                "host": dovecot.host,
                "port": dovecot.port,
                "security": "none",
                "username": user,
            },
            "pacing": {"working_hours": "always", "min_gap_seconds": 0, "jitter_seconds": 0},
            "templates": {"dir": str(REPO / "templates")},
            "sync": {"since": "2020-01-01"},
        },
        path=tmp_path / "config.toml",
    )


def approve_pending(store: Store, settings: Settings) -> list[str]:
    emails = []
    with store.session() as session:
        rows = session.execute(
            select(Draft, Candidate.email).join(Candidate).where(Draft.status == queue.PENDING)
        ).all()
        for draft, email in rows:
            queue.approve(session, draft, actor="maria", sender=kit.RECRUITER)
            emails.append(email)
    return sorted(emails)


def drafted(store: Store, step: int) -> dict[str, str]:
    with store.session() as session:
        rows = session.execute(
            select(Candidate.email, Draft.status).join(Candidate).where(Draft.step == step)
        ).all()
    return dict(rows)


def first_message_id(store: Store, email: str) -> str:
    with store.session() as session:
        value = session.scalar(
            select(Draft.message_id)
            .join(Candidate)
            .where(Candidate.email == email, Draft.step == 0)
        )
    assert value
    return value


def on(day: str, raw: bytes) -> bytes:
    """The same mail, dated on `day` (a date inside the campaign, as real replies are)."""
    return raw.replace(kit.DATE.encode(), f"{day} 10:15:00 +0100".encode())


def received_by(smtp: CaptureServer) -> dict[str, int]:
    counts: dict[str, int] = {}
    for message in smtp.messages:
        for rcpt in message.rcpt_tos:
            counts[rcpt] = counts.get(rcpt, 0) + 1
    return counts


async def test_a_whole_campaign(
    store: Store,
    db_url: str,
    tmp_path: Path,
    smtp_capture: CaptureServer,
    dovecot: Dovecot,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("OUTREACH_IMAP_PASSWORD", dovecot.password)
    user = dovecot.new_user()
    settings = make_settings(tmp_path, smtp_capture, dovecot, user, db_url)
    people = tmp_path / "people.csv"
    people.write_text(
        "email,name,company,tags\n"
        + "".join(
            f"{e},{e.split('@')[0].title()} Doe,{e.split('@')[1].split('.')[0].title()},backend\n"
            for e in EVERYONE
        )
    )
    import_file(store, people)
    spec = tmp_path / "campaign.toml"
    spec.write_text(
        'name = "backend"\ncandidates = "tag:backend"\nrole = { title = "Senior Backend Engineer" }\n'
        'steps = [{ template = "intro" }, { template = "follow_up", wait_days = 2 },'
        ' { template = "follow_up", wait_days = 3 }]\n'
    )
    campaigns.create(store, campaigns.load_campaign_file(spec), settings)
    drafter = Drafter(settings, store, llm=None)

    # Step 1: drafted for all 20, approved, sent.
    report = await campaigns.start(store, settings, drafter, "backend", now=MONDAY)
    assert report.enrolled == 20 and report.drafted == 20
    assert approve_pending(store, settings) == sorted(EVERYONE)
    await run_sender(store, settings, clock=lambda: MONDAY)
    assert received_by(smtp_capture) == {e: 1 for e in EVERYONE}

    # Tuesday: the answers arrive in the recruiter's mailbox.
    ours = {e: first_message_id(store, e) for e in EVERYONE}
    for n, email in enumerate([*REPLIERS, ANN], 1):
        dovecot.deliver(
            user,
            on(
                "Tue, 02 Mar 2027", kit.gmail_reply(email, f"<a{n}@x.example>", "Yes!", ours[email])
            ),
        )
    dovecot.deliver(
        user,
        on(
            "Mon, 01 Mar 2027",
            kit.out_of_office(
                OOO,
                "Out of Office: Senior Backend Engineer",
                "I am out of office until 15 March 2027.\n",
                ours[OOO],
                Auto_Submitted="auto-replied",
            ),
        ),
    )
    dovecot.deliver(user, kit.dsn_bounce(BOUNCE, ours[BOUNCE]))
    dovecot.deliver(
        user, kit.gmail_reply(OPTOUT, "<stop@mail.example>", "Unsubscribe", ours[OPTOUT])
    )
    run_sync(settings, store, now=lambda: MONDAY + timedelta(days=1))
    with store.session() as session:
        assert is_suppressed(session, store.salt(), BOUNCE) == "hard_bounce"
        assert is_suppressed(session, store.salt(), OPTOUT) == "opted_out"
        states = dict(
            session.execute(select(Candidate.email, Enrolment.status).join(Enrolment)).all()
        )
    assert {e: states[e] for e in [*REPLIERS, ANN, BOB, BOUNCE, OPTOUT, OOO]} == {
        **{e: "replied" for e in [*REPLIERS, ANN]},
        BOB: "held",
        BOUNCE: "bounced",
        OPTOUT: "opted_out",
        OOO: "active",
    }

    # Wednesday is too early (2 business days after Monday is Wednesday, 09:00 UTC).
    assert (
        await followups.advance(store, settings, drafter, now=MONDAY + timedelta(days=1))
    ).drafted == 0
    thursday = MONDAY + timedelta(days=3)
    await followups.advance(store, settings, drafter, now=thursday)
    assert sorted(drafted(store, 1)) == sorted(QUIET)  # not the out-of-office, not the rest
    assert approve_pending(store, settings) == sorted(QUIET)
    await run_sender(store, settings, clock=lambda: thursday)
    received = received_by(smtp_capture)
    assert {e: received[e] for e in QUIET} == {e: 2 for e in QUIET}
    assert all(received[e] == 1 for e in EVERYONE if e not in QUIET)
    threaded = [
        message_from_bytes(m.data, policy=policy.default) for m in smtp_capture.messages[20:]
    ]
    for message in threaded:
        rcpt = message["To"].addresses[0].addr_spec
        assert message["In-Reply-To"] == ours[rcpt] and message["Subject"].startswith("Re: ")

    # Step 3 is due three business days after Thursday: Tuesday the 9th.
    tuesday = MONDAY + timedelta(days=8)
    assert (
        await followups.advance(store, settings, drafter, now=tuesday - timedelta(hours=1))
    ).drafted == 0
    await followups.advance(store, settings, drafter, now=tuesday)
    assert sorted(drafted(store, 2)) == sorted(QUIET)
    # One of them answers before the recruiter approves: the sync stops that follow-up.
    dovecot.deliver(
        user,
        on(
            "Tue, 09 Mar 2027",
            kit.gmail_reply(QUIET[0], "<late@x.example>", "Sorry!", ours[QUIET[0]]),
        ),
    )
    run_sync(settings, store, now=lambda: tuesday)
    assert drafted(store, 2)[QUIET[0]] == "cancelled"
    assert approve_pending(store, settings) == sorted(QUIET[1:])
    # Another answers after the approval, before any sync: the sender looks in the inbox
    # just before sending a follow-up, and cancels it.
    late = kit.gmail_reply(QUIET[1], "<later@x.example>", "Yes, call me.", ours[QUIET[1]])
    dovecot.deliver(user, on("Tue, 09 Mar 2027", late))
    report = await run_sender(
        store, settings, clock=lambda: tuesday, mailbox_factory=imap_factory(settings)
    )
    assert [reason for _, reason in report.cancelled] == [
        f"{QUIET[1]} wrote since 2027-03-04: follow-up cancelled before sending "
        "(run `outreach sync` to see the reply)"
    ]
    assert drafted(store, 2)[QUIET[1]] == "cancelled"

    # The out-of-office's follow-up waits for the return date plus a business day.
    assert OOO not in drafted(store, 1)
    await followups.advance(store, settings, drafter, now=datetime(2027, 3, 16, 8, 0, tzinfo=UTC))
    assert OOO not in drafted(store, 1)
    await followups.advance(store, settings, drafter, now=datetime(2027, 3, 16, 9, 0, tzinfo=UTC))
    assert drafted(store, 1)[OOO] == "pending"

    received = received_by(smtp_capture)
    assert received == {
        **{e: 1 for e in [*REPLIERS, ANN, BOB, BOUNCE, OPTOUT, OOO]},
        QUIET[0]: 2,
        QUIET[1]: 2,
        **{e: 3 for e in QUIET[2:]},
    }
    stats = campaign_stats.collect(store, "backend")
    assert (stats.enrolled, stats.held, stats.bounced, stats.opted_out) == (20, 1, 1, 1)
    assert [s.sent for s in stats.steps] == [20, 12, 10]
    assert stats.human_replies == 5 and stats.auto_replies == 1
    assert stats.median_hours_to_reply is not None and stats.median_hours_to_reply > 0
