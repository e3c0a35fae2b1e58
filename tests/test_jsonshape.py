"""Finding JSON in model output and checking it against our small schemas."""

from __future__ import annotations

from typing import Any

import pytest

from outreach.drafting.jsonshape import extract_json_object, schema_errors


@pytest.mark.parametrize(
    "text",
    [
        '{"hook": "h"}',
        '  ```json\n{"hook": "h"}\n```  ',
        'Sure! Here it is:\n{"hook": "h"}\nHope that helps.',
        'Notes {not json} then {"hook": "h"}',
    ],
    ids=["bare", "fenced", "prose", "after-junk"],
)
def test_extract_finds_the_object(text: str) -> None:
    assert extract_json_object(text) == {"hook": "h"}


@pytest.mark.parametrize("text", ["", "no json here", "[1, 2]", '{"hook": "unterminated'])
def test_extract_returns_none_without_an_object(text: str) -> None:
    assert extract_json_object(text) is None


SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {
        "subject": {"type": "string", "maxLength": 10},
        "tone": {"type": "string", "enum": ["warm", "neutral"]},
        "count": {"type": "integer"},
        "tags": {"type": "array", "items": {"type": "string"}},
    },
    "required": ["subject"],
    "additionalProperties": False,
}


@pytest.mark.parametrize(
    ("value", "errors"),
    [
        ({"subject": "Hello"}, []),
        ({"subject": "Hello", "tone": "warm", "count": 2, "tags": ["a"]}, []),
        ([], ["$ should be object, got list"]),
        ({"subject": 5}, ["$.subject should be string, got int"]),
        ({"subject": "x" * 11}, ["$.subject is longer than 10 characters"]),
        ({"subject": "s", "tone": "hype"}, ["$.tone should be one of ['warm', 'neutral']"]),
        ({"subject": "s", "count": True}, ["$.count should be integer, got bool"]),
        ({"subject": "s", "tags": ["a", 1]}, ["$.tags[1] should be string, got int"]),
        (
            {"extra": "x"},
            ["$ is missing the required key 'subject'", "$ has an unexpected key 'extra'"],
        ),
    ],
)
def test_schema_errors(value: Any, errors: list[str]) -> None:
    assert schema_errors(value, SCHEMA) == errors
