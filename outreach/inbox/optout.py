"""Recognise opt-outs ("unsubscribe", "nej tack", "kein Interesse") in a trimmed reply.

A reply is a clear opt-out only when it is short, contains an opt-out phrase, hedges nothing
("right now", "keep me in mind", a question) and has at most one word that is neither part of
the phrase nor politeness (a signed first name). Anything else that mentions an opt-out is
left to the recruiter: suppressing a candidate who meant "not this year" loses them for good.
"""

from __future__ import annotations

import re
from enum import Enum

MAX_SHORT_WORDS = 8

# Phrases that say "stop contacting me" on their own, also inside a longer text.
_PHRASES = """
unsubscribe | opt out | remove me | take me off | not interested | no thanks | no thank you
do not contact me | don't contact me | stop contacting me | stop emailing me | stop e-mailing me
please stop | leave me alone | don't email me | do not email me
avregistrera | avprenumerera | avsluta prenumerationen | ta bort mig | inte intresserad
inte intresserade | nej tack | sluta kontakta mig | sluta maila mig | sluta mejla mig
kontakta mig inte | ej intresserad
abmelden | abbestellen | austragen | entfernen sie mich | bitte entfernen | kein interesse
nicht interessiert | nein danke | kontaktieren sie mich nicht | keine weiteren e-mails
désabonner | désinscrire | désinscription | se désabonner | retirez-moi | supprimez-moi
pas intéressé | pas intéressée | pas intéressés | non merci | ne me contactez plus
ne plus me contacter
darme de baja | dar de baja | no me interesa | no estoy interesado | no estoy interesada
no gracias | elimíname | quítame | no me contacten | no me contactes
afmelden | uitschrijven | verwijder mij | verwijder me | niet geïnteresseerd | geen interesse
nee bedankt | nee dank je | neem geen contact
avmeld | meld meg av | fjern meg | ikke interessert | nei takk | ikke kontakt meg
afmeld | frameld | fjern mig | ikke interesseret | nej tak | kontakt mig ikke
peruuta tilaus | poista minut | ei kiinnosta | en ole kiinnostunut | ei kiitos
älkää ottako yhteyttä
"""
# Words that mean "stop" only when they are (nearly) the whole reply.
_SHORT_ONLY = "stop | stopp | sluta | halt | arrêtez | arrête | basta | baja | lopeta | stoppen"

# Hedges: with any of these the candidate has not closed the door.
_HEDGES = re.compile(
    r"\b(?:right now|at the moment|currently|for now|at this time|this time|yet|later|maybe"
    r"|perhaps|unless|in the future|future|next year|keep me in mind|reach out|get back"
    r"|just nu|för tillfället|i nuläget|för närvarande|framöver|nästa år|senare|kanske"
    r"|zurzeit|derzeit|momentan|im moment|aktuell|gerade|später|vielleicht|nächstes jahr"
    r"|pour le moment|actuellement|en ce moment|pour l'instant|plus tard|peut-être"
    r"|por ahora|en este momento|actualmente|más adelante|quizás|tal vez|el próximo año"
    r"|momenteel|op dit moment|voorlopig|later|misschien|volgend jaar"
    r"|for øyeblikket|akkurat nå|for tiden|senere|kanskje|neste år|lige nu|måske|næste år"
    r"|tällä hetkellä|juuri nyt|nyt|myöhemmin|ehkä|ensi vuonna)\b|\?",
    re.IGNORECASE,
)

# Politeness and glue around an opt-out phrase, in all the languages above.
_FILLERS = frozenset(
    """
    thanks thank you thx but please pls kindly i i'm im am hi hello hey dear sorry ok okay
    from your the this list mailing email e-mail emails me my of all any further more and
    regards cheers best sincerely really just so very totally completely
    tack men jag är hej snälla från er din din listan lista mig och mvh vänligen
    danke aber ich bin hallo bitte von ihrer ihre der liste mich und vielen dank mfg gruß
    merci mais je suis ne bonjour svp s'il vous plaît de votre la liste me et cordialement
    gracias pero estoy hola por favor de su la lista me y saludos
    bedankt maar ik ben hoi graag van uw de lijst mij en groeten aub alstublieft
    takk men jeg er hei vær så snill fra din listen meg og hilsen
    tak men jeg er hej venligst fra din listen mig og hilsen
    kiitos mutta olen hei listalta minut ja terveisin
    """.split()
)

# "Don't stop", "bitte nicht abmelden": a negated phrase means the opposite.
_NEGATIONS = frozenset("don't dont not never nicht inte ikke niet älä".split())


class OptOut(Enum):
    """How strongly a reply asks to stop contact."""

    NONE = "none"
    CLEAR = "clear"
    UNCLEAR = "unclear"


def _tokens(text: str) -> list[str]:
    text = text.casefold().replace("’", "'")
    return re.findall(r"[^\W_]+(?:['-][^\W_]+)*", text)


def _phrase_list(spec: str) -> list[tuple[str, ...]]:
    phrases = [tuple(_tokens(p)) for p in spec.replace("\n", "|").split("|") if p.strip()]
    return sorted(phrases, key=len, reverse=True)  # longest first: "no thank you" over "no"


_STRONG = _phrase_list(_PHRASES)
_WEAK = _phrase_list(_SHORT_ONLY)


def _find(tokens: list[str], phrases: list[tuple[str, ...]]) -> list[tuple[int, int, str]]:
    """Non-overlapping (start, end, phrase) matches of phrases in tokens."""
    hits: list[tuple[int, int, str]] = []
    taken: set[int] = set()
    for phrase in phrases:
        n = len(phrase)
        for i in range(len(tokens) - n + 1):
            span = set(range(i, i + n))
            if tuple(tokens[i : i + n]) == phrase and not span & taken:
                hits.append((i, i + n, " ".join(phrase)))
                taken |= span
    return sorted(hits)


def detect_opt_out(reply_text: str) -> tuple[OptOut, str]:
    """Rate how clearly a trimmed reply opts out, with the phrase found ("" if none)."""
    tokens = _tokens(reply_text)
    strong = _find(tokens, _STRONG)
    short = len(tokens) <= MAX_SHORT_WORDS
    hits = strong or (_find(tokens, _WEAK) if short else [])
    if not hits:
        return OptOut.NONE, ""
    phrase = hits[0][2]
    covered = {i for start, end, _ in hits for i in range(start, end)}
    leftover = [t for i, t in enumerate(tokens) if i not in covered and t not in _FILLERS]
    negated = any(start > 0 and tokens[start - 1] in _NEGATIONS for start, _, _ in hits)
    if short and len(leftover) <= 1 and not negated and not _HEDGES.search(reply_text):
        return OptOut.CLEAR, phrase
    return OptOut.UNCLEAR, phrase
