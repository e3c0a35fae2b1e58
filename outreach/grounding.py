"""Grounding and quality checks run on every draft; flags go to the reviewer, never drop a draft.

Without a model to ask, "is this fact in the inputs?" is answered with text heuristics. The AI
text's specifics are extracted and looked up, tolerantly, in what the model was given: names and
places, numbers *with what they count* (a changed currency or unit is caught, and a number found
only in the template's own text supports only itself), number words, relative times, code names.
Then the text is read for who it speaks about: the candidate's achievement credited to someone
else, the person addressed called "she", the hiring company named as the candidate's employer.
Claims whose content words are in none of the inputs, the instruction copied into the mail, the
wrong language for the slot, hype and stock phrases, and (in feedback) protected characteristics
are flagged too. Each flag names one problem in plain words and points at its span.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import snowballstemmer  # type: ignore[import-untyped]

from outreach import _lexicon as lex
from outreach.lexicon import phrases as ph
from outreach.lexicon import words as wl
from outreach.lexicon.numbers import RELATIVE_TIME_RE, Mention, mentions
from outreach.templates import Slot, candidate_context


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


_WORD_RE = re.compile(r"[^\W\d_][\w]*(?:['’\-.][^\W_]+)*(?::[a-zåäö]{1,4}\b)?")
_SENTENCE_GAP_RE = re.compile(r"[.!?:\n•\"“”«»]|^\s*[-*]\s")
_SENTENCE_RE = re.compile(r"[^.!?;\n]+[.!?;]*")
_CLAUSE_END = frozenset(",;:—–()") | {"which", "who", "vilket", "som", "while", "medan"}
_GREETING_RE = re.compile(
    r"^[ \t]*(?:hi|hello|hey|dear|hej|hejsan|hallo|hei|hoi|hola|bonjour|moi|good (?:morning|"
    r"afternoon|evening))[ \t,]+([^\s,!.:;]+)\.?(?:[ \t]+([^\s,!.:;]+))?",
    re.IGNORECASE | re.MULTILINE,
)
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
_IDENTIFIER_RE = re.compile(
    r"`[^`\n]{1,60}`|\b[A-Za-z][A-Za-z0-9]*(?:_[A-Za-z0-9]+)+(?:\.[A-Za-z_]\w*)*\b"
    r"|\b\w+(?:::\w+)+\b|\b\w+(?:\.\w+)*\(\)|\b[a-z]+[A-Z][A-Za-z0-9]*\b"
    r"|\b[A-Z][a-z0-9]+(?:[A-Z][a-z0-9]+){2,}\b|\b(?:[A-Z][a-z]+)+(?:Controller|Service|Operator"
    r"|Manager|Client|Handler|Factory|Repository|Provider|Adapter)\b|\b[a-z][a-z0-9]*\d[a-z0-9]*\b"
    r"|\b[\w-]+\.(?:py|rs|go|ts|tsx|js|java|kt|toml|ya?ml|json|sql|sh)\b|(?<![\w-])--[a-z][a-z-]+"
    r"|\b[a-z][a-z0-9]+(?:\.[a-z_][a-z0-9_]+)+\b|\b[a-z0-9]+(?:-[a-z0-9]+)+\b|\b[a-zåäö]{3,}\b"
)
_DOMAINS = frozenset("com org net io dev se de nl uk eu co ai app example fi no dk at ch".split())
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
_STEMMERS = {code: snowballstemmer.stemmer(name) for code, name in
             (("en", "english"), ("sv", "swedish"), ("de", "german"))}  # fmt: skip
# When two flags cover the same words, the first code here is the one the reviewer sees.
_PRIORITY = (
    "protected", "score", "echo", "attribution", "gendered", "pronoun", "unit",
    "template_number", "number", "relative_time", "identifier", "foreign_name", "unsupported",
    "hype", "stock_phrase", "claim",
)  # fmt: skip


def fold(text: str) -> str:
    """Casefold and strip accents so 'Malmö' matches 'malmo'."""
    return lex.strip_accents(text.casefold())


@functools.lru_cache(maxsize=65536)
def _token(word: str) -> str:
    # Words repeat from draft to draft (the template, the role, the signature): fold each once.
    return re.sub(r"['’]s?$|:[a-zåäö]{1,4}$", "", fold(word))


@functools.lru_cache(maxsize=65536)
def _stem(word: str, language: str = "en") -> str:
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
def _text_facts(text: str) -> _TextFacts:
    # Cached: the role, the sender and the template are the same for every draft of a batch.
    day_months = frozenset((m, d) for m, d, _, _, _ in lex.dates(text))
    raw = _WORD_RE.findall(text)
    calendar = [lex.calendar_word(w) for w in raw]
    tokens = tuple(_token(w) for w in _WORD_RE.findall(text.replace("-", " ")))
    words = set(tokens) | {p for t in tokens for p in re.split(r"[.'’]", t) if p}
    words |= {_token(w) for w in raw} | {t[:-1] for t in tokens if len(t) > 3 and t[-1] == "s"}
    plain = {w.casefold() for w in re.findall(r"[^\W\d_]+", text)}
    return _TextFacts(
        urls=frozenset(lex.url(u) for u in lex.URL_RE.findall(text)),
        emails=frozenset(e.lower() for e in lex.EMAIL_RE.findall(text)),
        mentions=tuple(mentions(text)),
        day_months=day_months,
        tokens=tokens,
        words=frozenset(words),
        stems=frozenset(_stem(w, code) for w in plain for code in ("en", "sv")),
        months=frozenset(n for k, n in filter(None, calendar) if k == "month")
        | {m for m, _ in day_months},
        weekdays=frozenset(n for k, n in filter(None, calendar) if k == "weekday"),
        folded=" " + " ".join(fold(text).split()) + " ",
    )


class _Facts:
    """The inputs, indexed for tolerant look-ups, and who is who in them."""

    def __init__(self, inputs: GroundingInput) -> None:
        person = candidate_context(inputs.candidate)
        own_text = "\n".join([*_flatten(inputs.candidate), inputs.notes, inputs.conversation])
        hiring_text = "\n".join(
            [*_flatten(inputs.role), *_flatten(inputs.company), *_flatten(inputs.sender)]
        )
        own, hiring = _text_facts(own_text), _text_facts(hiring_text)
        template = _text_facts(inputs.template_source)
        parts = [own, hiring, template]
        self.urls = own.urls | hiring.urls | template.urls
        self.emails = own.emails | hiring.emails | template.emails
        self.day_months = own.day_months | hiring.day_months | template.day_months
        self.words = own.words | hiring.words | template.words
        self.phrases = " " + " ".join(token for p in parts for token in p.tokens) + " "
        self.months = own.months | hiring.months | template.months
        self.weekdays = own.weekdays | hiring.weekdays | template.weekdays
        self.stems = own.stems | hiring.stems | template.stems
        self.folded = own.folded + hiring.folded + template.folded
        self.mentions = [(m, False) for m in own.mentions + hiring.mentions]
        self.mentions += [(m, True) for m in template.mentions]
        # The candidate's own facts, minus what the hiring side says too: "ledger" in both is
        # no evidence, "settlement" only in the profile is.
        self.others = _other_people(inputs, self.own_names_of(person))
        named = {_stem(p, c) for n, _ in self.others for p in n.split() for c in ("en", "sv")}
        self.own_stems = own.stems - hiring.stems - named
        self.own_numbers = {m.value for m in own.mentions} - {m.value for m in hiring.mentions}
        self.first = fold(str(person["first_name"]))
        self.own_names = self.own_names_of(person)
        own_orgs = {str(person["company"])} | set(_capitalised(own_text))
        hiring_orgs = set(_capitalised(hiring_text))
        self.own_orgs = {fold(o) for o in own_orgs - hiring_orgs if o} - self.own_names
        self.hiring_orgs = {fold(o) for o in hiring_orgs - own_orgs}
        self.hiring_orgs -= {n for n, _ in self.others} | {fold(str(inputs.role.get("location")))}
        self.title = fold(str(inputs.role.get("title") or ""))
        self.hiring_stems = hiring.stems
        # What the person asked that the hiring side's inputs do not answer.
        asked = " ".join(re.findall(r"[^.!?\n]*\?", inputs.conversation))
        self.open_questions = {
            _stem(w, c)
            for w in re.findall(r"[^\W\d_][\w'’-]*", asked)
            if _is_content(w)
            for c in ("en", "sv")
        } - hiring.stems
        self.prompt = _shingles(inputs.prompt) - _shingles(own_text + "\n" + hiring_text)

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
        stem = _stem(word, language)
        if stem in self.stems or _token(word) in self.words:
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


def _shingles(text: str, size: int = 5) -> set[tuple[str, ...]]:
    tokens = [_token(w) for w in _WORD_RE.findall(text)]
    return {tuple(tokens[i : i + size]) for i in range(len(tokens) - size + 1)}


def _flag(code: str, message: str, text: str, slot: str | None, start: int) -> Flag:
    return Flag(code, message, text, slot, start, start + len(text))


def _unsupported(text: str, slot: str | None, start: int = -1) -> Flag:
    message = f"'{text}' is in none of the inputs (profile, role, notes, conversation)"
    return Flag("unsupported", message, text, slot, start, start + len(text) if start >= 0 else -1)


def _spans_flags(text: str, facts: _Facts, slot: str) -> tuple[list[Flag], str]:
    """Flag unsupported URLs, emails and dates; return the text with them blanked out."""
    flags: list[Flag] = []
    chars = list(text)

    def blank(start: int, end: int) -> None:
        chars[start:end] = "\x00" * (end - start)

    for m in lex.EMAIL_RE.finditer(text):
        if m.group().lower() not in facts.emails:
            flags.append(_unsupported(m.group(), slot, m.start()))
        blank(m.start(), m.end())
    for m in lex.URL_RE.finditer(text):
        if "\x00" not in "".join(chars[m.start() : m.end()]) and not facts.has_url(m.group()):
            flags.append(_unsupported(m.group().rstrip(".,;:!?)"), slot, m.start()))
        blank(m.start(), m.end())
    for month, day, year, start, end in sorted(lex.dates(text), key=lambda d: d[3]):
        if "\x00" in "".join(chars[start:end]):
            continue
        known_year = year is None or any(m.value == year for m, _ in facts.mentions)
        if (month, day) not in facts.day_months or not known_year:
            flags.append(_unsupported(text[start:end], slot, start))
        blank(start, end)
    return flags, "".join(chars)


def _numbers(clean: str, facts: _Facts, slot: str, language: str) -> list[Flag]:
    """Flag numbers the inputs lack, or have with another unit, or only in the template."""
    flags = []
    for m in mentions(clean):
        same = [(k, tpl) for k, tpl in facts.mentions if abs(k.value - m.value) < 1e-9]
        fits = [(k, tpl) for k, tpl in same if _same_unit(m, k, facts, language, strict=tpl)]
        if any(not tpl for _, tpl in fits) or (fits and not m.year):
            continue
        if not same:
            what = "number" if not m.worded else "number (written in words)"
            message = f"the {what} '{m.text}' is in none of the inputs"
            flags.append(_flag("number", message, m.text, slot, m.start))
        elif all(tpl for _, tpl in same):
            known = same[0][0].text
            message = (
                f"'{m.text}' is not in the inputs; the number appears only in the template's "
                f"own text ('{known}'), which is no source for facts"
            )
            flags.append(_flag("template_number", message, m.text, slot, m.start))
        else:
            known = next(k.text for k, tpl in same if not tpl)
            message = f"'{m.text}' changes what the inputs count or measure: they say '{known}'"
            flags.append(_flag("unit", message, m.text, slot, m.start))
    return flags


def _same_unit(m: Mention, k: Mention, facts: _Facts, language: str, *, strict: bool) -> bool:
    if m.measure != k.measure and (m.measure and k.measure or strict):
        return False
    if m.rate and k.rate and m.rate != k.rate:
        return False
    if m.measure and not k.measure and _content(k.nouns, language) and not m.year:
        return False  # a count became a measure: "60 reports" -> "60 percent"
    mine, theirs = _content(m.nouns, language), _content(k.nouns, language)
    if strict:
        return m.measure is not None or bool(set(mine) & set(theirs))
    if m.measure or not mine or not theirs or set(mine) & set(theirs):
        return True
    return not k.measure and all(facts.supports(n, language) for n in m.nouns[:1])


def _content(nouns: Sequence[str], language: str) -> list[str]:
    return [_stem(n, language) for n in nouns if n not in wl.ALL_STOPWORDS]


def _relative_times(clean: str, facts: _Facts, slot: str) -> list[Flag]:
    flags = []
    for m in RELATIVE_TIME_RE.finditer(clean):
        if f" {' '.join(fold(m.group()).split())} " not in facts.folded:
            message = f"'{m.group()}' dates something the inputs give no time for"
            flags.append(_flag("relative_time", message, m.group(), slot, m.start()))
    return flags


def _identifiers(clean: str, facts: _Facts, slot: str, language: str) -> list[Flag]:
    flags = []
    for m in _IDENTIFIER_RE.finditer(clean):
        word = m.group().strip("`")
        if not _looks_like_code(word, language) or fold(word) in facts.folded:
            continue
        if _token(word) in facts.words:
            continue
        message = (
            f"'{word}' looks like a code name (library, table, function) in none of the inputs"
        )
        flags.append(_flag("identifier", message, m.group(), slot, m.start()))
    return flags


def _looks_like_code(word: str, language: str) -> bool:
    if word.islower() and word.isalpha():  # a plain word: a known tool, or no vowels at all
        novowel = not re.search(r"[aeiouyåäöü]", word) and word not in wl.VOWELLESS_OK
        return word in wl.TECH or novowel
    if re.fullmatch(r"[a-z0-9]+(?:-[a-z0-9]+)+", word):  # kebab-case: a library, or English
        parts = word.split("-")
        return parts[0] in wl.TECH_PREFIXES and (len(parts) > 2 or language == "en")
    if re.fullmatch(r"[a-z][a-z0-9]+(?:\.[a-z_][a-z0-9_]+)+", word):
        return word.rsplit(".", 1)[1] not in _DOMAINS
    if re.fullmatch(r"[a-z]+\d+", word) and len(word) <= 3:
        return word not in {"h1", "h2", "q1", "q2", "q3", "q4"}
    return True


def _names(clean: str, facts: _Facts, slot: str, language: str) -> list[Flag]:
    """Flag names, organisations and places that the inputs do not contain."""
    words = [(m.group(), m.start(), m.end()) for m in _WORD_RE.finditer(clean)]
    flags: list[Flag] = []
    run: list[int] = []
    for i, (word, start, _) in enumerate(words + [("", len(clean), len(clean))]):
        gap = clean[words[i - 1][2] : start] if i else clean[:start]
        initial = i == 0 or bool(_SENTENCE_GAP_RE.search(gap))
        joined = bool(run) and gap in (" ", "\u00a0") and not initial
        if run and not (joined and (_is_name_like(word) or fold(word) in lex.CONNECTORS)):
            flags += _check_run(run, words, clean, facts, slot, language)
            run = []
        if word and _is_name_like(word) and not _is_noun(word, i, words, initial, language):
            run.append(i)
        elif run and joined and fold(word) in lex.CONNECTORS:
            run.append(i)
    return flags


def _is_name_like(word: str) -> bool:
    if fold(word) in lex.ALWAYS_IGNORE or word.upper() in lex.GENERIC_CAPS:
        return False
    if lex.calendar_word(word) is not None:
        return False  # months and weekdays are checked on their own
    return word[0].isupper() or any(c.isupper() for c in word[1:])


def _is_noun(
    word: str, i: int, words: list[tuple[str, int, int]], initial: bool, lang: str
) -> bool:
    """Whether a capitalised word is an ordinary word: a sentence start, a German noun."""
    low = re.split(r"['’]", fold(word))[0]
    if initial and (low in wl.COMMON or (len(low) > 5 and low.endswith(("ing", "ly", "ed")))):
        return True
    if initial and lang == "sv" and word[1:].islower() and low.endswith(wl.SV_NOUN_ENDINGS):
        return True  # "Teamet", "Rollen", "Tjänsten"
    if lang == "de" and low in wl.DE_DETERMINERS:
        return True  # "Ihrer Erfahrung"
    if lang == "de" and word[1:].islower():
        before = fold(words[i - 1][0]) if i else ""
        return initial or before in wl.DE_DETERMINERS or low.endswith(wl.DE_NOUN_ENDINGS)
    return False


def _check_run(
    run: list[int], words: list[tuple[str, int, int]], text: str, facts: _Facts, slot: str,
    language: str,
) -> list[Flag]:  # fmt: skip
    while run and fold(words[run[-1]][0]) in lex.CONNECTORS:
        run = run[:-1]
    if not run:
        return []
    names = [words[i][0] for i in run]
    first, start = names[0], words[run[0]][1]
    gap = text[words[run[0] - 1][2] : start] if run[0] else text[:start]
    initial = not run[0] or bool(_SENTENCE_GAP_RE.search(gap))
    if initial and len(run) == 1 and language != "en" and first[1:].islower():
        if fold(first) not in wl.FIRST_NAMES:
            return []  # Swedish and German open sentences with verbs and nouns: "Läs", "Rollen"
    tokens = [_token(w) for w in " ".join(names).replace("-", " ").split()]
    if f" {' '.join(tokens)} " in facts.phrases:
        return []
    if all(facts.has_word(t) for t in tokens if t not in lex.CONNECTORS):
        return []
    start, end = words[run[0]][1], words[run[-1]][2]
    phrase = text[start:end]
    before = fold(words[run[0] - 1][0]) if run[0] else ""
    after = fold(words[run[-1] + 1][0]) if run[-1] + 1 < len(words) else ""
    if fold(names[0]) in wl.FIRST_NAMES or before in wl.PERSON_BEFORE or after in wl.SAID:
        message = f"'{phrase}' looks like a person who is not the candidate, you or in the inputs"
        return [_flag("foreign_name", message, phrase, slot, start)]
    return [_unsupported(phrase, slot, start)]


def _calendar(clean: str, facts: _Facts, slot: str) -> list[Flag]:
    """Flag weekdays and months outside full dates unless the inputs mention them."""
    flags = []
    for m in _WORD_RE.finditer(clean):
        kind = lex.calendar_word(m.group())
        if kind is None:
            continue
        table, number = kind
        if number not in (facts.months if table == "month" else facts.weekdays):
            flags.append(_unsupported(m.group(), slot, m.start()))
    return flags


def _sentences(text: str) -> list[tuple[int, list[tuple[str, int, int]]]]:
    """Each sentence's start and its words as (folded word, start, end)."""
    found = []
    for m in _SENTENCE_RE.finditer(text):
        words = [
            (_token(w.group()), w.start(), w.end())
            for w in _WORD_RE.finditer(text, m.start(), m.end())
        ]
        found.append((m.start(), words))
    return found


def _attribution(text: str, facts: _Facts, slot: str, language: str) -> list[Flag]:
    """Flag the candidate's facts credited to someone else, and companies swapped over."""
    flags = []
    for _, words in _sentences(text):
        folded = [w for w, _, _ in words]
        for i, (word, start, _) in enumerate(words):
            for name, _ in facts.others:
                parts = name.split()
                size = len(parts) if folded[i : i + len(parts)] == parts else 0
                if not size and word == parts[0] and word not in facts.own_names:
                    size = 1
                if not size or (i and folded[i - 1] in _PREPOSITIONS):
                    continue
                window = _until_you(folded[i + size :])
                if set(window[:4]) & wl.REPORTING:
                    continue
                if _own_evidence(window, text, words[i + size :], facts, language) >= 2:
                    who = text[start : words[i + size - 1][2]]
                    message = (
                        f"this credits {who} with what the inputs say the candidate did — "
                        "check who did it"
                    )
                    flags.append(_flag("attribution", message, who, slot, start))
        flags += _org_swaps(text, words, facts, slot)
    return flags


_PREPOSITIONS = wl.PLACE_PREPOSITIONS | {"to", "by", "like", "and", "till", "av", "och", "med"}


def _until_you(words: list[str]) -> list[str]:
    for i, word in enumerate(words):
        if word in wl.SECOND_PERSON or word in _CLAUSE_END:
            return words[:i]
    return words


def _own_evidence(
    window: list[str], text: str, spans: list[tuple[str, int, int]], facts: _Facts, language: str
) -> int:
    stems = {_stem(w, language) for w in window if w not in wl.ALL_STOPWORDS}
    hits = len(stems & facts.own_stems)
    if spans and window:
        end = spans[len(window) - 1][2]
        hits += sum(m.value in facts.own_numbers for m in mentions(text[spans[0][1] : end]))
    return hits


def _org_swaps(
    text: str, words: list[tuple[str, int, int]], facts: _Facts, slot: str
) -> list[Flag]:
    """'your years at <hiring company>' and '<the role> at <the candidate's company>'."""
    flags = []
    folded = [w for w, _, _ in words]
    for i, (word, start, end) in enumerate(words):
        if i == 0 or folded[i - 1] not in wl.PLACE_PREPOSITIONS:
            continue
        before = folded[max(0, i - 8) : i - 1]
        if word in facts.hiring_orgs and not set(before) & (wl.FUTURE | wl.HIRING_SIDE):
            near = slice(max(0, i - 10), i + 10)
            evidence = (
                set(before) & wl.SECOND_PERSON
                or _own_evidence(folded[near], text, words[near], facts, "en") >= 2
            )
            if evidence:
                message = (
                    f"'{text[start:end]}' is the hiring side, but this makes it the candidate's "
                    "past — check the company"
                )
                flags.append(_flag("attribution", message, text[start:end], slot, start))
        elif word in facts.own_orgs and set(before[-4:]) & (wl.HIRING_SIDE | {facts.title}):
            if not set(before[-4:]) & wl.SECOND_PERSON:
                message = (
                    f"'{text[start:end]}' is where the candidate works, but this makes it the "
                    "hiring side — check the company"
                )
                flags.append(_flag("attribution", message, text[start:end], slot, start))
    return flags


def _pronouns(text: str, facts: _Facts, slot: str, language: str) -> list[Flag]:
    """Flag 'she'/'his'/'hennes' and the person's own name in the third person."""
    flags = []
    previous: list[str] = []  # genders of the people named in the sentence before ("" unknown)
    for _, words in _sentences(text):
        folded = [w for w, _, _ in words]
        here: list[str] = []
        for i, (word, start, end) in enumerate(words):
            raw = text[start:end]
            gender = _other_gender(folded, i, facts)
            if gender is not None:
                here.append(gender)
                continue
            if text[max(0, start - 1) : start] == "/" or text[end : end + 1] == "/":
                continue  # "he/she" is gender-coded wording, flagged as such
            if word in wl.THIRD_PERSON and _pronoun_language(word, language):
                if word == "hans" and raw[0].isupper() and i:
                    continue  # "Hans" the name
                others = previous + here
                mine = wl.THIRD_PERSON[word]
                after = _until_you(folded[i + 1 :])[:8]
                evidence = _own_evidence(after, text, words[i + 1 : i + 9], facts, language)
                if (
                    not others
                    or (mine and "" not in others and mine not in others)
                    or evidence >= 2
                ):
                    message = (
                        f"'{raw}' speaks of the person in the third person; the mail is to them"
                    )
                    flags.append(_flag("pronoun", message, raw, slot, start))
            elif word == facts.first + "s" and language == "sv" and raw[0].isupper():
                message = f"'{raw}' names the person in the third person; write to them as 'du'"
                flags.append(_flag("pronoun", message, raw, slot, start))
            elif word == facts.first and _third_person_name(text, words, i):
                message = f"'{raw}' names the person in the third person; write to them as 'you'"
                flags.append(_flag("pronoun", message, raw, slot, start))
        previous = here
    return flags


def _pronoun_language(word: str, language: str) -> bool:
    swedish = word in {"hon", "henne", "hennes", "han", "honom", "hans", "hen", "hens", "henom"}
    return swedish == (language == "sv") or (language not in ("en", "sv") and swedish)


def _other_gender(folded: list[str], i: int, facts: _Facts) -> str | None:
    """The gender of another person named at word i ("" unknown), None if nobody is."""
    word = folded[i]
    if word in wl.PERSON_NOUNS:
        return ""
    for name, gender in facts.others:
        if word == name.split()[0] and word not in facts.own_names:
            return gender
    if word in wl.FIRST_NAMES and word not in facts.own_names:
        return "f" if word in wl.FEMALE_NAMES else "m"
    return None


def _third_person_name(text: str, words: list[tuple[str, int, int]], i: int) -> bool:
    _, start, end = words[i]
    before = text[max(0, start - 12) : start].casefold()
    if re.search(r"(?:^|\W)(?:hi|hello|hey|dear|thanks|thank you|hej|tack|hallo)[ ,]*$", before):
        return False
    rest = text[end : end + 3]
    if re.search(r"['’]s$", text[start:end]) or re.match(r"['’]s\b", rest):
        return True
    following = words[i + 1][0] if i + 1 < len(words) else ""
    vocative = rest[:1] in {",", "!", "."} or text[max(0, start - 2) : start].strip() == ","
    return not vocative and following in _THIRD_VERBS


_THIRD_VERBS = frozenset(
    "has is was had did led built shipped wrote grew cut made would will could can "
    "har är var hade ledde byggde skrev gjorde kan skulle".split()
)


def _echo(text: str, facts: _Facts, slots: Sequence[Slot], slot: str) -> list[Flag]:
    """Flag the slot instruction or prompt text copied into the mail."""
    instruction = facts.prompt | set().union(*(_shingles(s.instruction) for s in slots))
    words = [(_token(m.group()), m.start(), m.end()) for m in _WORD_RE.finditer(text)]
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
        flags.append(_flag("echo", message, piece, slot, start))
    return flags


def _claims(text: str, facts: _Facts, slot: str, language: str) -> list[Flag]:
    """Flag clauses whose content is in none of the inputs, and answers the inputs lack."""
    flags = []
    for m in re.finditer(r"[^.!?;:—–\n]+[.!?]?", text):
        sentence = {w.casefold() for w in re.findall(r"[^\W\d_][\w'’-]*", m.group())}
        if m.group().endswith("?"):
            continue
        for part in re.finditer(r"[^,]+(?:,(?! (?:and|but|so|which|men|och|så|vilket)\b)[^,]+)*",
                                m.group().rstrip(".!")):  # fmt: skip
            clause = part.group()
            words = re.findall(r"[^\W\d_][\w'’-]*", clause)
            content = [w for w in words if _is_content(w)]
            missing = [w for w in content if not facts.supports(w, language)]
            asked = {w for w in content if _stem(w, language) in facts.open_questions}
            piece = clause.strip(" ,")
            start = m.start() + part.start() + clause.index(piece)
            if (
                asked
                and not sentence & wl.DEFER
                and not _grounded(clause, content, asked, facts, language)
            ):
                shown = "', '".join(sorted(asked))
                message = (
                    f"this answers what the person asked ('{shown}'), but nothing in the inputs "
                    "says so — check it or say you will find out"
                )
                flags.append(_flag("claim", message, piece, slot, start))
            elif (
                len(missing) >= 3 and len(missing) * 2 >= len(content) and language in ("en", "sv")
            ):
                if {w.casefold() for w in words} & wl.ADVICE:
                    continue  # advice and plans state no fact
                shown = ", ".join(f"'{w}'" for w in missing[:3])
                message = f"this says something ({shown}) that none of the inputs say — check it"
                flags.append(_flag("claim", message, piece, slot, start))
    return flags


def _grounded(clause: str, content: list[str], asked: set[str], facts: _Facts, lang: str) -> bool:
    """Whether an answer carries a fact from the hiring side: a name, a number, a word."""
    names = re.findall(r"(?<=\w )[A-ZÅÄÖ][\w-]+", clause)
    if any(facts.has_word(_token(n)) for n in names) or mentions(clause):
        return True
    return any(_stem(w, lang) in facts.hiring_stems for w in content if w not in asked)


def _is_content(word: str) -> bool:
    low = word.casefold().strip("'’-")
    if len(low) < 3 or low in wl.ALL_STOPWORDS or low in wl.GENERIC or word[0].isupper():
        return False
    if mentions(low):
        return False  # number words are checked as numbers
    return lex.calendar_word(word) is None


def _phrases(text: str, slot: str | None, language: str, feedback: bool) -> list[Flag]:
    """Flag hype, stock phrases, gender-coded words and (in feedback) protected topics."""
    flags = []
    languages = [language] if language in _HYPE else list(_HYPE)
    for code in languages:
        for pattern, sort in _HYPE[code]:
            for m in pattern.finditer(text):
                why = "is hype" if sort == "hype" else "is a stock phrase"
                message = f"'{m.group()}' {why} — say something specific to the person"
                flags.append(_flag("hype" if sort == "hype" else "stock_phrase", message,
                                   m.group(), slot, m.start()))  # fmt: skip
    for m in _GENDERED.finditer(text):
        message = f"'{m.group()}' is gender-coded wording — use neutral words"
        flags.append(_flag("gendered", message, m.group(), slot, m.start()))
    if feedback:
        for code in [language] if language in _PROTECTED else list(_PROTECTED):
            for pattern, topic in _PROTECTED[code]:
                for m in pattern.finditer(text):
                    message = (
                        f"'{m.group()}' touches on {topic} — keep it out of interview feedback"
                    )
                    flags.append(_flag("protected", message, m.group(), slot, m.start()))
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
    return [_flag("score", why.format(text[a:b]), text[a:b], slot, a) for a, b in merged]


def _detect(text: str) -> str | None:
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


def _language(text: str, expected: str | None, slot: str) -> list[Flag]:
    """Flag slot text, or sentences of it, written in another language than the slot's."""
    want = lex.language_code(expected)
    if not want:
        return []
    wrong = []
    for m in _SENTENCE_RE.finditer(text):
        found = _detect(m.group()) if len(m.group().split()) >= 5 else None
        if found and found != want:
            wrong.append((m.start(), m.end(), found))
    whole = _detect(text)
    if not wrong and whole and whole != want:
        wrong = [(0, len(text), whole)]
    if not wrong:
        return []
    start, end, found = wrong[0][0], wrong[-1][1], wrong[0][2]
    piece = text[start:end].strip()
    names = lex.LANGUAGE_NAMES
    message = f"this is written in {names[found]}, but the slot is to be in {names.get(want, want)}"
    return [_flag("language", message, piece, slot, start + text[start:end].index(piece))]


def _greetings(body: str, candidate: Mapping[str, Any]) -> list[Flag]:
    person = candidate_context(candidate)  # derives first_name the way templates do
    first = str(person["first_name"])
    last = (str(person["name"]).split(",")[0].split() or [""])[-1]
    flags = []
    for m in _GREETING_RE.finditer(body):
        word, nxt = m.group(1), m.group(2) or ""
        line_start = body.rfind("\n", 0, m.start()) + 1
        if body[line_start:].lstrip().startswith(">") or not word[0].isupper():
            continue  # quoted mail, or "Hi there" / "hello again"
        if fold(word).rstrip(".") in lex.TITLES:
            ok = bool(last) and fold(nxt) == fold(last)
        else:
            ok = bool(first) and fold(word) in {fold(first), fold(first.split("-")[0])}
        if not ok:
            message = (
                f"the greeting names '{word}' but the candidate's first name is "
                f"'{first or '(unknown)'}'"
            )
            text = m.group().strip()
            flags.append(_flag("wrong_greeting", message, text, None, body.index(text, m.start())))
    return flags


def _length(text: str, slot: Slot | None, name: str) -> list[Flag]:
    count = len(text.split())
    if count < 3:
        return [Flag("length", f"slot '{name}' has only {count} word(s)", text, name, 0, len(text))]
    if slot and slot.max_words and count > 1.5 * slot.max_words:
        message = f"slot '{name}' has {count} words; the template asks for at most {slot.max_words}"
        return [Flag("length", message, slot=name)]
    return []


def _one_per_problem(flags: list[Flag]) -> list[Flag]:
    """Where flags overlap in one slot, keep the most specific; drop exact repeats."""
    rank = {code: i for i, code in enumerate(_PRIORITY)}
    kept: list[Flag] = []
    for flag in sorted(flags, key=lambda f: rank.get(f.code, len(rank))):
        located = flag.start >= 0 and flag.code in rank
        if located and any(
            k.slot == flag.slot and k.code in rank and k.start < flag.end and flag.start < k.end
            for k in kept
        ):
            continue
        if any(
            (k.code, fold(k.text), k.slot) == (flag.code, fold(flag.text), flag.slot) for k in kept
        ):
            continue
        kept.append(flag)
    order = {id(f): i for i, f in enumerate(flags)}
    return sorted(kept, key=lambda f: order[id(f)])


def _slot_checks(
    name: str, text: str, facts: _Facts, slots: Sequence[Slot], language: str, kind: str
) -> list[Flag]:
    """Every check on one slot's text."""
    flags, clean = _spans_flags(text, facts, name)
    flags += _numbers(clean, facts, name, language)
    flags += _relative_times(clean, facts, name)
    flags += _identifiers(clean, facts, name, language)
    flags += _names(clean, facts, name, language) + _calendar(clean, facts, name)
    flags += _attribution(text, facts, name, language) + _pronouns(text, facts, name, language)
    flags += _echo(text, facts, slots, name)
    flags += _phrases(text, name, language, kind == "feedback")
    flags = _one_per_problem(flags)
    claims = [c for c in _claims(text, facts, name, language) if not _covers(flags, c)]
    return _one_per_problem(flags + claims)


def _covers(flags: list[Flag], claim: Flag) -> bool:
    return any(f.start >= 0 and f.start < claim.end and claim.start < f.end for f in flags)


def check(
    ai_texts: Mapping[str, str],
    slots: Sequence[Slot],
    body: str,
    inputs: GroundingInput,
    *,
    kind: str,
    language: str | None,
    slot_languages: Mapping[str, str] | None = None,
) -> list[Flag]:
    """Check a draft's AI text against its inputs and its body for quality; return the flags.

    ``language`` is the template's language, which every slot is expected to be written in
    unless ``slot_languages`` names another for a slot.
    """
    by_name = {slot.name: slot for slot in slots}
    flags: list[Flag] = []
    if ai_texts:  # template-only drafts have no AI text to check
        for slot in slots:
            if not ai_texts.get(slot.name, "").strip():
                used = "its fallback was used" if slot.fallback else "it is empty"
                message = f"the model left slot '{slot.name}' empty; {used}"
                flags.append(Flag("empty_slot", message, "", slot.name))
    own = lex.language_code(str(inputs.candidate.get("language") or ""))
    facts = _Facts(inputs) if any(t.strip() for t in ai_texts.values()) else None
    for name, text in ai_texts.items():
        if not text.strip() or facts is None:
            if name not in by_name:
                flags.append(Flag("empty_slot", f"the model left '{name}' empty", "", name))
            continue
        expected = (slot_languages or {}).get(name) or language or own
        code = _detect(text) or lex.language_code(expected) or "en"  # read it as written
        flags += _slot_checks(name, text, facts, slots, code, kind)
        flags += _language(text, expected, name) + _length(text, by_name.get(name), name)
    template_language = lex.language_code(language)
    if own and template_language and own != template_language and ai_texts:
        names = lex.LANGUAGE_NAMES
        flags.append(
            Flag(
                "language",
                f"the draft is in {names[template_language]}, but the candidate's language is "
                f"{names.get(own, own)}",
            )
        )
    flags += _greetings(body, inputs.candidate)
    for m in lex.PLACEHOLDER_RE.finditer(body):
        flags.append(_flag("placeholder", f"leftover placeholder '{m.group()}' — fill it in",
                           m.group(), None, m.start()))  # fmt: skip
    if kind == "feedback" and not ai_texts:  # template text only: its body is what is sent
        flags += _phrases(body, None, template_language or "", True)
    return _one_per_problem(flags)
