"""Header fields written by hand, so that text from data always arrives as that text.

Python's email package parses every header value it is given, decoding anything that looks
like an RFC 2047 encoded word (``=?utf-8?q?...?=``), even inside a quoted string, an address
or a References id; Python 3.11 before the CVE-2024-6923 fix then folds a decoded CR/LF in as
a real line break, and a long display name can lose its quotes when folded. So names and
subjects never pass through its header objects. A value is written either as it is, when it
is printable ASCII without ``=?`` (a display name quoted unless it is plain words), or as
base64 encoded words, which readers decode exactly once back into the text. Lines are folded
at spaces or between encoded words, never inside a word.

A display name that needs encoding is one encoded word, even when it is longer than RFC 2047's
75 characters: whitespace between two encoded words is dropped by RFC 2047 readers but kept by
Python's address parser (3.11 to 3.13), so a name split in two would not read the same
everywhere. Mail clients read long encoded words; lines stay under 998 bytes. Python's parser
also reads a run of whitespace in a display name as one space, so callers pass names with single
spaces (``messages.checked`` does).
"""

from __future__ import annotations

import base64
import re
from collections.abc import Sequence

SOFT_LIMIT = 78  # RFC 5322 2.1.1: lines SHOULD be no longer than 78 characters
_WORD_BYTES = 42  # 42 bytes -> 56 base64 characters: "Subject: " and the word fit in 78
_PRINTABLE = re.compile(r"[\x20-\x7e]*")
_ATEXT = r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+"
_ATOMS = re.compile(rf"{_ATEXT}(?: {_ATEXT})*")


def is_plain(text: str) -> bool:
    """Tell whether text can be written as it is: printable ASCII with nothing to decode."""
    return _PRINTABLE.fullmatch(text) is not None and "=?" not in text


def _word(data: bytes) -> str:
    return f"=?utf-8?b?{base64.b64encode(data).decode('ascii')}?="


def encoded_words(text: str, *, limit: int = _WORD_BYTES) -> list[str]:
    """Text as base64 encoded words of at most `limit` bytes each, split between characters."""
    data = text.encode("utf-8")
    words = []
    start = 0
    while start < len(data):
        end = min(start + limit, len(data))
        while end < len(data) and data[end] & 0xC0 == 0x80:  # inside a UTF-8 sequence
            end -= 1
        words.append(_word(data[start:end]))
        start = end
    return words or [_word(b"")]


def _fold(name: str, tokens: Sequence[str]) -> str:
    """``Name: tokens`` joined by single spaces, breaking lines before a token where needed."""
    line = f"{name}: {tokens[0]}"
    lines = []
    for token in tokens[1:]:
        if token and len(line) + 1 + len(token) > SOFT_LIMIT:
            lines.append(line)
            line = " " + token  # the folding space is the separator: unfolding restores it
        else:
            line += " " + token
    lines.append(line)
    return "\r\n".join(lines) + "\r\n"


def _fits(name: str, tokens: Sequence[str]) -> bool:
    first = len(name) + 2 + len(tokens[0])
    return first <= SOFT_LIMIT and all(len(token) < SOFT_LIMIT for token in tokens[1:])


def text_field(name: str, text: str) -> str:
    """An unstructured field (Subject) that reads back as exactly `text`."""
    if is_plain(text):
        tokens = text.split(" ")
        if _fits(name, tokens):
            return _fold(name, tokens)
    return _fold(name, encoded_words(text))


def _phrase(display_name: str, name: str) -> list[str]:
    """The display name as tokens: plain words, a quoted string, or one encoded word."""
    if is_plain(display_name):
        if _ATOMS.fullmatch(display_name):
            tokens = display_name.split(" ")
        else:
            escaped = display_name.replace("\\", "\\\\").replace('"', '\\"')
            tokens = f'"{escaped}"'.split(" ")  # folding between its words keeps the spaces
        if _fits(name, tokens):
            return tokens
    return encoded_words(display_name, limit=len(display_name.encode("utf-8")))


def address_field(name: str, display_name: str, addr_spec: str) -> str:
    """A field with one mailbox, ``Name <addr>``, that reads back as exactly that name."""
    if not display_name:
        return f"{name}: {addr_spec}\r\n"
    return _fold(name, [*_phrase(display_name, name), f"<{addr_spec}>"])


def token_field(name: str, tokens: Sequence[str]) -> str:
    """A field of ASCII tokens such as message ids, folded only between them."""
    return _fold(name, tokens)
