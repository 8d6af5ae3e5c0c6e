"""Limits on rendering a prompt file: its size and its work, so ``{{ 'x' * 1000000000 }}`` or loops nested over
``range(100000)`` end in one line instead of filling the memory or running for hours.

* size: no string or list a template makes (``*``, ``%``, ``+``, a filter, a method call) and no rendered prompt
  may exceed ``MAX_RENDER_CHARS``; a width or count argument above it is refused before anything is built;
* work: every ``{% for %}`` step counts; a render may take ``MAX_LOOP_STEPS`` of them and ``MAX_RENDER_SECONDS``.

The sandbox (``ImmutableSandboxedEnvironment``) keeps templates away from Python; these keep them small and short.
"""

from __future__ import annotations

import contextvars
import functools
import operator
import re
import time
from collections.abc import Callable, Iterable, Iterator
from typing import Any

from jinja2 import nodes
from jinja2.sandbox import ImmutableSandboxedEnvironment, SecurityError

MAX_RENDER_CHARS = 4_000_000  # a prompt is far smaller: it has to fit a model's context window
MAX_LOOP_STEPS = 1_000_000
MAX_RENDER_SECONDS = 10.0
MAX_EXPONENT = 1000
GUARD = "labnb_loop_guard"  # a global the loops call; no template may name it (an unknown variable)


class RenderLimit(SecurityError):
    """A template went past a render limit."""


class _Budget:
    def __init__(self) -> None:
        self.steps = 0
        self.deadline = time.monotonic() + MAX_RENDER_SECONDS

    def tick(self) -> None:
        self.steps += 1
        if self.steps > MAX_LOOP_STEPS:
            raise RenderLimit(f"more than {MAX_LOOP_STEPS:,} loop steps in one render (the limit)")
        if self.steps % 1000 == 0:
            self.check_time()

    def check_time(self) -> None:
        if time.monotonic() > self.deadline:
            raise RenderLimit(f"rendering took longer than {MAX_RENDER_SECONDS:g} s (the limit)")


_budget: contextvars.ContextVar[_Budget | None] = contextvars.ContextVar("labnb_render_budget", default=None)


def _current() -> _Budget:
    budget = _budget.get()
    if budget is None:  # rendered outside ``render`` (jinja's own API): a budget for this thread from now
        budget = _Budget()
        _budget.set(budget)
    return budget


def _sized(value: Any) -> Any:
    if isinstance(value, (str, bytes, list, tuple, dict)) and len(value) > MAX_RENDER_CHARS:
        raise RenderLimit(f"a value of {len(value):,} items or characters (the limit is {MAX_RENDER_CHARS:,})")
    return value


def _check_args(args: Iterable[Any]) -> None:
    for arg in args:
        if isinstance(arg, int) and not isinstance(arg, bool) and arg > MAX_RENDER_CHARS:
            raise RenderLimit(f"a width or count of {arg:,} (the limit is {MAX_RENDER_CHARS:,})")


def _guard_loops(iterable: Iterable[Any]) -> Iterator[Any]:
    budget = _current()
    for value in iterable:
        budget.tick()
        yield value


def _limited_filter(function: Callable[..., Any]) -> Callable[..., Any]:
    @functools.wraps(function)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        _check_args(args[1:])
        _check_args(kwargs.values())
        _current().check_time()
        return _sized(function(*args, **kwargs))

    return wrapper


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """The immutable sandbox with size and work limits on everything a template computes."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.globals[GUARD] = _guard_loops
        self.globals.pop("lipsum", None)  # paragraphs of filler by the hundred thousand: no prompt needs it
        self.filters = {name: _limited_filter(f) for name, f in self.filters.items()}

    def call_binop(self, context: Any, op: str, left: Any, right: Any) -> Any:
        if op == "*":
            for seq, count in ((left, right), (right, left)):
                if (isinstance(seq, (str, list, tuple)) and isinstance(count, int)
                        and len(seq) * count > MAX_RENDER_CHARS):
                    raise RenderLimit(f"'*' would make {len(seq) * count:,} items or characters "
                                      f"(the limit is {MAX_RENDER_CHARS:,})")
        if op == "**" and isinstance(right, (int, float)) and abs(right) > MAX_EXPONENT:
            raise RenderLimit(f"an exponent of {right} (the limit is {MAX_EXPONENT})")
        if op == "%":
            _check_args(right if isinstance(right, tuple) else (right,))
            if isinstance(left, str):
                _check_widths(left)
        return _sized({"*": operator.mul, "**": operator.pow, "+": operator.add}.get(op, operator.mod)(left, right))

    def call(__self, __context: Any, __obj: Any, *args: Any, **kwargs: Any) -> Any:  # jinja's own signature
        _check_args(args)
        _check_args(kwargs.values())
        owner = getattr(getattr(__obj, "__wrapped__", __obj), "__self__", None)  # the sandbox wraps str.format
        if isinstance(owner, str) and getattr(__obj, "__name__", "") in ("format", "format_map"):
            _check_widths(owner)
        _current().check_time()
        return _sized(super().call(__context, __obj, *args, **kwargs))

    def _generate(self, source: nodes.Template, name: str | None, filename: str | None,
                  defer_init: bool = False) -> str:
        for loop in source.find_all(nodes.For):  # every loop steps through the guard
            loop.iter = nodes.Call(nodes.Name(GUARD, "load"), [loop.iter], [], None, None, lineno=loop.lineno)
        return super()._generate(source, name, filename, defer_init)


def _check_widths(text: str) -> None:
    """``'%1000000000s'`` or ``'{:>1000000000}'``: a field width above the limit in a format string."""
    for width in re.findall(r"\d+", text):
        if int(width) > MAX_RENDER_CHARS:
            raise RenderLimit(f"a format width of {int(width):,} (the limit is {MAX_RENDER_CHARS:,})")


def render(template: Any, variables: dict[str, Any]) -> str:
    """``template`` rendered under a fresh budget, the output's size checked as it grows."""
    token = _budget.set(_Budget())
    try:
        size, parts = 0, []
        for part in template.generate(**variables):
            size += len(part)
            if size > MAX_RENDER_CHARS:
                raise RenderLimit(f"the rendered prompt passed {MAX_RENDER_CHARS:,} characters (the limit)")
            parts.append(part)
        return "".join(parts)
    finally:
        _budget.reset(token)
