"""Render an HTML mail body as text, optionally marking where mail clients put quotes.

Parsing uses the standard library's ``html.parser`` into a small tree, because the markers
(Gmail ``gmail_quote``, Outlook ``divRplyFwdMsg``, Thunderbird ``moz-cite-prefix``, …) are
properties of elements, and the text rules then see blockquotes as "> " lines.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field, replace
from html.parser import HTMLParser

from outreach.inbox.trim_rules import MARK_HIDE_END, MARK_HIDE_START, MARK_QUOTE

_VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "param",
         "source", "track", "wbr"}  # fmt: skip
_SKIP = {"head", "script", "style", "title", "template", "noscript", "xml"}
_BLOCK = {"address", "article", "aside", "blockquote", "center", "dd", "div", "dl", "dt",
          "fieldset", "figure", "footer", "form", "h1", "h2", "h3", "h4", "h5", "h6", "header",
          "hr", "li", "main", "nav", "ol", "p", "pre", "section", "table", "tr", "ul"}  # fmt: skip
_PARAGRAPH = {"p", "h1", "h2", "h3", "h4", "h5", "h6", "ul", "ol", "table", "pre"}
# Start tags that close an open element of the key's name (HTML's implied end tags).
_CLOSES = {"p": _BLOCK, "li": {"li"}, "dt": {"dt", "dd"}, "dd": {"dt", "dd"},
           "tr": {"tr"}, "td": {"td", "th", "tr"}, "th": {"td", "th", "tr"}}  # fmt: skip
# Elements an implied end tag does not reach past (nested lists, tables in cells).
_SCOPES = {"p": {"table", "td", "th", "button"}, "li": {"ul", "ol"}, "dt": {"dl"}, "dd": {"dl"},
           "tr": {"table"}, "td": {"table"}, "th": {"table"}}  # fmt: skip
_MAX_LEVEL = 150
_SPACE_RE = re.compile(r"[ \t\n\r\f\v\u00a0]+")
# Outlook desktop separates the quoted message with a top border above its header block.
_BORDER_TOP_RE = re.compile(r"border-top(?:-style)?\s*:[^;]*\bsolid", re.IGNORECASE)


@dataclass
class _Node:
    tag: str
    attrs: dict[str, str]
    children: list[_Node | str] = field(default_factory=list)

    def classes(self) -> set[str]:
        return set(self.attrs.get("class", "").split())


class _TreeBuilder(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.root = _Node("#root", {})
        self.stack = [self.root]

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        for open_tag, closed_by in _CLOSES.items():
            if tag in closed_by:
                self._close_implied(open_tag)
        node = _Node(tag, {k: v or "" for k, v in attrs})
        self.stack[-1].children.append(node)
        if tag not in _VOID:
            self.stack.append(node)

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.stack[-1].children.append(_Node(tag, {k: v or "" for k, v in attrs}))

    def handle_endtag(self, tag: str) -> None:
        index = self._open_index(tag)
        if index is not None:
            del self.stack[index:]

    def handle_data(self, data: str) -> None:
        self.stack[-1].children.append(data)

    def _close_implied(self, tag: str) -> None:
        for n in range(len(self.stack) - 1, 0, -1):
            if self.stack[n].tag == tag:
                del self.stack[n:]
                return
            if self.stack[n].tag in _SCOPES[tag]:
                return

    def _open_index(self, tag: str) -> int | None:
        for n in range(len(self.stack) - 1, 0, -1):
            if self.stack[n].tag == tag:
                return n
        return None


class _Writer:
    """Accumulate lines; inline text collapses whitespace, ``pre`` keeps it."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.current = ""

    def text(self, data: str, pre: bool) -> None:
        if pre:
            first, *rest = data.split("\n")
            self.current += first
            for part in rest:
                self.newline()
                self.current += part
            return
        data = _SPACE_RE.sub(" ", data)
        if not self.current or self.current.endswith(" "):
            data = data.lstrip(" ")
        self.current += data

    def newline(self) -> None:
        self.lines.append(self.current.rstrip())
        self.current = ""

    def block(self) -> None:
        if self.current.strip():
            self.newline()
        self.current = ""

    def blank(self) -> None:
        self.block()
        if self.lines and self.lines[-1]:
            self.lines.append("")

    def raw(self, lines: list[str]) -> None:
        self.block()
        self.lines.extend(lines)

    def result(self) -> list[str]:
        self.block()
        return self.lines


def render(html: str, *, markers: bool) -> str:
    """Render HTML as text; with markers, add the trimmer's quote and signature marks."""
    builder = _TreeBuilder()
    builder.feed(html)
    builder.close()
    out = _Writer()
    _render_children(builder.root, out, _Context(markers=markers))
    text = "\n".join(out.result())
    return re.sub(r"\n{3,}", "\n\n", text).strip("\n")


@dataclass(frozen=True)
class _Context:
    markers: bool
    pre: bool = False
    lists: int = 0  # list nesting, for indentation
    level: int = 0  # element nesting, bounded so deep threads don't exhaust the stack


def _render_children(node: _Node, out: _Writer, ctx: _Context) -> None:
    if ctx.level > _MAX_LEVEL:
        out.text(_flat(node), ctx.pre)
        return
    inner = replace(ctx, level=ctx.level + 1)
    for n, child in enumerate(node.children):
        if isinstance(child, str):
            out.text(child, ctx.pre)
        else:
            bullet = f"{n + 1}. " if node.tag == "ol" else "- "
            _render(child, out, inner, bullet)


def _render(node: _Node, out: _Writer, ctx: _Context, bullet: str) -> None:
    tag = node.tag
    if tag in _SKIP or tag.startswith("!") or tag == "img":
        return
    if tag == "br":
        out.newline()
        return
    if tag == "hr":
        out.raw(["---"])
        return
    ctx = replace(ctx, pre=ctx.pre or tag in ("pre", "xmp"))
    if ctx.markers and _hides(node):
        inner = _Writer()
        _render_children(node, inner, ctx)
        out.raw([MARK_HIDE_START, *inner.result(), MARK_HIDE_END])
        return
    if ctx.markers and _marks_quote(node):
        out.raw([MARK_QUOTE])
    if tag == "blockquote":
        inner = _Writer()
        _render_children(node, inner, ctx)
        out.raw([f"> {line}" if line else ">" for line in _trim_blank(inner.result())])
        out.blank()
        return
    if tag == "a":
        _render_link(node, out, ctx)
        return
    if tag in ("td", "th") and out.current.strip():
        out.text(" ", ctx.pre)
    nested = tag in ("ul", "ol") and ctx.lists > 0  # a list inside a list item: no blank lines
    if tag in _PARAGRAPH and not nested:
        out.blank()
    elif tag in _BLOCK:
        out.block()
    if tag == "li":
        out.text("  " * max(ctx.lists - 1, 0) + bullet, pre=True)
    if tag in ("ul", "ol"):
        ctx = replace(ctx, lists=ctx.lists + 1)
    _render_children(node, out, ctx)
    if tag in _PARAGRAPH and not nested:
        out.blank()
    elif tag in _BLOCK:
        out.block()


def _render_link(node: _Node, out: _Writer, ctx: _Context) -> None:
    before_lines, before = len(out.lines), len(out.current)
    _render_children(node, out, ctx)
    if len(out.lines) == before_lines:
        label = out.current[before:].strip()
    else:
        label = " ".join([*out.lines[before_lines:], out.current]).strip()
    href = node.attrs.get("href", "").strip()
    if not href.startswith(("http://", "https://", "mailto:")):
        return
    target = href.removeprefix("mailto:")
    if not label:
        out.text(target, ctx.pre)
    elif not _same_target(label, target):
        out.text(f" ({target})", ctx.pre)


def _same_target(label: str, target: str) -> bool:
    def bare(s: str) -> str:
        return re.sub(r"^(?:https?://|mailto:)?(?:www\.)?", "", s).rstrip("/").lower()

    return bare(label) == bare(target)


def _trim_blank(lines: list[str]) -> list[str]:
    while lines and not lines[0].strip():
        lines = lines[1:]
    while lines and not lines[-1].strip():
        lines = lines[:-1]
    return lines


def _hides(node: _Node) -> bool:
    """Tell whether a client marked this element as the writer's signature."""
    classes = node.classes()
    return bool(
        classes & {"gmail_signature", "moz-signature"}
        or node.attrs.get("data-smartmail") == "gmail_signature"
        or node.attrs.get("id") == "Signature"
    )


def _marks_quote(node: _Node) -> bool:
    """Tell whether a client marked this element as the start of the quoted message."""
    classes = node.classes()
    ident = node.attrs.get("id", "")
    if node.tag != "blockquote" and "gmail_quote" in classes:
        return True
    if classes & {"moz-cite-prefix", "moz-forward-container", "OutlookMessageHeader"}:
        return True
    if any("yahoo_quoted" in c for c in classes) or "yahoo_quoted" in ident:
        return True
    if ident in ("divRplyFwdMsg", "appendonsend") or ident.startswith("divRplyFwdMsg"):
        return True
    style = node.attrs.get("style", "")
    return node.tag == "div" and bool(_BORDER_TOP_RE.search(style)) and ":" in _flat(node)


def _flat(node: _Node) -> str:
    """Return the text of a subtree, without recursion (threads nest deeply)."""
    parts: list[str] = []
    stack: list[_Node | str] = [node]
    while stack:
        item = stack.pop()
        if isinstance(item, str):
            parts.append(item)
        elif item.tag not in _SKIP:
            stack.extend(reversed(item.children))
    return "".join(parts)
