"""Drafting with a real small model (SmolLM2-135M through llama-cpp-python's server).

This model invents places, dates and names; the grounding check must flag what it invents.
"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from outreach.cli import cli
from outreach.drafting.drafter import JINJA_TAG
from outreach.drafting.grounding import fold
from outreach.store import open_store
from outreach.store.models import AICall, Draft, Revision
from tests.config_kit import configure

pytestmark = pytest.mark.realmodel

PEOPLE = (
    "email,name,headline,company,achievements,language\n"
    "jamie@paywise.example,Jamie Lind,ML platform engineer,Paywise,"
    "Led an ML platform handling millions of transactions daily at Paywise,en\n"
)


def test_real_model_draft_is_stored_and_its_inventions_flagged(
    workspace: Path, llama_server: str
) -> None:
    configure(workspace, llm={"provider": "openai", "base_url": llama_server})
    (workspace / "people.csv").write_text(PEOPLE)
    (workspace / "role.toml").write_text('title = "Senior Backend Engineer"\n')
    runner = CliRunner()
    assert runner.invoke(cli, ["candidates", "import", "people.csv"]).exit_code == 0
    result = runner.invoke(
        cli, ["draft", "--template", "intro", "--candidates", "people.csv", "--role", "role.toml"]
    )
    assert "drafted 1 into the review queue" in result.output, result.output

    store = open_store(f"sqlite:///{workspace / 'outreach.db'}")
    with store.session() as session:
        draft = session.scalars(select(Draft)).one()
        revision = session.scalars(select(Revision)).one()
        call = session.scalars(select(AICall)).one()
    store.close()
    assert draft.status == "pending"  # a person still has to approve it
    assert call.error is None and (call.tokens_out or 0) > 0
    sent = " ".join(m["content"] for m in call.messages)
    assert "jamie@paywise.example" not in sent and "{{" not in sent  # only what slots need
    assert revision.author.startswith("ai:")
    ai_text = " ".join(revision.ai_text.values())
    assert ai_text.strip() and ai_text.split()[0] in revision.body

    template = JINJA_TAG.sub(" ", (workspace / "templates" / "intro.j2").read_text())
    inputs = fold(PEOPLE + " Senior Backend Engineer " + template)
    flagged = " ".join(fold(f["text"]) for f in draft.flags)
    # Every number the model wrote that is in none of the inputs is flagged.
    for number in re.findall(r"\d+", ai_text):
        if number not in inputs:
            assert number in flagged, (number, ai_text, draft.flags)
    # Nothing flagged as unsupported is actually in the inputs.
    for flag in draft.flags:
        if flag["code"] == "unsupported":
            assert fold(flag["text"]) not in inputs, flag
    # This model never writes a clean, grounded, in-length draft: something is flagged.
    assert draft.flags, ai_text
