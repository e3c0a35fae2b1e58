"""Quote the message a reply answers, the way mail clients do, and find that quote again.

A reply ends with an attribution line, "On Mon, 2 Mar 2026 at 10:15 CET, Jamie Doe
<jamie@example.com> wrote:", and the answered text with "> " before each line (">" alone for
an empty one), as Gmail and Thunderbird write it; recipients' clients fold it away. The time is
in the recruiter's zone, named. ``split_quote`` cuts a body we wrote at that attribution, so
the conversation page shows the new text with the quote behind an expander.
"""

from __future__ import annotations

import re
from datetime import datetime
from zoneinfo import ZoneInfo

_ATTRIBUTION = re.compile(r"^On .{4,200} wrote:$")


def attribution(author: str, at: datetime | None, timezone: str) -> str:
    """The line before a quote: "On Mon, 2 Mar 2026 at 10:15 CET, Jamie Doe <…> wrote:"."""
    if at is None:
        return f"On an earlier day, {author} wrote:"
    local = at.astimezone(ZoneInfo(timezone))
    return f"On {local:%a}, {local.day} {local:%b %Y at %H:%M %Z}, {author} wrote:"


def quote(text: str, *, author: str, at: datetime | None, timezone: str) -> str:
    """The attribution and the text with "> " before every line."""
    lines = text.strip("\n").splitlines() or [""]
    quoted = "\n".join(f"> {line}".rstrip() if line.strip() else ">" for line in lines)
    return f"{attribution(author, at, timezone)}\n{quoted}\n"


def split_quote(body: str) -> tuple[str, str]:
    """A body we wrote, cut before its quote: (new text, attribution and quote)."""
    lines = body.split("\n")
    for index in range(len(lines) - 1, -1, -1):
        if _ATTRIBUTION.match(lines[index].strip()):
            rest = lines[index + 1 :]
            if rest and all(line.startswith(">") or not line.strip() for line in rest):
                return "\n".join(lines[:index]).rstrip() + "\n", "\n".join(lines[index:])
    return body, ""


def with_quote(text: str, quoted: str) -> str:
    """The reply's body: the new text, an empty line, the quote."""
    if not quoted:
        return text
    return text.rstrip() + "\n\n" + quoted
