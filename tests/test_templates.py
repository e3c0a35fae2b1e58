"""Templates: headers, sandboxed strict rendering, AI slots, and the starter templates."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from outreach.drafting.templates import (
    Record,
    Slot,
    TemplateLibrary,
    candidate_context,
    lcfirst,
    reply_subject,
)
from outreach.errors import NotFound, TemplateError

STARTERS = Path(__file__).resolve().parent.parent / "templates"

PROFILE: dict[str, Any] = {
    "name": "Anna Svensson",
    "email": "anna.svensson@example.org",
    "headline": "Backend engineer, payments",
    "company": "Paywise",
    "role": "Senior Software Engineer",
    "location": "Stockholm",
    "timezone": "Europe/Stockholm",
    "language": "en",
    "skills": ["Go", "PostgreSQL", "Kafka"],
    "achievements": [
        "Cut payment settlement time from 2 days to 4 hours by redesigning the ledger pipeline"
    ],
    "links": ["https://github.com/annasv"],
}
ROLE = {
    "title": "Senior Backend Engineer",
    "location": "Stockholm (hybrid)",
    "link": "https://nordlys.example/jobs/42",
    "hiring_manager": "Lena Ek",
}
SENDER = {
    "name": "Maria Berg",
    "email": "maria@nordlys.example",
    "signature": "Maria Berg\nTech Recruiter, Nordlys AB",
}
CONVERSATION = [
    {
        "from_name": "Maria Berg",
        "date": "2026-01-12",
        "subject": "Senior Backend Engineer – Stockholm (hybrid)",
        "text": "Hi Anna, ...",
        "direction": "out",
    },
    {
        "from_name": "Anna Svensson",
        "date": "2026-01-13",
        "subject": "Re: Senior Backend Engineer – Stockholm (hybrid)",
        "text": "Thanks Maria! Is the role open to people outside Sweden?",
        "direction": "in",
    },
]


def context(**overrides: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "candidate": candidate_context(PROFILE),
        "role": ROLE,
        "sender": SENDER,
        "conversation": CONVERSATION,
        "notes": "Clear explanation of the ledger redesign. Struggled with the caching question.",
        "outcome": "reject",
    }
    base.update(overrides)
    return base


@pytest.fixture
def starters() -> TemplateLibrary:
    return TemplateLibrary(STARTERS)


def write(tmp_path: Path, name: str, text: str) -> TemplateLibrary:
    (tmp_path / f"{name}.j2").write_text(text, encoding="utf-8")
    return TemplateLibrary(tmp_path)


# --- the starter templates -------------------------------------------------------------

STARTER_NAMES = [
    "feedback_advance",
    "feedback_advance_sv",
    "feedback_reject",
    "feedback_reject_sv",
    "follow_up",
    "intro",
    "intro_sv",
    "reply",
]


def test_starter_set_is_complete(starters: TemplateLibrary) -> None:
    assert starters.names() == STARTER_NAMES
    kinds = {name: starters.get(name).kind for name in STARTER_NAMES}
    assert kinds == {
        "feedback_advance": "feedback",
        "feedback_advance_sv": "feedback",
        "feedback_reject": "feedback",
        "feedback_reject_sv": "feedback",
        "follow_up": "follow_up",
        "intro": "outreach",
        "intro_sv": "outreach",
        "reply": "reply",
    }
    assert {n for n in STARTER_NAMES if starters.get(n).language == "sv"} == {
        "intro_sv",
        "feedback_advance_sv",
        "feedback_reject_sv",
    }
    assert all(starters.get(n).description for n in STARTER_NAMES)


@pytest.mark.parametrize("name", STARTER_NAMES)
def test_starter_renders_usable_draft_without_model(starters: TemplateLibrary, name: str) -> None:
    rendered = starters.render(name, context())
    greeting = "Hej Anna!" if name.endswith("_sv") else "Hi Anna,"
    assert rendered.body.startswith(greeting + "\n\n")
    assert rendered.body.endswith("Maria Berg\nTech Recruiter, Nordlys AB\n")
    assert "\n\n\n" not in rendered.body
    assert "came across your profile" not in rendered.body.lower()
    assert rendered.slots, "every starter has at least one AI slot"
    for slot in rendered.slots:
        assert slot.fallback, f"{name}: slot {slot.name} needs a fallback"
        assert rendered.slot_values[slot.name] == slot.fallback
    for slot_name, start, end in rendered.ai_spans:
        assert rendered.body[start:end] == rendered.slot_values[slot_name]


@pytest.mark.parametrize("name", STARTER_NAMES)
def test_starter_renders_model_text_in_slots(starters: TemplateLibrary, name: str) -> None:
    slots = starters.slots(name, context())
    values = {s.name: f"Model text for {s.name} from the notes." for s in slots}
    rendered = starters.render(name, context(), values)
    assert dict(rendered.slot_values) == values
    for slot in slots:
        assert f"Model text for {slot.name} from the notes." in rendered.body
        assert (slot.fallback or "") not in rendered.body
    spans = {n: rendered.body[a:b] for n, a, b in rendered.ai_spans}
    assert spans == values


def test_intro_is_specific_and_uses_profile(starters: TemplateLibrary) -> None:
    rendered = starters.render("intro", context())
    assert rendered.subject == "Senior Backend Engineer – Stockholm (hybrid)"
    assert "cut payment settlement time from 2 days to 4 hours" in rendered.body
    assert "working with Lena Ek" in rendered.body
    assert "https://nordlys.example/jobs/42" in rendered.body
    hook = next(s for s in rendered.slots if s.name == "hook")
    assert hook.max_words == 40 and "achievement" in hook.instruction
    assert starters.get("intro").source.splitlines()[hook.line - 1].startswith("{{ ai(")


def test_intro_falls_back_to_headline_then_generic(starters: TemplateLibrary) -> None:
    bare = candidate_context({"name": "Bo Ek", "headline": "Site reliability engineer"})
    body = starters.render("intro", context(candidate=bare, role={})).body
    assert "Your background (Site reliability engineer) is close" in body
    assert "a role I think fits your work." in body
    assert "description is here" not in body
    nothing = candidate_context({"name": "Bo Ek"})
    assert "Your background is close" in starters.render("intro", context(candidate=nothing)).body


def test_follow_up_and_reply_reuse_the_thread_subject(starters: TemplateLibrary) -> None:
    follow = starters.render("follow_up", context())
    assert follow.subject == "Re: Senior Backend Engineer – Stockholm (hybrid)"
    reply = starters.render("reply", context())
    assert reply.subject == "Re: Senior Backend Engineer – Stockholm (hybrid)"
    assert "[Answer Anna's message here.]" in reply.body
    first = starters.render("follow_up", context(conversation=[]))
    assert first.subject == "Re: Senior Backend Engineer"


def test_feedback_advance_states_an_offer_plainly(starters: TemplateLibrary) -> None:
    advance = starters.render("feedback_advance", context(outcome="advance")).body
    offer = starters.render("feedback_advance", context(outcome="offer")).body
    assert "continue to the next step" in advance and "offer" not in advance
    assert "make you an offer" in offer
    reject = starters.render("feedback_reject", context()).body
    assert "decided not to move forward" in reject


# --- slots -----------------------------------------------------------------------------

BRANCHY = """Subject: Hello {{ candidate.first_name }}
Kind: outreach

Hi {{ candidate.first_name }},
{% if candidate.achievements %}
{{ ai("Mention the best achievement.", name="hook", max_words=30) }}
{% else %}
{{ ai("Mention the headline.", name="headline", fallback=candidate.headline) }}
{% endif %}
{% for skill in candidate.skills %}
- {{ ai("Say why this skill matters.", fallback=skill) }}
{% endfor %}
{{ ai("Close warmly.", fallback="Best") }}
"""


def test_slot_discovery_skips_untaken_branches(tmp_path: Path) -> None:
    lib = write(tmp_path, "branchy", BRANCHY)
    taken = lib.slots("branchy", context())
    assert [(s.name, s.line, s.max_words, s.fallback) for s in taken] == [
        ("hook", 6, 30, None),
        ("slot1", 11, None, "Go"),
        ("slot2", 13, None, "Best"),
    ]
    assert taken[0] == Slot("hook", "Mention the best achievement.", None, 30, 6)
    other = lib.slots(
        "branchy", context(candidate=candidate_context({"name": "Bo", "headline": "SRE"}))
    )
    assert [(s.name, s.line, s.fallback) for s in other] == [
        ("headline", 8, "SRE"),
        ("slot1", 13, "Best"),
    ]


def test_slot_inside_a_macro_reports_the_macro_line(tmp_path: Path) -> None:
    src = (
        "Subject: s\n\n{% macro closing() %}\n"
        '{{ ai("Close with one line.", name="close", fallback="Best") }}\n'
        "{% endmacro %}\nHi\n{{ closing() }}\n"
    )
    lib = write(tmp_path, "t", src)
    assert [(s.name, s.line) for s in lib.slots("t", context())] == [("close", 4)]
    assert lib.render("t", context(), {"close": "Talk soon"}).body == "Hi\nTalk soon\n"


def test_slot_without_fallback_needs_a_value(tmp_path: Path) -> None:
    lib = write(tmp_path, "branchy", BRANCHY)
    with pytest.raises(TemplateError, match=r"branchy\.j2, line 6: AI slot 'hook' has no value"):
        lib.render("branchy", context())
    rendered = lib.render("branchy", context(), {"hook": "  Your ledger work.\n"})
    # The loop reuses one slot; a missing key falls back.
    assert rendered.body == "Hi Anna,\nYour ledger work.\n- Go\n- Go\n- Go\nBest\n"
    assert rendered.slot_values == {"hook": "Your ledger work.", "slot1": "Go", "slot2": "Best"}
    assert [n for n, _, _ in rendered.ai_spans] == ["hook", "slot1", "slot1", "slot1", "slot2"]


def test_slot_in_subject_and_filters_keep_markers(tmp_path: Path) -> None:
    lib = write(
        tmp_path,
        "t",
        'Subject: {{ ai("A short subject.", name="subj", fallback="About a role") | upper }}\n\n'
        '{{ ai("Body.", fallback="body text") | title }}\n',
    )
    rendered = lib.render("t", context(), {"subj": "a note"})
    assert rendered.subject == "a note"  # values replace markers after filters ran
    assert rendered.body == "body text\n"


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ('ai("")', "needs an instruction"),
        ('ai("x", max_words=0)', "max_words"),
        ('ai("x", name="two words")', "name="),
    ],
)
def test_bad_ai_calls(tmp_path: Path, call: str, message: str) -> None:
    lib = write(tmp_path, "t", f"Subject: s\n\nHi\n{{{{ {call} }}}}\n")
    with pytest.raises(TemplateError, match=rf"t\.j2, line 4: .*{message}"):
        lib.slots("t", context())


def test_same_name_different_instruction_is_an_error(tmp_path: Path) -> None:
    src = 'Subject: s\n\n{{ ai("a", name="x", fallback="") }}\n{{ ai("b", name="x") }}\n'
    with pytest.raises(TemplateError, match=r"line 4: slot 'x' is already used on line 3"):
        write(tmp_path, "t", src).slots("t", context())


# --- errors name the file and line -----------------------------------------------------


@pytest.mark.parametrize(
    ("body", "line", "message"),
    [
        (
            "Hi {{ candidate.nickname }}",
            5,
            "'candidate' has no attribute 'nickname' — fix the template or add the column "
            "to the candidate file",
        ),
        ("{{ role.salary }}", 5, "'role' has no attribute 'salary' — fix the template or add it"),
        ("{{ company_name }}", 5, "'company_name' is undefined"),
        ("{% if candidate.name %}\nunclosed", 6, "syntax error"),
        ("{{ ''.__class__.__mro__ }}", 5, "unsafe"),
        ("{{ cycler.__init__.__globals__ }}", 5, "unsafe"),
        ("{{ candidate.__dict__ }}", 5, "'_' names"),
        ("{{ candidate._data }}", 5, "'_' names"),
        ("{{ role.title.__class__ }}", 5, "unsafe"),
        ("{{ 1 / 0 }}", 5, "ZeroDivisionError"),
    ],
)
def test_errors_name_file_and_line(tmp_path: Path, body: str, line: int, message: str) -> None:
    lib = write(tmp_path, "intro", f"Subject: Hi\nKind: outreach\n\nHello,\n{body}\n")
    with pytest.raises(TemplateError) as caught:
        lib.render("intro", context())
    text = str(caught.value)
    assert text.startswith(f"{tmp_path / 'intro.j2'}, line {line}: "), text
    assert message in text
    assert "\n" not in text


def test_relative_path_in_messages(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    (tmp_path / "templates").mkdir()
    lib = write(tmp_path / "templates", "intro", "Subject: x\n\n\n\n\n\n{{ candidate.nickname }}\n")
    monkeypatch.chdir(tmp_path)
    with pytest.raises(TemplateError, match=r"^templates/intro\.j2, line 7: 'candidate' has no"):
        lib.render("intro", context())


@pytest.mark.parametrize(
    ("source", "message"),
    [
        ("Kind: outreach\n\nbody\n", "line 1: a 'Subject:' header is required"),
        ("\nbody\n", "line 1: expected 'Subject: ...' first"),
        ("Hello there\n\nbody\n", "line 1: expected a header like 'Subject: ...'"),
        ("Subject: a\nSubjct: b\n\nbody\n", "line 2: unknown header 'Subjct:'"),
        ("Subject: a\nKind: newsletter\n\nbody\n", "line 2: Kind 'newsletter' is not one of"),
        ("Subject: a\nSubject: b\n\nbody\n", "line 2: header 'Subject:' repeated"),
        ("Subject: a", "no blank line between the headers and the body"),
        ("Subject: a\n\n  \n", "line 3: the template has no body"),
        ("Subject: {{ x \n\nbody\n", "line 1: syntax error"),
        ("Subject: {{ '' }}\n\nbody\n", "line 1: the subject renders empty"),
        ("Subject: {{ 'a\\r\\nBcc: x@y' }}\n\nbody\n", "line 1: the subject renders with a line"),
    ],
)
def test_header_errors(tmp_path: Path, source: str, message: str) -> None:
    lib = write(tmp_path, "t", source)
    with pytest.raises(TemplateError, match="t\\.j2"):
        lib.render("t", context())
    with pytest.raises(TemplateError) as caught:
        lib.render("t", context())
    assert message in str(caught.value)


def test_subject_with_newline_from_model_is_rejected(tmp_path: Path) -> None:
    lib = write(tmp_path, "t", 'Subject: {{ ai("subject", name="s", fallback="ok") }}\n\nb\n')
    assert lib.render("t", context()).subject == "ok"
    with pytest.raises(TemplateError, match="line 1: the subject renders with a line break"):
        lib.render("t", context(), {"s": "one\ntwo"})


def test_headers_and_metadata(tmp_path: Path) -> None:
    lib = write(
        tmp_path,
        "note",
        "Subject: Re: {{ role.title }}\nKind: Reply\nDescription: A reply\n  folded here\n"
        "Language: SV\n\n{# a comment #}\nHej {{ candidate.first_name }}!\n",
    )
    meta = lib.get("note")
    assert (meta.name, meta.kind, meta.description, meta.language) == (
        "note",
        "reply",
        "A reply folded here",
        "sv",
    )
    assert meta.path == tmp_path / "note.j2" and meta.source.startswith("Subject:")
    rendered = lib.render("note", context())
    assert rendered.subject == "Re: Senior Backend Engineer"
    assert rendered.body == "Hej Anna!\n"
    assert rendered.slots == () and rendered.ai_spans == ()


def test_unknown_template_lists_known_names(tmp_path: Path) -> None:
    lib = write(tmp_path, "intro", "Subject: a\n\nb\n")
    for bad in ["intro2", "../intro", ".hidden"]:
        with pytest.raises(NotFound, match="known templates: intro"):
            lib.get(bad)
    assert TemplateLibrary(tmp_path / "missing").names() == []


def test_edits_on_disk_are_picked_up(tmp_path: Path) -> None:
    lib = write(tmp_path, "t", "Subject: one\n\nb\n")
    assert lib.render("t", context()).subject == "one"
    path = tmp_path / "t.j2"
    path.write_text("Subject: two\n\nb\n", encoding="utf-8")
    stat = path.stat()
    import os

    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert lib.render("t", context()).subject == "two"


# --- context ---------------------------------------------------------------------------


def test_candidate_context_derives_and_freezes() -> None:
    cand = candidate_context(
        {"name": "Dr. Anna-Karin Svensson", "skills": "Go; Rust, SQL", "github": "annasv"}
    )
    assert cand["first_name"] == "Anna-Karin"
    assert cand["skills"] == ("Go", "Rust", "SQL")
    assert cand["headline"] == "" and cand["achievements"] == () and cand["language"] == ""
    assert cand["github"] == "annasv" and cand["extra"]["github"] == "annasv"
    assert isinstance(cand, Record)
    with pytest.raises(AttributeError):
        cand.name = "x"  # type: ignore[attr-defined]
    with pytest.raises(TypeError):
        cand["extra"]["github"] = "y"  # type: ignore[index]
    assert candidate_context({"name": "Svensson, Anna"})["first_name"] == "Anna"
    assert candidate_context({"name": "Anna", "first_name": "Annie"})["first_name"] == "Annie"


def test_plain_dict_candidate_is_wrapped(tmp_path: Path) -> None:
    lib = write(
        tmp_path,
        "t",
        "Subject: a\n\n{{ candidate.first_name }} {{ candidate.skills | join(', ') }}\n",
    )
    assert lib.render("t", {"candidate": PROFILE}).body == "Anna Go, PostgreSQL, Kafka\n"


def test_template_cannot_mutate_inputs(tmp_path: Path) -> None:
    profile = {"name": "Anna", "skills": ["Go"]}
    lib = write(tmp_path, "t", "Subject: a\n\n{{ candidate.skills.append('x') }}\n")
    with pytest.raises(TemplateError, match="line 3"):
        lib.render("t", {"candidate": profile})
    assert profile["skills"] == ["Go"]


def test_filters() -> None:
    assert reply_subject("RE: Sv: AW: Backend role") == "Re: Backend role"
    assert reply_subject("Backend role") == "Re: Backend role"
    assert lcfirst("Cut costs") == "cut costs"
    assert lcfirst("AWS migration") == "AWS migration"
