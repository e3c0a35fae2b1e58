"""Finding candidates: the words they are found by, and the search over 100,000 of them.

Each candidate keeps ``search_text``: its name, address, company, tags and skills folded to
plain lower-case words (accents dropped, punctuation a space), written whenever one of them
changes. A query is folded the same way and each of its words must begin a word of a
candidate's text, so "jam pay" finds jamie@paywise.example and "lind" finds Jamie Lind.
The engines index the words themselves: SQLite an FTS5 table (prefix indexes for 1-3
letters) kept by triggers, PostgreSQL a GIN index over ``to_tsvector('simple', ...)``; both
answer a prefix query without reading the table (bench/candidates.py measures it).
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import Select, and_, func, literal_column, select, text
from sqlalchemy.orm import Session

from outreach.store.models import Candidate, CandidateTag

PAGE = 50
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
    tags: dict[int, list[str]] = field(default_factory=dict)


def _matching(session: Session, words: Sequence[str]) -> Any:
    """A condition on Candidate.id (or .search_text) that every word begins a word."""
    if session.get_bind().dialect.name == "sqlite":
        match = " AND ".join(f'"{w}"*' for w in words)
        ids: Select[Any] = (
            select(literal_column("rowid"))
            .select_from(text("candidates_fts"))
            .where(text("candidates_fts MATCH :match").bindparams(match=match))
        )
        return Candidate.id.in_(ids)
    query = " & ".join(f"{w}:*" for w in words)
    return func.to_tsvector(literal_column("'simple'::regconfig"), Candidate.search_text).op("@@")(
        func.to_tsquery(literal_column("'simple'::regconfig"), query)
    )


def search(session: Session, query: Query, *, page_size: int = PAGE) -> Found:
    """One page of the candidates that match, newest first, and how many match in all."""
    words = terms(query.q).split()[:MAX_WORDS]
    conditions: list[Any] = []
    if words:
        conditions.append(_matching(session, words))
    if query.tag:
        conditions.append(
            Candidate.id.in_(select(CandidateTag.candidate_id).where(CandidateTag.tag == query.tag))
        )
    if query.status:
        conditions.append(Candidate.status == query.status)
    if query.source:
        conditions.append(Candidate.source == query.source)
    where = and_(True, *conditions)
    total = session.scalar(select(func.count()).select_from(Candidate).where(where)) or 0
    pages = max(1, -(-total // page_size))
    page = min(max(1, query.page), pages)
    columns = (
        Candidate.id,
        Candidate.email,
        Candidate.name,
        Candidate.company,
        Candidate.headline,
        Candidate.source,
        Candidate.status,
        Candidate.skills,
        Candidate.updated_at,
    )
    found = session.execute(
        select(*columns)
        .where(where)
        .order_by(Candidate.id.desc())
        .limit(page_size)
        .offset((page - 1) * page_size)
    ).all()
    rows = [dict(row._mapping) for row in found]
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
    return Found(total=total, rows=rows, page=page, pages=pages)


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
