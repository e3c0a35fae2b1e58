"""Interview notes: the documented format, and personal details kept out of what we send.

The format (docs/drafting.md) is plain text a recruiter already writes:

    Interviewers: Lena Ek, Omar Said
    Went well:
    - sharded the ledger cleanly in the system design session
    - wrote the tests first
    To work on:
    - SQL window functions

Headings may also be Swedish ("Gick bra:", "Att utveckla:"); outside a heading, a line that
starts with "+" went well and, in notes that use "+" lines, one that starts with "-" is to work
on (plain "-" bullets alone are just notes). Anything else is kept as
other notes. The parsed moments feed template-only feedback, quoted as the recruiter wrote them.

Protected characteristics (age, family, pregnancy, health, disability, religion, ethnicity,
nationality, gender, sexual orientation; the grounding lexicon's tables) have no place in
feedback. Before notes reach a model, a template or the draft page, every sentence that touches
one is removed and counted, so nothing downstream can repeat it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from outreach.drafting.lexicon import phrases as ph

_PROTECTED = [
    ph.compile_table(pattern)
    for table in (ph.PROTECTED_EN, ph.PROTECTED_SV)
    for pattern in table.values()
]
_SENTENCE = re.compile(r"[^.!?;\n]+[.!?;]*[ \t]*|\n")
_WENT_WELL = re.compile(
    r"^\s*(?:went well|strengths?|good|positives?|highlights?|gick bra|bra|styrkor|positivt)"
    r"\s*:?\s*$",
    re.IGNORECASE,
)
_TO_WORK_ON = re.compile(
    r"^\s*(?:to work on|work on|to improve|improve|could improve|areas? to improve|to develop|"
    r"growth areas?|att utveckla|att jobba på|att arbeta med|att förbättra|förbättra|utveckla)"
    r"\s*:?\s*$",
    re.IGNORECASE,
)
_HEADING = re.compile(r"^\s*[\w ]{2,40}:\s*$")
_BULLET = re.compile(r"^\s*(?:[-*•]|\d+[.)])\s+")
_SUBJECTS = r"she|he|they|the candidate|candidate|kandidaten|hon|han|hen"
_BE = r"(?:\s+(was|is|were|are|var|är)\b)?\s+"
_BE_YOU = {"was": "were", "is": "are", "were": "were", "are": "are", "var": "var", "är": "är"}


@dataclass(frozen=True)
class Notes:
    """Interview notes as sent on: the masked text and the moments in it."""

    text: str
    went_well: tuple[str, ...] = ()
    to_work_on: tuple[str, ...] = ()
    other: tuple[str, ...] = ()
    withheld: int = 0  # sentences removed because they touch a protected characteristic
    interviewers: tuple[str, ...] = field(default=())

    def as_context(self) -> dict[str, object]:
        """The `interview` object templates see."""
        return {
            "went_well": self.went_well,
            "to_work_on": self.to_work_on,
            "other": self.other,
            "withheld": self.withheld,
            "interviewers": self.interviewers,
        }


def protected(text: str) -> bool:
    """Whether the text touches a protected characteristic (en or sv lexicon)."""
    return any(pattern.search(text) for pattern in _PROTECTED)


def mask(text: str) -> tuple[str, int]:
    """Remove every sentence that touches a protected characteristic; return text and count."""
    kept: list[str] = []
    removed = 0
    for m in _SENTENCE.finditer(text):
        piece = m.group()
        if piece.strip() and protected(piece):
            removed += 1
            continue
        kept.append(piece)
    out = re.sub(r"[ \t]+\n", "\n", "".join(kept))
    return re.sub(r"\n{3,}", "\n\n", out), removed


_PAST = frozenset(
    "wrote built led ran made took gave kept brought found knew showed spoke thought drew chose "
    "set put cut won grew drove shipped began did got had saw understood".split()
)


def _as_you(item: str, first_name: str, language: str) -> str:
    """'She explained X' → 'You explained X': the moment said to the person it is about."""
    you = "Du" if language == "sv" else "You"
    names = _SUBJECTS + (f"|{re.escape(first_name)}" if first_name else "")
    m = re.compile(rf"^(?:{names}){_BE}", re.IGNORECASE).match(item)
    if not m:
        first = item.split(" ", 1)[0].casefold()
        if language != "sv" and (first in _PAST or (first.endswith("ed") and len(first) > 3)):
            rest = re.sub(r"\b(?:her|his|their)\b", "your", item, flags=re.IGNORECASE)
            return f"{you} {rest[:1].lower()}{rest[1:]}"
        return item[:1].upper() + item[1:]
    be = m.group(1)
    rest = item[m.end() :].lstrip()
    if language == "sv":
        rest = re.sub(r"\b(?:hennes|hans|deras)\b", "din", rest, flags=re.IGNORECASE)
        return f"{you} {be} {rest}" if be else f"{you} {rest}"
    rest = re.sub(r"\b(?:her|his|their)\b", "your", rest, flags=re.IGNORECASE)
    return f"{you} {_BE_YOU[be.lower()]} {rest}" if be else f"{you} {rest}"


def parse(text: str, first_name: str = "", language: str = "en") -> Notes:
    """Read interview notes in the documented format, with protected details removed."""
    masked, withheld = mask(text)
    went: list[str] = []
    work: list[str] = []
    other: list[str] = []
    interviewers: list[str] = []
    section = ""
    # "- x" means "to work on" only beside "+ y" lines; alone it is just a bullet.
    plus_minus = any(line.lstrip().startswith("+") for line in masked.splitlines())
    for raw in masked.splitlines():
        line = raw.strip()
        if not line:
            continue
        if _WENT_WELL.match(line):
            section = "well"
            continue
        if _TO_WORK_ON.match(line):
            section = "work"
            continue
        head, _, rest = line.partition(":")
        if rest.strip() and re.search(r"interview|panel|intervju", head, re.IGNORECASE):
            interviewers += [n.strip() for n in re.split(r",| and | och ", rest) if n.strip()]
            continue
        if _HEADING.match(line):
            section = "other"
            continue
        if section in ("well", "work") and _BULLET.match(line):
            item = _BULLET.sub("", line).strip()
            (went if section == "well" else work).append(
                _as_you(item.rstrip("."), first_name, language)
            )
        elif line.startswith("+"):
            went.append(_as_you(line[1:].strip().rstrip("."), first_name, language))
        elif line.startswith("- ") and plus_minus and section not in ("well",):
            work.append(_as_you(line[2:].strip().rstrip("."), first_name, language))
        else:
            other.append(line)
    return Notes(masked, tuple(went), tuple(work), tuple(other), withheld, tuple(interviewers))
