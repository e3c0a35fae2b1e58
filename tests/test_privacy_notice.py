"""The Art. 14 notice in first contacts: rendered from [privacy] and the person's source, in
their template's language; a first contact to a sourced person without it is flagged."""

from __future__ import annotations

import asyncio
from pathlib import Path

import pytest
from sqlalchemy import select

from outreach.candidates import records
from outreach.config import load_config
from outreach.drafting.drafter import Drafter, DraftSpec
from outreach.store import open_store
from outreach.store.models import Candidate, Draft, Revision

PEOPLE = """email,name,source
gh@example.com,Kim Berg,GitHub
me@example.com,Lo Ek,applied
anon@example.com,Sam Ny,
"""
PRIVACY = """[privacy]
controller = "Nordlys AB"
contact = "privacy@nordlys.example"
policy_url = "https://nordlys.example/privacy"
retain_months = 12
"""
BARE = """Subject: Hello
Kind: outreach
Language: en

Hi {{ candidate.first_name }}, a role for you.
"""


def draft_all(workspace: Path, template: str) -> dict[str, tuple[str, list[str]]]:
    """Draft `template` for everyone; each address's body and flag codes."""
    settings = load_config(workspace / "config.toml")
    store = open_store(settings.database_url)
    records.import_file(store, workspace / "people.csv")
    drafter = Drafter(settings, store, llm=None)
    emails = ["gh@example.com", "me@example.com", "anon@example.com"]
    asyncio.run(drafter.draft_many(emails, DraftSpec(template=template)))
    with store.read() as session:
        rows = session.execute(
            select(Candidate.email, Revision.body, Draft.flags)
            .join(Draft, Draft.candidate_id == Candidate.id)
            .join(Revision, Revision.draft_id == Draft.id)
            .where(Draft.template == template)
        ).all()
    store.close()
    return {email: (body, [f["code"] for f in flags]) for email, body, flags in rows}


@pytest.fixture
def configured(workspace: Path) -> Path:
    (workspace / "people.csv").write_text(PEOPLE)
    config = workspace / "config.toml"
    text = config.read_text()
    start = text.index("[privacy]")
    end = text.index("\n[", start + 1)
    config.write_text(text[:start] + PRIVACY + text[end:])
    return workspace


def test_the_notice_names_the_controller_source_retention_and_rights(configured: Path) -> None:
    drafts = draft_all(configured, "intro")
    body, flags = drafts["gh@example.com"]
    assert (
        "Why you are hearing from me: Nordlys AB found your details through GitHub and keeps them "
        "only for recruiting, for at most 12 months. You can ask to see them or to have them "
        "deleted at any time by replying to this email or writing to privacy@nordlys.example; "
        "more in our privacy policy: https://nordlys.example/privacy."
    ) in body
    assert "privacy_notice" not in flags
    assert "Why you are hearing" not in drafts["me@example.com"][0]  # they applied
    assert "in a public professional profile" in drafts["anon@example.com"][0]


def test_swedish_template_gets_the_swedish_notice(configured: Path) -> None:
    body, _ = draft_all(configured, "intro_sv")["gh@example.com"]
    assert "Nordlys AB hittade dina uppgifter via GitHub" in body
    assert "i högst 12 månader" in body and "integritetspolicy" in body


def test_a_first_contact_without_the_notice_is_flagged(configured: Path) -> None:
    (configured / "templates" / "bare.j2").write_text(BARE)
    drafts = draft_all(configured, "bare")
    assert "privacy_notice" in drafts["gh@example.com"][1]
    assert "privacy_notice" not in drafts["me@example.com"][1]  # they gave us the data
    assert "privacy_notice" not in drafts["anon@example.com"][1]  # source not recorded


def test_without_a_controller_the_flag_says_what_to_set(workspace: Path) -> None:
    (workspace / "people.csv").write_text(PEOPLE)
    drafts = draft_all(workspace, "intro")
    body, flags = drafts["gh@example.com"]
    assert "Why you are hearing" not in body and "privacy_notice" in flags
    settings = load_config(workspace / "config.toml")
    assert settings.privacy.controller == "" and settings.privacy.direct_sources == ("applied",)
