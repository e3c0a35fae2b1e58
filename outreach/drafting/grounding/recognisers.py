"""Recognisers behind the grounding checks: dates, links, addresses, placeholders, languages.

Kept apart from ``grounding.py`` so the rules read without scrolling past vocabulary; the larger
word and phrase tables live in ``outreach.drafting.lexicon``. Every hit is only a flag for a person.
"""

from __future__ import annotations

import re
import unicodedata

from outreach.drafting.lexicon import words
from outreach.drafting.lexicon.words import COMMON, FIRST_NAMES, PERSON_BEFORE, SAID

__all__ = ["COMMON", "FIRST_NAMES", "PERSON_BEFORE", "SAID"]


def strip_accents(text: str) -> str:
    """Remove combining accents ('ö' -> 'o')."""
    if text.isascii():
        return text
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def _words(text: str) -> frozenset[str]:
    return frozenset(text.split())


def _numbered(*rows: str) -> dict[str, int]:
    table: dict[str, int] = {}
    for row in rows:
        for number, names in enumerate(row.split(";"), start=1):
            for name in names.split():
                table[name] = number
                table[strip_accents(name)] = number
    return table


_EN_MONTHS = _numbered(
    "january;february;march;april;may;june;july;august;september;october;november;december"
)
MONTHS = {
    **_numbered(
        "jan;feb;mar;apr;;jun;jul;aug;sep sept;oct;nov;dec",
        "januari;februari;mars;april;maj;juni;juli;augusti;september;oktober;november;december",
        "januar jänner;februar;märz marts;april;mai;juni;juli;august;september;oktober;"
        "november;dezember desember",
        "janvier enero januari;février febrero februari;mars marzo maart;avril abril april;"
        "mai mayo mei;juin junio juni;juillet julio juli;août agosto augustus;"
        "septembre septiembre;octobre octubre;novembre noviembre;décembre diciembre",
    ),
    **_EN_MONTHS,
}
_EN_ABBREVIATIONS = _words("jan feb mar apr jun jul aug sep sept oct nov dec")
_EN_WEEKDAYS = _numbered("monday;tuesday;wednesday;thursday;friday;saturday;sunday")
WEEKDAYS = {
    **_numbered(
        "måndag mandag montag lundi lunes maandag maanantai;"
        "tisdag tirsdag dienstag mardi martes dinsdag tiistai;"
        "onsdag mittwoch mercredi miércoles woensdag keskiviikko;"
        "torsdag donnerstag jeudi jueves donderdag torstai;"
        "fredag freitag vendredi viernes vrijdag perjantai;"
        "lördag lørdag samstag samedi sábado zaterdag lauantai;"
        "söndag søndag sonntag dimanche domingo zondag sunnuntai"
    ),
    **_EN_WEEKDAYS,
}


def calendar_word(word: str) -> tuple[str, int] | None:
    """Return ('month'|'weekday', number) for a month or weekday name, else None."""
    low = word.casefold()
    # English names count only capitalised: "may" and "march" are also ordinary words.
    if low in _EN_MONTHS or low in _EN_WEEKDAYS:
        if not word[:1].isupper():
            return None
        return ("month", _EN_MONTHS[low]) if low in _EN_MONTHS else ("weekday", _EN_WEEKDAYS[low])
    if low in _EN_ABBREVIATIONS and word[:1].isupper():
        return ("month", MONTHS[low])
    if low in MONTHS and len(low) > 4 and low != "mars":
        return ("month", MONTHS[low])
    if low in WEEKDAYS:
        return ("weekday", WEEKDAYS[low])
    return None


# Specifics the checks extract from text and normalise for tolerant matching.
URL_RE = re.compile(r"\b(?:https?://|www\.)[^\s<>()\"']+", re.IGNORECASE)
EMAIL_RE = re.compile(r"\b[\w.+-]+@[\w-]+(?:\.[\w-]+)+\b")
NUMBER_RE = re.compile(
    r"(?<![\w.,])\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+(?![\d])|(?<![\w])\d+(?:[.,]\d+)?"
)
_ISO_DATE_RE = re.compile(r"\b(\d{4})-(\d{1,2})-(\d{1,2})\b")
_MONTH_ALT = "|".join(sorted(MONTHS, key=len, reverse=True))
_NAMED_DATE_RE = re.compile(
    rf"\b(?:(\d{{1,2}})(?:st|nd|rd|th|e|\.)?\s+(?:of\s+)?({_MONTH_ALT})\b(?:,?\s+(\d{{4}}))?"
    rf"|({_MONTH_ALT})\s+(\d{{1,2}})(?:st|nd|rd|th)?\b(?:,?\s+(\d{{4}}))?)",
    re.IGNORECASE,
)


def number(raw: str) -> str:
    """Normalise '1,000', '1 000' and '1000' alike, and '3,5' like '3.5'."""
    if re.fullmatch(r"\d{1,3}(?:[,.\u00a0\u202f ]\d{3})+", raw):
        raw = re.sub(r"\D", "", raw)
    raw = raw.replace(",", ".")
    whole, _, frac = raw.partition(".")
    frac = frac.rstrip("0")
    return (whole.lstrip("0") or "0") + (f".{frac}" if frac else "")


def url(raw: str) -> str:
    raw = raw.rstrip(".,;:!?)]}'\"").lower()
    raw = re.sub(r"^(?:https?://)?(?:www\.)?", "", raw)
    return raw.rstrip("/")


def dates(text: str) -> list[tuple[int, int, int | None, int, int]]:
    """Return (month, day, year, start, end) for ISO and month-name dates."""
    found: list[tuple[int, int, int | None, int, int]] = []
    for m in _ISO_DATE_RE.finditer(text):
        found.append((int(m.group(2)), int(m.group(3)), int(m.group(1)), m.start(), m.end()))
    for m in _NAMED_DATE_RE.finditer(text):
        day, month = (m.group(1), m.group(2)) if m.group(2) else (m.group(5), m.group(4))
        year = m.group(3) or m.group(6)
        found.append(
            (MONTHS[month.lower()], int(day), int(year) if year else None, m.start(), m.end())
        )
    return found


CONNECTORS = _words("of de del der den van von af la le du da di & y zu")
ALWAYS_IGNORE = _words(
    "i i'd i'm i've i'll i’d i’m i’ve i’ll hi hello hey dear hej hejsan hallo hei thanks ok okay"
)
GENERIC_CAPS = _words(
    "API APIS UI UX CEO CTO CFO COO VP CV HR IT AI ML OK PS FAQ PR QA SRE PM ETA FYI CET CEST"
)
TITLES = _words("mr mrs ms mx dr prof herr fru")
PLACEHOLDER_RE = re.compile(
    r"\{\{[^{}\n]*\}\}|\{%[^{}\n]*%\}|\{\{|\}\}|\{%|%\}"
    r"|\[[A-Za-z][^\[\]\n]{0,60}\](?!\()|<[A-Za-z][A-Za-z _-]{1,30}>"
    r"|\bX{3,}\b|\bTODO\b|\bTBD\b|\bFIXME\b|lorem ipsum|[\x1e\x1f]",
    re.IGNORECASE,
)

STOPWORDS = words.STOPWORDS
LANGUAGE_NAMES = {
    "en": "English",
    "sv": "Swedish",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "nl": "Dutch",
    "no": "Norwegian",
    "da": "Danish",
    "fi": "Finnish",
}
_LANGUAGE_ALIASES = {
    "nb": "no",
    "nn": "no",
    "svenska": "sv",
    "deutsch": "de",
    "français": "fr",
    "español": "es",
    "nederlands": "nl",
    "norsk": "no",
    "dansk": "da",
    "suomi": "fi",
    **{name.lower(): code for code, name in LANGUAGE_NAMES.items()},
}


def language_code(value: str | None) -> str | None:
    """Normalise 'sv-SE', 'Swedish' or 'svenska' to 'sv'; None when unknown or empty."""
    if not value:
        return None
    low = value.strip().lower()
    if low in _LANGUAGE_ALIASES:
        return _LANGUAGE_ALIASES[low]
    code = re.split(r"[-_]", low)[0]
    code = _LANGUAGE_ALIASES.get(code, code)
    return code if code in LANGUAGE_NAMES else None


_LANGUAGES_OF: dict[str, tuple[str, ...]] = {}
for _code, _stopwords in STOPWORDS.items():
    for _word in _stopwords:
        _LANGUAGES_OF[_word] = (*_LANGUAGES_OF.get(_word, ()), _code)


def language_scores(text: str) -> dict[str, int]:
    """Count each language's stopwords in the text."""
    scores = dict.fromkeys(STOPWORDS, 0)
    for token in re.findall(r"[^\W\d_]+", text.casefold()):
        for code in _LANGUAGES_OF.get(token, ()):
            scores[code] += 1
    return scores
