"""What connects a role to a person: the role's stated needs they already have, and their path.

Templates use it to write a second sentence that is about this person (``fit.shared``: the
must-haves the profile shows, in the person's own spelling; ``fit.career_change``: where they
came from, when the profile says so) instead of one line that is the same for everyone. Only
what both inputs state is used, so the sentence needs no model and invents nothing.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from typing import Any

_CAREER_KEYS = ("career_change", "previous_career", "earlier_career", "tidigare_yrke")
_WORD = re.compile(r"[\w+#.]+")


def _words(text: str) -> set[str]:
    return {w.strip(".").casefold() for w in _WORD.findall(text) if w.strip(".")}


def _texts(value: Any) -> list[str]:
    if isinstance(value, str):
        return [value] if value.strip() else []
    if isinstance(value, Iterable):
        return [str(v) for v in value if str(v).strip()]
    return []


def role_fit(person: Mapping[str, Any], role: Mapping[str, Any]) -> dict[str, Any]:
    """The `fit` object: shared must-haves, those the profile does not show, the career change."""
    skills = _texts(person.get("skills"))
    shared: list[str] = []
    missing: list[str] = []
    for need in _texts(role.get("must_haves")):
        need_words = _words(need)
        found = [s for s in skills if _words(s) and _words(s) <= need_words]
        found += [s for s in skills if s not in found and need_words and need_words <= _words(s)]
        if found:
            shared += [s for s in found if s not in shared]
        else:
            missing.append(need)
    extra = person.get("extra") or {}
    career = next(
        (
            str(source.get(key)).strip()
            for source in (person, extra)
            if isinstance(source, Mapping)
            for key in _CAREER_KEYS
            if str(source.get(key) or "").strip()
        ),
        "",
    )
    return {"shared": tuple(shared), "missing": tuple(missing), "career_change": career}


def join_and(items: Iterable[Any], word: str = "and") -> str:
    """'a', 'a and b', 'a, b and c' (word='och' for Swedish)."""
    parts = [str(i) for i in items if str(i).strip()]
    if len(parts) < 2:
        return "".join(parts)
    return f"{', '.join(parts[:-1])} {word} {parts[-1]}"
