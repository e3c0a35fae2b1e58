"""Regression guard: the grounding check on the labelled corpus meets issue 13's targets.

The corpus (tests/grounding_corpus/) holds AI-slot texts with planted inventions and clean
controls; bench/grounding.py prints the same figures with what was missed.
"""

from __future__ import annotations

from collections import Counter

import pytest

from tests.grounding_kit import Case, load, score

KINDS = {
    "specifics", "unit", "template_number", "number_word", "relative_time", "identifier",
    "attribution", "pronoun", "unnamed_claim", "echo", "language", "hype", "protected",
}  # fmt: skip


@pytest.fixture(scope="module")
def cases() -> list[Case]:
    return load()


def test_the_corpus_covers_every_kind_in_both_languages(cases: list[Case]) -> None:
    assert len(cases) >= 150
    planted = Counter(p.kind for c in cases for p in c.plants)
    assert set(planted) == KINDS
    assert {c.language for c in cases} >= {"en", "sv", "de"}
    assert {c.kind for c in cases} == {"outreach", "follow_up", "reply", "feedback"}
    clean = [c for c in cases if not c.plants]
    assert len(clean) >= 50 and {c.language for c in clean} >= {"en", "sv", "de"}
    assert sum(1 for c in cases if c.part == "heldout") >= 0.3 * len(cases)


def test_recall_and_false_alarms_meet_the_targets(cases: list[Case]) -> None:
    result = score(cases)
    assert result.recall >= 0.90, result.missed
    for kind in KINDS:
        assert result.kind_recall(kind) >= 0.80, (kind, result.missed)
    assert result.false_alarm_rate <= 0.05, result.alarms


def test_every_protected_characteristic_in_feedback_is_flagged(cases: list[Case]) -> None:
    feedback = [c for c in cases if c.kind == "feedback"]
    result = score(feedback)
    assert result.planted["protected"] >= 25
    assert result.caught["protected"] == result.planted["protected"], result.missed
