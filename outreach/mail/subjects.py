"""Subject lines of a thread: the one list of reply and forward prefixes, in many languages.

Mail clients mark a reply by putting a prefix before the subject, in the writer's language:
"Re:", Swedish/Norwegian "SV:", "VS:", German "AW:", Dutch "Antw:", Polish "Odp:", Turkish
"YNT:", Icelandic "Atb:", Italian "R:"/"Rif:", and forward prefixes ("Fwd:", "WG:", "TR:" …),
sometimes with a count ("Re[2]:") or a mailing-list tag ("[team] Re:"). The sync compares
subjects without them (``normalise_subject``), a reply we write gets "Re: " once
(``reply_subject``), and a template's ``reply_subject`` filter folds any run of them into one
"Re: " (``fresh_reply_subject``).
"""

from __future__ import annotations

import re

REPLY_PREFIXES = (
    "re", "sv", "vs", "aw", "antw", "antwoord", "odp", "ynt", "vá", "atb", "rif", "ris", "res",
    "ref", "réf", "rv", "πρθ", "回复", "答复",
)  # fmt: skip
FORWARD_PREFIXES = ("fw", "fwd", "wg", "doorst", "tr", "trs", "enc", "vl", "vb", "转发")

_COUNT = r"\s*(?:\[\d+\]|\(\d+\))?\s*[:：]\s*"
_REPLY = re.compile(rf"^\s*(?:{'|'.join(REPLY_PREFIXES)}){_COUNT}", re.IGNORECASE)
_ANY = re.compile(
    rf"^\s*(?:\[[^\]]{{0,30}}\]\s*)?(?:{'|'.join(REPLY_PREFIXES + FORWARD_PREFIXES)}){_COUNT}",
    re.IGNORECASE,
)


def has_reply_prefix(subject: str) -> bool:
    """Tell whether a subject already starts with a reply prefix ("Re:", "SV:", "AW[2]:" …)."""
    return _REPLY.match(subject) is not None


def strip_prefixes(subject: str) -> str:
    """The subject without any leading reply or forward prefixes and list tags."""
    text = " ".join(subject.split())
    while True:
        stripped = _ANY.sub("", text, count=1)
        if stripped == text:
            return text.strip()
        text = stripped


def normalise_subject(subject: str) -> str:
    """The subject as threads compare it: no prefixes, single spaces, casefolded."""
    return strip_prefixes(subject).casefold()


def reply_subject(subject: str) -> str:
    """The subject of a reply: "Re: " once, keeping a reply prefix that is already there."""
    subject = subject.strip()
    if has_reply_prefix(subject):
        return subject
    return f"Re: {subject}" if subject else "Re:"


def fresh_reply_subject(subject: str) -> str:
    """ "Re: " and the subject, every earlier reply or forward prefix folded into it."""
    return reply_subject(strip_prefixes(subject))
