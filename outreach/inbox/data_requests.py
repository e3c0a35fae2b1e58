"""Recognise a person asking to see their data (GDPR Art. 15) or to have it erased (Art. 17).

Read in the reply's own words (quotes trimmed, so our privacy notice quoted back is not a
request), in English, Swedish and German. A request names the person's own data ("my data",
"mina personuppgifter", "meine Daten") or the right itself ("right to be forgotten",
"registerutdrag", "Auskunft nach Art. 15"); "delete" alone is no request: people delete
drafts, invites and files all the time. The sync only notes a request and puts it in front of
the recruiter (who erases or exports with one click); it never erases anything by itself.
"""

from __future__ import annotations

import re

ERASURE, ACCESS = "erasure", "access"

_MY_DATA_EN = (
    r"(?:my|all my|all of my)\s+(?:personal\s+)?(?:data|details|information|info|profile|"
    r"contact details|records?|cv|resume)"
)
_ME_EN = (
    r"(?:everything|all(?: the)? (?:data|information|info))\s+"
    r"(?:you have|you hold|you keep|you store|stored|held)?\s*(?:on|about)\s+me"
)
_MY_DATA_SV = (
    r"(?:mina|all(?:a)? mina)\s+(?:person)?(?:uppgifter|data|information|kontaktuppgifter)|"
    r"min\s+(?:data|information|profil|personliga information)|mitt\s+cv"
)
_MY_DATA_DE = (
    r"(?:meine|meiner|all(?:e|er) meine[rn]?)\s+(?:personenbezogenen\s+|persönlichen\s+)?"
    r"(?:daten|angaben|informationen|kontaktdaten)|mein(?:e[mn]?)?\s+(?:profil|lebenslauf)"
)

_ERASE = [
    # English
    rf"\b(?:delete|erase|remove|wipe|purge|destroy)\b[^.!?\n]{{0,40}}?\b(?:{_MY_DATA_EN}|{_ME_EN})",
    rf"\b(?:{_MY_DATA_EN})\b[^.!?\n]{{0,40}}?\b(?:deleted|erased|removed|wiped|purged)\b",
    r"\bright\s+to\s+(?:be\s+forgotten|erasure)\b",
    r"\bforget\s+(?:about\s+)?me\b(?![^.!?\n]{0,20}\bnot\b)",
    r"\b(?:article|art\.?)\s*17\b",
    r"\berasure\s+request\b|\brequest\s+(?:for\s+)?(?:the\s+)?erasure\b",
    # Swedish
    rf"\b(?:radera|raderar|ta\s+bort|tar\s+bort|tas\s+bort|raderas|ta\s+bort\s+alla)\b[^.!?\n]{{0,40}}?(?:{_MY_DATA_SV})",
    rf"(?:{_MY_DATA_SV})\b[^.!?\n]{{0,40}}?\b(?:raderas|tas\s+bort|raderade|borttagna)\b",
    r"\brätt(?:en)?\s+att\s+bli\s+(?:bort)?glömd\b|\bglöm\s+mig\b",
    # German
    rf"\b(?:löschen|entfernen|vernichten)\b[^.!?\n]{{0,40}}?(?:{_MY_DATA_DE})",
    rf"(?:{_MY_DATA_DE})\b[^.!?\n]{{0,40}}?\b(?:löschen|gelöscht|entfernen|entfernt)\b",
    rf"\blöschung\s+(?:{_MY_DATA_DE})",
    r"\brecht\s+auf\s+(?:vergessenwerden|löschung)\b|\bart\.?\s*17\s+dsgvo\b",
]
_ACCESS = [
    # English
    rf"\b(?:copy|access|export|overview|list)\b\s+(?:of|to)?\s*(?:{_MY_DATA_EN})",
    r"\bwhat\s+(?:personal\s+)?(?:data|information|info|details)\s+(?:do\s+)?you\s+(?:have|hold|keep|store|process)\b",
    r"\bwhat\s+(?:do\s+)?you\s+(?:have|hold|keep|know)\s+(?:on|about)\s+me\b",
    r"\bwhere\s+(?:did\s+)?you\s+(?:get|find|obtain)\s+(?:my|this)\s+(?:data|details|information|email|address|contact)",
    r"\bsubject\s+access\s+request\b|\b(?:article|art\.?)\s*15\b|\bdsar\b",
    # Swedish
    r"\bregisterutdrag\b",
    r"\bvilka\s+(?:person)?uppgifter\s+(?:har|sparar|lagrar|behandlar)\s+(?:ni|du)\b",
    rf"\b(?:kopia|utdrag)\s+(?:på|av)\s+(?:{_MY_DATA_SV})",
    rf"\b(?:få\s+(?:ut|se|ta\s+del\s+av))\s+(?:{_MY_DATA_SV})",
    r"\bvar\s+(?:har\s+ni|fick\s+ni|hittade\s+ni)\s+(?:fått\s+|hittat\s+)?(?:tag\s+på\s+)?mina\s+uppgifter\b",
    # German
    rf"\bauskunft\b[^.!?\n]{{0,40}}?(?:{_MY_DATA_DE}|art\.?\s*15)",
    r"\bauskunftsersuchen\b|\bart\.?\s*15\s+dsgvo\b",
    r"\bwelche\s+(?:personenbezogenen\s+)?daten\s+(?:haben|speichern|verarbeiten)\s+sie\b",
    rf"\bkopie\s+(?:{_MY_DATA_DE})",
]
_ERASE_RE = [re.compile(p, re.IGNORECASE) for p in _ERASE]
_ACCESS_RE = [re.compile(p, re.IGNORECASE) for p in _ACCESS]


def detect(text: str) -> str | None:
    """ "erasure", "access" or None for a reply's own text (erasure wins when both are asked)."""
    flat = " ".join(text.split())
    if any(p.search(flat) for p in _ERASE_RE):
        return ERASURE
    if any(p.search(flat) for p in _ACCESS_RE):
        return ACCESS
    return None
