"""What one template render may cost: steps, nesting, sizes, output and time.

Jinja's sandbox keeps templates away from Python internals but not from working forever:
two nested ``range(100000)`` loops or ``9 ** 99999999`` ran until the process was killed.
Python cannot stop a thread from outside, so the render stops itself. Each render gets a
`Budget`, and:

- every loop iteration and every call is a step: a render may take ``MAX_STEPS`` of them and
  ``DEADLINE_SECONDS`` of time, checked as it steps (loops are wrapped when a template compiles);
- calls (macros, ``caller()``, recursive loops) nest at most ``MAX_DEPTH`` deep;
- the operators, filters and string methods that can grow a value (``**``, ``*``, ``%``,
  ``center``, ``indent``, ``replace``, ``format``, ``join``, ``batch``…) refuse, before they
  compute it, a string or list longer than ``MAX_SIZE`` or a number wider than ``MAX_INT_BITS``;
  every value made is checked after too, and all of them together may not pass ``MAX_MADE``;
- the output is counted while it is written and stops at ``MAX_OUTPUT`` characters.

A limit that is hit raises `LimitExceeded`, which ``outreach.drafting.templates`` reports with the
template's file and line.
"""

from __future__ import annotations

import functools
import math
import operator
import re
import string
import time
from collections.abc import Callable, Iterable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass, field
from types import GeneratorType
from typing import Any, cast

from jinja2 import Template, nodes, pass_context
from jinja2.runtime import Context
from jinja2.sandbox import SandboxedEnvironment
from jinja2.visitor import NodeTransformer

MAX_STEPS = 25_000  # loop iterations and calls in one render
MAX_DEPTH = 50  # calls inside calls (a macro calling itself)
MAX_SIZE = 100_000  # characters or items of any one value a template makes
MAX_MADE = 10_000_000  # characters or items of all the values one render makes
MAX_OUTPUT = 100_000  # characters a render writes (subject and body together)
MAX_INT_BITS = 4096  # about 1,200 digits
DEADLINE_SECONDS = 2.0

_STEPS = "_outreach_steps"  # the filter every for-loop's iterable goes through
_SIZED = "_outreach_sized"  # the filter every `~` concatenation goes through
_CALL_VARS = ("_loop_vars", "_block_vars")  # Jinja's own keyword arguments on calls
_SEQUENCES = (str, bytes, list, tuple, dict, set, frozenset)
_PRINTF = re.compile(r"%(?:\([^)]*\))?[-#0 +]*(\*|\d+)?(?:\.(\*|\d+))?")


class LimitExceeded(Exception):
    """A render went past one of its limits; the message says which and what to change."""

    def __init__(self, message: str, line: int | None = None) -> None:
        super().__init__(message)
        self.line = line


@dataclass
class Budget:
    """What one render has spent so far."""

    steps: int = 0
    depth: int = 0
    made: int = 0
    written: int = 0
    deadline: float = field(default_factory=lambda: time.monotonic() + DEADLINE_SECONDS)

    def step(self) -> None:
        """Count one loop iteration or call; stop past the step limit or the deadline."""
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise LimitExceeded(
                f"more than {MAX_STEPS:,} loop iterations and calls in one render; loop over less"
            )
        if time.monotonic() > self.deadline:
            raise LimitExceeded(f"rendering took longer than {DEADLINE_SECONDS:g} s")


_BUDGET: ContextVar[Budget | None] = ContextVar("outreach_template_budget", default=None)


def _too_long(what: str, size: int) -> LimitExceeded:
    return LimitExceeded(
        f"{what} would be {size:,} characters or items long; the limit is {MAX_SIZE:,}"
    )


def _made(value: Any) -> Any:
    """Check a value the template made against the size limits, count it, and return it."""
    if type(value) is int and value.bit_length() > MAX_INT_BITS:
        raise LimitExceeded(
            f"a number of {value.bit_length():,} bits; the limit is {MAX_INT_BITS:,}"
        )
    if isinstance(value, _SEQUENCES):
        size = len(value)
        if size > MAX_SIZE:
            raise _too_long("a value", size)
        budget = _BUDGET.get()
        if budget is not None:
            budget.made += size
            if budget.made > MAX_MADE:
                raise LimitExceeded(
                    f"more than {MAX_MADE:,} characters or items made in one render"
                )
    return value


# Checks made before an operation whose result could be too large to compute -----------------


def _int(value: Any) -> int | None:
    return value if isinstance(value, int) and not isinstance(value, bool) else None


def _width(what: str, width: Any) -> None:
    if (number := _int(width)) is not None and number > MAX_SIZE:
        raise _too_long(what, number)


def _check_power(base: Any, exponent: Any) -> None:
    base, exponent = _int(base), _int(exponent)
    if base is None or exponent is None or exponent <= 0 or abs(base) <= 1:
        return
    bits = exponent * math.log2(abs(base))
    if bits > MAX_INT_BITS:
        raise LimitExceeded(
            f"'**' would make a number of about {bits:,.0f} bits; the limit is {MAX_INT_BITS:,}"
        )


def _check_repeat(left: Any, right: Any) -> None:
    for value, times in ((left, right), (right, left)):
        count = _int(times)
        if count is not None and isinstance(value, str | bytes | list | tuple):
            _width("'*'", len(value) * count)
    a, b = _int(left), _int(right)
    if a is not None and b is not None and a.bit_length() + b.bit_length() > MAX_INT_BITS + 1:
        raise LimitExceeded(f"'*' would make a number wider than {MAX_INT_BITS:,} bits")


def _check_printf(template: Any, values: Any) -> None:
    """Refuse `%` formats whose widths or precisions ask for more than MAX_SIZE."""
    if not isinstance(template, str):
        return
    for width, precision in _PRINTF.findall(template):
        for number in (width, precision):
            if number == "*":
                items = values if isinstance(values, tuple) else (values,)
                for item in items:
                    _width("a '%*' format", item)
            elif number:
                _width("a '%' format", int(number))


def _check_format(template: str, args: Iterable[Any], kwargs: Mapping[str, Any]) -> None:
    """Refuse `str.format` specs whose widths ask for more than MAX_SIZE."""
    try:
        fields = list(string.Formatter().parse(template))
    except ValueError:
        return  # the call itself reports the malformed format
    for _, _, spec, _ in fields:
        if not spec:
            continue
        if "{" in spec:  # a width taken from the arguments
            for value in (*args, *kwargs.values()):
                _width("a format width", value)
        for number in re.findall(r"\d+", spec):
            _width("a format width", int(number))


def _check_replace(text: Any, old: Any, new: Any, count: Any = None) -> None:
    text, old, new = str(text), str(old), str(new)
    found = text.count(old) if old else len(text) + 1
    if (limit := _int(count)) is not None and limit >= 0:
        found = min(found, limit)
    if len(new) > len(old):
        _width("'replace'", len(text) + found * (len(new) - len(old)))


def _check_join(separator: Any, items: Any) -> None:
    if isinstance(items, _SEQUENCES) and isinstance(separator, str | bytes):
        _width("'join'", len(separator) * len(items))


def _check_translate(text: Any, table: Any) -> None:
    if isinstance(table, Mapping) and isinstance(text, str):
        longest = max((len(v) for v in table.values() if isinstance(v, str)), default=1)
        _width("'translate'", len(text) * longest)


def _check_tabs(text: Any, tabsize: Any = 8) -> None:
    if isinstance(text, str | bytes) and (size := _int(tabsize)) is not None:
        tabs = text.count("\t") if isinstance(text, str) else text.count(b"\t")
        _width("'expandtabs'", len(text) + tabs * size)


def _pad(owner: Any, width: Any, *_: Any) -> None:
    _width("padding", width)


def _format_method(owner: Any, *args: Any, **kwargs: Any) -> None:
    _check_format(owner, args, kwargs)


def _format_map(owner: Any, mapping: Any = None, *_: Any) -> None:
    if isinstance(mapping, Mapping):
        _check_format(owner, (), mapping)


# Methods of str and bytes that can grow their result, by name.
_METHOD_CHECKS: dict[str, Callable[..., None]] = {
    "center": _pad,
    "ljust": _pad,
    "rjust": _pad,
    "zfill": _pad,
    "expandtabs": _check_tabs,
    "replace": _check_replace,
    "join": _check_join,
    "translate": _check_translate,
    "format": _format_method,
    "format_map": _format_map,
}


def _check_method(obj: Any, args: tuple[Any, ...], kwargs: dict[str, Any]) -> None:
    # The sandbox hands str.format out as a wrapper; the bound method is behind __wrapped__.
    method = getattr(obj, "__wrapped__", obj)
    owner = getattr(method, "__self__", None)
    if isinstance(owner, str | bytes):
        check = _METHOD_CHECKS.get(getattr(method, "__name__", ""))
        if check is not None:
            check(owner, *args, **{k: v for k, v in kwargs.items() if k not in _CALL_VARS})


def _filter_center(value: Any, width: Any = 80, *_: Any) -> None:
    _width("'center'", width)


def _filter_indent(text: Any, width: Any = 4, *_: Any, **__: Any) -> None:
    lines = str(text).count("\n") + 1
    pad = len(width) if isinstance(width, str) else _int(width) or 0
    _width("'indent'", len(str(text)) + lines * pad)


def _filter_format(value: Any, *args: Any, **kwargs: Any) -> None:
    _check_printf(str(value), tuple(kwargs.values()) or args)


def _filter_wordwrap(
    text: Any, width: Any = 79, words: Any = True, wrap: Any = None, *_: Any
) -> None:
    if isinstance(wrap, str) and len(wrap) > 1:
        _width("'wordwrap'", len(str(text)) * len(wrap))


def _filter_join(value: Any, d: Any = "", *_: Any) -> None:
    _check_join(d, value)


def _filter_batch(value: Any, linecount: Any = 1, fill_with: Any = None) -> None:
    if fill_with is not None:
        _width("'batch'", linecount)


def _filter_slice(value: Any, slices: Any = 1, *_: Any) -> None:
    _width("'slice'", slices)


# Builtin filters that can grow their result, by name (arguments after Jinja's own).
_FILTER_CHECKS: dict[str, Callable[..., None]] = {
    "center": _filter_center,
    "indent": _filter_indent,
    "replace": _check_replace,
    "format": _filter_format,
    "wordwrap": _filter_wordwrap,
    "join": _filter_join,
    "batch": _filter_batch,
    "slice": _filter_slice,
}


def _guard_filter(name: str, func: Callable[..., Any]) -> Callable[..., Any]:
    """Wrap a filter: a step, the check before it for its name, the size check after it."""
    check = _FILTER_CHECKS.get(name)
    skip = 1 if hasattr(func, "jinja_pass_arg") else 0  # context, eval context or environment

    @functools.wraps(func)  # keeps jinja_pass_arg, so Jinja passes what the filter asks for
    def guarded(*args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.step()
        if check is not None:
            check(*args[skip:], **kwargs)
        return _made(func(*args, **kwargs))

    return guarded


@pass_context
def _steps(context: Context, iterable: Iterable[Any]) -> Iterable[Any]:
    # pass_context also keeps Jinja from evaluating a loop over a constant at compile time.
    budget = _BUDGET.get()
    return iterable if budget is None else _counted(iterable, budget)


def _counted(iterable: Iterable[Any], budget: Budget) -> Iterator[Any]:
    for item in iterable:
        budget.step()
        yield item


def _range(*args: Any) -> range:
    numbers = range(*args)
    _width("'range'", len(numbers))
    return numbers


class _Bounded(NodeTransformer):
    """Send every for-loop's iterable and every `~` concatenation through the guards."""

    def visit_For(self, node: nodes.For) -> nodes.Node:  # noqa: N802 - Jinja's visitor naming
        self.generic_visit(node)
        node.iter = nodes.Filter(node.iter, _STEPS, [], [], None, None, lineno=node.lineno)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:  # noqa: N802
        self.generic_visit(node)
        return nodes.Filter(node, _SIZED, [], [], None, None, lineno=node.lineno)


_OPERATORS: dict[str, Callable[[Any, Any], Any]] = {
    "**": operator.pow,
    "*": operator.mul,
    "+": operator.add,
    "%": operator.mod,
}
_BEFORE: dict[str, Callable[[Any, Any], None]] = {
    "**": _check_power,
    "*": _check_repeat,
    "%": _check_printf,
}


class LimitedEnvironment(SandboxedEnvironment):
    """Jinja's sandbox with the limits above on every render made through `render`."""

    intercepted_binops = frozenset(_OPERATORS)

    def __init__(
        self, *, filters: Mapping[str, Callable[..., Any]] | None = None, **options: Any
    ) -> None:
        super().__init__(**options)
        self.filters.update(filters or {})
        self.filters = {name: _guard_filter(name, f) for name, f in self.filters.items()}
        self.filters[_STEPS] = _steps
        self.filters[_SIZED] = _made
        self.globals["range"] = _range
        self.globals.pop("lipsum", None)  # lipsum(n) writes n paragraphs in one call

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        return cast(nodes.Template, _Bounded().visit(tree))

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check = _BEFORE.get(operator)
        if check is not None:
            check(left, right)
        return _made(_OPERATORS[operator](left, right))

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget = _BUDGET.get()
        if budget is not None:
            budget.step()
            if budget.depth >= MAX_DEPTH:
                raise LimitExceeded(
                    f"calls nested more than {MAX_DEPTH} deep; does a macro call itself?"
                )
            budget.depth += 1
        try:
            _check_method(obj, args, kwargs)
            result = super().call(context, obj, *args, **kwargs)
        finally:
            if budget is not None:
                budget.depth -= 1
        owner = getattr(obj, "__self__", None)
        if isinstance(owner, list | dict | set):  # append, extend, update grow the owner
            _made(owner)
        return _made(result)


def render(template: Template, values: dict[str, Any], budget: Budget) -> str:
    """Render within the budget; raise LimitExceeded (or the template's own error)."""
    token = _BUDGET.set(budget)
    try:
        chunks = cast(
            "GeneratorType[str, None, None]",
            template.root_render_func(template.new_context(values)),
        )
        out: list[str] = []
        try:
            for chunk in chunks:
                out.append(chunk)
                budget.written += len(chunk)
                if budget.written > MAX_OUTPUT:
                    break
        except Exception:
            template.environment.handle_exception()  # re-raises with template line numbers
        if budget.written > MAX_OUTPUT:
            frame = chunks.gi_frame
            line = None if frame is None else template.get_corresponding_lineno(frame.f_lineno)
            chunks.close()
            raise LimitExceeded(
                f"the mail is longer than {MAX_OUTPUT:,} characters; write less", line
            )
        return "".join(out)
    finally:
        _BUDGET.reset(token)
