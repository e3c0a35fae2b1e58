"""A campaign of 2,000 candidates x 3 steps with the template-only drafter, everything approved.

Run: .venv/bin/python bench/campaign.py [--candidates N]
Reports, each beside a baseline measured in the same run:
- enrol and draft step 1 for N candidates, against rendering the N templates alone;
- the scheduler's pass over 3N enrolments (three such campaigns, all step 1 sent) to find
  what is due, against a bare SELECT of the same enrolment rows.
Targets (issue 7): enrol+draft < 10x render-alone; scheduler pass < 5x the bare SELECT.
"""

from __future__ import annotations

import asyncio
import csv
import socket
import statistics
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

from aiosmtpd.controller import Controller
from sqlalchemy import select

from outreach.campaigns import followups
from outreach.campaigns import lifecycle as campaigns
from outreach.candidates import records as candidates
from outreach.cli.workspace import write_workspace
from outreach.config import load_config
from outreach.drafting.drafter import Drafter
from outreach.drafting.templates import TemplateLibrary, candidate_context
from outreach.review import queue
from outreach.sending.sender import run_sender
from outreach.store import open_store
from outreach.store.models import Draft, Enrolment

MONDAY = datetime(2027, 3, 1, 9, 0, tzinfo=UTC)
ROLES = ("Backend Engineer", "Platform Engineer", "Data Engineer")


class Sink:
    async def handle_DATA(self, server: object, session: object, envelope: object) -> str:
        return "250 OK"


def setup(folder: Path, count: int, port: int) -> None:
    write_workspace(folder)
    config = folder / "config.toml"
    text = config.read_text()
    text = text.replace('host = "localhost"', 'host = "127.0.0.1"').replace(
        "port = 587", f"port = {port}"
    )
    text = text.replace('security = "starttls"', 'security = "none"', 1)
    text = text.replace('working_hours = "Mon-Fri 09:00-17:00"', 'working_hours = "always"')
    text = text.replace("min_gap_seconds = 90", "min_gap_seconds = 0").replace(
        "jitter_seconds = 30", "jitter_seconds = 0"
    )
    text = text.replace("daily_cap = 100", "daily_cap = 1000000").replace(
        "first_contact_cap = 2", "first_contact_cap = 10"
    )
    config.write_text(text)
    with (folder / "people.csv").open("w", newline="") as handle:
        out = csv.writer(handle)
        out.writerow(["email", "name", "company", "achievements", "tags"])
        for i in range(count):
            out.writerow(
                [
                    f"p{i}@company{i}.example",
                    f"Person {i}",
                    f"Company {i}",
                    f"Built the ledger at Company {i}",
                    "bench",
                ]
            )
    for index, title in enumerate(ROLES):
        (folder / f"c{index}.toml").write_text(
            f'name = "c{index}"\ncandidates = "tag:bench"\nallow_overlap = true\n'
            f'role = {{ title = "{title}" }}\n'
            'steps = [{ template = "intro" }, { template = "follow_up", wait_days = 2 }, '
            '{ template = "follow_up", wait_days = 5 }]\n'
        )


def render_alone(folder: Path, people: list[dict[str, object]]) -> float:
    settings = load_config(folder / "config.toml")
    library = TemplateLibrary(settings.templates_dir)
    sender = {
        "name": settings.sender.name,
        "email": settings.sender.email,
        "signature": settings.sender.signature,
    }
    start = time.perf_counter()
    for person in people:
        library.render(
            "intro",
            {"candidate": candidate_context(person), "role": {"title": ROLES[0]}, "sender": sender},
        )
    return time.perf_counter() - start


async def main_async(count: int) -> None:
    timings: dict[str, float] = {}
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    controller = Controller(Sink(), hostname="127.0.0.1", port=port)
    controller.start()
    try:
        with tempfile.TemporaryDirectory() as tmp:
            folder = Path(tmp) / "ws"
            setup(folder, count, port)
            settings = load_config(folder / "config.toml")
            store = open_store(settings.database_url)
            candidates.import_file(store, folder / "people.csv")
            people = candidates.list_candidates(store, tag="bench")
            drafter = Drafter(settings, store, llm=None)
            render = render_alone(folder, people)
            enrol = []
            for index in range(3):
                campaigns.create(
                    store, campaigns.load_campaign_file(folder / f"c{index}.toml"), settings
                )
                start = time.perf_counter()
                report = await campaigns.start(store, settings, drafter, f"c{index}", now=MONDAY)
                enrol.append(time.perf_counter() - start)
                assert report.enrolled == count and report.drafted == count, report
            with store.session() as session:
                for draft in session.scalars(select(Draft).where(Draft.status == "pending")):
                    queue.approve(
                        session,
                        draft,
                        actor="bench",
                        sender=settings.sender.email,
                    )
            sent = await run_sender(store, settings, clock=lambda: MONDAY, batch_size=200)
            assert len(sent.sent) == 3 * count, (len(sent.sent), sent.warnings[:3])
            later = MONDAY + timedelta(
                days=1
            )  # scheduled, not yet due: the pass finds nothing to draft
            start = time.perf_counter()
            with store.session() as session:
                scheduled = followups.schedule(session, settings, now=later)
            timings["first"] = time.perf_counter() - start
            assert scheduled.scheduled == 0  # the sender scheduled each step as it went out
            passes, bare = [], []
            for _ in range(5):
                start = time.perf_counter()
                with store.session() as session:
                    followups.schedule(session, settings, now=later)
                    due = followups.due(session, now=later)
                passes.append(time.perf_counter() - start)
                start = time.perf_counter()
                with store.session() as session:
                    rows = session.execute(
                        select(
                            Enrolment.id,
                            Enrolment.campaign_id,
                            Enrolment.step,
                            Enrolment.status,
                            Enrolment.next_due_at,
                        )
                    ).all()
                bare.append(time.perf_counter() - start)
            assert due == [] and len(rows) == 3 * count
            store.close()
    finally:
        controller.stop()
    enrol_t, pass_t, bare_t = (
        statistics.median(enrol),
        statistics.median(passes),
        statistics.median(bare),
    )
    print(f"render {count} templates alone     {render:8.3f} s")
    print(
        f"enrol + draft step 1 (median/3)  {enrol_t:8.3f} s   {enrol_t / render:5.1f}x   target < 10x"
    )
    print(f"bare SELECT of {3 * count} enrolments   {bare_t:8.4f} s")
    first = timings["first"]
    print(f"first pass after the sends        {first:8.4f} s   {first / bare_t:5.1f}x")
    print(
        f"scheduler pass (median/5)        {pass_t:8.4f} s   {pass_t / bare_t:5.1f}x   target < 5x"
    )


def main() -> None:
    import argparse

    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--candidates", type=int, default=2000)
    args = parser.parse_args()
    asyncio.run(main_async(args.candidates))


if __name__ == "__main__":
    main()
