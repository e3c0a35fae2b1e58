"""Where candidates came from, and finding them: source at import, search, selectors."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from outreach.candidates import records as core
from outreach.candidates import search
from outreach.errors import InputError, NotFound
from outreach.store import Store
from outreach.store.models import Candidate

CSV = """email,name,company,skills,tags,source
jamie.lind@paywise.example,Jamie Lind,Paywise,Go; Kafka,backend,referral by Lena Ek
asa@fjallmark.example,Åsa Öberg,Fjällmark,Rust,frontend,
kim@nordlys.example,Kim Berg,Nordlys,Python,backend,
"""


def load(store: Store, tmp_path: Path, text: str = CSV, **options: str) -> core.ImportReport:
    path = tmp_path / "people.csv"
    path.write_text(text)
    return core.import_file(store, path, **options)  # type: ignore[arg-type]


def find(store: Store, q: str = "", **filters: str) -> list[str]:
    with store.read() as session:
        found = search.search(session, search.Query(q=q, **filters))
    return sorted(row["email"] for row in found.rows)


def test_source_column_and_option(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path, source="GitHub")
    assert core.show_candidate(store, "jamie.lind@paywise.example")["source"] == (
        "referral by Lena Ek"
    )  # the file's own value wins over --source
    assert core.show_candidate(store, "asa@fjallmark.example")["source"] == "GitHub"
    assert find(store, source="GitHub") == ["asa@fjallmark.example", "kim@nordlys.example"]


@pytest.mark.parametrize(
    ("q", "expected"),
    [
        ("jam", ["jamie.lind@paywise.example"]),  # name prefix
        ("LIND", ["jamie.lind@paywise.example"]),
        ("paywise", ["jamie.lind@paywise.example"]),  # company and address
        ("jamie.lind@pay", ["jamie.lind@paywise.example"]),  # an address as typed
        ("asa oberg", ["asa@fjallmark.example"]),  # accents folded both ways
        ("Öberg", ["asa@fjallmark.example"]),
        ("backend", ["jamie.lind@paywise.example", "kim@nordlys.example"]),  # tag
        ("kafka", ["jamie.lind@paywise.example"]),  # skill
        ("rust frontend", ["asa@fjallmark.example"]),  # every word must match
        ("rust backend", []),
        ('"* OR NEAR(', []),  # FTS syntax is only ever words
        ("", ["asa@fjallmark.example", "jamie.lind@paywise.example", "kim@nordlys.example"]),
    ],
)
def test_search_by_name_email_company_tag_skill(
    store: Store, tmp_path: Path, q: str, expected: list[str]
) -> None:
    load(store, tmp_path)
    assert find(store, q) == expected


def test_search_follows_updates_tags_and_erasure(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path)
    again = "email,company,tags\nkim@nordlys.example,Paywise,ml\n"
    load(store, tmp_path, again)
    assert find(store, "paywise") == ["jamie.lind@paywise.example", "kim@nordlys.example"]
    assert find(store, "ml") == ["kim@nordlys.example"]
    assert find(store, "nordlys") == ["kim@nordlys.example"]  # still in the address
    core.forget(store, "kim@nordlys.example")
    assert find(store, "paywise") == ["jamie.lind@paywise.example"]
    assert find(store, tag="backend") == ["jamie.lind@paywise.example"]


def test_search_pages(store: Store, tmp_path: Path) -> None:
    rows = "".join(f"p{i}@example.com,Person {i}\n" for i in range(7))
    load(store, tmp_path, "email,name\n" + rows)
    with store.read() as session:
        first = search.search(session, search.Query(q="person"), page_size=3)
        last = search.search(session, search.Query(q="person", page=9), page_size=3)
    assert (first.total, first.pages, len(first.rows)) == (7, 3, 3)
    assert first.rows[0]["email"] == "p6@example.com"  # newest first
    assert (last.page, [r["email"] for r in last.rows]) == (3, ["p0@example.com"])


def test_candidates_selector_takes_addresses(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path)
    assert core.select_emails(store, " Kim@Nordlys.example") == ["kim@nordlys.example"]
    assert core.select_emails(store, "kim@nordlys.example,asa@fjallmark.example") == [
        "kim@nordlys.example",
        "asa@fjallmark.example",
    ]
    with pytest.raises(NotFound, match="no candidate with email nobody@example.com"):
        core.select_emails(store, "nobody@example.com")
    with pytest.raises(InputError, match="not a valid email address"):
        core.select_emails(store, "bad@@example")


def test_cli_import_source_and_list(workspace: Path) -> None:
    from outreach.cli.root import cli as main

    (workspace / "people.csv").write_text("email,name\nlo@example.com,Lo Ek\n")
    runner = CliRunner()
    result = runner.invoke(main, ["candidates", "import", "people.csv", "--source", "GitHub"])
    assert result.exit_code == 0, result.output
    listed = runner.invoke(main, ["candidates", "list"], terminal_width=200)
    assert "GitHub" in listed.output


def test_search_words_are_folded_names_addresses_tags_skills(store: Store, tmp_path: Path) -> None:
    load(store, tmp_path)
    with store.read() as session:
        words = session.scalar(
            select(Candidate.search_text).where(Candidate.email == "asa@fjallmark.example")
        )
    assert words == "asa oberg asa fjallmark example fjallmark frontend rust"
