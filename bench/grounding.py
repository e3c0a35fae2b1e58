"""The grounding check on the labelled corpus: recall on planted inventions, false alarms, speed.

Run: .venv/bin/python bench/grounding.py [--part dev|heldout|all] [--repeat N] [--verbose]
Reports, for each corpus part and for all of it:
- recall on planted inventions, overall and per kind (a plant is caught when a flag covers it);
- false alarms: the share of clean texts that get any flag;
- time per text, cold (empty caches, as for the first draft of a campaign) and warm (the role,
  sender and template already read, as for every later draft), beside the time to render one
  template in the same run.
Targets (issue 13), for the whole corpus: recall >= 90% overall and >= 80% in every kind; false
alarms <= 5% of clean texts; every protected-characteristic plant in feedback flagged.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from outreach.drafting.grounding import facts  # noqa: E402
from outreach.drafting.templates import TemplateLibrary, candidate_context  # noqa: E402
from tests.grounding_kit import PARTS, Case, Score, load, score  # noqa: E402

TARGET_RECALL, TARGET_KIND, TARGET_ALARMS = 0.90, 0.80, 0.05


def report(label: str, result: Score, verbose: bool) -> bool:
    planted, caught = sum(result.planted.values()), sum(result.caught.values())
    ok = result.recall >= TARGET_RECALL and result.false_alarm_rate <= TARGET_ALARMS
    print(f"== {label}: {caught}/{planted} plants caught ({result.recall:.1%}, target >= 90%)")
    print(
        f"   false alarms: {result.alarmed}/{result.clean} clean texts flagged "
        f"({result.false_alarm_rate:.1%}, target <= 5%)"
    )
    for kind in sorted(result.planted):
        share = result.kind_recall(kind)
        mark = "" if share >= TARGET_KIND else "   below 80%"
        ok = ok and share >= TARGET_KIND
        print(f"   {kind:16} {result.caught[kind]:3}/{result.planted[kind]:<3} {share:6.1%}{mark}")
    print(f"   flags on planted texts that cover no plant: {len(result.extra)}")
    if verbose:
        for title, rows in (("missed", result.missed), ("false alarms", result.alarms),
                            ("other flags", result.extra)):  # fmt: skip
            print(f"   {title}:")
            for row in rows:
                print(f"     {row}")
    return ok


def timings(cases: list[Case], repeat: int) -> tuple[float, float]:
    """Median seconds per text with cold caches and with warm ones."""
    cold, warm = [], []
    for _ in range(repeat):
        for cached in (facts.text_facts, facts.token_of, facts.stem_of, facts.fold):
            cached.cache_clear()
        start = time.perf_counter()
        for case in cases:
            case.run()
        cold.append((time.perf_counter() - start) / len(cases))
        start = time.perf_counter()
        for case in cases:
            case.run()
        warm.append((time.perf_counter() - start) / len(cases))
    return statistics.median(cold), statistics.median(warm)


def render_time(repeat: int) -> float:
    """Median seconds to render the starter intro template once: the baseline."""
    root = Path(__file__).resolve().parents[1]
    library = TemplateLibrary(root / "templates")
    context = {
        "candidate": candidate_context({"name": "Anna Svensson", "achievements": ["Led X"]}),
        "role": {"title": "Backend Engineer"},
        "sender": {"name": "Maria", "email": "m@example.org", "signature": "Maria"},
    }
    runs = []
    for _ in range(repeat):
        start = time.perf_counter()
        for _ in range(200):
            library.render("intro", context)
        runs.append((time.perf_counter() - start) / 200)
    return statistics.median(runs)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--part", choices=[*PARTS, "all"], default="all")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--verbose", action="store_true")
    args = parser.parse_args()
    parts = PARTS if args.part == "all" else (args.part,)
    met = {part: report(part, score(load([part])), args.verbose) for part in parts}
    cases = load(parts)
    # The targets are for the corpus as a whole; a part's kinds have too few plants to judge.
    ok = report("all", score(cases), False) if len(parts) > 1 else met[parts[0]]
    feedback = [c for c in cases if c.kind == "feedback"]
    protected = score([c for c in feedback if any(p.kind == "protected" for p in c.plants)])
    every = protected.caught["protected"] == protected.planted["protected"]
    print(
        f"== protected characteristics in feedback: {protected.caught['protected']}/"
        f"{protected.planted['protected']} flagged (target: all)"
    )
    cold, warm = timings(cases, args.repeat)
    render = render_time(args.repeat)
    print(f"== time per text over {len(cases)} texts (median of {args.repeat} runs)")
    print(f"   render one template (baseline)  {render * 1e3:7.3f} ms")
    print(f"   check, cold caches              {cold * 1e3:7.3f} ms   {cold / render:5.1f}x")
    print(f"   check, warm caches              {warm * 1e3:7.3f} ms   {warm / render:5.1f}x")
    print("targets met" if ok and every else "TARGETS MISSED")


if __name__ == "__main__":
    main()
