"""Word lists and recognisers behind the grounding checks: dates, numbers, phrases, stopwords.

Kept apart from ``grounding.py`` so the rules read without scrolling past vocabulary. The lists
are small on purpose: they cover what a model writes in recruiting mail, and every hit is only a
flag for a person to look at.
"""

from __future__ import annotations

import re
import unicodedata


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
PERSON_BEFORE = _words(
    "mr mrs ms dr prof colleague colleagues manager ceo cto founder cofounder co-founder "
    "recruiter lead teammate boss mentor"
)
SAID = _words("said says mentioned told noted suggested recommended asked thinks thought wrote")

# Sentence-initial capitals that are just words, not names (English and Swedish).
COMMON = _words(
    """a about above after again all also although always an and another any anyone are
    as at back based be because been before being best better both but by can could
    congratulations congrats curious currently dear did do does doing done each either
    especially even every few for from given glad good great had happy has have having
    he her here hers his hope how however if impressive in indeed instead interesting is
    it its just last later let like looking lots many maybe me more most much my next no
    nor not now of often on once one only or other our out over particularly perhaps
    please quite rather really recently regarding she since so some someone something
    still such sure thank thanks that the their them then there these they this those
    though through thus to together too truly two very was we well were what whatever
    when where whether which while who whom whose why will with within without would yes
    yet you your yours yourself both apart building leading seeing reading working
    beyond across along among around between during toward towards under until upon
    overall first second third finally additionally also specifically notably clearly
    absolutely certainly definitely of-course having great nice welcome sorry unfortunately
    kind kindly looking love loved enjoyed appreciated noticed saw read heard learned
    feel let should sounds excellent strong solid talk speak reach meanwhile plus besides
    otherwise lastly honestly frankly cheers regards warm neither several considering
    combined note unlike whilst right actually moreover furthermore anyway ideally
    hopefully quick short three everyone nothing everything anything wonderful happy
    same similar different new old small big large whole full rest part parts day week
    month year time role roles team teams work job company position opportunity chance
    alla allt att av bara bra de dem den denna dessa det detta din dina ditt du efter
    eftersom en ett för från förra genom gärna ha hade har hej hur i inom jag kan
    kanske med men mer mest min mina mitt mycket ni nu när och om också på redan sedan
    som speciellt särskilt tack till under upp ut utan vad vi vill väldigt vår våra är
    även ännu"""
)

FIRST_NAMES = _words(
    """aaron adam adrian agnes ahmed ali alice alex alexander alexandra alva amanda amelia
    ana andrea andreas andrew anita ann anna anne annika anton arvid astrid axel ben
    benjamin bernd birgitta bjorn bo brian camilla carl carla carlos caroline charlotte
    chen chris christian christina christoph claire clara daniel david diana dmitri ebba
    elena eli elias elin elisabeth elizabeth ella ellen elsa emil emilia emily emma eric
    erik eva fatima felix filip frank fredrik frida gabriel george gustav hanna hannah
    hans harry helen helena henrik hugo ida ingrid isabel isak jack jacob james jan jane
    jennifer jens jessica joakim johan johanna john jonas jonathan jose josef julia
    julian karin karl kate katarina kevin kim klara kristina lars laura lea lena leo linda
    linnea lisa liam lucas lucy ludvig luis magnus maja malin marcus maria marie marta
    martin mary mats matthew max maya mia michael mikael mohammed nadia nils nina noah
    oliver olivia olof omar oscar oskar pablo patrik paul per peter petra pierre rachel
    rebecca robert sara sarah sebastian simon sofia sophie stefan sven thomas tim tobias
    tom tove ulf ulrika victor viktor wei wilma yusuf zoe"""
)

_STOCK = (
    r"(?:i )?came across your (?:profile|background|cv|resume)",
    r"i hope this (?:email|message|note) finds you well",
    r"(?:exciting|amazing|unique|incredible|fantastic|great) opportunity",
    r"rock ?stars?",
    r"ninjas?",
    r"gurus?",
    r"hit the ground running",
    r"fast[- ]paced",
    r"synerg(?:y|ies)",
    r"dynamic team",
    r"perfect (?:fit|match)",
    r"dream (?:job|role|team)",
    r"game[- ]changer",
    r"world[- ]class",
    r"cutting[- ]edge",
    r"best[- ]in[- ]class",
    r"passionate about",
    r"touch base",
    r"circle back",
    r"self[- ]starter",
    r"go[- ]getter",
    r"wear many hats",
    r"work hard,? play hard",
    r"10x (?:engineer|developer)",
    r"spännande möjlighet",
    r"drömjobb",
    r"hittade din profil",
)
STOCK_PHRASES = tuple(
    (
        re.compile(rf"\b{p}\b", re.IGNORECASE),
        "'{text}' reads like a stock phrase — say something specific",
    )
    for p in _STOCK
)

_GENDERED = (
    r"he/she",
    r"she/he",
    r"s/he",
    r"he or she",
    r"his/her",
    r"his or her",
    r"guys",
    r"manpower",
    r"man[- ]hours?",
    r"chairman",
    r"salesman",
    r"foreman",
    r"aggressive(?:ly)?",
    r"dominant",
    r"dominat(?:e|es|ing)",
    r"killar",
    r"han/hon",
)
GENDERED = tuple(
    (
        re.compile(rf"(?<![\w/]){p}(?![\w/])", re.IGNORECASE),
        "'{text}' is gender-coded wording — use neutral words",
    )
    for p in _GENDERED
)

_PROTECTED = {
    "age": r"\bage[ds]?\b|years old|too (?:old|young)|(?:young|younger|older) (?:candidate|person|"
    r"applicant|people|talent)s?|elderly|digital native|millennial|boomer|gen z|ålder",
    "gender": r"\b(?:gender|male|female|wom[ae]n|m[ae]n(?!-in-the-middle)|girls?|boys?|feminine|"
    r"masculine|kvinna|kvinnor)\b",
    "ethnicity": r"\b(?:ethnic(?:ity)?|race(?! conditions?)|racial|skin colou?r|accent|"
    r"etnicitet)\b",
    "religion": r"\b(?:religio(?:n|us)|church|mosque|synagogue|muslim|islam|christian|jewish|hindu|"
    r"buddhist|hijab|headscarf|prayers?|ramadan)\b",
    "health": r"\b(?:health(?![ -]?checks?)|illness|sick(?:ness)?|medical|medication|diagnos\w*|"
    r"mental health|therapy|burn-?out|cancer|depress(?:ed|ion)|anxiety|hälsa|sjuk\w*)\b",
    "pregnancy": r"\b(?:pregnan\w*|maternity|paternity|parental leave|gravid\w*|"
    r"föräldraledig\w*)\b",
    "disability": r"\b(?:disab\w*|handicap\w*|wheelchair|autis\w*|adhd|dyslexi\w*|deaf|"
    r"blind(?! spots?)|funktionsnedsättning\w*)\b",
    "family": r"\b(?:children|kids|childcare|daycare|family|families|mother|father|mum|mom|dad|"
    r"husband|wife|spouse|barn|familj\w*)\b",
    "marital status": r"\b(?:married|marriage|marital|divorc\w*|single (?:mother|father|parent)|"
    r"fianc[ée]e?|widow\w*|skild)\b",
    "nationality": r"\b(?:nationality|citizenship|citizen|immigra\w*|foreigner|native speaker|"
    r"national origin|country of origin|medborgar\w*|invandra\w*)\b",
}
PROTECTED = tuple(
    (
        re.compile(pattern, re.IGNORECASE),
        "'{text}' touches on " + topic + " — keep it out of interview feedback",
    )
    for topic, pattern in _PROTECTED.items()
)

PLACEHOLDER_RE = re.compile(
    r"\{\{[^{}\n]*\}\}|\{%[^{}\n]*%\}|\{\{|\}\}|\{%|%\}"
    r"|\[[A-Za-z][^\[\]\n]{0,60}\](?!\()|<[A-Za-z][A-Za-z _-]{1,30}>"
    r"|\bX{3,}\b|\bTODO\b|\bTBD\b|\bFIXME\b|lorem ipsum|[\x1e\x1f]",
    re.IGNORECASE,
)

_STOPWORDS = {
    "en": "the and is are was to of in that it for you with on this be have i we our your "
    "would will not at from as but an my me so what about there they",
    "sv": "och att det som en är på för med jag inte har av till om vi du den ett så kan "
    "var men vill mig dig din ditt våra också när skulle hur",
    "de": "und der die das ist nicht ich sie es zu mit auf für den von ein eine wir sind "
    "auch haben dass bei wie ihr ihre uns",
    "fr": "le la les et est un une des pour que qui dans pas vous nous avec sur ce je "
    "votre vos au du sont être mais",
    "es": "el la los las y es un una que de en para con por no su se lo como pero más "
    "usted nos muy este esta",
    "nl": "de het een en is van dat niet ik je we zijn voor met op te wat ook maar jij "
    "ons bij naar hebben",
    "no": "og er det som en på for med jeg ikke har av til om vi du den et så kan var "
    "men vil meg deg hva noen hvordan",
    "da": "og er det som en på for med jeg ikke har af til om vi du den et så kan var "
    "men vil mig dig hvad nogle hvordan",
    "fi": "ja on ei se että olen olet hän me te he mutta tai kun jos niin myös sinun "
    "meidän kanssa mitä tämä",
}
STOPWORDS = {code: _words(words) for code, words in _STOPWORDS.items()}
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


def language_scores(text: str) -> dict[str, int]:
    """Count each language's stopwords in the text."""
    tokens = re.findall(r"[^\W\d_]+", text.casefold())
    return {code: sum(t in words for t in tokens) for code, words in STOPWORDS.items()}
