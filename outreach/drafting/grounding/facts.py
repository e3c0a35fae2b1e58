"""What the inputs say, indexed for the checks: words, stems, numbers, people and companies.

The role, the company, the sender and the template are the same for every draft of a batch, so
what each text states is worked out once and cached; only the candidate's part is new per draft.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import snowballstemmer  # type: ignore[import-untyped]

from outreach.drafting.grounding import recognisers as lex
from outreach.drafting.lexicon import words as wl
from outreach.drafting.lexicon.numbers import NUMBER_WORDS, Mention, mentions


@dataclass(frozen=True)
class Flag:
    """One finding shown to the reviewer: what is wrong, in words, and where.

    ``start``/``end`` locate ``text`` in the slot's text when ``slot`` is set, else in the
    body; -1 when the finding has no single place (a missing slot, the whole draft's language).
    """

    code: str
    message: str
    text: str = ""
    slot: str | None = None
    start: int = -1
    end: int = -1


@dataclass(frozen=True)
class GroundingInput:
    """Everything the model was given; AI text may only state facts found here.

    ``company`` is the hiring company's description (config ``[company]``), a fact source like
    the role. ``prompt`` is the instruction text the model saw (rules, slot instructions): it is
    never a fact source, and text copied from it is flagged.
    """

    candidate: Mapping[str, Any]
    role: Mapping[str, Any]
    sender: Mapping[str, Any]
    notes: str
    conversation: str
    template_source: str
    company: Mapping[str, Any] = field(default_factory=dict)
    prompt: str = ""


WORD_RE = re.compile(r"[^\W\d_][\w]*(?:['’\-.][^\W_]+)*(?::[a-zåäö]{1,4}\b)?")
SENTENCE_GAP_RE = re.compile(r"[.!?:\n•\"“”«»]|^\s*[-*]\s")
SENTENCE_RE = re.compile(r"[^.!?;\n]+[.!?;]*")
CLAUSE_END = frozenset(",;:—–()") | {"which", "who", "vilket", "som", "while", "medan"}
_STEMMERS = {code: snowballstemmer.stemmer(name) for code, name in
             (("en", "english"), ("sv", "swedish"), ("de", "german"))}  # fmt: skip


@functools.lru_cache(maxsize=65536)
def fold(text: str) -> str:
    """Casefold and strip accents so 'Malmö' matches 'malmo'."""
    return lex.strip_accents(text.casefold())


@functools.lru_cache(maxsize=65536)
def token_of(word: str) -> str:
    # Words repeat from draft to draft (the template, the role, the signature): fold each once.
    return re.sub(r"['’]s?$|:[a-zåäö]{1,4}$", "", fold(word))


@functools.lru_cache(maxsize=65536)
def stem_of(word: str, language: str = "en") -> str:
    low = word.casefold()
    return fold(_STEMMERS.get(language, _STEMMERS["en"]).stemWord(low))


def _flatten(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, Mapping):
        for item in value.values():
            yield from _flatten(item)
    elif isinstance(value, Iterable):
        for item in value:
            yield from _flatten(item)
    elif value is not None:
        yield str(value)


@dataclass(frozen=True)
class _TextFacts:
    """What one text supports: links, addresses, numbers, dates, words and word stems."""

    urls: frozenset[str]
    emails: frozenset[str]
    mentions: tuple[Mention, ...]
    day_months: frozenset[tuple[int, int]]
    tokens: tuple[str, ...]
    words: frozenset[str]  # the tokens, and their parts: "github.com" also supports "GitHub"
    stems: frozenset[str]
    months: frozenset[int]
    weekdays: frozenset[int]
    folded: str


@functools.lru_cache(maxsize=256)
def text_facts(text: str) -> _TextFacts:
    # Cached: the role, the sender and the template are the same for every draft of a batch.
    day_months = frozenset((m, d) for m, d, _, _, _ in lex.dates(text))
    raw = WORD_RE.findall(text)
    calendar = [lex.calendar_word(w) for w in raw]
    tokens = tuple(token_of(w) for w in WORD_RE.findall(text.replace("-", " ")))
    words = set(tokens) | {p for t in tokens for p in re.split(r"[.'’]", t) if p}
    words |= {token_of(w) for w in raw} | {t[:-1] for t in tokens if len(t) > 3 and t[-1] == "s"}
    plain = {w.casefold() for w in re.findall(r"[^\W\d_]+", text)}
    return _TextFacts(
        urls=frozenset(lex.url(u) for u in lex.URL_RE.findall(text)),
        emails=frozenset(e.lower() for e in lex.EMAIL_RE.findall(text)),
        mentions=tuple(mentions(text)),
        day_months=day_months,
        tokens=tokens,
        words=frozenset(words),
        stems=frozenset(stem_of(w, code) for w in plain for code in ("en", "sv")),
        months=frozenset(n for k, n in filter(None, calendar) if k == "month")
        | {m for m, _ in day_months},
        weekdays=frozenset(n for k, n in filter(None, calendar) if k == "weekday"),
        folded=" " + " ".join(re.sub(r"[^\w'’-]+", " ", fold(text)).split()) + " ",
    )


@dataclass(frozen=True)
class _HiringSide:
    """What the role, company, sender and template state: the same for a whole campaign."""

    facts: _TextFacts
    template: _TextFacts
    words: frozenset[str]
    stems: frozenset[str]
    orgs: frozenset[str]


@functools.lru_cache(maxsize=64)
def _hiring_side(hiring_text: str, template_source: str) -> _HiringSide:
    hiring, template = text_facts(hiring_text), text_facts(template_source)
    return _HiringSide(
        facts=hiring,
        template=template,
        words=hiring.words | template.words,
        stems=hiring.stems | template.stems,
        orgs=frozenset(_capitalised(hiring_text)),
    )


@functools.lru_cache(maxsize=1)
def _generic_stems() -> frozenset[str]:
    return frozenset(stem_of(w, c) for w in wl.GENERIC for c in ("en", "sv"))


@functools.lru_cache(maxsize=1)
def _stopword_stems() -> frozenset[str]:
    return frozenset(stem_of(w, c) for w in wl.ALL_STOPWORDS for c in ("en", "sv"))


class Facts:
    """The inputs, indexed for tolerant look-ups, and who is who in them."""

    def __init__(self, inputs: GroundingInput, person: Mapping[str, Any]) -> None:
        own_text = "\n".join([*_flatten(inputs.candidate), inputs.notes, inputs.conversation])
        hiring_text = "\n".join(
            [*_flatten(inputs.role), *_flatten(inputs.company), *_flatten(inputs.sender)]
        )
        own, side = text_facts(own_text), _hiring_side(hiring_text, inputs.template_source)
        hiring, template = side.facts, side.template
        self.urls = own.urls | hiring.urls | template.urls
        self.emails = own.emails | hiring.emails | template.emails
        self.day_months = own.day_months | hiring.day_months | template.day_months
        self.words = own.words | side.words
        self.phrases = " ".join(("", *own.tokens, *hiring.tokens, *template.tokens, ""))
        self.months = own.months | hiring.months | template.months
        self.weekdays = own.weekdays | hiring.weekdays | template.weekdays
        self.stems = own.stems | side.stems
        self.folded = own.folded + hiring.folded + template.folded
        self.mentions = [(m, False) for m in own.mentions + hiring.mentions]
        self.mentions += [(m, True) for m in template.mentions]
        self.first = fold(str(person["first_name"]))
        self.own_names = self.own_names_of(person)
        self.others = _other_people(inputs, self.own_names)
        # The candidate's own facts, minus what the hiring side says too: "ledger" in both is
        # no evidence, "settlement" only in the profile is.
        named = {stem_of(p, c) for n, _ in self.others for p in n.split() for c in ("en", "sv")}
        self.own_stems = own.stems - hiring.stems - named
        self.own_numbers = {m.value for m in own.mentions} - {m.value for m in hiring.mentions}
        own_orgs = {str(person["company"])} | set(_capitalised(own_text))
        self.own_orgs = {fold(o) for o in own_orgs - side.orgs if o} - self.own_names
        self.hiring_orgs = {fold(o) for o in side.orgs - own_orgs}
        self.hiring_orgs -= {n for n, _ in self.others} | {fold(str(inputs.role.get("location")))}
        self.title = fold(str(inputs.role.get("title") or ""))
        self.hiring_stems = hiring.stems
        # What the person asked, and what of it the hiring side's inputs do not answer.
        questions = re.findall(r"[^.!?\n]*\?", inputs.conversation)
        self.questions = [
            {stem_of(w, c) for w in re.findall(r"[^\W\d_][\w'’-]*", q) for c in ("en", "sv")}
            - _stopword_stems()
            for q in questions
        ]
        self.open_questions = {
            stem_of(w, c)
            for w in re.findall(r"[^\W\d_][\w'’-]*", " ".join(questions))
            if is_content(w)
            for c in ("en", "sv")
        } - hiring.stems
        self.prompt = shingles(inputs.prompt)
        if self.prompt:  # what the data says too is no echo of the instructions
            self.prompt -= shingles(own_text + "\n" + hiring_text)

    @staticmethod
    def own_names_of(person: Mapping[str, Any]) -> set[str]:
        name = str(person["name"])
        return {fold(p) for p in re.split(r"[\s,]+", name) if p} | {fold(person["first_name"])}

    def has_word(self, word: str) -> bool:
        # Swedish genitive has no apostrophe: "Paywises team".
        return word in self.words or (
            len(word) > 3 and word.endswith("s") and word[:-1] in self.words
        )

    def has_url(self, url: str) -> bool:
        norm = lex.url(url)
        return any(known == norm or known.startswith(norm + "/") for known in self.urls)

    def supports(self, word: str, language: str) -> bool:
        """Whether a content word (or its stem, or a compound part) is in the inputs."""
        stem = stem_of(word, language)
        if stem in self.stems or token_of(word) in self.words:
            return True
        return len(stem) >= 5 and f"{stem}" in self.folded


def _capitalised(text: str) -> list[str]:
    """Capitalised word runs that do not open a sentence: the names in a text."""
    found = []
    for m in re.finditer(r"(?<=[^\s.!?:\n] )[A-ZÅÄÖ][\w&-]+(?:[ \t]+[A-ZÅÄÖ][\w&-]+)*", text):
        found += [m.group(), m.group().split()[0]]
    return found


def _other_people(inputs: GroundingInput, own: set[str]) -> list[tuple[str, str]]:
    """People in the inputs who are not the candidate, as (folded full name, gender)."""
    names = [str(inputs.role.get("hiring_manager") or ""), str(inputs.sender.get("name") or "")]
    for line in inputs.notes.splitlines():
        head, _, rest = line.partition(":")
        if rest and re.search(r"interview|panel|intervju", head, re.IGNORECASE):
            names += rest.replace(" and ", ",").replace(" och ", ",").split(",")
    names += re.findall(r"^\s*([^\n(:]+?)\s*\(", inputs.conversation, re.MULTILINE)
    people = []
    for name in {n.strip().rstrip(".") for n in names if n.strip()}:
        folded = fold(name)
        if folded.split()[0] in own and folded.split()[-1] in own:
            continue
        first = folded.split()[0]
        gender = "f" if first in wl.FEMALE_NAMES else "m" if first in wl.MALE_NAMES else ""
        people.append((folded, gender))
    return people


@functools.lru_cache(maxsize=256)
def shingles(text: str, size: int = 5) -> frozenset[tuple[str, ...]]:
    """The text's runs of `size` folded words, to find instructions copied into the mail."""
    if not text:
        return frozenset()
    tokens = [token_of(w) for w in WORD_RE.findall(text)]
    return frozenset(tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1))


def make_flag(code: str, message: str, text: str, slot: str | None, start: int) -> Flag:
    return Flag(code, message, text, slot, start, start + len(text))


def unsupported_flag(text: str, slot: str | None, start: int = -1) -> Flag:
    message = f"'{text}' is in none of the inputs (profile, role, notes, conversation)"
    return Flag("unsupported", message, text, slot, start, start + len(text) if start >= 0 else -1)


@functools.lru_cache(maxsize=64)
def split_sentences(text: str) -> list[tuple[int, list[tuple[str, int, int]]]]:
    """Each sentence's start and its words as (folded word, start, end); do not modify them."""
    found = []
    for m in SENTENCE_RE.finditer(text):
        words = [
            (token_of(w.group()), w.start(), w.end())
            for w in WORD_RE.finditer(text, m.start(), m.end())
        ]
        found.append((m.start(), words))
    return found


def is_content(word: str) -> bool:
    low = word.casefold().strip("'’-")
    if len(low) < 3 or low in wl.ALL_STOPWORDS or low in wl.GENERIC or word[0].isupper():
        return False
    if stem_of(low, "en") in _generic_stems() or stem_of(low, "sv") in _generic_stems():
        return False  # an inflection of an ordinary word: "förklarar", "enkelt"
    if low in NUMBER_WORDS:
        return False  # number words are checked as numbers
    return lex.calendar_word(word) is None
