"""Tolerant decoding of header values and bodies: never raises, flags what it repaired."""

from __future__ import annotations

import base64
import binascii
import quopri
import re

# Mislabelled charsets seen in the wild: decode with the superset the sender really used.
_CHARSET_ALIASES = {
    "gb2312": "gb18030",
    "gbk": "gb18030",
    "iso-8859-8-i": "iso-8859-8",
    "x-sjis": "shift_jis",
    "unicode-1-1-utf-7": "utf-7",
}
# Declared Latin charsets are often UTF-8 in fact; valid UTF-8 is rarely anything else.
_UTF8_FIRST = {"us-ascii", "ascii", "iso-8859-1", "latin1", "latin-1", "iso-8859-15", "cp1252"}
_UTF8_FIRST |= {"windows-1252"}
_SURROGATE = re.compile("[\udc80-\udcff]")
_ENCODED_WORD = re.compile(r"=\?([^?\s]+)\?([QqBb])\?([^?]*)\?=")
_ENCODED_WORD_START = re.compile(r"=\?[^?\s]+\?[QqBb]\?")
_BETWEEN_WORDS = re.compile(r"(\?=)[ \t\r\n]+(=\?)")


def has_8bit(value: str) -> bool:
    """Tell whether a parsed header value carries raw 8-bit bytes (surrogate escapes)."""
    return _SURROGATE.search(value) is not None


def to_text(value: str) -> str:
    """Undo the parser's surrogate escapes: 8-bit headers are usually UTF-8, else cp1252."""
    if not has_8bit(value):
        return value
    data = value.encode("ascii", "surrogateescape")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def _codec(charset: str | None) -> str | None:
    """Return a usable text codec name for a declared charset, or None when unknown."""
    if not charset:
        return None
    name = charset.strip().strip("\"'").lower()
    name = _CHARSET_ALIASES.get(name, name)
    try:
        "a".encode(name)  # str.encode also rejects bytes-to-bytes codecs such as "base64"
    except (LookupError, ValueError, TypeError, UnicodeError):
        return None
    return name


def decode_bytes(data: bytes, charset: str | None, flags: list[str]) -> str:
    """Decode with the declared charset, then UTF-8, then cp1252 with replacement."""
    codec = _codec(charset)
    if charset and codec is None:
        flags.append("unknown-charset")
    order = ("utf-8", codec) if codec in _UTF8_FIRST or codec is None else (codec, "utf-8")
    for name in order:
        if name is None:
            continue
        try:
            return data.decode(name)
        except (UnicodeError, LookupError, ValueError):
            continue
    if codec is not None and codec not in _UTF8_FIRST:
        flags.append("charset-mismatch")
    return data.decode("cp1252", "replace")


def _decode_word(charset: str, encoding: str, payload: str, flags: list[str]) -> str:
    raw = payload.encode("ascii", "replace")
    if encoding in "bB":
        padded = raw + b"=" * (-len(raw) % 4)
        try:
            data = base64.b64decode(padded, validate=True)
        except (binascii.Error, ValueError):
            flags.append("bad-encoded-word")
            try:  # skip the stray characters, as mail clients do
                data = base64.b64decode(padded.replace(b"=", b"") + b"==")
            except (binascii.Error, ValueError):
                return f"=?{charset}?{encoding}?{payload}?="
    else:
        data = quopri.decodestring(raw.replace(b"_", b" "))
    name = _codec(charset.split("*", 1)[0])  # RFC 2231 language suffix: "utf-8*en"
    if name is None:
        flags += ["bad-encoded-word", "unknown-charset"]
    else:
        try:
            return data.decode(name)
        except (UnicodeError, LookupError, ValueError):
            flags.append("bad-encoded-word")
    try:
        return data.decode("utf-8")
    except UnicodeDecodeError:
        return data.decode("cp1252", "replace")


def decode_header(value: str, flags: list[str]) -> str:
    """Unfold and decode RFC 2047 words; broken words are flagged and kept as text."""
    text = to_text(value).replace("\r", "").replace("\n", "")
    text = _BETWEEN_WORDS.sub(r"\1\2", text)  # white space between encoded words is dropped
    decoded = _ENCODED_WORD.sub(lambda m: _decode_word(m[1], m[2], m[3], flags), text)
    if _ENCODED_WORD_START.search(decoded):
        flags.append("bad-encoded-word")
    return decoded.strip()
