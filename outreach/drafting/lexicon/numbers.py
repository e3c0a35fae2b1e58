"""Numbers as text states them: value, scale, currency or unit, the noun counted, relative times.

"2.1 million dollars", "AED 2.1M", "two days", "tjugo tjänster", "a 20-minute call" and
"50,000 orders per second" become ``Mention``s that can be compared by value *and* by what is
counted, so a changed currency or unit is told apart from the same fact said another way.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

_ONES = {
    # English, then Swedish, then German (German only so its texts are read right).
    "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9,
    "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13, "fourteen": 14, "fifteen": 15,
    "sixteen": 16, "seventeen": 17, "eighteen": 18, "nineteen": 19, "twenty": 20, "thirty": 30,
    "forty": 40, "fifty": 50, "sixty": 60, "seventy": 70, "eighty": 80, "ninety": 90,
    "dozen": 12, "två": 2, "tre": 3, "fyra": 4, "fem": 5, "sex": 6, "sju": 7, "åtta": 8,
    "nio": 9, "tio": 10, "elva": 11, "tolv": 12, "tretton": 13, "fjorton": 14, "femton": 15,
    "sexton": 16, "sjutton": 17, "arton": 18, "nitton": 19, "tjugo": 20, "trettio": 30,
    "fyrtio": 40, "femtio": 50, "sextio": 60, "sjuttio": 70, "åttio": 80, "nittio": 90,
    "dussin": 12, "zwei": 2, "drei": 3, "vier": 4, "fünf": 5, "sechs": 6, "sieben": 7,
    "acht": 8, "neun": 9, "zehn": 10, "zwölf": 12, "zwanzig": 20,
}  # fmt: skip
_SCALES = {
    "hundred": 100, "hundra": 100, "hundert": 100, "thousand": 1e3, "tusen": 1e3,
    "tausend": 1e3, "k": 1e3, "million": 1e6, "millions": 1e6, "miljon": 1e6,
    "miljoner": 1e6, "millionen": 1e6, "mn": 1e6, "m": 1e6, "mio": 1e6, "billion": 1e9,
    "billions": 1e9, "bn": 1e9, "miljard": 1e9, "miljarder": 1e9, "milliarden": 1e9,
}  # fmt: skip
NUMBER_WORDS = frozenset(_ONES) | frozenset(_SCALES)
# The word "one"/"en"/"ett" is too often not a number ("one of", "en roll"): it counts only
# before a scale ("one million").
_ONE = {"one", "a", "en", "ett", "ein", "eine"}

CURRENCIES = {
    "$": "USD", "usd": "USD", "dollar": "USD", "dollars": "USD", "€": "EUR", "eur": "EUR",
    "euro": "EUR", "euros": "EUR", "£": "GBP", "gbp": "GBP", "pound": "GBP", "pounds": "GBP",
    "sek": "SEK", "kr": "SEK", "kronor": "SEK", "krona": "SEK", "msek": "SEK", "nok": "NOK",
    "dkk": "DKK", "chf": "CHF", "aed": "AED", "dirham": "AED", "dirhams": "AED",
    "inr": "INR", "rupees": "INR", "₹": "INR", "pln": "PLN", "zł": "PLN", "zloty": "PLN",
    "¥": "JPY", "yen": "JPY",
}  # fmt: skip
_CURRENCY_SCALED = {"tkr": ("SEK", 1e3), "mkr": ("SEK", 1e6), "msek": ("SEK", 1e6)}
MEASURES = {
    "%": "%", "percent": "%", "per cent": "%", "procent": "%", "prozent": "%",
    "points": "pp", "percentage points": "pp", "procentenheter": "pp",
    "ms": "ms", "millisecond": "ms", "milliseconds": "ms", "millisekunder": "ms",
    "s": "s", "sec": "s", "secs": "s", "second": "s", "seconds": "s", "sekund": "s",
    "sekunder": "s", "sekunden": "s", "min": "min", "mins": "min", "minute": "min",
    "minutes": "min", "minut": "min", "minuter": "min", "minuten": "min", "h": "h", "hr": "h",
    "hrs": "h", "hour": "h", "hours": "h", "timme": "h", "timmar": "h", "timmen": "h",
    "stunde": "h", "stunden": "h", "day": "d", "days": "d", "dag": "d", "dagar": "d",
    "dagen": "d", "tag": "d", "tage": "d", "week": "wk", "weeks": "wk", "vecka": "wk",
    "veckor": "wk", "veckan": "wk", "woche": "wk", "wochen": "wk", "month": "mo",
    "months": "mo", "månad": "mo", "månader": "mo", "månaden": "mo", "monat": "mo",
    "monate": "mo", "year": "yr", "years": "yr", "yr": "yr", "yrs": "yr", "år": "yr",
    "året": "yr", "åren": "yr", "jahr": "yr", "jahre": "yr", "jahren": "yr", "quarter": "q",
    "quarters": "q", "kvartal": "q", "halvår": "half-year", "kb": "KB", "mb": "MB", "gb": "GB",
    "tb": "TB", "pb": "PB", "km": "km", "kwh": "kWh", "mwh": "MWh", "gwh": "GWh",
}  # fmt: skip
_RATE = {
    "per second": "s", "a second": "s", "each second": "s", "per sekund": "s",
    "i sekunden": "s", "/s": "s", "rps": "s", "per minute": "min", "a minute": "min",
    "per minut": "min", "i minuten": "min", "per hour": "h", "an hour": "h", "per timme": "h",
    "i timmen": "h", "per day": "d", "a day": "d", "daily": "d", "each day": "d",
    "every day": "d", "per dag": "d", "om dagen": "d", "varje dag": "d", "per week": "wk",
    "a week": "wk", "weekly": "wk", "per vecka": "wk", "i veckan": "wk", "per month": "mo",
    "a month": "mo", "monthly": "mo", "per månad": "mo", "i månaden": "mo", "per year": "yr",
    "a year": "yr", "yearly": "yr", "annually": "yr", "per år": "yr", "om året": "yr",
}  # fmt: skip
# Words between a number and the noun it counts ("20 of the", "14 manuella").
SKIP_AFTER = frozenset(
    "of the a an our your their its to and or more than about over up from till och av de "
    "våra dina era sina mer än runt cirka ca till upp new other more per you your we our "
    "du din vi".split()
)

_NUM = r"\d{1,3}(?:[,\u00a0\u202f ]\d{3})+(?:[.,]\d+)?(?!\d)|\d+(?:[.,]\d+)?"
_WORDNUM = "|".join(sorted(_ONES, key=len, reverse=True))
_SCALE = "|".join(sorted(_SCALES, key=len, reverse=True))
_CUR_BEFORE = r"(?:[$€£₹¥]|\b(?:usd|eur|gbp|sek|nok|dkk|chf|aed|inr|pln)\b)"
_NUMBER_RE = re.compile(
    rf"(?P<cur>{_CUR_BEFORE}\s?)?"
    rf"(?:(?<![\w.,])(?P<num>{_NUM})(?![\w.,]\d)|\b(?P<word>(?:{_WORDNUM})(?:[- ](?:{_WORDNUM}))?"
    rf"|(?:{'|'.join(_ONE)}))\b)"
    rf"(?:\s?-?\s?(?P<scale>{_SCALE})\b)?",
    re.IGNORECASE,
)
_UNIT_RE = re.compile(
    r"\s?-?\s?(?P<unit>percentage points|per cent|"
    + "|".join(
        re.escape(u)
        for u in sorted({*MEASURES, *CURRENCIES, *_CURRENCY_SCALED}, key=len, reverse=True)
    )
    + r")(?![\w])",
    re.IGNORECASE,
)
_RATE_RE = re.compile(
    r"\s*(?P<rate>" + "|".join(re.escape(r) for r in sorted(_RATE, key=len, reverse=True)) + r")\b",
    re.IGNORECASE,
)
_TOKEN_RE = re.compile(r"[^\W\d_][\w-]*|\d[\d,.]*|[.!?;:()]")


@dataclass(frozen=True)
class Mention:
    """A number in a text, with what it measures or counts."""

    value: float
    start: int
    end: int
    text: str
    measure: str | None  # a currency code, "%", a time or size unit
    rate: str | None  # "per second" and the like
    nouns: tuple[str, ...]  # the words after it, folded: what it counts
    worded: bool  # written in words ("five")
    year: bool  # 1900..2100 with nothing counted: a year


def _value(raw: str) -> float:
    if re.fullmatch(r"\d{1,3}(?:[,\u00a0\u202f ]\d{3})+", raw):
        return float(re.sub(r"\D", "", raw))
    grouped = re.fullmatch(r"(\d{1,3}(?:[,\u00a0\u202f ]\d{3})+)[.,](\d+)", raw)
    if grouped:
        return float(re.sub(r"\D", "", grouped.group(1)) + "." + grouped.group(2))
    return float(raw.replace(",", "."))


def _worded(word: str) -> float | None:
    parts = [p for p in re.split(r"[- ]", word.lower()) if p]
    if len(parts) == 1:
        return 1.0 if parts[0] in _ONE else float(_ONES[parts[0]])
    if parts[0] in _ONE or parts[1] in _ONE:
        return None
    first, second = _ONES[parts[0]], _ONES[parts[1]]
    if first >= 20 and first % 10 == 0 and second < 10:
        return float(first + second)  # "twenty-five"
    return None  # "two three" is two numbers, not one


def mentions(text: str) -> list[Mention]:
    """Find the numbers in a text, with their scale, currency or unit, rate and counted noun."""
    found: list[Mention] = []
    for m in _NUMBER_RE.finditer(text):
        word = m.group("word")
        scale = (m.group("scale") or "").lower()
        if word:
            value = _worded(word)
            if value is None or (word.lower() in _ONE and not scale):
                continue
            if word.lower() == "sex" and not re.match(r"\s+[^\W\d]", text[m.end() :]):
                continue  # Swedish six, English sex: a number only before what it counts
        else:
            value = _value(m.group("num"))
        if scale in {"m", "k"} and not m.group("num"):
            continue  # "five m" is not five million
        if scale:
            value *= _SCALES[scale]
        end = m.end()
        measure = CURRENCIES.get((m.group("cur") or "").strip().lower())
        unit = _UNIT_RE.match(text, end)
        if unit and not (
            unit.group("unit").lower() in {"s", "h", "m"} and text[end : end + 1] == " "
        ):
            key = unit.group("unit").lower()
            if key in _CURRENCY_SCALED:
                measure, factor = _CURRENCY_SCALED[key]
                value *= factor
            else:
                measure = CURRENCIES.get(key) or MEASURES.get(key) or measure
            end = unit.end()
        rate_match = _RATE_RE.match(text, end)
        nouns = _nouns_after(text, end)
        rate = _RATE[rate_match.group("rate").lower()] if rate_match else None
        if rate is None and nouns:
            after = _RATE_RE.search(text, end, min(len(text), end + 40))
            if after and not re.search(r"[.!?;]", text[end : after.start()]):
                rate = _RATE[after.group("rate").lower()]
        year = (
            bool(m.group("num"))
            and 1900 <= value <= 2100
            and measure is None
            and "." not in (m.group("num") or "")
        )
        found.append(
            Mention(value, m.start(), end, text[m.start() : end].strip(), measure, rate, nouns,
                    bool(word), year)
        )  # fmt: skip
    return found


def _nouns_after(text: str, end: int) -> tuple[str, ...]:
    """The first two content words after a number, before the clause ends."""
    nouns: list[str] = []
    for token in _TOKEN_RE.findall(text[end : end + 60])[:5]:
        if token in ".!?;:()":
            break
        low = token.lower().strip("-")
        if not low or low[0].isdigit() or low in SKIP_AFTER:
            continue
        nouns.append(low)
        if len(nouns) == 2:
            break
    return tuple(nouns)


_EN_UNITS = r"(?:years?|months?|weeks?|days?|decades?|quarters?)"
_EN_SEASONS = (
    r"(?:year|month|week|quarter|spring|summer|autumn|fall|winter|decade|weekend|semester)"
)
_SV_UNITS = r"(?:år|månader|månad|veckor|vecka|dagar|dag|decennier)"
_SV_SEASONS = (
    r"(?:år(?:et)?|månad(?:en)?|vecka(?:n)?|kvartal(?:et)?|vår(?:en)?|sommar(?:en)?|"
    r"höst(?:en)?|vinter(?:n)?|termin(?:en)?|helg(?:en)?)"
)
RELATIVE_TIME_RE = re.compile(
    "|".join(
        [
            rf"\b(?:last|next|this past|past|previous|coming|following)\s+{_EN_SEASONS}\b",
            rf"\b(?:earlier|later)\s+this\s+{_EN_SEASONS}\b",
            rf"\b(?:a|an|one|two|three|four|five|six|several|a few|few|many|some|\d+)\s+{_EN_UNITS}"
            r"\s+ago\b",
            rf"\b{_EN_UNITS}\s+ago\b",
            r"\b(?:recently|lately|yesterday|tomorrow|tonight|the other day|a while ago)\b",
            rf"\b(?:in|over|during|for|within) the (?:last|past|coming|next) (?:few |couple of "
            rf"|two |three |\d+ )?{_EN_UNITS}\b",
            rf"\bin recent {_EN_UNITS}\b",
            r"\b(?:in|within) (?:a single|a|one|under a|less than a|just a|just one) "
            r"(?:quarter|year|month|week|sprint|semester)\b",
            r"\bthis (?:morning|afternoon|evening|spring|summer|autumn|fall|winter)\b",
            r"\bsince (?:last|early|the start of) \w+",
            rf"\b(?:förra|nästa|detta|denna|kommande|föregående)\s+{_SV_SEASONS}",
            r"\bi (?:fjol|våras|somras|höstas|vintras|förrgår|går|morgon|höst|vår|sommar|vinter)\b",
            r"\b(?:ifjol|igår|imorgon|nyligen|häromdagen|härom veckan|på senare tid|nyss)\b",
            rf"\bför (?:\w+ )?{_SV_UNITS} sedan\b",
            r"\b(?:de|under de) senaste (?:åren|månaderna|veckorna|två åren|tre åren)\b",
            r"\bunder det senaste året\b",
            r"\b(?:tidigare|senare) i (?:år|höst|vår|sommar)\b",
            r"\bpå (?:ett|en) (?:halvår|år|kvartal|månad|vecka)\b",
            r"\b(?:letztes|nächstes|vergangenes) (?:jahr|quartal)\b",
        ]
    ),
    re.IGNORECASE,
)
