"""Campaigns: a role, a few steps, and the candidates enrolled in them.

Step 1 is drafted for every enrolled candidate when the campaign starts. When a step has
been sent and its wait (in business days) has passed, ``advance`` drafts the next step as a
reply in the same thread. Nothing is sent without approval: each step is a draft in the queue.
What stops a sequence (a reply, an absence, a bounce, an opt-out, a colleague's reply) is
in ``outreach.conversations.stops``.
"""

from __future__ import annotations

import re
import tomllib
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy import and_, select
from sqlalchemy.orm import Session

from outreach.candidates.records import by_email, select_emails, suppression_reasons
from outreach.config import PacingSettings, Settings
from outreach.drafting.drafter import Drafter, DraftSpec
from outreach.drafting.inputs import check_role
from outreach.errors import InputError, NotFound, StateError
from outreach.review import approval, queue
from outreach.store import Store
from outreach.store.models import (
    Campaign,
    Candidate,
    Draft,
    Enrolment,
    Event,
    Revision,
    utcnow,
)
from outreach.store.values import CampaignStatus, CandidateStatus, EnrolmentStatus

# Personal mail providers: people there are not colleagues of one another.
FREEMAIL = frozenset(
    "gmail.com googlemail.com outlook.com hotmail.com live.com msn.com yahoo.com icloud.com "
    "me.com mac.com aol.com proton.me protonmail.com gmx.de gmx.net web.de mail.ru yandex.ru "
    "fastmail.com hey.com zoho.com".split()
)
NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,99}")
FILE_KEYS = {"name", "candidates", "role", "steps", "pacing", "sender", "allow_overlap"}


@dataclass(frozen=True)
class Step:
    template: str
    wait_days: int = 0


@dataclass(frozen=True)
class CampaignSpec:
    name: str
    selection: str
    role: Mapping[str, str]
    steps: tuple[Step, ...]
    pacing: Mapping[str, Any] = field(default_factory=dict)
    sender: str = ""
    allow_overlap: bool = False


def load_campaign_file(path: Path) -> CampaignSpec:
    """Read a campaign TOML file; errors name the file and key."""
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except tomllib.TOMLDecodeError as exc:
        raise InputError(f"{path}: TOML syntax error: {exc}") from None
    unknown = sorted(set(data) - FILE_KEYS)
    if unknown:
        raise InputError(f"{path}: unknown key {unknown[0]!r}; use {', '.join(sorted(FILE_KEYS))}")
    for key in ("name", "candidates", "steps"):
        if not data.get(key):
            raise InputError(f"{path}: {key} is missing; see the campaign example in the README")
    if not NAME.fullmatch(str(data["name"])):
        raise InputError(
            f"{path}: name {data['name']!r}: use letters, digits, '-', '_' or '.' (up to 100)"
        )
    role = check_role(data.get("role", {}), f"{path}: role")
    steps = []
    for number, raw in enumerate(data["steps"], start=1):
        if not isinstance(raw, dict) or not raw.get("template"):
            raise InputError(f"{path}: steps[{number}] needs a template")
        wait = raw.get("wait_days", 0)
        if not isinstance(wait, int) or wait < 0 or (number > 1 and wait < 1):
            raise InputError(f"{path}: steps[{number}].wait_days must be a whole number >= 1")
        steps.append(Step(str(raw["template"]), wait if number > 1 else 0))
    pacing = data.get("pacing", {})
    bad = sorted(set(pacing) - set(PacingSettings.model_fields))
    if bad:
        raise InputError(f"{path}: pacing.{bad[0]} is not a pacing setting")
    try:
        PacingSettings.model_validate(pacing)
    except ValueError as exc:
        raise InputError(f"{path}: pacing: {str(exc).splitlines()[-1].strip()}") from None
    return CampaignSpec(
        name=str(data["name"]).strip(),
        selection=str(data["candidates"]),
        role=role,
        steps=tuple(steps),
        pacing=dict(pacing),
        sender=str(data.get("sender", "")),
        allow_overlap=bool(data.get("allow_overlap", False)),
    )


def create(store: Store, spec: CampaignSpec, settings: Settings, *, actor: str = "cli") -> int:
    """Store a new campaign (status draft); its templates must exist."""
    from outreach.drafting.templates import TemplateLibrary

    library = TemplateLibrary(settings.templates_dir)
    for step in spec.steps:
        library.get(step.template)
    with store.session() as session:
        if session.scalar(select(Campaign.id).where(Campaign.name == spec.name)) is not None:
            raise InputError(f"a campaign named {spec.name!r} exists; pick another name")
        campaign = Campaign(
            name=spec.name,
            sender_email=spec.sender or settings.sender.email,
            role=dict(spec.role),
            steps=[{"template": s.template, "wait_days": s.wait_days} for s in spec.steps],
            selection=spec.selection,
            pacing=dict(spec.pacing),
            allow_overlap=spec.allow_overlap,
            status=CampaignStatus.DRAFT,
        )
        session.add(campaign)
        session.flush()
        _event(session, actor, "campaign.created", campaign)
        return campaign.id


def get(session: Session, name: str) -> Campaign:
    """The campaign with this name; NotFound when there is none."""
    campaign = session.scalar(select(Campaign).where(Campaign.name == name))
    if campaign is None:
        raise NotFound(f"no campaign {name!r}; see `outreach campaign show`")
    return campaign


def _event(session: Session, actor: str, action: str, campaign: Campaign, **details: Any) -> None:
    session.add(
        Event(
            actor=actor,
            action=action,
            subject_type="campaign",
            subject_id=campaign.id,
            details=details,
        )
    )


def domain_of(email: str) -> str:
    """The company domain of an address ('' for personal mail providers)."""
    domain = email.rsplit("@", 1)[-1].lower()
    return "" if domain in FREEMAIL else domain


# Enrolment -------------------------------------------------------------------------------


@dataclass
class StartReport:
    enrolled: int = 0
    skipped: list[str] = field(default_factory=list)
    drafted: int = 0
    problems: list[str] = field(default_factory=list)


async def start(
    store: Store,
    settings: Settings,
    drafter: Drafter,
    name: str,
    *,
    actor: str = "cli",
    progress: Any = None,
    now: datetime | None = None,
) -> StartReport:
    """Activate a campaign, enrol its candidates and draft step 1 for each into the queue."""
    now = now or utcnow()
    report = StartReport()
    emails = select_emails(store, _selection(store, name))
    salt = store.salt()
    cap = settings.campaigns.company_cap
    with store.session() as session:
        campaign = get(session, name)
        if campaign.status != CampaignStatus.DRAFT:
            hint = "; resume it instead" if campaign.status == CampaignStatus.PAUSED else ""
            raise StateError(
                f"campaign {name!r} is {campaign.status}; only a new one can start{hint}"
            )
        campaign.status = CampaignStatus.ACTIVE
        per_domain = _active_per_domain(session)
        enrolled_here = set(
            session.scalars(
                select(Enrolment.candidate_id).where(Enrolment.campaign_id == campaign.id)
            )
        )
        overlap = _other_active_for_role(session, campaign)
        known = by_email(session, emails)
        suppressed = suppression_reasons(session, salt, emails)
        for email in emails:
            candidate = known.get(email)
            why = _not_enrollable(
                candidate, suppressed.get(email), enrolled_here, overlap, campaign
            )
            domain = domain_of(email)
            if why is None and domain and per_domain.get(domain, 0) >= cap:
                why = f"already {cap} active at {domain} (campaigns.company_cap)"
            if why:
                report.skipped.append(f"{email}: {why}")
                continue
            assert candidate is not None
            session.add(
                Enrolment(
                    campaign_id=campaign.id,
                    candidate_id=candidate.id,
                    step=0,
                    status=EnrolmentStatus.ACTIVE,
                )
            )
            per_domain[domain] = per_domain.get(domain, 0) + 1
            report.enrolled += 1
        _event(session, actor, "campaign.started", campaign, enrolled=report.enrolled)
        campaign_id, role, first = campaign.id, dict(campaign.role), campaign.steps[0]["template"]
    await draft_step(store, drafter, campaign_id, 0, first, role, report, progress, now)
    return report


async def enrol(
    store: Store,
    drafter: Drafter,
    name: str,
    email: str,
    *,
    actor: str = "cli",
    now: datetime | None = None,
) -> StartReport:
    """Enrol one more candidate in an active campaign and draft its first step for them."""
    now = now or utcnow()
    report = StartReport()
    salt = store.salt()
    with store.session() as session:
        campaign = get(session, name)
        if campaign.status != CampaignStatus.ACTIVE:
            raise StateError(
                f"campaign {name!r} is {campaign.status}; enrol people in an active one"
            )
        candidate = by_email(session, [email]).get(email)
        here = set(
            session.scalars(
                select(Enrolment.candidate_id).where(Enrolment.campaign_id == campaign.id)
            )
        )
        why = _not_enrollable(
            candidate,
            suppression_reasons(session, salt, [email]).get(email),
            here,
            _other_active_for_role(session, campaign),
            campaign,
        )
        if why or candidate is None:
            raise StateError(f"{email} cannot join {name!r}: {why}")
        enrolment = Enrolment(
            campaign_id=campaign.id,
            candidate_id=candidate.id,
            step=0,
            status=EnrolmentStatus.ACTIVE,
        )
        session.add(enrolment)
        session.flush()
        session.add(
            Event(
                actor=actor,
                action="campaign.enrolled",
                subject_type="campaign",
                subject_id=campaign.id,
                candidate_id=candidate.id,
                details={"campaign": name},
            )
        )
        ids, role, first = [enrolment.id], dict(campaign.role), campaign.steps[0]["template"]
        campaign_id = campaign.id
    report.enrolled = 1
    await draft_step(store, drafter, campaign_id, 0, first, role, report, None, now, ids)
    return report


def _selection(store: Store, name: str) -> str:
    with store.session() as session:
        return get(session, name).selection


def _not_enrollable(
    candidate: Candidate | None,
    reason: str | None,
    enrolled_here: set[int],
    overlap: set[int],
    campaign: Campaign,
) -> str | None:
    """Why this candidate cannot join; `reason` is their suppression reason, if any."""
    if candidate is None:
        return "not a candidate"
    if candidate.id in enrolled_here:
        return "already enrolled"
    if reason or candidate.status != CandidateStatus.ACTIVE:
        return reason or candidate.status
    if candidate.id in overlap and not campaign.allow_overlap:
        return "in another active campaign for this role (set allow_overlap = true to allow)"
    return None


def _active_per_domain(session: Session) -> dict[str, int]:
    rows = session.execute(
        select(Candidate.email)
        .join(Enrolment, Enrolment.candidate_id == Candidate.id)
        .join(Campaign, Campaign.id == Enrolment.campaign_id)
        .where(Enrolment.status == EnrolmentStatus.ACTIVE, Campaign.status == CampaignStatus.ACTIVE)
    )
    counts: dict[str, int] = {}
    for (email,) in rows:
        domain = domain_of(email)
        if domain:
            counts[domain] = counts.get(domain, 0) + 1
    return counts


def _other_active_for_role(session: Session, campaign: Campaign) -> set[int]:
    others = session.scalars(
        select(Campaign).where(Campaign.status == CampaignStatus.ACTIVE, Campaign.id != campaign.id)
    )
    same = [c.id for c in others if _same_role(c.role, campaign.role)]
    if not same:
        return set()
    query = select(Enrolment.candidate_id).where(
        Enrolment.campaign_id.in_(same), Enrolment.status == EnrolmentStatus.ACTIVE
    )
    return set(session.scalars(query))


def _same_role(a: Mapping[str, Any], b: Mapping[str, Any]) -> bool:
    if a.get("link") and a.get("link") == b.get("link"):
        return True
    title = str(a.get("title", "")).strip().casefold()
    return bool(title) and title == str(b.get("title", "")).strip().casefold()


async def draft_step(
    store: Store,
    drafter: Drafter,
    campaign_id: int,
    step: int,
    template: str,
    role: Mapping[str, Any],
    report: StartReport,
    progress: Any,
    now: datetime,
    enrolment_ids: Iterable[int] | None = None,
) -> None:
    """Draft `step` for every active enrolment at that step that has no live draft for it."""
    from outreach.candidates.records import profile

    with store.session() as session:
        query = (
            select(Enrolment, Candidate)
            .join(Candidate, Candidate.id == Enrolment.candidate_id)
            .outerjoin(
                Draft,
                and_(
                    Draft.enrolment_id == Enrolment.id,
                    Draft.step == step,
                    Draft.status != queue.CANCELLED,
                ),
            )
            .where(
                Enrolment.campaign_id == campaign_id,
                Enrolment.status == EnrolmentStatus.ACTIVE,
                Enrolment.step == step,
                Draft.id.is_(None),
            )
        )
        if enrolment_ids is not None:
            query = query.where(Enrolment.id.in_(list(enrolment_ids)))
        rows = session.execute(query).all()
        threads = thread_of(session, [e.id for e, _ in rows]) if step else {}
        items = []
        for enrolment, candidate in rows:
            in_reply_to, references, subject = threads.get(enrolment.id, (None, [], ""))
            spec = DraftSpec(
                template=template,
                role=role,
                campaign_id=campaign_id,
                step=step,
                enrolment_id=enrolment.id,
                in_reply_to=in_reply_to,
                references=tuple(references),
                conversation=({"subject": subject, "direction": "out"},) if subject else (),
                due_at=now,
            )
            items.append((profile(candidate), spec))
    result = await drafter.draft_items(items, progress=progress)
    report.drafted += len(result.drafted)
    report.problems += result.failed + ([result.stopped] if result.stopped else [])


# Pause and resume ---------------------------------------------------------------------


def set_status(store: Store, name: str, status: CampaignStatus, *, actor: str = "cli") -> None:
    """Pause or resume a campaign; nothing is lost or drafted twice either way."""
    paused, active = CampaignStatus.PAUSED, CampaignStatus.ACTIVE
    allowed = {paused: (active,), active: (paused,)}
    with store.session() as session:
        campaign = get(session, name)
        if campaign.status not in allowed[status]:
            raise StateError(f"campaign {name!r} is {campaign.status}; it cannot become {status}")
        campaign.status = status
        _event(session, actor, f"campaign.{'paused' if status == paused else 'resumed'}", campaign)


def thread_of(
    session: Session, enrolment_ids: list[int]
) -> dict[int, tuple[str | None, list[str], str]]:
    """For each enrolment, the thread so far: In-Reply-To and References of an answer to its
    last message sent (``approval.sequence_threads``), and the first message's subject."""
    if not enrolment_ids:
        return {}
    headers = approval.sequence_threads(session, enrolment_ids)
    rows = session.execute(
        select(Draft.enrolment_id, Revision.subject)
        .join(
            Revision, and_(Revision.draft_id == Draft.id, Revision.number == Draft.current_revision)
        )
        .where(Draft.enrolment_id.in_(enrolment_ids), Draft.status == queue.SENT)
        .order_by(Draft.enrolment_id, Draft.step.desc())
    )
    first = {enrolment_id: subject for enrolment_id, subject in rows if enrolment_id is not None}
    return {
        enrolment_id: (in_reply_to, refs, first.get(enrolment_id, ""))
        for enrolment_id, (in_reply_to, refs) in headers.items()
    }
