"""The bulk insert path writes exactly what SQLAlchemy itself would write."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st
from sqlalchemy import select, text

from outreach.candidates.rows import TEXT_FIELDS
from outreach.store import Store
from outreach.store.bulk import bulk_insert, json_text
from outreach.store.models import Candidate

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=12,
)


@given(st.lists(st.text(), max_size=6) | json_values)
def test_json_text_is_json_dumps(value: object) -> None:
    assert json_text(value) == json.dumps(value)


def test_json_text_of_a_tuple_is_a_json_list() -> None:
    assert json_text(("Go", 'say "hi"', "Åsa\n")) == json.dumps(["Go", 'say "hi"', "Åsa\n"])


def test_bulk_rows_read_back_like_orm_rows(store: Store) -> None:
    at = datetime(2026, 11, 26, 9, 30, 0, tzinfo=UTC)  # no microseconds: the odd case
    table = Candidate.metadata.tables["candidates"]
    skills = ("Go", "SQL")
    with store.session() as session:
        bulk_insert(
            session,
            table,
            {"email": ["a@example.com", "b@example.com"], "skills": [skills, skills]},
            {
                **dict.fromkeys(TEXT_FIELDS, ""),
                "achievements": [],
                "links": [],
                "extra": {"k": "v"},
                "status": "active",
                "created_at": at,
                "updated_at": at,
            },
        )
        session.add(
            Candidate(email="c@example.com", skills=["Go", "SQL"], extra={"k": "v"}, created_at=at)
        )
    with store.session() as session:
        rows = session.execute(
            text("SELECT email, CAST(skills AS TEXT), CAST(created_at AS TEXT) FROM candidates")
        ).all()
        stored = {email: (skills, created) for email, skills, created in rows}
        assert stored["a@example.com"] == stored["c@example.com"]
        loaded = session.scalars(select(Candidate).order_by(Candidate.email)).all()
    assert [c.skills for c in loaded] == [["Go", "SQL"]] * 3
    assert [c.extra for c in loaded] == [{"k": "v"}] * 3
    assert [c.created_at for c in loaded] == [at] * 3
