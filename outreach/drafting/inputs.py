"""What a draft is made from besides the candidate: a role file, an interview outcome's template."""

from __future__ import annotations

import json
import tomllib
from pathlib import Path

from outreach.drafting.templates import TemplateLibrary
from outreach.errors import InputError

OUTCOMES = ("reject", "advance", "offer")
ROLE_KEYS = ("title", "location", "link", "hiring_manager")


def load_role(path: Path) -> dict[str, str]:
    """Read a role (title, location, link, hiring_manager) from a TOML or JSON file."""
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
    if not isinstance(data, dict):
        raise InputError(f"{path}: expected keys {', '.join(ROLE_KEYS)}")
    unknown = sorted(set(data) - set(ROLE_KEYS))
    if unknown:
        raise InputError(f"{path}: unknown role key {unknown[0]!r}; use {', '.join(ROLE_KEYS)}")
    return {key: str(data.get(key, "")) for key in ROLE_KEYS}


def feedback_template(library: TemplateLibrary, outcome: str) -> str:
    """The template for an interview outcome: feedback_<outcome>, offer falling back to advance."""
    if outcome not in OUTCOMES:
        raise InputError(f"--outcome {outcome!r}: use one of {', '.join(OUTCOMES)}")
    names = library.names()
    for name in (f"feedback_{outcome}", "feedback_advance" if outcome == "offer" else ""):
        if name and name in names:
            return name
    raise InputError(f"no template feedback_{outcome}.j2 in {library.directory}; add one")
