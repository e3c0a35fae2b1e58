"""Line patterns for reply trimming: quote headers, mail headers, signatures, delimiters.

The patterns describe what mail clients write, in many languages; none names a particular sender.
"""

from __future__ import annotations

import re

# Private-use characters the HTML renderer puts on lines of their own: a client quote marker
# (acts like a quote header) and the bounds of a client-marked signature (always hidden).
MARK_QUOTE = "\ue000"
MARK_HIDE_START = "\ue001"
MARK_HIDE_END = "\ue002"
MARKS = (MARK_QUOTE, MARK_HIDE_START, MARK_HIDE_END)

# Verbs of attribution lines ("On … wrote:", "Am … schrieb …:", "Den … skrev:", …).
_VERBS = (
    r"wrote|writes|schrieb|schreibt|skrev|skriver|a\s+écrit|a\s+ecrit|écrit|escribió|escribio|"
    r"escreveu|schreef|geschreven|kirjoitti|ha\s+scritto|scrisse|napisał|napisala|napisal|"
    r"napsal|napísal|написал|написала|написав|пише|писал|έγραψε|yazdı|írta|rašė|rakstīja|"
    r"kirjutas|scrie|a\s+scris"
)
# Scripts without spaces put the verb right after the name.
_CJK_VERBS = r"写道|寫道|작성|書きました"
VERB_RE = re.compile(
    rf"(?:(?<![\w-])(?:{_VERBS})(?![\w-])|{_CJK_VERBS})",
    re.IGNORECASE,
)

# Words that open an attribution line, so a wrapped one can be joined back together.
_LEAD_RE = re.compile(
    r"^(?:on|am|le|el|op|den|em|il|at|dnia|w\s+dniu|dne|στις|в|у|pada|vào|på|kello)\s",
    re.IGNORECASE,
)
_DATE_START_RE = re.compile(
    r"^(?:\d{4}[-/.年]\s?\d{1,2}[-/.月]\s?\d{1,2}|\d{1,2}[-/.]\d{1,2}[-/.]\d{2,4})"
)
_TIME_RE = re.compile(r"\b\d{1,2}[:.]\d{2}\b")
# An address, a time or a year: "I wrote 3 answers below:" has none, attributions do.
_STRONG_ANCHOR_RE = re.compile(r"@|<|(?<!\d)\d{1,2}[:.]\d{2}(?!\d)|(?<!\d)(?:19|20)\d{2}(?!\d)")
_ZONE_RE = re.compile(r"\b(?:GMT|UTC)|[+-]\d{2}:?\d{2}\b")
_EMAIL_RE = re.compile(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+")
# A lowercase word, then a full stop and a capital: "… in 2 weeks. I will …". Dates ("28. Apr.")
# and titles ("Mr. Smith") in attributions don't match.
_SENTENCE_END_RE = re.compile(r"(?:\b[^\W\d_A-Z]{3,}[.]|[!?])\s+[A-ZÅÄÖÜÉ]")
_ENDS_COLON_RE = re.compile(r"[:：]\s*$")

# "-----Original Message-----", "---------- Forwarded message ---------",
# "*-------- Original Message --------*", "---- On … wrote ----": a short phrase between dashes.
_DASHED_PHRASE_RE = re.compile(r"^[\s*_]*-{2,}\s*[^\W\d_][^-]{2,60}?\s*-{2,}[\s*_]*$")
_ZOHO_RE = re.compile(r"^-{2,}\s*\S.*\s-{2,}$")
# Forward introductions without dashes (Apple Mail and friends).
_FORWARD_RE = re.compile(
    r"^[\s*]*(?:begin\s+forwarded\s+message|forwarded\s+message|début\s+du\s+message\s+"
    r"réexpédié|message\s+transféré|anfang\s+der\s+weitergeleiteten\s+nachricht|weitergeleitete"
    r"\s+nachricht|inizio\s+messaggio\s+inoltrato|messaggio\s+inoltrato|comienzo\s+del\s+mensaje"
    r"\s+reenviado|mensaje\s+reenviado|início\s+da\s+mensagem\s+reencaminhada|mensagem\s+"
    r"encaminhada|vidarebefordrat\s+(?:brev|meddelande)|videresendt\s+(?:melding|meddelelse)|"
    r"doorgestuurd\s+bericht|begin\s+doorgestuurd\s+bericht|välitetty\s+viesti|"
    r"przekazana\s+wiadomość|пересылаемое\s+сообщение|转发的邮件|転送されたメッセージ)"
    r"\s*[:：]?[\s*]*$",
    re.IGNORECASE,
)

# Mail header keys as clients print them in quoted messages; the first group names the sender.
_FROM_KEYS = (
    r"from|von|från|fra|de|da|van|od|от|від|lähettäjä|feladó|kimden|mittente|remitente|afzender|"
    r"absender|frá|发件人|寄件者|差出人|보낸\s+사람"
)
_OTHER_KEYS = (
    r"sent|date|to|cc|bcc|subject|reply-to|gesendet|datum|an|betreff|antwort\s+an|skickat|till|"
    r"kopia|ämne|envoyé|envoye|à|a|objet|répondre\s+à|enviado|enviada|para|asunto|fecha|"
    r"responder\s+a|inviato|data|oggetto|risposta|rispondi\s+a|verzonden|aan|onderwerp|"
    r"beantwoorden|sendt|til|emne|dato|kopi|lähetetty|vastaanottaja|aihe|päivämäärä|"
    r"wysłano|do|temat|enviada\s+em|enviado\s+em|отправлено|кому|тема|дата|копия|надіслано|assunto|odesláno|komu|"
    r"předmět|elküldve|címzett|tárgy|gönderildi|kime|konu|收件人|主题|发送时间|日期|抄送|件名|"
    r"宛先|送信日時|日付|받는\s+사람|날짜|제목"
)
_HEADER_RE = re.compile(
    rf"^\s*[*_]{{0,2}}(?P<key>{_FROM_KEYS}|{_OTHER_KEYS})[*_]{{0,2}}\s?[:：][*_]{{0,2}}(?:\s|$)",
    re.IGNORECASE,
)
_FROM_RE = re.compile(rf"^(?:{_FROM_KEYS})$", re.IGNORECASE)
# Outlook on phones prints the whole header on one line: "From: … Sent: … To: … Subject: …".
_INLINE_KEY_RE = re.compile(
    rf"(?:^|\s)[*_]{{0,2}}(?:{_FROM_KEYS}|{_OTHER_KEYS})[*_]{{0,2}}\s?:\s", re.IGNORECASE
)

DELIMITER_RE = re.compile(r"^\s*(?:[-_=~*#+•—–]{2,}|ᐧ)\s*$")
SIG_DASH_RE = re.compile(r"^--\s?$")

# Lines mobile clients append ("Sent from my iPhone", "Von meinem iPhone gesendet", …).
_MOBILE_RE = re.compile(
    r"^(?:sent\s+(?:from|with|via|by|using|on\s+my)\b|get\s+\[?outlook\b|"
    r"from\s+my\s+(?:iphone|ipad|android|mobile|phone|cell|samsung|galaxy|blackberry)\b.{0,20}$|"
    r"envoy[ée]\s+(?:de|depuis|avec|à\s+partir)\b|von\s+meinem\b.*\bgesendet|"
    r"gesendet\s+(?:von|mit)\s|diese\s+nachricht\s+wurde\s+von\s+meinem\b|"
    r"(?:skickat|skickad|sendt|sendes)\s+(?:från|fra|med)\b|verzonden\s+(?:met|vanaf|van)\b|"
    r"verstuurd\s+(?:met|vanaf|van)\b|enviad[oa]\s+(?:desde|de|do|da|con|com|a\s+partir)\b|"
    r"inviato\s+da\b|lähetetty\s|wysłane\s+(?:z|przy)\b|отправлено\s+(?:с|из)\b|"
    r"надіслано\s+з\b|odesláno\s+z\b|gönderildi\b|(?:寄自|发自|發自|来自)我的|.*から送信$|"
    r"\w+\s+from\s+(?:my\s+)?(?:mobile|phone|iphone|ipad|android)[.!]?$)",
    re.IGNORECASE,
)
QUOTE_RE = re.compile(r"^\s*>")
# Supercite-style quoting: "Richard> text", "C> text".
_SUPERCITE_RE = re.compile(r"^\s*[A-Za-z]{1,10}>(?:\s|$)")
FENCE_RE = re.compile(r"^\s*(`{3,}|~{3,})")


def words(text: str) -> int:
    """Count whitespace-separated words."""
    return len(text.split())


def is_quote(line: str) -> bool:
    """Tell whether a line is quoted ("> text" or supercite "Name> text")."""
    return bool(QUOTE_RE.match(line) or _SUPERCITE_RE.match(line))


def unquote(line: str) -> str:
    """Strip every quote level from a line."""
    return re.sub(r"^(?:\s*(?:>|[A-Za-z]{1,10}>(?=\s|$)))+", "", line).strip()


def is_mobile_signature(line: str) -> bool:
    """Tell whether a line is a client-added mobile signature."""
    s = line.strip().strip("<>()[]*_ ").strip()
    return bool(s) and words(s) <= 12 and bool(_MOBILE_RE.match(s))


def is_delimiter(line: str) -> bool:
    """Tell whether a line is a signature or section delimiter ("-- ", "_____", "ᐧ")."""
    return bool(DELIMITER_RE.match(line) or SIG_DASH_RE.match(line))


def is_forward_marker(line: str) -> bool:
    """Tell whether a line introduces a forwarded or original message."""
    s = line.strip()
    return bool(_DASHED_PHRASE_RE.match(s) or _FORWARD_RE.match(s))


def is_quote_header(text: str) -> bool:
    """Tell whether text (one line, or a wrapped one joined) is an attribution line."""
    s = " ".join(text.split())
    if not s or len(s) > 400 or words(s) > 45:
        return False
    if _ZOHO_RE.match(s) and VERB_RE.search(s):
        return True  # Zoho: "---- On … wrote ----"
    if _ENDS_COLON_RE.search(s) and _STRONG_ANCHOR_RE.search(s) and VERB_RE.search(s):
        return True
    if _DATE_START_RE.match(s) and words(s) <= 14 and not re.search(r"[.!?]$", s):
        # Gmail's localised "2016-10-24 15:36 GMT+02:00 Name <addr>:" carries no verb.
        if _EMAIL_RE.search(s) or (_TIME_RE.search(s) and _ZONE_RE.search(s)):
            return True
    return False


def may_start_quote_header(line: str) -> bool:
    """Tell whether a line could be the first line of a wrapped attribution."""
    s = line.strip()
    if not s or is_quote(s) or words(s) > 20:
        return False
    if _LEAD_RE.match(s) or _DATE_START_RE.match(s) or s[0].isdigit():
        return True
    return bool(re.search(r"[@<\"]", s))


def is_wrapped_quote_header(parts: list[str]) -> bool:
    """Tell whether lines joined make one attribution that a client wrapped."""
    joined = " ".join(parts)
    # A sentence boundary means the first lines are the writer's text, not an attribution.
    if words(joined) > 30 or _SENTENCE_END_RE.search(joined):
        return False
    return is_quote_header(joined)


def may_end_quote_header(line: str) -> bool:
    """Tell whether a line could end a wrapped attribution."""
    return bool(_ENDS_COLON_RE.search(line))


def header_key(line: str) -> str | None:
    """Return the header key a line starts with ("From", "Skickat", …), if any."""
    m = _HEADER_RE.match(line)
    return m.group("key") if m else None


def is_from_key(key: str) -> bool:
    """Tell whether a header key names the sender."""
    return bool(_FROM_RE.match(" ".join(key.split())))


def is_inline_header(line: str) -> bool:
    """Tell whether a line packs a whole header block ("From: … Sent: … Subject: …")."""
    return header_key(line) is not None and len(_INLINE_KEY_RE.findall(line)) >= 3


def has_anchor(text: str) -> bool:
    """Tell whether text carries a date, time or address, as attribution lines do."""
    return bool(re.search(r"\d", text) or "@" in text)
