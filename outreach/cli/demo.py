"""The demo: the whole loop on embedded defaults, with fictional people and nothing leaving
this machine.

Candidates are imported and a three-step campaign is started (step 1 drafted into the review
queue), plus one interview-feedback draft. The demo then approves the four first-contact
drafts itself (in real use a person approves every one) and sends them, paced, to a capture
SMTP server on loopback that keeps each message as an .eml file. Replies arrive in a local
Maildir: a human answer, an out-of-office and a bounce; the sync threads them, stops that
sequence and suppresses the bounced address. A week later the follow-ups that are due are
drafted. Finally the web UI starts with a demo reviewer, so the rest can be reviewed in the
browser while the background sender keeps delivering approved mail to the capture server.
"""

from __future__ import annotations

import asyncio
import mailbox
import socket
from datetime import timedelta
from email import message_from_bytes, policy
from email.message import EmailMessage
from email.utils import format_datetime, make_msgid
from importlib import resources
from pathlib import Path
from typing import Any

from aiosmtpd.controller import Controller
from sqlalchemy import select

from outreach import users
from outreach.campaigns import followups
from outreach.campaigns import lifecycle as campaigns
from outreach.candidates import records as candidates
from outreach.cli.context import App
from outreach.config import CONFIG_NAME, Settings, load_config
from outreach.conversations import reads
from outreach.drafting.drafter import Drafter, DraftSpec, make_llm
from outreach.inbox.sync import run_sync
from outreach.review import queue
from outreach.sending.sender import run_sender
from outreach.store import Store, open_store
from outreach.store.models import Campaign, Draft, utcnow

DEMO_DATA = resources.files("outreach") / "starter" / "demo"
CAMPAIGN = "backend-demo"
DEMO_USER, DEMO_PASSWORD = "demo", "demo-password"
NOTES = """Interview 2026-11-20, system design and pairing.
Went well:
- Designed the ledger sharding cleanly; explained the trade-offs of hash vs range keys well.
- Pairing: wrote tests first, talked through each step.
To work on:
- SQL window functions; needed hints for the running-balance query.
"""


class Capture:
    """An SMTP server on loopback that keeps every message it is given as an .eml file."""

    def __init__(self, folder: Path) -> None:
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        self.count = len(list(folder.glob("*.eml")))

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.count += 1
        path = self.folder / f"{self.count:04d}.eml"
        path.write_bytes(envelope.content)
        return f"250 2.0.0 Ok: kept as {path.name}"


def free_port() -> int:
    """A free TCP port on loopback."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def configure(directory: Path, port: int) -> Settings:
    """Point the demo workspace at the capture server and the local Maildir."""
    config = directory / CONFIG_NAME
    text = config.read_text(encoding="utf-8")
    lines = []
    section = ""
    for line in text.splitlines():
        if line.startswith("["):
            section = line.split("]")[0].strip("[")
        key = line.split("=")[0].strip()
        value = {
            ("smtp", "host"): '"127.0.0.1"',
            ("smtp", "port"): str(port),
            ("smtp", "security"): '"none"',
            ("imap", "maildir"): '"Maildir"',
            ("pacing", "min_gap_seconds"): "2",
            ("pacing", "jitter_seconds"): "1",
            ("pacing", "working_hours"): '"always"',
            ("sync", "interval_minutes"): "1",
            ("privacy", "controller"): '"Nordlys AB"',  # first contacts carry the notice
            ("privacy", "contact"): '"privacy@nordlys.example"',
            ("privacy", "retain_months"): "12",
        }.get((section, key))
        lines.append(f"{key} = {value}" if value is not None else line)
    config.write_text("\n".join(lines) + "\n", encoding="utf-8")
    for box in ("Maildir", "Maildir/.Sent"):  # the sender files a copy of what it sends
        for folder in ("cur", "new", "tmp"):
            (directory / box / folder).mkdir(parents=True, exist_ok=True)
    return load_config(config)


def reply_to(
    raw: bytes, frm: str, body: str, *, subject_prefix: str = "Re: ", **headers: str
) -> bytes:
    """A reply to one of our messages, as the candidate's mail client would write it."""
    ours = message_from_bytes(raw, policy=policy.default)
    reply = EmailMessage()
    reply["From"] = frm
    reply["To"] = str(ours["From"])
    reply["Subject"] = f"{subject_prefix}{ours['Subject']}"
    reply["Date"] = format_datetime(utcnow())
    reply["Message-ID"] = make_msgid(domain=frm.split("@")[-1].rstrip(">"))
    reply["In-Reply-To"] = str(ours["Message-ID"])
    reply["References"] = str(ours["Message-ID"])
    for name, value in headers.items():
        reply[name.replace("_", "-")] = value
    quoted = "\n".join(f"> {line}" for line in ours.get_content().splitlines()[:6])
    reply.set_content(f"{body}\n\nOn {ours['Date']}, {ours['From']} wrote:\n{quoted}\n")
    return reply.as_bytes(policy=policy.SMTP)


def bounce_for(raw: bytes) -> bytes:
    """A delivery status notification for one of our messages (RFC 3464)."""
    ours = message_from_bytes(raw, policy=policy.default)
    rcpt = ours["To"].addresses[0].addr_spec
    boundary = "demo-bounce"
    return (
        f"From: MAILER-DAEMON@mx.demo.example (Mail Delivery System)\r\nTo: {ours['From']}\r\n"
        f"Subject: Undelivered Mail Returned to Sender\r\nDate: {format_datetime(utcnow())}\r\n"
        f"Message-ID: {make_msgid(domain='mx.demo.example')}\r\nAuto-Submitted: auto-replied\r\n"
        f'Content-Type: multipart/report; report-type=delivery-status; boundary="{boundary}"\r\n'
        f"\r\n--{boundary}\r\nContent-Type: text/plain\r\n\r\n<{rcpt}>: 550 5.1.1 User unknown\r\n"
        f"\r\n--{boundary}\r\nContent-Type: message/delivery-status\r\n\r\n"
        f"Reporting-MTA: dns; mx.demo.example\r\n\r\nFinal-Recipient: rfc822; {rcpt}\r\n"
        f"Action: failed\r\nStatus: 5.1.1\r\nDiagnostic-Code: smtp; 550 5.1.1 User unknown\r\n"
        f"\r\n--{boundary}\r\nContent-Type: text/rfc822-headers\r\n\r\n"
        f"From: {ours['From']}\r\nTo: {rcpt}\r\nSubject: {ours['Subject']}\r\n"
        f"Message-ID: {ours['Message-ID']}\r\n\r\n--{boundary}--\r\n"
    ).encode()


def run_demo(app: App, directory: Path, *, serve: bool = True) -> None:
    """Run the whole loop in the demo workspace, then (unless told not to) serve the web UI."""
    port = free_port()
    capture = Capture(directory / "sent-mail")
    controller = Controller(capture, hostname="127.0.0.1", port=port)
    controller.start()
    settings = configure(directory, port)
    store = open_store(settings.database_url)
    say = app.console.print
    try:
        asyncio.run(_story(settings, store, directory, capture, say))
        with store.session() as session:
            if users.count_users(session) == 0:
                users.add_user(session, DEMO_USER, DEMO_PASSWORD, actor=users.Automation.DEMO)
        if serve:
            _serve(app, settings, store, say)
    finally:
        store.close()
        controller.stop()


async def _story(
    settings: Settings, store: Store, directory: Path, capture: Capture, say: Any
) -> None:
    with resources.as_file(DEMO_DATA / "candidates.csv") as csv_path:
        report = candidates.import_file(store, csv_path, tags=["demo"], actor=users.Automation.DEMO)
    say(f"[bold]1. Candidates[/]: {report.created} imported into {directory}", markup=True)
    for person in candidates.list_candidates(store, tag="demo"):
        say(f"   {person['name']} <{person['email']}> — {person['headline']}")
    drafter = Drafter(settings, store, llm=make_llm(settings))
    try:
        with store.session() as session:
            exists = session.scalar(select(Campaign.id).where(Campaign.name == CAMPAIGN))
        if exists is None:
            with resources.as_file(DEMO_DATA / "campaign.toml") as spec_path:
                campaigns.create(store, campaigns.load_campaign_file(spec_path), settings)
            started = await campaigns.start(
                store, settings, drafter, CAMPAIGN, actor=users.Automation.DEMO
            )
            say(
                f"[bold]2. Campaign {CAMPAIGN}[/]: {started.enrolled} enrolled, step 1 drafted for "
                "each into the review queue",
                markup=True,
            )
            feedback = DraftSpec(template="feedback_reject", notes=NOTES, outcome="reject")
            await drafter.draft_many(["priya.nair@tidewater.example"], feedback)
            say(
                "[bold]3. Feedback[/]: a rejection drafted from interview notes for Priya Nair",
                markup=True,
            )
        await _send_and_reply(settings, store, directory, capture, drafter, say)
    finally:
        await drafter.aclose()


async def _send_and_reply(
    settings: Settings, store: Store, directory: Path, capture: Capture, drafter: Drafter, say: Any
) -> None:
    with store.session() as session:
        chosen = list(
            session.scalars(
                select(Draft)
                .where(Draft.status == queue.PENDING, Draft.campaign_id.is_not(None))
                .order_by(Draft.id)
                .limit(4)
            )
        )
        for draft in chosen:
            queue.approve(session, draft, actor=users.Automation.DEMO, sender=settings.sender.email)
    if chosen:
        say(
            f"[bold]4. Review[/]: the demo approves {len(chosen)} drafts on your behalf (in real "
            "use a person approves every one); the rest wait in the queue",
            markup=True,
        )
        sent = await run_sender(store, settings, clock=utcnow, wait=True)
        say(
            f"[bold]5. Sent[/]: {len(sent.sent)} messages, paced, to the capture server; see "
            f"{capture.folder}",
            markup=True,
        )
        for path in sorted(capture.folder.glob("*.eml"))[-len(sent.sent) :]:
            message = message_from_bytes(path.read_bytes(), policy=policy.default)
            say(f"   {path.name}: to {message['To']} — {message['Subject']}", markup=False)
        _replies(directory, capture)
    report = run_sync(settings, store)
    say(f"[bold]6. Replies[/]: {report.summary()}", markup=True)
    for row in reads.list_conversations(store):
        say(
            f"   {row.name}: {row.status.replace('_', ' ')} — {row.subject} "
            f"({row.incoming} in / {row.outgoing} out)"
        )
    later = utcnow() + timedelta(days=8)
    advanced = await followups.advance(store, settings, drafter, now=later)
    say(
        f"[bold]7. A week later[/]: {advanced.drafted} follow-ups drafted as replies in the same "
        "thread, for review: not for the person who answered, nor the bounced address; the "
        "out-of-office one only after the return date",
        markup=True,
    )


def _replies(directory: Path, capture: Capture) -> None:
    """Put a human reply, an out-of-office and a bounce into the local Maildir."""
    box = mailbox.Maildir(directory / "Maildir", create=True)
    sent = sorted(capture.folder.glob("*.eml"))[-4:]
    if len(sent) < 4:
        return
    raws = [path.read_bytes() for path in sent]
    people = [message_from_bytes(raw, policy=policy.default)["To"].addresses[0] for raw in raws]
    box.add(
        reply_to(
            raws[0],
            f"{people[0].display_name} <{people[0].addr_spec}>",
            "Thanks for reaching out! Yes, I'd be happy to talk next week.\n\nBest",
        )
    )
    box.add(
        reply_to(
            raws[1],
            f"{people[1].display_name} <{people[1].addr_spec}>",
            "I am out of the office until 2 December and will reply when I am back.",
            subject_prefix="Automatic reply: ",
            Auto_Submitted="auto-replied",
        )
    )
    box.add(bounce_for(raws[2]))


def _serve(app: App, settings: Settings, store: Store, say: Any) -> None:
    import uvicorn

    from outreach.jobs.loops import serve_jobs
    from outreach.web import create_app

    host, port = settings.web.host, settings.web.port
    say(
        f"[bold]8. Review in the browser[/]: http://{host}:{port}/ — log in as "
        f"[bold]{DEMO_USER}[/] / [bold]{DEMO_PASSWORD}[/] (Ctrl-C to stop). Approved mail goes to "
        "the capture server by the background sender.",
        markup=True,
    )
    web = create_app(settings, store, background=serve_jobs(settings, store))
    uvicorn.run(
        web, host=host, port=port, log_level="warning", server_header=False, proxy_headers=False
    )
