"""A person's edit of a draft: one way to save it, one measure of how much it changed.

The command line (``$EDITOR``), the web form (a textarea) and the JSON API all hand their text
to ``save_edit``. Each carries the same words differently: browsers send CRLF, editors add a
final newline and leave trailing spaces, an API client may send anything. Before anything is
compared or stored the text is brought to one form, the form the templates render (``\\n``
line ends, no spaces or tabs at a line's end, no blank lines around the body, one final
newline; the subject without surrounding whitespace). So the same edit gives the same
revision, and the same approval hash, whichever way it came in; an edit that changes nothing
but that invisible whitespace makes no new revision.

``word_distance`` is the one measure of "how much the reviewer edited": the review metrics
and the campaign statistics both use it.
"""

from __future__ import annotations

import difflib
import re
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy.orm import Session

from outreach.review import queue

_LINE_END = re.compile(r"\r\n?")
_TRAILING = re.compile(r"[ \t]+$", re.MULTILINE)


def normalise_subject(subject: str) -> str:
    """The subject without surrounding whitespace (line breaks inside stay, and are refused)."""
    return subject.strip()


def normalise_body(body: str) -> str:
    """The body with LF line ends, no trailing spaces, no blank lines around it, a final LF."""
    text = _TRAILING.sub("", _LINE_END.sub("\n", body)).strip("\n")
    return text + "\n" if text else ""


@dataclass(frozen=True)
class Saved:
    """What saving an edit did."""

    revision: int  # the draft's current revision afterwards
    changed: bool  # False: the text equals the current revision; nothing was saved
    withdrawn: bool  # the draft was approved, and the edit withdrew that approval


def save_edit(
    session: Session,
    draft_id: int,
    *,
    subject: str,
    body: str,
    actor: str,
    now: datetime | None = None,
) -> Saved:
    """Save a person's subject and body as a new revision, unless they change nothing."""
    draft = queue.get_draft(session, draft_id, lock=True)
    latest = queue.current(session, draft)
    subject, body = normalise_subject(subject), normalise_body(body)
    if (subject, body) == (latest.subject, latest.body):
        return Saved(revision=latest.number, changed=False, withdrawn=False)
    withdrawn = draft.status == queue.APPROVED
    revision = queue.add_revision(
        session, draft, subject=subject, body=body, author=actor, actor=actor, now=now
    )
    return Saved(revision=revision.number, changed=True, withdrawn=withdrawn)


def word_distance(before: str, after: str) -> int:
    """Edit distance in words: how many words a reviewer deleted, inserted or replaced."""
    a, b = before.split(), after.split()
    changed = 0
    for op, i1, i2, j1, j2 in difflib.SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        if op != "equal":
            changed += max(i2 - i1, j2 - j1)
    return changed


def edit_share(before: str, after: str) -> float:
    """The share of the words a reviewer changed (0 = untouched, 1 = rewritten)."""
    return min(word_distance(before, after) / max(len(before.split()), 1), 1.0)
