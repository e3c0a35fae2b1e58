"""Candidate import, re-import, listing and erasure, on SQLite and PostgreSQL."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from sqlalchemy import func, select

from outreach.candidates import records as core
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


def test_values_longer_than_the_store_keeps_are_reported_by_line(
    store: Store, tmp_path: Path
) -> None:
    long = "N" * 201
    text = f"email,name,company\nok@example.com,Ok,{'C' * 200}\nlong@example.com,{long},Acme\n"
    report = core.import_file(store, write(tmp_path, "long.csv", text))
    assert [(e.line, e.reason) for e in report.errors] == [
        (3, "name is 201 characters long; at most 200 are kept: shorten it")
    ]
    assert report.created == 1 and count(store, Candidate) == 1


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


def test_csv_shapes_blank_lines_short_rows_and_trailing_delimiters(
    store: Store, tmp_path: Path
) -> None:
    text = (
        "email,name,company\n"
        "\n"
        "a@example.com,A\n"  # short row: company empty
        "b@example.com,B,Acme,,\n"  # trailing empty values: harmless
        "\n"
        "c@example.com,C,Acme,surplus\n"  # a real extra value: refused
        "d@example.com,D,Acme\n"
    )
    report = core.import_file(store, write(tmp_path, "shapes.csv", text))
    assert [(e.line, e.reason.split(";")[0]) for e in report.errors] == [
        (6, "more values than header columns")
    ]
    assert report.created == 3
    assert core.show_candidate(store, "a@example.com")["company"] == ""
    assert core.show_candidate(store, "b@example.com")["company"] == "Acme"


def test_line_numbers_count_values_that_span_lines(store: Store, tmp_path: Path) -> None:
    text = 'email,notes\na@example.com,"one\ntwo\nthree"\n\nbad-address,x\n'
    report = core.import_file(store, write(tmp_path, "multi.csv", text))
    assert [e.line for e in report.errors] == [6]
    assert core.show_candidate(store, "a@example.com")["notes"] == "one\ntwo\nthree"


def test_a_column_named_twice_is_refused(store: Store, tmp_path: Path) -> None:
    path = write(tmp_path, "twice.csv", "email,Name,name\na@example.com,A,B\n")
    with pytest.raises(InputError, match=re.escape("line 1: the column 'name' appears twice")):
        core.import_file(store, path)
    assert count(store, Candidate) == 0


def test_addresses_beyond_plain_ascii_are_validated_one_by_one(
    store: Store, tmp_path: Path
) -> None:
    text = (
        "email,name\n"
        "  Mixed.Case@EXAMPLE.COM ,Mixed\n"
        "jose@Bücher.example,José\n"
        "åsa@example.com,Åsa\n"
        '"quoted local"@example.com,Quoted\n'
        "a@b,No dot\n"
        "two@@example.com,Two ats\n"
    )
    report = core.import_file(store, write(tmp_path, "odd.csv", text))
    assert [e.line for e in report.errors] == [5, 6, 7]
    assert all("not a valid email address" in e.reason for e in report.errors)
    emails = [c["email"] for c in core.list_candidates(store)]
    assert emails == ["jose@bücher.example", "mixed.case@example.com", "åsa@example.com"]


def test_json_values_of_any_type(store: Store, tmp_path: Path) -> None:
    text = (
        '[{"email": "a@example.com", "name": 42, "skills": [1, true, " Go "], "tags": ["x", "y"],'
        ' "_ref": 7, "remote": false},\n'
        ' {"email": "b@example.com", "skills": "Rust; Go", "timezone": null},\n'
        ' {"email": 5}]\n'
    )
    report = core.import_file(store, write(tmp_path, "types.json", text))
    assert [(e.line, "not a valid email" in e.reason) for e in report.errors] == [(3, True)]
    a = core.show_candidate(store, "a@example.com")
    assert (a["name"], a["skills"], a["tags"]) == ("42", ["1", "True", "Go"], ["x", "y"])
    assert a["extra"] == {"_ref": 7, "remote": False}
    b = core.show_candidate(store, "b@example.com")
    assert (b["skills"], b["timezone"], b["extra"]) == (["Rust", "Go"], "", {})


def test_import_mixes_new_and_known_people_in_one_file(store: Store, tmp_path: Path) -> None:
    core.import_file(store, write(tmp_path, "a.csv", CSV))
    text = (
        "email,company,skills,tags\n"
        "new@example.com,Newco,Python,fresh\n"
        "jamie.lind@paywise.example,,Go;Kafka;Rust,fresh\n"
    )
    report = core.import_file(store, write(tmp_path, "b.csv", text))
    assert (report.created, report.updated) == (1, 1)
    jamie = core.show_candidate(store, "jamie.lind@paywise.example")
    assert jamie["skills"] == ["Go", "Kafka", "Rust"] and jamie["company"] == "Paywise"
    assert jamie["tags"] == ["backend", "fresh"]
    new = core.show_candidate(store, "new@example.com")
    assert (new["company"], new["skills"], new["tags"]) == ("Newco", ["Python"], ["fresh"])


@pytest.mark.parametrize("others", [0, 3000])
def test_a_large_file_skips_exactly_the_suppressed(
    store: Store, tmp_path: Path, others: int
) -> None:
    # More rows than one IN (...) look-up takes; with few suppressions the list is scanned,
    # with many (others) it is looked up in chunks.
    for email in ("p7@example.com", "p250@example.com", "p599@example.com"):
        core.forget(store, email)
    with store.session() as session:
        session.add_all(
            Suppression(address_hash=f"{n:064x}", reason="opted_out") for n in range(others)
        )
    lines = ["email,name"] + [f"p{i}@example.com,P {i}" for i in range(600)]
    path = write(tmp_path, "many.csv", "\n".join(lines) + "\n")
    report = core.import_file(store, path)
    assert [e.line for e in report.skipped] == [9, 252, 601]
    assert report.created == 597
    again = core.import_file(store, path)  # every known person is found again
    assert (again.created, again.unchanged, len(again.skipped)) == (0, 597, 3)


def test_a_candidates_file_selects_normalised_addresses_or_names_the_bad_line(
    store: Store, tmp_path: Path
) -> None:
    good = write(tmp_path, "pick.csv", "email\nA@Example.com\nb@example.com\na@example.com\n")
    assert core.select_emails(store, str(good)) == ["a@example.com", "b@example.com"]
    bad = write(tmp_path, "bad.csv", "email\na@example.com\nnot-an-address\n\n")
    with pytest.raises(InputError, match=re.escape("bad.csv, line 3: 'not-an-address' is not")):
        core.select_emails(store, str(bad))
