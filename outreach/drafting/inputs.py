"""What a draft is made from besides the candidate: a role file, the company, an outcome's template.

A role file says what a candidate may want to know, so that "why this role could interest you"
has facts to stand on: the title and place, what the team builds, the work itself, why it may
interest someone, the must-haves, the benefits, and free text. Every value is a fact source for
the grounding check; lists stay lists so templates can loop over them.
"""

from __future__ import annotations

import json
import tomllib
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from outreach.drafting.grounding.recognisers import language_code
from outreach.drafting.templates import TemplateLibrary
from outreach.errors import InputError

OUTCOMES = ("reject", "advance", "offer")
ROLE_TEXT = ("title", "location", "link", "hiring_manager", "team", "work", "why", "about")
ROLE_LISTS = ("must_haves", "benefits")
ROLE_KEYS = ROLE_TEXT + ROLE_LISTS


def check_role(data: Any, where: str) -> dict[str, Any]:
    """Validate a role table; text keys become strings, list keys tuples of strings."""
    if not isinstance(data, Mapping):
        raise InputError(f"{where}: expected keys {', '.join(ROLE_KEYS)}")
    unknown = sorted(set(data) - set(ROLE_KEYS))
    if unknown:
        raise InputError(f"{where}: unknown role key {unknown[0]!r}; use {', '.join(ROLE_KEYS)}")
    role: dict[str, Any] = {key: str(data.get(key) or "").strip() for key in ROLE_TEXT}
    for key in ROLE_LISTS:
        value = data.get(key) or []
        if isinstance(value, str):
            value = [line.strip(" -•\t") for line in value.splitlines()]
        if not isinstance(value, list | tuple) or not all(isinstance(v, str) for v in value):
            raise InputError(f'{where}: {key} is a list of strings, like {key} = ["Go", "SQL"]')
        role[key] = [v.strip() for v in value if v.strip()]
    return role


def load_role(path: Path) -> dict[str, Any]:
    """Read a role (title, location, link, hiring manager, team, work, why …) from TOML or JSON."""
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"{path}: cannot read it ({exc.strerror})") from None
    try:
        data = json.loads(text) if path.suffix.lower() == ".json" else tomllib.loads(text)
    except (json.JSONDecodeError, tomllib.TOMLDecodeError) as exc:
        raise InputError(
            f"{path}: not valid {path.suffix.lstrip('.').upper() or 'TOML'}: {exc}"
        ) from None
    data = data.get("role", data) if isinstance(data, dict) else data
    return check_role(data, str(path))


def feedback_template(library: TemplateLibrary, outcome: str) -> str:
    """The template for an interview outcome: feedback_<outcome>, offer falling back to advance."""
    if outcome not in OUTCOMES:
        raise InputError(f"--outcome {outcome!r}: use one of {', '.join(OUTCOMES)}")
    names = library.names()
    for name in (f"feedback_{outcome}", "feedback_advance" if outcome == "offer" else ""):
        if name and name in names:
            return name
    raise InputError(f"no template feedback_{outcome}.j2 in {library.directory}; add one")


def language_variant(library: TemplateLibrary, template: str, language: str) -> str:
    """The template's variant in the candidate's language (intro → intro_sv), if there is one."""
    want = language_code(language)
    if not want or (library.get(template).language or "en") == want:
        return template
    names = set(library.names())
    stem, _, tail = template.rpartition("_")
    base = stem if stem and language_code(tail) == tail else template
    for name in (f"{base}_{want}", base):
        if name in names and (library.get(name).language or "en") == want:
            return name
    return template


def template_family(library: TemplateLibrary, template: str) -> list[str]:
    """The template and its language variants: a person has one draft across them."""
    stem, _, tail = template.rpartition("_")
    base = stem if stem and language_code(tail) == tail else template
    names = [
        name
        for name in library.names()
        if name == base or (name.startswith(base + "_") and language_code(name[len(base) + 1 :]))
    ]
    return names or [template]
