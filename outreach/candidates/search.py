"""Finding candidates: the words they are found by, and the search over 100,000 of them.

Each candidate keeps ``search_text``: its name, address, company, tags and skills folded to
plain lower-case words (accents dropped, punctuation a space), written whenever one of them
changes. A query is folded the same way and each of its words must begin a word of a
candidate's text, so "jam pay" finds jamie@paywise.example and "lind" finds Jamie Lind.
The engines index the words themselves: SQLite an FTS5 table (prefix indexes for 1-3
letters) kept by triggers, PostgreSQL a GIN index over a stored ``to_tsvector('simple', ...)``
column. A page is the newest 50 matches; counting stops past 1,000 ("more than 1,000"), since
an exact count of a broad query reads every match (bench/candidates.py measures it all).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

from sqlalchemy import column, delete, exists, func, insert, literal_column, select, table, text
from sqlalchemy.orm import Session

from outreach.candidates.rows import Rows
from outreach.store.models import Candidate, CandidateTag, Meta

PAGE = 50
BULK = "search_bulk"  # meta key: an import is indexing its rows itself
MAX_WORDS = 8  # words of a query that count; the rest add nothing but cost
_NOT_WORD = re.compile(r"[\W_]+")


def terms(*parts: str) -> str:
    """Text folded to search words: lower case, accents dropped, punctuation as spaces."""
    folded = " ".join(parts)
    if not folded.isascii():  # most text is: it needs no decomposing
        folded = unicodedata.normalize("NFKD", folded)
        folded = "".join(ch for ch in folded if not unicodedata.combining(ch))
    return " ".join(_NOT_WORD.sub(" ", folded.casefold()).split())


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

    The insert trigger stands aside while the `search_bulk` meta row exists; the row lives
    only inside this transaction.
    """
    if session.get_bind().dialect.name != "sqlite":
        yield
        return
    session.execute(insert(Meta).values(key=BULK, value="1"))
    yield
    session.execute(
        text(
            "INSERT INTO candidates_fts(rowid, search_text) "
            "SELECT id, search_text FROM candidates WHERE id > :before"
        ),
        {"before": before},
    )
    session.execute(delete(Meta).where(Meta.key == BULK))


def texts_of(rows: Rows) -> list[str]:
    """Each imported record's search words."""
    empty = [""] * len(rows)
    names, companies = rows.fields.get("name", empty), rows.fields.get("company", empty)
    skills = rows.fields.get("skills", [()] * len(rows))
    return [
        search_text(
            email=rows.emails[i],
            name=names[i],
            company=companies[i],
            tags=rows.tags[i],
            skills=skills[i],
        )
        for i in range(len(rows))
    ]


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
        tsquery = func.to_tsquery(
            literal_column("'simple'::regconfig"), " & ".join(f"{w}:*" for w in words)
        )
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
