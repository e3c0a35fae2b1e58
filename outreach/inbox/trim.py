"""Split a reply into what the recruiter reads and what hides behind an expander.

Lines are classified (text, quote, quote header, mail header block, delimiter, mobile
signature), then cut: a quote header or header block after the writer's text starts the quoted
message, unless the quote it introduces is followed by more of the writer's text (bottom-posted or
interleaved replies). Quotes the writer kept without a quote header stay visible, as does a
reply with nothing but such quotes; a reply with nothing but a quote header and the quote it
introduces shows nothing. The raw message is kept elsewhere, so a mistake here is cosmetic.
"""

from __future__ import annotations

from dataclasses import dataclass

from outreach.inbox import trim_rules as r
from outreach.inbox.html_text import render

# A short unquoted tail after a quote at the end of a top-posted reply is usually the quoted
# message's signature, not the writer's words; this many lines or more count as the writer's.
_TAIL_LINES = 3
# Text after a section rule longer than this is more reply, not a signature.
_SIGNATURE_LINES = 15
_QUOTES = ("Q", "QB", "QE")


@dataclass(frozen=True)
class Trimmed:
    """A reply split for display."""

    visible: str  # the reply the recruiter sees
    elided: str  # quotes, quote headers, signatures, forwarded blocks: shown behind an expander


@dataclass(frozen=True)
class _Item:
    kind: str  # E empty, T text, Q/QB/QE quote/quoted header/blank quote, D, S, B header, X hidden
    start: int
    end: int
    line: str  # the first line


def trim_text(text: str) -> Trimmed:
    """Trim a plain-text reply."""
    for mark in r.MARKS:
        text = text.replace(mark, "")
    return _trim(text)


def trim_html(html: str) -> Trimmed:
    """Trim an HTML reply: client quote and signature markers first, then the text rules."""
    return _trim(render(html, markers=True))


def trim_reply(text: str | None, html: str | None) -> Trimmed:
    """Trim a reply, preferring its text/plain body and falling back to the HTML one."""
    if text is not None and text.strip():
        return trim_text(text)
    if html is not None and html.strip():
        return trim_html(html)
    return Trimmed(visible="", elided="")


def _trim(text: str) -> Trimmed:
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    items = _classify(lines)
    keep = _select(items)
    shown = [False] * len(lines)
    for item, kept in zip(items, keep, strict=True):
        for n in range(item.start, item.end):
            shown[n] = kept
    has_words = any(
        kept and it.kind in ("T", "Q", "D") for it, kept in zip(items, keep, strict=True)
    )
    if not has_words:
        shown = [False] * len(lines)
    return Trimmed(visible=_join_visible(lines, shown), elided=_join_elided(lines, shown))


def _classify(lines: list[str]) -> list[_Item]:
    fenced = _fenced(lines)
    items: list[_Item] = []
    i = scanned = 0
    while i < len(lines):
        end = i + 1
        kind = "T"
        line = lines[i]
        s = line.strip()
        if s == r.MARK_HIDE_START:
            depth = 1  # client signatures can nest
            while end < len(lines) and depth:
                depth += {r.MARK_HIDE_START: 1, r.MARK_HIDE_END: -1}.get(lines[end].strip(), 0)
                end += 1
            kind = "X"
        elif i in fenced:
            kind = "T"
        elif not s:
            kind = "E"
        elif s == r.MARK_QUOTE:
            kind = "B"
        elif r.is_quote(line):
            inner = r.unquote(line)
            kind = "QE" if not inner else "QB" if r.is_quote_header(inner) else "Q"
        elif r.is_delimiter(line):
            kind = "D"
        elif r.is_mobile_signature(line):
            kind = "S"
        elif r.is_forward_marker(line) or r.is_quote_header(line):
            kind = "B"
        elif i >= scanned and r.header_key(line) is not None:
            # A failed scan covers its lines: rescanning from each would be quadratic.
            scanned, is_block = _header_block(lines, i, fenced)
            if is_block:
                kind, end = "B", scanned
        elif (wrapped_end := _wrapped_quote_header(lines, i, fenced)) is not None:
            kind, end = "B", wrapped_end
        items.append(_Item(kind, i, end, line))
        i = end
    return items


def _fenced(lines: list[str]) -> set[int]:
    """Return the indexes of lines inside closed code fences (fences included)."""
    inside: set[int] = set()
    unclosed: set[str] = set()  # fences with no closer further down: none for later ones either
    i = 0
    while i < len(lines):
        m = r.FENCE_RE.match(lines[i])
        if m and m.group(1) not in unclosed:
            fence = m.group(1)
            for j in range(i + 1, len(lines)):
                s = lines[j].strip()
                if s and set(s) == {fence[0]} and len(s) >= len(fence):
                    inside.update(range(i, j + 1))
                    i = j
                    break
            else:
                unclosed.add(fence)
        i += 1
    return inside


def _header_block(lines: list[str], i: int, fenced: set[int]) -> tuple[int, bool]:
    """Scan header lines ("From:/Sent:/To:/Subject:") from i: their end, and if they're a block."""
    if r.is_inline_header(lines[i]):
        return i + 1, True
    keys: list[str] = []
    j = end = i
    while j < len(lines) and j not in fenced:
        key = r.header_key(lines[j])
        if key is not None:
            keys.append(" ".join(key.lower().split()))
            j = end = j + 1
        elif (
            lines[j].strip()
            and not r.is_quote(lines[j])
            and j + 1 < len(lines)
            and r.header_key(lines[j + 1]) is not None
        ):
            j += 1  # a long value wrapped onto the next line
        else:
            break
    distinct = set(keys)
    has_from = any(r.is_from_key(k) for k in keys)
    return max(end, i + 1), (has_from and len(distinct) >= 2) or len(distinct) >= 3


def _wrapped_quote_header(lines: list[str], i: int, fenced: set[int]) -> int | None:
    """Return the end of an attribution line wrapped over up to five lines, starting at i."""
    if not r.may_start_quote_header(lines[i]):
        return None
    parts = [lines[i].strip()]
    for j in range(i + 1, min(i + 5, len(lines))):
        if j in fenced:
            return None
        line = lines[j]
        last = r.may_end_quote_header(line)
        if r.is_quote(line) and not last:
            return None
        parts.append(line.strip().lstrip(">").strip() if last else line.strip())
        if last:
            return j + 1 if r.is_wrapped_quote_header(parts) else None
    return None


def _select(items: list[_Item]) -> list[bool]:
    """Decide, item by item, what the recruiter sees."""
    n = len(items)
    keep = [True] * n
    has_text = has_content = False
    cut_at_header = False
    after = _After.of(items)
    i = 0
    while i < n:
        kind = items[i].kind
        if kind in ("X", "QB"):
            keep[i] = False
        elif kind == "T":
            has_text = has_content = True
        elif kind == "Q":
            has_content = True
        elif kind == "S" or kind == "D":
            if has_content and (kind == "S" or _delimiter_cuts(items, i, after)):
                keep[i:] = [False] * (n - i)
                break
            if kind == "S" or not has_content:
                keep[i] = False
        elif kind == "B":
            j = i + 1  # a run of headers (forward marker, header block) acts as one
            while j < n and items[j].kind in ("E", "D", "X", "B"):
                j += 1
            if j < n and items[j].kind in _QUOTES:
                k = j
                while k < n and items[k].kind in (*_QUOTES, "E"):
                    k += 1
                if k < n and items[k].kind == "T" and (not has_text or _continues(items, k)):
                    keep[i:j] = [False] * (j - i)
                    if not has_text and not _interleaved(items, k):
                        keep[j:k] = [False] * (k - j)  # bottom-posted: the quote is context
                    i = k
                    continue
                if not has_text:
                    j = n  # nothing written, only the client's quote of our message
            if has_text or j >= n:
                keep[i:] = [False] * (n - i)
                cut_at_header = True
                break
            keep[i:j] = [False] * (j - i)
            i = j
            continue
        i += 1
    trailing = _drop_trailing_quotes(items, keep) if has_text else False
    if cut_at_header or trailing:
        _drop_attribution(items, keep)
    return keep


def _continues(items: list[_Item], k: int) -> bool:
    """Tell whether the text from k on is the writer's own, after a quote they answered."""
    lines = 0
    while k < len(items) and items[k].kind in ("T", "E"):
        if items[k].kind == "T":
            lines += 1
        k += 1
    if k < len(items) and items[k].kind in ("Q", "QE", "S", "D"):
        return True
    return lines >= _TAIL_LINES


def _interleaved(items: list[_Item], k: int) -> bool:
    """Tell whether more quoted text, answered in turn, follows the text at k."""
    kinds = [it.kind for it in items[k:]]
    if "Q" not in kinds:
        return False
    return "T" in kinds[kinds.index("Q") :]


@dataclass(frozen=True)
class _After:
    """What follows each item, computed once so delimiter checks stay linear."""

    next_kind: list[str]  # kind of the next non-empty item ("" at the end)
    boundary: list[bool]  # a quote, quote header or mobile signature follows somewhere
    text_lines: list[int]  # text lines that follow
    longest: list[int]  # words in the longest text line that follows

    @classmethod
    def of(cls, items: list[_Item]) -> _After:
        n = len(items)
        next_kind, boundary = [""] * n, [False] * n
        text_lines, longest = [0] * n, [0] * n
        for i in range(n - 2, -1, -1):
            nxt = items[i + 1]
            next_kind[i] = next_kind[i + 1] if nxt.kind == "E" else nxt.kind
            boundary[i] = boundary[i + 1] or nxt.kind in ("B", "Q", "QB", "S")
            is_text = nxt.kind == "T"
            text_lines[i] = text_lines[i + 1] + is_text
            longest[i] = max(longest[i + 1], r.words(nxt.line) if is_text else 0)
        return cls(next_kind, boundary, text_lines, longest)


def _delimiter_cuts(items: list[_Item], i: int, after: _After) -> bool:
    """Tell whether the delimiter at i starts a signature rather than a section rule."""
    line = items[i].line
    if r.SIG_DASH_RE.match(line):
        return True
    if after.next_kind[i] in ("B", "Q", "QB", "S"):
        return True  # Outlook's rule above the quoted message's header block
    if i > 0 and items[i - 1].kind != "E" and set(line.strip()) <= {"-", "="}:
        return False  # dashes right under text underline it (a heading, a table header)
    if after.boundary[i]:
        return True
    if after.text_lines[i] > _SIGNATURE_LINES:
        return False
    # Signatures are short lines (name, title, phone); a short rule ("---", "***") above
    # paragraphs is a section break, a long one (Outlook's underscores) a separator.
    return after.longest[i] <= 12 or len(line.strip()) >= 10


def _drop_trailing_quotes(items: list[_Item], keep: list[bool]) -> bool:
    """Hide quotes that end the reply after the writer's text; tell whether any were hidden."""
    dropped = False
    for n in range(len(items) - 1, -1, -1):
        if not keep[n]:
            continue
        if items[n].kind in ("T", "D"):
            break
        if items[n].kind in _QUOTES:
            dropped = True
        keep[n] = False
    return dropped


def _drop_attribution(items: list[_Item], keep: list[bool]) -> None:
    """Hide a last text line that reads like an attribution in a language we don't know."""
    kept = [n for n, k in enumerate(keep) if k and items[n].kind != "E"]
    if len(kept) < 2 or items[kept[-1]].kind != "T":
        return
    last = items[kept[-1]]
    if last.end - last.start == 1 and _is_attribution(last.line):
        keep[kept[-1]] = False


def _is_attribution(line: str) -> bool:
    """Tell whether a line ends with a colon and names a date or address, as attributions do."""
    s = line.strip()
    return s.endswith((":", "：")) and r.has_anchor(s) and r.words(s) <= 30


def _join_visible(lines: list[str], shown: list[bool]) -> str:
    kept = [line for line, s in zip(lines, shown, strict=True) if s and line.strip() not in r.MARKS]
    filled = [n for n, line in enumerate(kept) if line.strip()]
    return "\n".join(kept[filled[0] : filled[-1] + 1]) if filled else ""


def _join_elided(lines: list[str], shown: list[bool]) -> str:
    chunks: list[list[str]] = []
    current: list[str] = []
    for line, s in zip(lines, shown, strict=True):
        if s:
            if current:
                chunks.append(current)
                current = []
        elif line.strip() not in r.MARKS:
            current.append(line)
    if current:
        chunks.append(current)
    texts = ["\n".join(chunk).strip("\n") for chunk in chunks]
    return "\n\n".join(t for t in texts if t.strip())
