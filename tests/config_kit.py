"""Change a workspace's config.toml the typed way: named sections and keys, checked values.

``configure(folder, smtp={"host": "127.0.0.1", "port": port})`` rewrites only the lines of
those keys (the rest, comments included, stays), refuses a section or key ``Settings`` does
not have, and returns the settings loaded back, so a typo fails here and not later.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from datetime import date
from pathlib import Path

from pydantic import BaseModel

from outreach.config import Settings, load_config


def toml_value(value: object) -> str:
    """The TOML text of a string, number, boolean, date or list of those."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return repr(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, str):
        return json.dumps(value)  # a TOML basic string: JSON's escapes are TOML's
    if isinstance(value, list | tuple):
        return "[" + ", ".join(toml_value(item) for item in value) + "]"
    raise TypeError(f"no TOML form for {value!r}")


def _check(section: str, keys: Mapping[str, object]) -> None:
    field = Settings.model_fields.get(section)
    model = field.annotation if field else None
    if not (isinstance(model, type) and issubclass(model, BaseModel)):
        raise KeyError(f"config.toml has no section [{section}]")
    unknown = set(keys) - set(model.model_fields)
    if unknown:
        raise KeyError(f"[{section}] has no key {', '.join(sorted(unknown))}")


def configure(folder: Path, **sections: Mapping[str, object]) -> Settings:
    """Set these keys in folder/config.toml (adding a missing key or section); return Settings."""
    path = folder / "config.toml" if folder.is_dir() else folder
    text = path.read_text(encoding="utf-8")
    for section, keys in sections.items():
        _check(section, keys)
        header = re.search(rf"^\[{re.escape(section)}\][^\n]*\n", text, re.MULTILINE)
        if header is None:
            text = text.rstrip("\n") + f"\n\n[{section}]\n"
            header = re.search(rf"^\[{re.escape(section)}\]\n", text, re.MULTILINE)
            assert header is not None
        end = re.compile(r"^\[", re.MULTILINE).search(text, header.end())
        stop = end.start() if end else len(text)
        body = text[header.end() : stop]
        for key, value in keys.items():
            line = f"{key} = {toml_value(value)}"
            pattern = re.compile(rf"^{re.escape(key)}[ \t]*=[^\n]*$", re.MULTILINE)
            found = pattern.search(body)
            if found:  # the value's comment goes: it described the old value
                body = body[: found.start()] + line + body[found.end() :]
            else:
                body = line + "\n" + body
        text = text[: header.end()] + body + text[stop:]
    path.write_text(text, encoding="utf-8")
    return load_config(path)
