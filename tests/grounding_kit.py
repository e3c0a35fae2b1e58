"""The grounding corpus: load its texts with their inputs, run the check, score the result.

Used by tests/test_grounding_corpus.py (the regression guard) and bench/grounding.py (the
figures). A plant counts as caught when a flag's span overlaps it; a clean text counts as a
false alarm when it gets any flag at all.
"""

from __future__ import annotations

import tomllib
from collections import Counter, defaultdict
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from outreach.drafting.grounding import Flag, GroundingInput, check
from outreach.drafting.templates import Slot

CORPUS = Path(__file__).resolve().parent / "grounding_corpus"
PARTS = ("dev", "heldout", "final")


@dataclass(frozen=True)
class Plant:
    kind: str
    span: str
    start: int
    end: int


@dataclass(frozen=True)
class Case:
    """One AI-slot text with everything the check needs."""

    id: str
    part: str
    slot: Slot
    kind: str
    language: str
    text: str
    body: str
    inputs: GroundingInput
    plants: tuple[Plant, ...]

    def run(self) -> list[Flag]:
        return check(
            {self.slot.name: self.text},
            [self.slot],
            self.body,
            self.inputs,
            kind=self.kind,
            language=self.language,
            slot_languages={self.slot.name: self.language},
        )


def _read(name: str) -> dict[str, Any]:
    path = CORPUS / f"{name}.toml"
    return tomllib.loads(path.read_text()) if path.exists() else {}


def load(parts: Iterable[str] = PARTS) -> list[Case]:
    """Every text of the named corpus parts, ready to check."""
    inputs = _read("inputs")
    cases = []
    for part in parts:
        data = _read(part)
        tables = {key: {**inputs.get(key, {}), **data.get(key, {})} for key in
                  ("slots", "templates", "senders", "roles", "people", "notes", "conversations")}  # fmt: skip
        for record in data.get("text", []):
            cases.append(_case(part, record, tables))
    return cases


def _case(part: str, record: dict[str, Any], tables: dict[str, dict[str, Any]]) -> Case:
    where = f"{part}.toml, text '{record.get('id')}'"
    spec = tables["slots"][record["slot"]]
    template_name, slot_name = record["slot"].split(".")
    person = dict(tables["people"][record["person"]])
    role = dict(tables["roles"][record["role"]])
    sender = tables["senders"][role.pop("sender")]
    kind = spec["kind"]
    notes = record.get("notes", record["person"] if kind == "feedback" else "")
    conversation = record.get("conversation", record["person"] if kind == "reply" else "")
    first = person["name"].split()[0]
    prose = tables["templates"][template_name]["text"].replace("{first_name}", first)
    text = record["text"]
    body = prose.replace(f"[{slot_name}]", text)
    for other in ("hook", "why", "nudge", "moments", "pointers", "next", "reply"):
        body = body.replace(f"[{other}]", "")
    template_source = prose.replace(f"[{slot_name}]", "")
    plants = []
    for plant in record.get("plants", []):
        start = text.find(plant["span"])
        if start < 0:
            raise ValueError(f"{where}: span {plant['span']!r} is not in the text")
        plants.append(Plant(plant["kind"], plant["span"], start, start + len(plant["span"])))
    return Case(
        id=record["id"],
        part=part,
        slot=Slot(slot_name, spec["instruction"], None, spec.get("max_words"), 0),
        kind=kind,
        language=record.get("language", spec["language"]),
        text=text,
        body=body + "\n\n" + sender["signature"],
        inputs=GroundingInput(
            candidate=person,
            role=role,
            sender=sender,
            notes=tables["notes"][notes]["text"] if notes else "",
            conversation=tables["conversations"][conversation]["text"] if conversation else "",
            template_source=template_source,
        ),
        plants=tuple(plants),
    )


def _span(flag: Flag, case: Case) -> tuple[int, int] | None:
    if flag.slot == case.slot.name and flag.start >= 0:
        return flag.start, flag.end
    if flag.text and flag.text in case.text:
        start = case.text.index(flag.text)
        return start, start + len(flag.text)
    return None


@dataclass
class Score:
    """Recall per kind, false alarms on clean texts, and what was missed or raised."""

    caught: Counter[str] = field(default_factory=Counter)
    planted: Counter[str] = field(default_factory=Counter)
    clean: int = 0
    alarmed: int = 0
    missed: list[str] = field(default_factory=list)
    alarms: list[str] = field(default_factory=list)
    extra: list[str] = field(default_factory=list)  # flags on planted texts covering no plant

    @property
    def recall(self) -> float:
        return sum(self.caught.values()) / max(1, sum(self.planted.values()))

    def kind_recall(self, kind: str) -> float:
        return self.caught[kind] / max(1, self.planted[kind])

    @property
    def false_alarm_rate(self) -> float:
        return self.alarmed / max(1, self.clean)


def score(cases: Sequence[Case]) -> Score:
    """Run the check on every case and score it."""
    result = Score()
    by_kind: dict[str, list[str]] = defaultdict(list)
    for case in cases:
        flags = case.run()
        spans = [(_span(f, case), f) for f in flags]
        if not case.plants:
            result.clean += 1
            if flags:
                result.alarmed += 1
                result.alarms.append(
                    f"{case.id}: " + "; ".join(f"[{f.code}] {f.text!r}" for f in flags)
                )
            continue
        for plant in case.plants:
            result.planted[plant.kind] += 1
            if any(s and s[0] < plant.end and plant.start < s[1] for s, _ in spans):
                result.caught[plant.kind] += 1
            else:
                by_kind[plant.kind].append(f"{case.id}: {plant.span!r}")
        for s, flag in spans:
            if not s or not any(s[0] < p.end and p.start < s[1] for p in case.plants):
                result.extra.append(f"{case.id}: [{flag.code}] {flag.text!r}")
    result.missed = [f"{kind} — {miss}" for kind in sorted(by_kind) for miss in by_kind[kind]]
    return result
