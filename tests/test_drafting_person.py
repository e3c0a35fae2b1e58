"""Drafts written for this person: notes become feedback, the role's needs meet the person's
skills, the candidate's language picks the template, the company grounds claims, a budget
bounds spending, and an optional second call lists unsupported claims."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner

from outreach import users
from outreach.cli import cli, main
from outreach.drafting.grounding.wording import detect_language
from outreach.drafting.inputs import load_role
from outreach.errors import InputError
from outreach.store import open_store
from tests.llm_server import FakeLLMServer
from tests.test_drafting import calls, drafts, use_model

PEOPLE = """email,name,headline,company,location,language,skills,achievements,career_change,tags
jamie@paywise.example,Jamie Lind,Staff engineer,Paywise,Stockholm,en,Go;Kafka,Kubernetes migration for 40 teams at Paywise,,backend
amara@example.org,Amara Okafor,Backend developer,Kivra,Göteborg,en,Go;PostgreSQL,Rebuilt the invoice pipeline in Go,nursing,backend
asa@fjallmark.example,Åsa Öberg,Backend engineer,Fjällmark,Göteborg,sv,Go,Led the ML platform at Fjällmark,,backend
nobody@example.org,,Engineer,Acme,Oslo,en,,,,anon
"""
ROLE = """title = "Senior Backend Engineer"
location = "Stockholm"
hiring_manager = "Lena Ek"
team = "The ledger team builds the double-entry ledger behind every payout."
why = "You would own the settlement engine end to end."
must_haves = ["Go", "PostgreSQL"]
benefits = ["Remote within Sweden"]
"""
NOTES = """Interviewers: Lena Ek, Omar Said
Went well:
- She sharded the ledger cleanly in the system design session.
- Wrote the tests first. Mentioned her two kids at home.
To work on:
- SQL window functions
"""


def invoke(*args: str) -> Any:
    return CliRunner().invoke(cli, list(args), catch_exceptions=False)


@pytest.fixture
def people(workspace: Path) -> Path:
    (workspace / "people.csv").write_text(PEOPLE)
    (workspace / "role.toml").write_text(ROLE)
    assert invoke("candidates", "import", "people.csv").exit_code == 0
    return workspace


def body_of(workspace: Path, needle: str) -> tuple[Any, Any]:
    return next((d, r) for d, r in drafts(workspace) if needle in r.body)


def set_config(workspace: Path, old: str, new: str) -> None:
    config = workspace / "config.toml"
    text = config.read_text()
    assert old in text
    config.write_text(text.replace(old, new))


def test_template_only_feedback_is_built_from_the_notes(people: Path) -> None:
    (people / "notes.md").write_text(NOTES)
    result = invoke(
        "feedback", "--candidate", "jamie@paywise.example", "--notes", "notes.md",
        "--outcome", "reject", "--role", "role.toml",
    )  # fmt: skip
    assert result.exit_code == 0, result.output
    draft, revision = drafts(people)[-1]
    assert "You sharded the ledger cleanly in the system design session" in revision.body
    assert "You wrote the tests first" in revision.body
    assert "- SQL window functions" in revision.body
    assert "kids" not in revision.body  # a protected detail never reaches the mail
    assert "walked us through your work" not in revision.body  # the generic line is gone
    grounds = draft.context["grounds"]
    assert grounds["notes"]["went_well"][0].startswith("You sharded the ledger")
    assert grounds["notes"]["withheld"] == 1
    assert grounds["fallback_slots"] == ["moments", "pointers"]
    assert grounds["role"]["title"] == "Senior Backend Engineer"
    assert "kids" not in json.dumps(draft.context["grounds"])


def test_intro_second_sentence_is_about_this_person(people: Path) -> None:
    result = invoke("draft", "--template", "intro", "--candidates", "tag:backend",
                    "--role", "role.toml")  # fmt: skip
    assert result.exit_code == 0, result.output
    _, jamie = body_of(people, "Hi Jamie")
    _, amara = body_of(people, "Hi Amara")
    assert "Kubernetes migration for 40 teams at Paywise" in jamie.body  # the name keeps its case
    assert "The team needs Go, which you already work with." in jamie.body
    assert (
        "You came to this work from nursing, and the team needs Go and PostgreSQL, which you "
        "already work with." in amara.body
    )
    assert "I think the work would suit you" not in jamie.body + amara.body
    assert not [f for d, _ in drafts(people) for f in d.flags if f["code"] == "no_name"]


def test_swedish_candidate_gets_the_swedish_variant_entirely_in_swedish(people: Path) -> None:
    invoke("draft", "--template", "intro", "--candidates", "tag:backend", "--role", "role.toml")
    draft, revision = body_of(people, "Hej Åsa")
    assert draft.template == "intro_sv"
    assert "”Led the ML platform at Fjällmark”" in revision.body  # quoted as written
    assert "Teamet behöver Go, som du redan arbetar med." in revision.body
    for paragraph in revision.body.split("\n\n")[1:-2]:
        if "”" not in paragraph and len(paragraph.split()) > 5:
            assert detect_language(paragraph) == "sv", paragraph
    assert not [f for f in draft.flags if f["code"] == "language"]
    again = invoke("draft", "--template", "intro", "--candidates", "tag:backend")
    assert "drafted 0" in again.output  # intro_sv counts as this person's intro


def test_a_draft_in_another_language_than_the_candidates_is_flagged(people: Path) -> None:
    invoke("draft", "--template", "follow_up", "--candidates", "tag:backend")
    draft, _ = body_of(people, "Hi Åsa")
    (flag,) = [f for f in draft.flags if f["code"] == "language"]
    assert "Swedish" in flag["message"] and flag["label"] == "Wrong language"


def test_missing_first_name_gives_a_neutral_greeting_and_a_flag(people: Path) -> None:
    invoke("draft", "--template", "intro", "--candidates", "tag:anon")
    draft, revision = drafts(people)[-1]
    assert revision.body.startswith("Hi,\n")
    assert [f["label"] for f in draft.flags if f["code"] == "no_name"] == ["No first name"]


def test_role_file_takes_the_richer_keys_and_names_bad_ones(people: Path) -> None:
    role = load_role(people / "role.toml")
    assert role["must_haves"] == ["Go", "PostgreSQL"] and role["why"].startswith("You would own")
    (people / "bad.toml").write_text('title = "x"\nmust_haves = "Go"\nbenefits = [1, 2]\n')
    with pytest.raises(InputError, match=r"bad.toml: benefits is a list of strings"):
        load_role(people / "bad.toml")
    (people / "bad2.toml").write_text('title = "x"\nsalary = "lots"\n')
    with pytest.raises(InputError, match=r"unknown role key 'salary'"):
        load_role(people / "bad2.toml")


def test_the_prompt_carries_the_company_and_grounding_accepts_it(
    people: Path, llm_server: FakeLLMServer
) -> None:
    use_model(people, llm_server.base_url)
    set_config(people, 'about = ""', 'about = "Fjordpay runs payouts for 4000 Nordic shops."')
    llm_server.default = lambda request: json.dumps({
        "hook": "Your Kubernetes migration for 40 teams at Paywise is close to our payout work.",
        "why": "Fjordpay runs payouts for 4000 Nordic shops, and the team needs Go.",
    })  # fmt: skip
    invoke("draft", "--template", "intro", "--candidates", "tag:backend", "--role", "role.toml")
    request = next(r for r in llm_server.completions if "first_name: Jamie" in json.dumps(r.body))
    assert "Fjordpay runs payouts" in request.body["messages"][0]["content"]
    draft, revision = body_of(people, "Hi Jamie")
    assert revision.author == "ai:test-model"
    assert not [f for f in draft.flags if "Fjordpay" in f["text"] or "4000" in f["text"]]


def test_instructions_echoed_into_the_mail_are_flagged_and_marked(
    people: Path, llm_server: FakeLLMServer
) -> None:
    use_model(people, llm_server.base_url)
    llm_server.default = lambda request: json.dumps({
        "hook": "Never add names, companies, numbers, dates, places, links or plans.",
        "why": "The team needs Go, which you already work with.",
    })  # fmt: skip
    invoke("draft", "--template", "intro", "--candidates", "tag:backend", "--role", "role.toml")
    draft, revision = body_of(people, "Hi Jamie")
    echo = [f for f in draft.flags if f["code"] == "echo"]
    assert echo and echo[0]["label"] == "Instructions copied into the mail"
    start, end = echo[0]["body_start"], echo[0]["body_end"]
    assert revision.body[start:end] == echo[0]["text"]


@pytest.fixture
def one(people: Path) -> Path:
    (people / "one.csv").write_text("email\njamie@paywise.example\n")
    (people / "two.csv").write_text("email\namara@example.org\nasa@fjallmark.example\n")
    return people


def test_token_budgets_stop_drafting_with_a_clear_message(
    one: Path, llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    use_model(one, llm_server.base_url)
    set_config(one, "max_tokens_per_day = 0", "max_tokens_per_day = 2000")
    assert invoke("draft", "--template", "intro", "--candidates", "one.csv").exit_code == 0
    used = sum((c.tokens_in or 0) + (c.tokens_out or 0) for c in calls(one))
    assert used > 0 and len(calls(one)) == 1
    with pytest.raises(SystemExit) as info:
        main(["draft", "--template", "intro", "--candidates", "two.csv"])
    assert info.value.code == 1
    message = capsys.readouterr().err
    assert "llm.max_tokens_per_day" in message and "nothing was drafted" in message
    assert len(drafts(one)) == 1 and len(calls(one)) == 1  # no half batch, no call made
    set_config(one, "max_tokens_per_day = 2000", "max_tokens_per_day = 0")
    set_config(one, "max_tokens_per_run = 0", "max_tokens_per_run = 1000")
    with pytest.raises(SystemExit):
        main(["draft", "--template", "intro", "--candidates", "two.csv"])
    assert "llm.max_tokens_per_run" in capsys.readouterr().err
    assert len(drafts(one)) == 1


def test_llm_usage_shows_tokens_per_day_and_template(one: Path, llm_server: FakeLLMServer) -> None:
    use_model(one, llm_server.base_url)
    invoke("draft", "--template", "intro", "--candidates", "tag:backend", "--role", "role.toml")
    stored = calls(one)
    total = sum((c.tokens_in or 0) + (c.tokens_out or 0) for c in stored)
    result = invoke("llm", "usage", "--json")
    data = json.loads(result.output)
    assert [d["tokens"] for d in data["days"]] == [total]
    by_template = {t["template"]: t for t in data["templates"]}
    assert by_template["intro"]["calls"] == 2 and by_template["intro_sv"]["calls"] == 1
    assert sum(t["tokens"] for t in data["templates"]) == total
    table = invoke("llm", "usage")
    assert "intro_sv" in table.output and f"{total:,}" in table.output


def test_verify_lists_unsupported_claims_as_flags(one: Path, llm_server: FakeLLMServer) -> None:
    people = one
    use_model(people, llm_server.base_url)
    set_config(people, "verify = false", "verify = true")

    def answer(request: dict[str, Any]) -> str:
        if request["response_format"]["json_schema"]["name"] == "verify":
            return json.dumps({"unsupported": [{"slot": "why", "claim": "led the payments guild"}]})
        return json.dumps({
            "hook": "Your Kubernetes migration for 40 teams at Paywise is close to this work.",
            "why": "You also led the payments guild, and the team needs Go.",
        })  # fmt: skip

    llm_server.default = answer
    invoke("draft", "--template", "intro", "--candidates", "one.csv", "--role", "role.toml")
    (draft, revision), *_ = drafts(people)
    (flag,) = [f for f in draft.flags if f["code"] == "verify"]
    assert flag["label"] == "Unsupported claim (second check)"
    assert revision.body[flag["body_start"] : flag["body_end"]] == "led the payments guild"
    names = [c.messages[0]["content"][:40] for c in calls(people)]
    assert len(names) == 2 and names[1].startswith("You check short email texts")


def test_joining_the_candidates_own_employer_is_flagged() -> None:
    from outreach.drafting import grounding
    from outreach.drafting.templates import Slot

    text = "You can join the team at Paywise to help with projects."
    inputs = grounding.GroundingInput(
        candidate={"name": "Jamie Lind", "company": "Paywise", "language": "en"},
        role={"title": "Senior Backend Engineer"}, sender={"name": "Maria Berg"},
        notes="", conversation="", template_source="Hi", company={"name": "Nordlys AB"},
    )  # fmt: skip
    slots = (Slot("why", "x", None, 30, 1),)
    flags = grounding.check({"why": text}, slots, text, inputs, kind="outreach", language="en")
    assert [(f.code, f.text) for f in flags] == [("attribution", "Paywise")]
    past = "You joined the team at Paywise and led the ML platform there."
    flags = grounding.check({"why": past}, slots, past, inputs, kind="outreach", language="en")
    assert not [f for f in flags if f.code == "attribution"]


def test_regenerating_past_the_budget_is_refused_before_the_call(
    one: Path, llm_server: FakeLLMServer, capsys: pytest.CaptureFixture[str]
) -> None:
    use_model(one, llm_server.base_url)
    assert invoke("draft", "--template", "intro", "--candidates", "one.csv").exit_code == 0
    set_config(one, "max_tokens_per_run = 0", "max_tokens_per_run = 500")
    store = open_store(f"sqlite:///{one / 'outreach.db'}")
    with store.session() as session:  # the command acts for a reviewer in the store
        users.add_user(session, "maria", "correct horse battery")
    store.close()
    with pytest.raises(SystemExit) as info:
        main(["queue", "regenerate", "1", "--instruction", "shorter"])
    assert info.value.code == 1
    assert "llm.max_tokens_per_run" in capsys.readouterr().err
    assert len(calls(one)) == 1 and len(drafts(one)) == 1  # no call, no new revision
