"""Finding candidates: the words they are found by, and the search over 100,000 of them.

Each candidate keeps ``search_text``: its name, address, company, tags and skills folded to
plain lower-case words (accents dropped, punctuation a space), written whenever one of them
changes. A query is folded the same way and each of its words must begin a word of a
candidate's text, so "jam pay" finds jamie@paywise.example and "lind" finds Jamie Lind.
The engines index the words themselves: SQLite an FTS5 table (prefix indexes for 1-3
letters) kept by triggers, PostgreSQL a GIN index over a stored tsvector whose lexemes are
the words as they are (no text-search parser on either side). Words over 200 characters
are dropped: they find no one, and PostgreSQL refuses lexemes over 2,047 bytes. A page is
the newest 50 matches; counting stops past 1,000 ("more than 1,000"), since an exact count
of a broad query reads every match (bench/candidates.py measures it all).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import cast, column, exists, func, literal_column, select, table, text
from sqlalchemy.dialects.postgresql import TSQUERY
from sqlalchemy.orm import Session

from outreach.candidates.rows import Rows
from outreach.store.models import Candidate, CandidateTag

PAGE = 50
INSERT_TRIGGER = "candidates_fts_insert"  # indexes a candidate inserted one at a time
MAX_WORDS = 8  # words of a query that count; the rest add nothing but cost
_NOT_WORD = re.compile(r"[\W_]+")
_SEP = "\x00"  # between records while a whole import is folded at once
_NOT_WORD_OR_SEP = re.compile(r"(?:[^\w\x00]|_)+")
# Longer words find no one and PostgreSQL refuses them as lexemes (over 2,047 bytes).
LONGEST = 200
_LONG_WORD = re.compile(rf"[^\s\x00]{{{LONGEST + 1},}}")
# ASCII letters and digits stay, the separator too; every other byte becomes a space.
_ASCII_WORDS = bytes(c if chr(c).isalnum() or c == 0 else 32 for c in range(256))


def terms(*parts: str) -> str:
    """Text folded to search words: lower case, accents dropped, punctuation as spaces."""
    folded = " ".join(parts)
    if not folded.isascii():  # most text is: it needs no decomposing
        folded = unicodedata.normalize("NFKD", folded)
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    folded = _NOT_WORD.sub(" ", folded.casefold())
    if len(folded) > LONGEST:
        folded = _LONG_WORD.sub("", folded)
    return " ".join(folded.split())


def search_text(
    *, email: str, name: str, company: str, tags: Iterable[str], skills: Iterable[str]
) -> str:
    """The words a candidate is found by."""
    return terms(name, email, company, *tags, *map(str, skills))


def refresh(session: Session, candidate: Candidate) -> None:
    """Rewrite a candidate's search words from its fields and tags (after a change)."""
    tags = session.scalars(
        select(CandidateTag.tag).where(CandidateTag.candidate_id == candidate.id)
    )
    candidate.search_text = search_text(
        email=candidate.email,
        name=candidate.name,
        company=candidate.company,
        tags=list(tags),
        skills=candidate.skills,
    )


@contextmanager
def indexed_in_bulk(session: Session, before: int) -> Iterator[None]:
    """Index the candidates inserted inside (ids above `before`) in one statement on SQLite.

    The insert trigger is dropped for the while and created again from its own SQL, all in
    the import's transaction: a rollback (a failed or dry-run import) brings it back with
    no index rows left behind, and other connections never see it missing.
    """
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    trigger = session.scalar(
        text("SELECT sql FROM sqlite_master WHERE type = 'trigger' AND name = :name"),
        {"name": INSERT_TRIGGER},
    )
    if trigger:
        session.execute(text(f"DROP TRIGGER {INSERT_TRIGGER}"))
    yield
    session.execute(
        text(
            "INSERT INTO candidates_fts(rowid, search_text) "
            "SELECT id, search_text FROM candidates WHERE id > :before"
        ),
        {"before": before},
    )
    if trigger:
        session.execute(text(trigger))


def texts_of(rows: Rows) -> list[str]:
    """Each imported record's search words (what `search_text` gives, folded all at once)."""
    empty = [""] * len(rows)
    names, companies = rows.fields.get("name", empty), rows.fields.get("company", empty)
    skills = rows.fields.get("skills", [()] * len(rows))
    raw = [
        " ".join((names[i], rows.emails[i], companies[i], *rows.tags[i], *map(str, skills[i])))
        for i in range(len(rows))
    ]
    whole = _SEP.join(raw)
    if not raw or whole.count(_SEP) != len(raw) - 1:  # a record holds the separator itself
        return [terms(text) for text in raw]
    # One pass of each step over the whole file instead of one per record: the per-call cost
    # of folding 100,000 short texts was most of it. Every step works character by character
    # (NFKD keeps the separator, a starter, where it is), so the result is the same.
    ascii = whole.isascii()
    if ascii:  # the usual case: a byte table is ten times quicker than the pattern
        whole = whole.casefold().encode("ascii").translate(_ASCII_WORDS).decode("ascii")
    else:
        whole = unicodedata.normalize("NFKD", whole)
        whole = "".join(ch for ch in whole if not unicodedata.combining(ch))
        whole = _NOT_WORD_OR_SEP.sub(" ", whole.casefold())
    # Only a long record can hold a long word (unless NFKD lengthened it); the pattern is slow.
    if not ascii or max(map(len, raw)) > LONGEST:
        whole = _LONG_WORD.sub("", whole)
    return [" ".join(text.split()) for text in whole.split(_SEP)]


@dataclass(frozen=True)
class Query:
    """What the list shows: words, a tag, a status, a source; and which page."""

    q: str = ""
    tag: str = ""
    status: str = ""
    source: str = ""
    page: int = 1

    def params(self, **changes: Any) -> dict[str, str | int]:
        """The non-default parts as query-string parameters."""
        values = {"q": self.q, "tag": self.tag, "status": self.status, "source": self.source}
        values.update(changes)
        return {k: v for k, v in values.items() if v not in ("", None, 1)}


@dataclass
class Found:
    total: int
    rows: list[dict[str, Any]]
    page: int
    pages: int
    more: bool = False  # more than `total` match


FTS = table("candidates_fts", column("rowid"))
COUNT_UP_TO = 1000  # past this the page says "more than 1,000": an exact count costs a scan


def search(session: Session, query: Query, *, page_size: int = PAGE) -> Found:
    """One page of the candidates that match, newest first, and how many (up to 1,000+)."""
    words = terms(query.q).split()[:MAX_WORDS]
    base = select(Candidate.id)
    order: Any = Candidate.id.desc()
    if words and session.get_bind().dialect.name == "sqlite":
        # FTS5 yields its matches in rowid order: no sort, and LIMIT stops the walk early.
        base = base.join_from(Candidate, FTS, FTS.c.rowid == Candidate.id).where(
            text("candidates_fts MATCH :match").bindparams(
                match=" AND ".join(f'"{w}"*' for w in words)
            )
        )
        order = FTS.c.rowid.desc()
    elif words:
        # The stored lexemes are the words themselves, so the query is too: no parser on
        # either side. Folded words hold no quote or backslash to escape.
        tsquery = cast(" & ".join(f"'{w}':*" for w in words), TSQUERY)
        base = base.where(literal_column("search_vector").op("@@")(tsquery))
    if query.tag:
        base = base.where(
            exists().where(CandidateTag.candidate_id == Candidate.id, CandidateTag.tag == query.tag)
        )
    if query.status:
        base = base.where(Candidate.status == query.status)
    if query.source:
        base = base.where(Candidate.source == query.source)
    columns = (
        Candidate.id,
        Candidate.email,
        Candidate.name,
        Candidate.company,
        Candidate.headline,
        Candidate.source,
        Candidate.status,
    )
    page = max(1, query.page)
    rows = _page(session, base, columns, order, page, page_size)
    if page == 1 and len(rows) < page_size:
        total = len(rows)  # all of them are on this page: no count needed
    else:
        counted = base.limit(COUNT_UP_TO + 1).subquery()
        total = session.scalar(select(func.count()).select_from(counted)) or 0
    pages = max(1, -(-min(total, COUNT_UP_TO) // page_size))
    if page > pages:  # past the end (or past what is counted): the last page
        page = pages
        rows = _page(session, base, columns, order, page, page_size)
    ids = [row["id"] for row in rows]
    tags: dict[int, list[str]] = {}
    if ids:
        for cid, tag in session.execute(
            select(CandidateTag.candidate_id, CandidateTag.tag)
            .where(CandidateTag.candidate_id.in_(ids))
            .order_by(CandidateTag.tag)
        ):
            tags.setdefault(cid, []).append(tag)
    for row in rows:
        row["tags"] = tags.get(row["id"], [])
    return Found(
        total=min(total, COUNT_UP_TO), rows=rows, page=page, pages=pages, more=total > COUNT_UP_TO
    )


def _page(
    session: Session, base: Any, columns: Any, order: Any, page: int, size: int
) -> list[dict[str, Any]]:
    query = base.with_only_columns(*columns).order_by(order).limit(size).offset((page - 1) * size)
    return [dict(row._mapping) for row in session.execute(query)]


def all_tags(session: Session) -> list[tuple[str, int]]:
    """Every tag with how many candidates carry it, most used first."""
    rows = session.execute(
        select(CandidateTag.tag, func.count())
        .group_by(CandidateTag.tag)
        .order_by(func.count().desc(), CandidateTag.tag)
    )
    return [(tag, count) for tag, count in rows]


def all_sources(session: Session, limit: int = 50) -> list[str]:
    """The sources candidates came from (the most common first)."""
    rows = session.execute(
        select(Candidate.source)
        .where(Candidate.source != "")
        .group_by(Candidate.source)
        .order_by(func.count().desc())
        .limit(limit)
    )
    return [source for (source,) in rows]


def reindex(session: Session) -> int:
    """Rewrite every candidate's search words (after rows were written some other way)."""
    candidates = list(session.scalars(select(Candidate)))
    for candidate in candidates:
        refresh(session, candidate)
    return len(candidates)
