"""How the AI text is worded: claims the inputs do not make, answers they do not give, the
instructions copied into the mail, hype and stock phrases, protected topics and scores in
feedback, and the language each slot is written in.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from outreach.drafting.grounding import recognisers as lex
from outreach.drafting.grounding.facts import (
    SENTENCE_RE,
    WORD_RE,
    Facts,
    Flag,
    is_content,
    make_flag,
    shingles,
    stem_of,
    token_of,
)
from outreach.drafting.lexicon import phrases as ph
from outreach.drafting.lexicon import words as wl
from outreach.drafting.lexicon.numbers import mentions
from outreach.drafting.templates import Slot

_SCORE_RES = (
    re.compile(r"(?<![\d/])(\d+(?:[.,]\d+)?)\s*/\s*(\d+)(?![\d/])"),
    re.compile(r"\b(\d+(?:[.,]\d+)?)\s+(?:out of|av|von|sur|de|op)\s+(\d+)\b", re.IGNORECASE),
)
_SCORE_WORD_RE = re.compile(
    r"\b(?:scored?|scoring|rated|rating|graded?|points?|betyg|poäng)\b[^.\n\d]{0,20}\d+"
    r"|\b\d+\s+(?:points|stars|poäng)\b",
    re.IGNORECASE,
)
_SCALES = {3, 4, 5, 6, 7, 10, 20, 100}
_PROTECTED = {
    "en": [(ph.compile_table(p), topic) for topic, p in ph.PROTECTED_EN.items()],
    "sv": [(ph.compile_table(p), topic) for topic, p in ph.PROTECTED_SV.items()],
}
_HYPE = {
    "en": [(ph.compile_table(ph.HYPE_EN), "hype"), (ph.compile_table(ph.STOCK_EN), "stock")],
    "sv": [(ph.compile_table(ph.HYPE_SV), "hype"), (ph.compile_table(ph.STOCK_SV), "stock")],
}
_GENDERED = ph.compile_table(ph.GENDERED)
_META = ph.compile_table(ph.META)


def check_echo(text: str, facts: Facts, slots: Sequence[Slot], slot: str) -> list[Flag]:
    """Flag the slot instruction or prompt text copied into the mail."""
    instruction = facts.prompt.union(*(shingles(s.instruction) for s in slots))
    words = [(token_of(m.group()), m.start(), m.end()) for m in WORD_RE.finditer(text)]
    spans: list[list[int]] = []
    for i in range(len(words) - 4):
        if tuple(w for w, _, _ in words[i : i + 5]) in instruction:
            if spans and words[i][1] <= spans[-1][1] + 3:
                spans[-1][1] = words[i + 4][2]
            else:
                spans.append([words[i][1], words[i + 4][2]])
    spans += [[m.start(), m.end()] for m in _META.finditer(text)]
    label = re.match(rf"\s*(?:{'|'.join(re.escape(s.name) for s in slots)})\s*:", text, re.I)
    if label and slots:
        spans.append([label.start(), label.end()])
    flags = []
    for start, end in sorted(spans):
        piece = text[start:end]
        message = f"'{piece}' reads like the instructions to the model, not a mail to the person"
        flags.append(make_flag("echo", message, piece, slot, start))
    return flags


def check_claims(
    text: str, facts: Facts, slot: str, language: str, flagged: Sequence[Flag] = ()
) -> list[Flag]:
    """Flag clauses whose content is in none of the inputs, and answers the inputs lack.

    Words already ``flagged`` for something more specific are left out; a clause already
    judged as a whole (protected, echoed, misattributed) is not judged again.
    """
    taken = [(f.start, f.end) for f in flagged if f.start >= 0]
    judged = [(f.start, f.end) for f in flagged if f.code in _WHOLE and f.start >= 0]
    flags = []
    for m in re.finditer(r"[^.!?;:—–\n]+[.!?]?", text):
        sentence = {w.casefold() for w in re.findall(r"[^\W\d_][\w'’-]*", m.group())}
        if m.group().endswith("?"):
            continue
        for part in re.finditer(r"[^,]+(?:,(?! (?:and|but|so|which|men|och|så|vilket)\b)[^,]+)*",
                                m.group().rstrip(".!")):  # fmt: skip
            clause, begin = part.group(), m.start() + part.start()
            if any(a < begin + len(clause) and begin < b for a, b in judged):
                continue
            found = [
                (w.group(), begin + w.start(), begin + w.end())
                for w in re.finditer(r"[^\W\d_][\w'’-]*", clause)
                if not any(a <= begin + w.start() < b for a, b in taken)
            ]
            words = [w for w, _, _ in found]
            content = [w for w in found if is_content(w[0])]
            missing = [w for w in content if not facts.supports(w[0], language)]
            asked = {w for w, _, _ in content if stem_of(w, language) in facts.open_questions}
            said = {stem_of(w, language) for w in words}
            if not asked and any(len(said & q) >= 2 for q in facts.questions):
                asked = {
                    w for w in words if any(stem_of(w, language) in q for q in facts.questions)
                }
            piece = clause.strip(" ,")
            start = begin + clause.index(piece)
            lowered = {w.casefold() for w in words}
            plain = [w for w, _, _ in content]
            if (
                asked
                and not sentence & wl.DEFER
                and not _grounded(clause, plain, asked, facts, language)
            ):
                shown = "', '".join(sorted(asked))
                message = (
                    f"this answers what the person asked ('{shown}'), but nothing in the inputs "
                    "says so — check it or say you will find out"
                )
                flags.append(make_flag("claim", message, piece, slot, start))
            elif (
                language in ("en", "sv")
                and len(missing) * 2 >= len(content)
                and (len(missing) >= 3 or (len(missing) >= 2 and lowered & wl.OFFERS))
            ):
                if lowered & wl.ADVICE:
                    continue  # advice and plans state no fact
                shown = ", ".join(f"'{w}'" for w, _, _ in missing[:3])
                message = f"this says something ({shown}) that none of the inputs say — check it"
                first, last = missing[0][1], missing[-1][2]
                flags.append(make_flag("claim", message, text[first:last], slot, first))
    return flags


_WHOLE = frozenset({"protected", "echo", "attribution", "pronoun", "language"})


def _grounded(clause: str, content: list[str], asked: set[str], facts: Facts, lang: str) -> bool:
    """Whether an answer carries a fact from the hiring side: a name, a number, a word."""
    names = re.findall(r"(?<=\w )[A-ZÅÄÖ][\w-]+", clause)
    if any(facts.has_word(token_of(n)) for n in names) or mentions(clause):
        return True
    rest = [w for w in content if w not in asked and w.casefold() not in wl.GENERIC]
    return any(stem_of(w, lang) in facts.hiring_stems for w in rest)


def check_phrases(text: str, slot: str | None, language: str, feedback: bool) -> list[Flag]:
    """Flag hype, stock phrases, gender-coded words and (in feedback) protected topics."""
    flags = []
    languages = [language] if language in _HYPE else list(_HYPE)
    for code in languages:
        for pattern, sort in _HYPE[code]:
            for m in pattern.finditer(text):
                why = "is hype" if sort == "hype" else "is a stock phrase"
                message = f"'{m.group()}' {why} — say something specific to the person"
                flags.append(make_flag("hype" if sort == "hype" else "stock_phrase", message,
                                   m.group(), slot, m.start()))  # fmt: skip
    for m in _GENDERED.finditer(text):
        message = f"'{m.group()}' is gender-coded wording — use neutral words"
        flags.append(make_flag("gendered", message, m.group(), slot, m.start()))
    if feedback:
        for code in [language] if language in _PROTECTED else list(_PROTECTED):
            for pattern, topic in _PROTECTED[code]:
                for m in pattern.finditer(text):
                    message = (
                        f"'{m.group()}' touches on {topic} — keep it out of interview feedback"
                    )
                    flags.append(make_flag("protected", message, m.group(), slot, m.start()))
        flags += _scores(text, slot)
    return flags


def _scores(text: str, slot: str | None) -> list[Flag]:
    spans = [(m.start(), m.end()) for m in _SCORE_WORD_RE.finditer(text)]
    for pattern in _SCORE_RES:
        for m in pattern.finditer(text):
            num, den = float(m.group(1).replace(",", ".")), int(m.group(2))
            if den in _SCALES and num <= den:
                spans.append((m.start(), m.end()))
    merged: list[tuple[int, int]] = []
    for start, end in sorted(spans):  # "scored 7/10" is one finding, not two
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    why = "'{}' shares an interview score — describe the evidence instead"
    return [make_flag("score", why.format(text[a:b]), text[a:b], slot, a) for a, b in merged]


def detect_language(text: str) -> str | None:
    """The language a text is written in, when its function words say so clearly."""
    scores = lex.language_scores(text)
    best = max(scores, key=lambda code: scores[code])
    second = max(v for k, v in scores.items() if k != best)
    if scores[best] < 3 or scores[best] < 2 * second + 1 - (second > 4):
        nordic = {k: v for k, v in scores.items() if k in wl.NORDIC_MARKERS}
        if best not in nordic or scores[best] < 3:
            return None
        tokens = re.findall(r"[^\W\d_]+", text.casefold())
        marks = {k: sum(t in wl.NORDIC_MARKERS[k] for t in tokens) for k in nordic}
        return max(marks, key=lambda k: marks[k]) if max(marks.values()) else None
    return best


def check_language(text: str, expected: str | None, slot: str) -> list[Flag]:
    """Flag slot text, or sentences of it, written in another language than the slot's."""
    want = lex.language_code(expected)
    if not want:
        return []
    wrong = []
    for m in SENTENCE_RE.finditer(text):
        found = detect_language(m.group()) if len(m.group().split()) >= 5 else None
        if found and found != want:
            wrong.append((m.start(), m.end(), found))
    whole = detect_language(text)
    if not wrong and whole and whole != want:
        wrong = [(0, len(text), whole)]
    if not wrong:
        return []
    start, end, found = wrong[0][0], wrong[-1][1], wrong[0][2]
    piece = text[start:end].strip()
    names = lex.LANGUAGE_NAMES
    message = f"this is written in {names[found]}, but the slot is to be in {names.get(want, want)}"
    return [make_flag("language", message, piece, slot, start + text[start:end].index(piece))]
