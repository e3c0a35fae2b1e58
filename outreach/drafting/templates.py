"""Load and render email templates; discover and fill their AI slots.

A template is a Jinja2 file that reads like the mail it makes: ``Subject:`` and optional
metadata headers, a blank line, then the body. ``{{ ai("instruction", fallback=...) }}`` marks a
part the model writes. Rendering runs twice in effect: once with unique markers in place of the
slots (so we learn exactly which slots this context reaches, with their template lines), then the
markers are swapped for model text or fallbacks, which also gives the offsets of AI text.

Templates run in Jinja2's sandbox with ``StrictUndefined``: a typo or a missing column is an
error naming the file and line, never a silently empty gap in a mail to a real person. Each
render is bounded in steps, sizes, output and time (``template_limits``): a runaway template
ends with an error naming the file, the line and the limit it reached.
"""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any

from jinja2 import Template, TemplateSyntaxError, UndefinedError
from jinja2.exceptions import SecurityError

from outreach.drafting import limits as template_limits
from outreach.drafting.context import (
    UNSAFE_HINT,
    Record,
    TemplateUndefined,
    build_context,
    candidate_context,
    lcfirst,
    reply_subject,
)
from outreach.drafting.fit import join_and
from outreach.drafting.limits import LimitedEnvironment, LimitExceeded
from outreach.errors import NotFound, TemplateError
from outreach.store.values import DraftKind

__all__ = [
    "EmailTemplate",
    "Record",
    "Rendered",
    "Slot",
    "TemplateLibrary",
    "candidate_context",
    "lcfirst",
    "reply_subject",
]

_HEADERS = ("subject", "kind", "description", "language")
_HEADER_RE = re.compile(r"^([A-Za-z][A-Za-z-]*):[ \t]*(.*)$")
# Control characters survive every Jinja filter (upper, title, trim) unchanged.
_MARKER_RE = re.compile("\x1e(\\d+)\x1f")


@dataclass(frozen=True)
class Slot:
    """A part of a template the model writes."""

    name: str
    instruction: str
    fallback: str | None
    max_words: int | None
    line: int


@dataclass(frozen=True)
class Rendered:
    """A rendered mail: subject, body, and where the AI text sits in the body."""

    subject: str
    body: str
    slots: tuple[Slot, ...]
    slot_values: Mapping[str, str]
    ai_spans: tuple[tuple[str, int, int], ...]


@dataclass(frozen=True)
class Prepared:
    """A template rendered for one context with its AI slots still open, as markers."""

    label: str  # the path as errors show it
    subject_line: int
    subject: str
    body: str
    slots: tuple[Slot, ...]


@dataclass(frozen=True)
class EmailTemplate:
    """One template file with its metadata headers."""

    name: str
    path: Path
    kind: str
    description: str
    language: str | None
    source: str


def _environment() -> LimitedEnvironment:
    return LimitedEnvironment(
        filters={"reply_subject": reply_subject, "lcfirst": lcfirst, "join_and": join_and},
        undefined=TemplateUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        trim_blocks=True,
        lstrip_blocks=True,
    )


@dataclass(frozen=True)
class _Parsed:
    """A template split into compiled subject and body, both keeping file line numbers."""

    meta: EmailTemplate
    subject: Template
    subject_pad: int
    body: Template
    body_pad: int
    label: str  # the path as errors show it


def _parse_headers(path: Path, label: str, source: str) -> tuple[dict[str, tuple[str, int]], int]:
    """Return {header: (value, line)} and the 1-based line where the body starts."""
    headers: dict[str, tuple[str, int]] = {}
    last: str | None = None
    lines = source.split("\n")
    for number, raw in enumerate(lines, start=1):
        line = raw.rstrip("\r")
        if not line.strip():
            if not headers:
                raise TemplateError(f"{label}, line {number}: expected 'Subject: ...' first")
            return headers, number + 1
        if line[0] in " \t" and last is not None:  # folded header line
            value, at = headers[last]
            headers[last] = (f"{value} {line.strip()}", at)
            continue
        match = _HEADER_RE.match(line)
        if not match:
            raise TemplateError(
                f"{label}, line {number}: expected a header like 'Subject: ...' "
                "before the first blank line, then the body"
            )
        key = match.group(1).lower()
        if key not in _HEADERS:
            raise TemplateError(
                f"{label}, line {number}: unknown header '{match.group(1)}:' — known headers "
                "are Subject, Kind, Description, Language"
            )
        if key in headers:
            raise TemplateError(f"{label}, line {number}: header '{match.group(1)}:' repeated")
        headers[key] = (match.group(2).strip(), number)
        last = key
    raise TemplateError(f"{label}: no blank line between the headers and the body")


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def _error_line(exc: BaseException, filename: str) -> int | None:
    if isinstance(exc, TemplateSyntaxError) and exc.lineno:
        return exc.lineno
    if isinstance(exc, LimitExceeded) and exc.line:
        return exc.line
    line = None
    tb = exc.__traceback__
    while tb is not None:  # Jinja rewrites tracebacks so template frames carry template lines
        if tb.tb_frame.f_code.co_filename == filename:
            line = tb.tb_lineno
        tb = tb.tb_next
    return line


def _explain(exc: BaseException) -> str:
    if isinstance(exc, SecurityError):
        text = str(exc)
        return text if UNSAFE_HINT in text else f"{text.rstrip('.')} — {UNSAFE_HINT}"
    if isinstance(exc, TemplateSyntaxError):
        return f"syntax error: {exc.message}"
    if isinstance(exc, UndefinedError):
        return str(exc.message)
    if isinstance(exc, LimitExceeded):
        return f"template limit reached: {exc}"
    if isinstance(exc, RecursionError):
        return "template limit reached: nested too deep"
    return f"{type(exc).__name__}: {exc}"


class _SlotCollector:
    """The `ai()` function of one render: records slots and returns markers in their place."""

    def __init__(self, label: str) -> None:
        self.label = label
        self.slots: list[Slot] = []
        self.template: Template | None = None
        self.filename = ""

    def _line(self) -> int:
        frame = sys._getframe(1)
        while frame is not None:
            if frame.f_code.co_filename == self.filename and self.template is not None:
                return self.template.get_corresponding_lineno(frame.f_lineno)
            frame = frame.f_back  # type: ignore[assignment]
        return 0

    def __call__(
        self,
        instruction: Any,
        fallback: Any = None,
        name: Any = None,
        max_words: Any = None,
    ) -> str:
        line = self._line()
        where = f"{self.label}, line {line}"
        if not isinstance(instruction, str) or not instruction.strip():
            raise TemplateError(f"{where}: ai() needs an instruction as its first argument")
        if max_words is not None and (not isinstance(max_words, int) or max_words < 1):
            raise TemplateError(f"{where}: ai(max_words=...) must be a positive whole number")
        if name is not None and (not isinstance(name, str) or not re.fullmatch(r"\w+", name)):
            raise TemplateError(f'{where}: ai(name=...) must be a word like "hook"')
        text_fallback = None if fallback is None else str(fallback)
        for index, slot in enumerate(self.slots):
            same_site = name is None and slot.line == line and slot.instruction == instruction
            if same_site or (name is not None and slot.name == name):
                if slot.instruction != instruction:
                    raise TemplateError(
                        f"{where}: slot '{name}' is already used on line {slot.line} "
                        "with another instruction — give each slot its own name"
                    )
                return f"\x1e{index}\x1f"
        if name is None:
            taken = {s.name for s in self.slots}
            number = sum(1 for s in self.slots if s.name.startswith("slot")) + 1
            while f"slot{number}" in taken:
                number += 1
            name = f"slot{number}"
        self.slots.append(Slot(name, instruction.strip(), text_fallback, max_words, line))
        return f"\x1e{len(self.slots) - 1}\x1f"


def _tidy(text: str) -> str:
    """Drop trailing spaces and runs of blank lines that template logic leaves behind."""
    text = re.sub(r"[ \t]+(?=\n|$)", "", text)
    text = re.sub(r"\n{3,}", "\n\n", text)
    return text.strip("\n") + "\n"


class TemplateLibrary:
    """The recruiter's templates in one directory (``templates/*.j2``)."""

    def __init__(self, directory: Path) -> None:
        self.directory = Path(directory)
        self._env = _environment()
        self._cache: dict[str, tuple[float, _Parsed]] = {}

    def names(self) -> list[str]:
        """Return the template names (file stems), sorted."""
        if not self.directory.is_dir():
            return []
        return sorted(p.stem for p in self.directory.glob("*.j2") if p.is_file())

    def get(self, name: str) -> EmailTemplate:
        """Load one template's metadata and source."""
        return self._load(name).meta

    def slots(self, name: str, context: Mapping[str, Any]) -> tuple[Slot, ...]:
        """Return the AI slots a render with this context actually reaches."""
        return self.prepare(name, context).slots

    def render(
        self,
        name: str,
        context: Mapping[str, Any],
        slot_values: Mapping[str, str] | None = None,
    ) -> Rendered:
        """Render a template; slots take `slot_values`, else their fallback."""
        return self.fill(self.prepare(name, context), slot_values)

    def prepare(self, name: str, context: Mapping[str, Any]) -> Prepared:
        """Render a template with its AI slots left open (see `fill`)."""
        parsed = self._load(name)
        subject, body, slots = self._render_markers(parsed, context)
        return Prepared(parsed.label, parsed.subject_pad + 1, subject, body, slots)

    def fill(self, prepared: Prepared, slot_values: Mapping[str, str] | None = None) -> Rendered:
        """Fill a prepared template's slots with `slot_values`, else their fallback."""
        label, slots = prepared.label, prepared.slots
        values: dict[str, str] = {}
        for slot in slots:
            given = None if slot_values is None else slot_values.get(slot.name)
            if given is not None:
                values[slot.name] = str(given).strip()
            elif slot.fallback is not None:
                values[slot.name] = slot.fallback.strip()
            else:
                raise TemplateError(
                    f"{label}, line {slot.line}: AI slot '{slot.name}' has no value and no "
                    'fallback — configure a model or add fallback="..." to the ai() call'
                )

        def fill(match: re.Match[str]) -> str:
            return values[slots[int(match.group(1))].name]

        subject = _MARKER_RE.sub(fill, prepared.subject).strip()
        line = prepared.subject_line
        if "\r" in subject or "\n" in subject:
            raise TemplateError(f"{label}, line {line}: the subject renders with a line break")
        if not subject:
            raise TemplateError(f"{label}, line {line}: the subject renders empty")
        body_parts: list[str] = []
        spans: list[tuple[str, int, int]] = []
        offset = 0
        pieces = _MARKER_RE.split(_tidy(prepared.body))
        for index, piece in enumerate(pieces):
            text = values[slots[int(piece)].name] if index % 2 else piece
            if index % 2:
                spans.append((slots[int(piece)].name, offset, offset + len(text)))
            body_parts.append(text)
            offset += len(text)
        return Rendered(
            subject=subject,
            body="".join(body_parts),
            slots=slots,
            slot_values=MappingProxyType(values),
            ai_spans=tuple(spans),
        )

    def _path(self, name: str) -> Path:
        path = self.directory / f"{name}.j2"
        if "/" in name or "\\" in name or name.startswith(".") or not path.is_file():
            known = ", ".join(self.names()) or "none"
            raise NotFound(f"no template '{name}' in {self.directory} — known templates: {known}")
        return path

    def _load(self, name: str) -> _Parsed:
        path = self._path(name)
        mtime = path.stat().st_mtime
        cached = self._cache.get(name)
        if cached and cached[0] == mtime:
            return cached[1]
        label = _display(path)
        try:
            source = path.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise TemplateError(f"{label}: not UTF-8 text ({exc.reason})") from exc
        headers, body_line = _parse_headers(path, label, source)
        if "subject" not in headers:
            raise TemplateError(f"{label}, line 1: a 'Subject:' header is required")
        kind, kind_line = headers.get("kind", (DraftKind.OUTREACH, 0))
        kind = kind.strip().lower()
        if kind not in tuple(DraftKind):
            raise TemplateError(
                f"{label}, line {kind_line}: Kind '{kind}' is not one of {', '.join(DraftKind)}"
            )
        language = headers.get("language", ("", 0))[0].strip().lower() or None
        meta = EmailTemplate(
            name=name,
            path=path,
            kind=kind,
            description=headers.get("description", ("", 0))[0],
            language=language,
            source=source,
        )
        subject_text, subject_line = headers["subject"]
        body_text = "\n".join(source.split("\n")[body_line - 1 :])
        if not body_text.strip():
            raise TemplateError(f"{label}, line {body_line}: the template has no body")
        parsed = _Parsed(
            meta=meta,
            subject=self._compile(subject_text, subject_line - 1, path, label),
            subject_pad=subject_line - 1,
            body=self._compile(body_text, body_line - 1, path, label),
            body_pad=body_line - 1,
            label=label,
        )
        self._cache[name] = (mtime, parsed)
        return parsed

    def _compile(self, text: str, pad: int, path: Path, label: str) -> Template:
        # Leading newlines make Jinja's line numbers equal the file's line numbers.
        try:
            code = self._env.compile("\n" * pad + text, name=path.name, filename=str(path))
        except TemplateSyntaxError as exc:
            raise TemplateError(f"{label}, line {exc.lineno}: {_explain(exc)}") from exc
        return self._env.template_class.from_code(self._env, code, self._env.make_globals(None))

    def _render_markers(
        self, parsed: _Parsed, context: Mapping[str, Any]
    ) -> tuple[str, str, tuple[Slot, ...]]:
        label = parsed.label
        collector = _SlotCollector(label)
        collector.filename = str(parsed.meta.path)
        values = build_context(context)
        values["ai"] = collector
        out: list[str] = []
        budget = template_limits.Budget()  # one for the subject and the body together
        for template, pad in ((parsed.subject, parsed.subject_pad), (parsed.body, parsed.body_pad)):
            collector.template = template
            try:
                text = template_limits.render(template, values, budget)
            except TemplateError:
                raise
            except Exception as exc:  # any failure inside user template code becomes one line
                line = _error_line(exc, collector.filename)
                where = f"{label}, line {line}" if line else label
                raise TemplateError(f"{where}: {_explain(exc)}") from exc
            out.append(text[pad:] if text.startswith("\n" * pad) else text)
        return out[0], out[1], tuple(collector.slots)
