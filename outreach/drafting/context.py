"""The values templates see: read-only records, the candidate object, filters.

Everything a template receives is frozen (dicts become ``Record``, lists become tuples), so a
template can read the profile but never change it. Missing attributes name the variable the
recruiter wrote (``'candidate' has no attribute 'nickname'``) and where to add it.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from types import MappingProxyType
from typing import Any

from jinja2 import StrictUndefined

from outreach.drafting.lexicon import words as wl
from outreach.mail.subjects import fresh_reply_subject

UNSAFE_HINT = "templates may not reach Python internals or use '_' names"

_NAME_TITLES = {"dr", "dr.", "mr", "mr.", "mrs", "mrs.", "ms", "ms.", "prof", "prof.", "mx", "mx."}

_HINTS = {
    "candidate": "fix the template or add the column to the candidate file",
    "role": "fix the template or add it to the campaign's role",
    "sender": "fix the template or add it to [sender] in config.toml",
    "company": "fix the template or add it to [company] in config.toml",
    "interview": "fix the template; the interview notes give went_well, to_work_on, other",
    "fit": "fix the template; fit has shared, missing and career_change",
}
_ROLE_TEXT = ("title", "location", "link", "hiring_manager", "team", "work", "why", "about")
_DEFAULTS: dict[str, Mapping[str, Any]] = {
    "role": {**dict.fromkeys(_ROLE_TEXT, ""), "must_haves": (), "benefits": ()},
    "sender": {"name": "", "email": "", "signature": ""},
    "company": {"name": "", "about": "", "website": "", "values": ()},
    "interview": {"went_well": (), "to_work_on": (), "other": (), "withheld": 0,
                  "interviewers": ()},
    "fit": {"shared": (), "missing": (), "career_change": ""},
}  # fmt: skip
# Words an achievement line may open with that are not names: lower-case them mid-sentence.
_OPENERS = frozenset(
    "wrote built led ran made took gave kept brought found grew drove shipped cut won set "
    "moved owned designed scaled launched started co-founded founded reduced increased "
    "ledde byggde drev skrev tog gjorde startade grundade minskade ökade".split()
)
_CANDIDATE_FIELDS: dict[str, Any] = {
    "name": "",
    "first_name": "",
    "email": "",
    "headline": "",
    "company": "",
    "role": "",
    "location": "",
    "timezone": "",
    "language": "",
    "skills": (),
    "achievements": (),
    "links": (),
    "notes": "",
    "extra": {},
}


class Record(Mapping[str, Any]):
    """A read-only mapping whose keys read as attributes in templates."""

    __slots__ = ("_label", "_data")

    def __init__(self, label: str, data: Mapping[str, Any]) -> None:
        object.__setattr__(self, "_label", label)
        object.__setattr__(self, "_data", MappingProxyType(dict(data)))

    def __getattr__(self, name: str) -> Any:
        if name.startswith("_"):
            raise AttributeError(name)
        try:
            return self._data[name]
        except KeyError:
            raise AttributeError(name) from None

    def __setattr__(self, name: str, value: Any) -> None:
        raise AttributeError(f"{self._label} is read-only")

    def __getitem__(self, key: str) -> Any:
        return self._data[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._data)

    def __len__(self) -> int:
        return len(self._data)

    def __repr__(self) -> str:
        return f"Record({self._label!r}, {dict(self._data)!r})"


def _freeze(value: Any, label: str) -> Any:
    """Turn dicts into Records and lists into tuples so templates cannot mutate the inputs."""
    if isinstance(value, Record):
        return value
    if isinstance(value, Mapping):
        return Record(label, {str(k): _freeze(v, f"{label}.{k}") for k, v in value.items()})
    if isinstance(value, list | tuple):
        return tuple(_freeze(v, label) for v in value)
    return value


def _first_name(name: str) -> str:
    if "," in name:  # "Svensson, Anna"
        name = name.split(",", 1)[1]
    words = [w for w in name.split() if w.lower() not in _NAME_TITLES]
    return words[0] if words else ""


def _as_list(value: Any) -> Any:
    if isinstance(value, str):
        return tuple(p.strip() for p in re.split(r"[;,|\n]", value) if p.strip())
    return value if value is not None else ()


def candidate_context(profile: Mapping[str, Any]) -> Mapping[str, Any]:
    """Build the read-only `candidate` template object from a plain profile dict."""
    if isinstance(profile, Record):
        return profile  # already built: drafting passes one object through every step
    data: dict[str, Any] = dict(_CANDIDATE_FIELDS)
    extra = dict(profile.get("extra") or {})
    for key, value in profile.items():
        if key not in _CANDIDATE_FIELDS:
            extra.setdefault(key, value)
        data[key] = value
    for key in ("skills", "achievements"):
        data[key] = _as_list(data[key])
    if isinstance(data["links"], str):
        data["links"] = _as_list(data["links"])
    for key in ("name", "first_name", "email", "headline", "company", "role", "location"):
        data[key] = "" if data[key] is None else str(data[key]).strip()
    data["language"] = str(data["language"] or "").strip().lower()
    if not data["first_name"]:
        data["first_name"] = _first_name(data["name"])
    data["extra"] = extra
    return _freeze(data, "candidate")  # type: ignore[no-any-return]


class TemplateUndefined(StrictUndefined):
    """StrictUndefined whose message names the template variable, not a Python type."""

    @property
    def _undefined_message(self) -> str:
        obj, name = self._undefined_obj, self._undefined_name
        if isinstance(name, str) and name.startswith("_"):
            return f"access to '{name}' is unsafe — {UNSAFE_HINT}"
        if isinstance(obj, Record) and isinstance(name, str):
            label = object.__getattribute__(obj, "_label")
            root = label.split(".", 1)[0]
            hint = _HINTS.get(root, "fix the template or pass it in the context")
            return f"'{label}' has no attribute '{name}' — {hint}"
        return str(super()._undefined_message) + " — fix the template or pass it in the context"


def reply_subject(subject: Any) -> str:
    """Return 'Re: <subject>' with any earlier Re:/SV:/AW: prefixes folded into one."""
    return fresh_reply_subject(str(subject))


def lcfirst(text: Any) -> str:
    """Lower-case the first letter so a profile line can continue a sentence.

    Only an ordinary opening word is lower-cased ("Led the ML platform" → "led the …"); a name
    keeps its case ("Kubernetes migration", "Stockholm's largest …", "iOS", "GitHub").
    """
    value = str(text)
    first = re.split(r"[\s,;:]", value, maxsplit=1)[0]
    if len(first) > 1 and not first[1:].islower():
        return value  # an acronym or a CamelCase name
    word = first.casefold()
    ordinary = word in _OPENERS or word in wl.COMMON or word in wl.ALL_STOPWORDS
    if not ordinary and len(word) > 3 and word.endswith("ed") and word not in wl.TECH:
        ordinary = True  # a past-tense verb: "Migrated", "Reduced"
    return value[:1].lower() + value[1:] if ordinary else value


def build_context(context: Mapping[str, Any]) -> dict[str, Any]:
    """Fill in the standard variables and freeze every value a template will see."""
    values: dict[str, Any] = {"notes": "", "outcome": "", "conversation": ()}
    for key, defaults in _DEFAULTS.items():  # known keys first, so templates can test them
        values[key] = {**defaults, **dict(context.get(key) or {})}
    for key, value in context.items():
        if key not in _DEFAULTS:
            values[key] = value
    if "candidate" in values and not isinstance(values["candidate"], Record):
        values["candidate"] = candidate_context(values["candidate"])
    return {key: _freeze(value, key) for key, value in values.items()}
