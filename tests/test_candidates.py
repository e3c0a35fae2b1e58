"""Candidate import, re-import, listing and erasure, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from outreach import candidates as core
from outreach.errors import InputError, NotFound
from outreach.store import Store
from outreach.store.models import Candidate, CandidateTag, Draft, Event, Revision, Suppression

CSV = """email,name,headline,company,timezone,language,skills,achievements,github,tags
Jamie.Lind@Paywise.example,Jamie Lind,Staff engineer,Paywise,Europe/Stockholm,en,Go; Kafka,Led the ML platform,jamielind,backend
asa@fjallmark.example,Åsa Öberg,,Fjällmark,,sv,,,,
"""


def write(tmp_path: Path, name: str, text: str, encoding: str = "utf-8") -> Path:
    path = tmp_path / name
    path.write_bytes(text.encode(encoding))
    return path


def count(store: Store, model: type) -> int:
    with store.session() as session:
        return session.scalar(select(func.count()).select_from(model)) or 0


def test_import_csv_normalises_and_keeps_extra_columns(store: Store, tmp_path: Path) -> None:
    report = core.import_file(store, write(tmp_path, "c.csv", CSV), tags=["spring"])
    assert (report.created, report.updated, report.errors) == (2, 0, [])
    jamie = core.show_candidate(store, "jamie.lind@paywise.example")
    assert jamie["email"] == "jamie.lind@paywise.example"
    assert jamie["skills"] == ["Go", "Kafka"]
    assert jamie["extra"] == {"github": "jamielind"}
    assert jamie["tags"] == ["backend", "spring"]
    assert core.show_candidate(store, "ASA@fjallmark.example")["name"] == "Åsa Öberg"
    assert [c["email"] for c in core.list_candidates(store, tag="backend")] == [
        "jamie.lind@paywise.example"
    ]


def test_reimport_updates_without_erasing_and_records_event(store: Store, tmp_path: Path) -> None:
    core.import_file(store, write(tmp_path, "a.csv", CSV))
    again = (
        "email;headline;company;location\njamie.lind@paywise.example;Principal engineer;;Malmö\n"
    )
    report = core.import_file(store, write(tmp_path, "b.csv", again))
    assert (report.created, report.updated) == (0, 1)
    jamie = core.show_candidate(store, "jamie.lind@paywise.example")
    assert jamie["headline"] == "Principal engineer"
    assert jamie["company"] == "Paywise"  # empty in the new file: kept
    assert jamie["location"] == "Malmö"
    with store.session() as session:
        event = session.scalars(select(Event).where(Event.action == "candidate.updated")).one()
    assert event.details["fields"] == ["headline", "location"]
    assert core.import_file(store, write(tmp_path, "b.csv", again)).unchanged == 1


def test_bad_rows_are_reported_and_valid_rows_imported(store: Store, tmp_path: Path) -> None:
    text = (
        "email,name,timezone,language\n"
        "good@example.com,Good,,\n"
        "not-an-address,Bad,,\n"
        ",Empty,,\n"
        "tz@example.com,TZ,Mars/Base,\n"
        "GOOD@example.com,Again,,\n"
        'quoted@example.com,"Multi\nline",,\n'
        "lang@example.com,Lang,,english please\n"
    )
    report = core.import_file(store, write(tmp_path, "bad.csv", text))
    reasons = {e.line: e.reason for e in report.errors}
    assert set(reasons) == {3, 4, 5, 6, 9}
    assert "not a valid email address" in reasons[3]
    assert reasons[4] == "email is empty"
    assert "unknown timezone 'Mars/Base'" in reasons[5]
    assert reasons[6] == "good@example.com repeats line 2"
    assert "use a code like en" in reasons[9]
    assert report.created == 2
    assert core.show_candidate(store, "quoted@example.com")["name"] == "Multi\nline"


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("empty.csv", "", "the file is empty"),
        ("noemail.csv", "name,company\nA,B\n", "line 1: no 'email' column (found: name, company)"),
        ("header.csv", "email,name\n", "no candidate rows after the header"),
        ("broken.json", '[{"email": "a@example.com"},\n {"email": ]', "line 2: invalid JSON"),
        ("object.json", '{"email": "a@example.com"}', "expected a JSON list of objects"),
    ],
)
def test_unusable_files_are_refused_whole(
    store: Store, tmp_path: Path, name: str, text: str, message: str
) -> None:
    with pytest.raises(InputError, match=re.escape(message)):
        core.import_file(store, write(tmp_path, name, text))
    assert count(store, Candidate) == 0


def test_json_import_reports_line_numbers(store: Store, tmp_path: Path) -> None:
    text = (
        '[\n  {"email": "a@example.com", "skills": ["Rust", "Go"], "Tags": "x"},\n'
        '  {"email": "nope"},\n  {"email": "b@example.com", "seniority": "senior"}\n]\n'
    )
    report = core.import_file(store, write(tmp_path, "c.json", text))
    assert [(e.line, "not a valid email" in e.reason) for e in report.errors] == [(3, True)]
    assert core.show_candidate(store, "a@example.com")["skills"] == ["Rust", "Go"]
    assert core.show_candidate(store, "b@example.com")["extra"] == {"seniority": "senior"}


def test_cp1252_file_is_read_with_a_warning(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "win.csv", "email;name\nasa@example.com;Åsa Öberg\n", "cp1252")
    report = core.import_file(store, path)
    assert report.warnings and "not UTF-8; read as cp1252" in report.warnings[0]
    assert core.show_candidate(store, "asa@example.com")["name"] == "Åsa Öberg"


def test_bom_is_ignored(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "bom.csv"
    path.write_bytes(b"\xef\xbb\xbfemail,name\na@example.com,A\n")
    assert core.import_file(store, path).created == 1


def test_dry_run_writes_nothing(store: Store, tmp_path: Path) -> None:
    report = core.import_file(store, write(tmp_path, "c.csv", CSV), dry_run=True)
    assert report.created == 2
    assert count(store, Candidate) == 0 and count(store, Event) == 0


def test_forget_erases_everything_and_suppresses(store: Store, tmp_path: Path) -> None:
    core.import_file(store, write(tmp_path, "c.csv", CSV))
    with store.session() as session:
        jamie = core.get_candidate(session, "jamie.lind@paywise.example")
        draft = Draft(candidate_id=jamie.id, kind="outreach")
        session.add(draft)
        session.flush()
        session.add(
            Revision(draft_id=draft.id, number=1, subject="Hi", body="Hi", author="template")
        )
    assert core.forget(store, "Jamie.Lind@paywise.example") is True
    with pytest.raises(NotFound):
        core.show_candidate(store, "jamie.lind@paywise.example")
    assert count(store, Draft) == 0 and count(store, Revision) == 0
    assert count(store, CandidateTag) == 0  # Åsa had no tags; Jamie's are gone
    with store.session() as session:
        assert (
            core.is_suppressed(session, store.salt(), "jamie.lind@paywise.example") == "forgotten"
        )
        hashes = list(session.scalars(select(Suppression.address_hash)))
        assert all("jamie" not in h for h in hashes)
        everything = " ".join(str(e.details) for e in session.scalars(select(Event)))
    assert "jamie" not in everything.lower()
    # Importing the person again is refused: they asked to be forgotten.
    report = core.import_file(store, write(tmp_path, "c.csv", CSV))
    assert report.created == 0 and report.skipped[0].line == 2


def test_forget_unknown_address_still_suppresses(store: Store) -> None:
    assert core.forget(store, "someone@example.com") is False
    with store.session() as session:
        assert core.is_suppressed(session, store.salt(), "someone@example.com") == "forgotten"


def test_hundred_thousand_rows_import_in_one_go(tmp_path: Path) -> None:
    from outreach.store import open_store

    lines = ["email,name,company,skills,tags"]
    lines += [
        f"person{i}@example.com,Person {i},Company {i % 97},Go;SQL,t{i % 5}" for i in range(100_000)
    ]
    path = write(tmp_path, "big.csv", "\n".join(lines) + "\n")
    store = open_store(f"sqlite:///{tmp_path / 'big.db'}")
    report = core.import_file(store, path)
    assert (report.created, report.errors) == (100_000, [])
    assert count(store, Candidate) == 100_000 and count(store, CandidateTag) == 100_000
    store.close()
