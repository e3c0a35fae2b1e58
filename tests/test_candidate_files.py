"""Hostile and unusual candidate files: each bad record is one line's error, the rest import."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import select

from outreach.candidates import records as core
from outreach.cli import cli, main
from outreach.errors import InputError
from outreach.store import Store
from outreach.store.models import Candidate

GOOD_BEFORE = '{"email": "before@example.com", "name": "Before"}'
GOOD_AFTER = '{"email": "after@example.com", "name": "After"}'


def emails(store: Store) -> list[str]:
    with store.session() as session:
        return sorted(session.scalars(select(Candidate.email)))


def imported(store: Store, path: Path) -> dict[int, str]:
    report = core.import_file(store, path)
    return {error.line: error.reason for error in report.errors}


@pytest.mark.parametrize(
    "deep",
    [
        "[" * 10_000 + "]" * 10_000,
        '{"email": "deep@example.com", "extra": ' + '{"a": ' * 10_000 + "1" + "}" * 10_001,
        '{"email": "deep@example.com", "notes": ' + '["x", ' * 30 + "1" + "]" * 30 + "}",
    ],
    ids=["lists", "objects", "deeper-than-16"],
)
def test_a_deeply_nested_json_record_is_its_line_error(
    store: Store, tmp_path: Path, deep: str
) -> None:
    path = tmp_path / "deep.json"
    path.write_text(f"[\n{GOOD_BEFORE},\n{deep},\n{GOOD_AFTER}\n]\n")
    assert imported(store, path) == {3: "nested more than 16 lists or objects deep"}
    assert emails(store) == ["after@example.com", "before@example.com"]


def test_json_records_that_are_not_objects_or_hold_huge_numbers_are_line_errors(
    store: Store, tmp_path: Path
) -> None:
    path = tmp_path / "odd.json"
    path.write_text(
        f'[\n{GOOD_BEFORE},\n"just text",\n{{"email": "n@example.com", "id": {"9" * 5000}}},\n'
        f"{GOOD_AFTER}\n]\n"
    )
    errors = imported(store, path)
    assert errors[3] == "expected an object with an email field"
    assert errors[4].startswith("a value is not usable: Exceeds the limit (4300 digits)")
    assert emails(store) == ["after@example.com", "before@example.com"]


def test_a_csv_value_over_128_kb_is_its_line_error(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "big.csv"
    notes = "word " * 30_000  # 150,000 characters
    path.write_text(
        f'email,name,notes\na@example.com,A,short\nb@example.com,B,"{notes}"\nc@example.com,C,\n'
    )
    assert imported(store, path) == {
        3: "the 'notes' value is longer than 131,072 characters (128 KB); shorten it"
    }
    assert emails(store) == ["a@example.com", "c@example.com"]


def test_a_nul_character_is_its_line_error_and_never_stored(store: Store, tmp_path: Path) -> None:
    csv_path = tmp_path / "nul.csv"
    csv_path.write_bytes(b"email,name\na@example.com,A\nb@example.com,B\x00b\nc@example.com,C\n")
    assert imported(store, csv_path) == {
        3: "the 'name' value contains a NUL character (\\x00); remove it"
    }
    json_path = tmp_path / "nul.json"
    json_path.write_text(
        '[{"email": "d@example.com"},\n'
        ' {"email": "e@example.com", "skills": ["Go", "R\\u0000ust"]},\n'
        ' {"email": "f@example.com", "extra": {"k\\u0000": 1}}]\n'
    )
    assert imported(store, json_path) == {
        2: "the 'skills' value contains a NUL character (\\x00); remove it",
        3: "the 'extra' value contains a NUL character (\\x00); remove it",
    }
    assert emails(store) == ["a@example.com", "c@example.com", "d@example.com"]


@pytest.mark.parametrize("encoding", ["utf-16", "utf-16-be", "utf-32", "utf-32-le"])
def test_utf16_and_utf32_files_with_a_byte_order_mark_are_read(
    store: Store, tmp_path: Path, encoding: str
) -> None:
    path = tmp_path / "people.csv"
    text = "email,name,company\nasa@example.com,Åsa Öberg,Fjällmark\n"
    data = text.encode(encoding)
    if not encoding.endswith("16") and not encoding.endswith("32"):  # add the BOM ourselves
        data = ("\ufeff" + text).encode(encoding)
    path.write_bytes(data)
    report = core.import_file(store, path)
    assert (report.created, report.errors, report.warnings) == (1, [], [])
    assert core.show_candidate(store, "asa@example.com")["name"] == "Åsa Öberg"


def test_utf16_without_a_byte_order_mark_is_named(store: Store, tmp_path: Path) -> None:
    path = tmp_path / "people.csv"
    path.write_bytes("email,name\na@example.com,A\n".encode("utf-16-le"))
    with pytest.raises(InputError, match="looks like UTF-16 or UTF-32 without a byte-order mark"):
        core.import_file(store, path)


def test_the_command_line_reports_each_bad_line_and_imports_the_rest(
    workspace: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (workspace / "people.json").write_text(
        f"[\n{GOOD_BEFORE},\n{'[' * 10_000}{']' * 10_000},\n"
        '{"email": "nul@example.com", "name": "N\\u0000"},\n'
        f'{{"email": "big@example.com", "notes": "{"x" * 200_000}"}},\n{GOOD_AFTER}\n]\n'
    )
    with pytest.raises(SystemExit) as exit_info:
        main(["candidates", "import", "people.json"])
    out, err = capsys.readouterr()
    assert exit_info.value.code == 1 and "Traceback" not in err
    assert err.splitlines() == [
        "people.json, line 3: nested more than 16 lists or objects deep",
        "people.json, line 4: the 'name' value contains a NUL character (\\x00); remove it",
        "people.json, line 5: the 'notes' value is longer than 131,072 characters (128 KB); "
        "shorten it",
    ]
    assert "imported: 2 new" in out
    listing = CliRunner().invoke(cli, ["candidates", "list", "--json"])
    assert '"after@example.com"' in listing.output and '"before@example.com"' in listing.output
