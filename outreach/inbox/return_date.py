"""Read the return date an out-of-office reply states, in the languages our candidates write.

Dates are matched in several shapes (ISO, 2.12.2026, 2/12, "December 2", "2 décembre",
"2. joulukuuta"); the first plausible future date wins, and one introduced by a return word
("back", "until", "åter", "bis", "jusqu'au", "hasta", ...) is preferred over one that is not,
so that "away from 20 November until 2 December" gives 2 December.
"""

from __future__ import annotations

import re
from datetime import date, timedelta

_MONTHS: dict[str, int] = {}
for _number, _names in enumerate(
    (
        "january jan januari januar janvier janv enero ene janeiro tammikuu tammik",
        "february feb februari februar février fevrier févr fevr febrero helmikuu helmik",
        "march mar mars märz maerz marzo maart marts maaliskuu maalisk",
        "april apr avril avr abril huhtikuu huhtik",
        "may maj mai mayo mei toukokuu toukok",
        "june jun juni juin junio kesäkuu kesäk",
        "july jul juli juillet juil julio heinäkuu heinäk",
        "august aug augusti août aout agosto augustus elokuu elok",
        "september sep sept septembre septiembre septembr syyskuu syysk",
        "october oct oktober octobre octubre okt lokakuu lokak",
        "november nov novembre noviembre marraskuu marrask",
        "december dec dez dezember décembre déc decembre diciembre dic desember joulukuu jouluk",
    ),
    start=1,
):
    for _name in _names.split():
        _MONTHS[_name] = _number

# Words that introduce the day someone is back (English, Nordic, German, French, Spanish,
# Dutch, Finnish). Matched in the few words before a date.
_RETURN_WORDS = re.compile(
    r"\b(?:back|return|returning|until|till|through|thru|åter|tillbaka|tilbake|tilbage|"
    r"t\.o\.m|tom|bis|zurück|wieder|ab|retour|jusqu'au|jusqu’au|jusqu'à|hasta|regreso|"
    r"regresaré|vuelvo|terug|tot|t/m|til|asti|palaan|takaisin|paikalla)\b",
    re.IGNORECASE,
)
_MONTH_WORD = r"([^\W\d_]{3,}\.?)"
_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{1,2})-(\d{1,2})(?!\d)")
_NUMERIC = re.compile(r"(?<![\d./-])(\d{1,2})([./])(\d{1,2})(?:\2(\d{4}|\d{2}))?(?![\d/]|\.\d)")
_DAY_MONTH = re.compile(
    r"(?<!\d)(\d{1,2})(?:st|nd|rd|th|e|er|\.)?\s*(?:of\s+|de\s+)?"
    + _MONTH_WORD
    + r"(?:,?\s+(?:de\s+)?(\d{4}))?",
    re.IGNORECASE,
)
_MONTH_DAY = re.compile(
    _MONTH_WORD + r"\s+(\d{1,2})(?:st|nd|rd|th)?(?!\d)(?:,?\s+(\d{4}))?", re.IGNORECASE
)
_ENGLISH = re.compile(
    r"\b(?:the|office|back|until|will|and|with|be|i|i'll|i'm|am|my|you|your|on|for)\b",
    re.IGNORECASE,
)
_HORIZON = timedelta(days=400)
_YEARLESS_HORIZON = timedelta(days=183)


def find_return_date(text: str, today: date) -> date | None:
    """Return the first plausible future date stated in an auto-reply, or None."""
    candidates = sorted(_candidates(text), key=lambda c: c[0])
    plausible: list[tuple[int, date]] = []
    for pos, month_day, year in candidates:
        resolved = _resolve(month_day, year, today)
        # A year-less date just past ("3 November" on the 20th) is not next year's.
        horizon = _HORIZON if year is not None else _YEARLESS_HORIZON
        if resolved is not None and today <= resolved <= today + horizon:
            plausible.append((pos, resolved))
    if not plausible:
        return None
    for pos, when in plausible:
        if _RETURN_WORDS.search(text[max(0, pos - 40) : pos]):
            return when
    return plausible[0][1]


def _resolve(month_day: tuple[int, int], year: int | None, today: date) -> date | None:
    month, day = month_day
    years = [year] if year is not None else [today.year, today.year + 1]
    for y in years:
        try:
            when = date(y, month, day)
        except ValueError:
            return None
        if year is not None or when >= today:
            return when
    return None


def _year(value: str | None) -> int | None:
    if not value:
        return None
    number = int(value)
    return number + 2000 if number < 100 else number


def _month(word: str) -> int | None:
    name = word.rstrip(".").casefold()
    if name in _MONTHS:
        return _MONTHS[name]
    # Finnish inflects months: "joulukuuta", "joulukuussa".
    for suffix in ("ta", "ssa", "hun"):
        if name.endswith(suffix) and name[: -len(suffix)] in _MONTHS:
            return _MONTHS[name[: -len(suffix)]]
    return None


def _candidates(text: str) -> list[tuple[int, tuple[int, int], int | None]]:
    """Every date-looking span as (position, (month, day), year or None)."""
    found: list[tuple[int, tuple[int, int], int | None]] = []
    for m in _ISO.finditer(text):
        found.append((m.start(), (int(m[2]), int(m[3])), int(m[1])))
    english = len(_ENGLISH.findall(text)) >= 2
    for m in _NUMERIC.finditer(text):
        first, second, year = int(m[1]), int(m[3]), _year(m[4])
        if m[2] == "/" and first <= 12 and second <= 12 and english:
            continue  # 12/2 or 2/12? An English reply could mean either: don't guess.
        if m[2] == "/" and second > 12 >= first:
            first, second = second, first  # only month/day makes sense
        if year is None and not _RETURN_WORDS.search(text[max(0, m.start() - 40) : m.start()]):
            continue  # a bare "3.5" is more often a number than a date
        found.append((m.start(), (second, first), year))
    days_taken = set()
    for m in _DAY_MONTH.finditer(text):
        if (month := _month(m[2])) is not None:
            found.append((m.start(), (month, int(m[1])), _year(m[3])))
            days_taken.add(m.start(1))
    for m in _MONTH_DAY.finditer(text):
        # French "mar. 2 déc.": the day already belongs to "2 déc.", "mar" is Tuesday.
        if m.start(2) in days_taken:
            continue
        if (month := _month(m[1])) is not None:
            found.append((m.start(), (month, int(m[2])), _year(m[3])))
    return found
