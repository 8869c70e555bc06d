"""The Jinja environment admin-written templates run in, and rendering under budgets.

Jinja's immutable sandbox keeps templates away from Postroom's internals (no `__class__`, no
mutation of the values they are given). On top of it every operation whose cost depends on its
operands is checked first (`template_limits.py`): the intercepted operators `*`, `**`, `+`, `%`,
string concatenation `~`, every call (methods of strings and numbers, macros), every filter,
every `for` loop, `range` and `lipsum`, and the joining of macro and block output. Whatever
slips past is bounded by the worker process the replier and the API render in (`renderer.py`:
memory limit and deadline).

This module imports only Jinja and the limits, so the render worker starts quickly.
"""

import functools
import inspect
from collections.abc import Callable, Iterable, Iterator, Mapping
from types import BuiltinMethodType
from typing import Any

from jinja2 import StrictUndefined, Template, nodes, pass_eval_context
from jinja2 import TemplateError as JinjaError
from jinja2.nodes import EvalContext
from jinja2.runtime import Context, markup_join, str_join
from jinja2.sandbox import ImmutableSandboxedEnvironment
from jinja2.utils import generate_lorem_ipsum
from jinja2.visitor import NodeTransformer

from postroom_replier.domain.template_limits import (
    MAX_LOOP_STEPS,
    MAX_OUTPUT,
    MAX_WIDTH,
    TemplateBudgetError,
    TemplateError,
    bounded_list,
    budget,
    check_binop,
    check_join,
    check_method,
    check_padding,
    check_printf,
    check_replace,
    check_str_format,
    end_budget,
    footprint,
    start_budget,
)

__all__ = ["HTML", "MAX_OUTPUT", "TEXT", "LimitedSandbox", "render_parts"]


_LOOP = "_postroom_loop"
_CONCAT = "_postroom_concat"
_RESERVED = frozenset({_LOOP, _CONCAT})


def _loop(iterable: Any) -> Any:
    """Every `for` loop iterates through this: each iteration is a step of the budget."""
    if hasattr(iterable, "__len__"):
        budget().step(len(iterable))  # loops have no `break`: a loop runs to the end
        return iterable
    return _counted(iterable)


def _counted(iterable: Iterable[Any]) -> Iterator[Any]:
    spend = budget()
    for item in iterable:
        spend.step()
        yield item


@pass_eval_context
def _concat(eval_ctx: EvalContext, *parts: Any) -> str:
    """`a ~ b ~ c`, with the size checked before the string is built."""
    check_join(list(parts), "", "'~' concatenation")
    return markup_join(parts) if eval_ctx.autoescape else str_join(parts)


def _range(*args: int) -> range:
    steps = range(*args)
    if len(steps) > MAX_LOOP_STEPS:
        raise TemplateBudgetError(f"range of {len(steps)}: more than {MAX_LOOP_STEPS} loop steps")
    return steps


def _lipsum(n: int = 5, html: bool = True, min: int = 20, max: int = 100) -> str:
    if n > 20 or max > 200:
        raise TemplateBudgetError("lipsum: at most 20 paragraphs of at most 200 words")
    return generate_lorem_ipsum(n=n, html=html, min=min, max=max)


def _bounded_concat(parts: Iterable[str]) -> str:
    """How Jinja joins macro, block and filter-block output: size checked first."""
    chunks = list(parts)
    check_join(chunks, "", "macro or block output")
    return "".join(chunks)


def _check_indent(a: dict[str, Any]) -> None:
    width = a["width"]
    size = len(width) if isinstance(width, str) else width if isinstance(width, int) else 0
    if size > MAX_WIDTH:
        raise TemplateBudgetError(f"indent: width over {MAX_WIDTH}")
    text = str(a["s"])
    check_padding("indent", len(text) + (text.count("\n") + 1) * size)


def _check_wordwrap(a: dict[str, Any]) -> None:
    text, width = str(a["s"]), a["width"]
    lines = len(text) // max(width, 1) + 1 if isinstance(width, int) else 1
    check_padding("wordwrap", len(text) + lines * len(a["wrapstring"] or "\n"))


def _check_round(a: dict[str, Any]) -> None:
    if isinstance(a["precision"], int) and abs(a["precision"]) > 100:
        raise TemplateBudgetError("round: precision over 100 digits")


def _check_json_indent(a: dict[str, Any]) -> None:
    indent = a["indent"]
    size = len(indent) if isinstance(indent, str) else indent if isinstance(indent, int) else 0
    if size > 16:
        raise TemplateBudgetError("tojson: indent over 16")


def _read_join_input(a: dict[str, Any]) -> None:
    a["value"] = bounded_list(a["value"], "join")
    check_join(a["value"], a["d"])


_FILTER_CHECKS: dict[str, Callable[[dict[str, Any]], None]] = {
    "center": lambda a: check_padding("center", a["width"]),
    "indent": _check_indent,
    "format": lambda a: check_printf(str(a["value"]), a["kwargs"] or a["args"]),
    "replace": lambda a: check_replace(a["s"], a["old"], a["new"], a["count"]),
    "join": _read_join_input,
    "batch": lambda a: check_padding("batch", a["linecount"]),
    "slice": lambda a: check_padding("slice", a["slices"]),
    "wordwrap": _check_wordwrap,
    "round": _check_round,
    "tojson": _check_json_indent,
}


def _limited_filter(name: str, fn: Callable[..., Any]) -> Callable[..., Any]:
    """`fn` with its arguments checked (filters whose cost grows with an argument) and its
    result charged to the render's work budget."""
    check = _FILTER_CHECKS.get(name)
    target = inspect.unwrap(fn)
    signature = inspect.signature(target)
    # Jinja's sync/async dispatchers receive an eval context that the wrapped function, whose
    # signature we bind against, does not declare
    head = 1 if hasattr(fn, "jinja_pass_arg") and not hasattr(target, "jinja_pass_arg") else 0

    @functools.wraps(fn)  # keeps Jinja's pass_context / pass_eval_context marker
    def limited(*args: Any, **kwargs: Any) -> Any:
        if check is not None:
            bound = signature.bind(*args[head:], **kwargs)
            bound.apply_defaults()
            check(bound.arguments)
            args, kwargs = (*args[:head], *bound.args), bound.kwargs
        result = fn(*args, **kwargs)
        budget().charge(footprint(result))
        return result

    return limited


class _Guard(NodeTransformer):
    """Routes every `for` loop through `_loop` and every `~` through `_concat`."""

    def visit_For(self, node: nodes.For) -> nodes.Node:
        self.generic_visit(node)
        node.iter = nodes.Call(nodes.Name(_LOOP, "load"), [node.iter], [], None, None)
        return node

    def visit_Concat(self, node: nodes.Concat) -> nodes.Node:
        self.generic_visit(node)
        return nodes.Call(nodes.Name(_CONCAT, "load"), list(node.nodes), [], None, None)


class LimitedSandbox(ImmutableSandboxedEnvironment):
    """Jinja's immutable sandbox with the operation limits of `template_limits.py`."""

    intercepted_binops = frozenset({"*", "**", "+", "%"})
    concat = staticmethod(_bounded_concat)

    def __init__(self, **options: Any) -> None:
        super().__init__(undefined=StrictUndefined, **options)
        self.globals.update({"range": _range, "lipsum": _lipsum, _LOOP: _loop, _CONCAT: _concat})
        self.filters = {name: _limited_filter(name, fn) for name, fn in self.filters.items()}

    def _parse(self, source: str, name: str | None, filename: str | None) -> nodes.Template:
        tree = super()._parse(source, name, filename)
        for found in tree.find_all((nodes.Name, nodes.Macro)):
            named = found.name if isinstance(found, nodes.Name | nodes.Macro) else ""
            stored = isinstance(found, nodes.Macro) or getattr(found, "ctx", "load") != "load"
            if named in _RESERVED and stored:
                raise TemplateError(f"the name {named!r} is reserved")
        guarded = _Guard().visit(tree)
        assert isinstance(guarded, nodes.Template)
        guarded.set_environment(self)
        return guarded

    def call_binop(self, context: Context, operator: str, left: Any, right: Any) -> Any:
        check_binop(operator, left, right)
        return self.binop_table[operator](left, right)

    def call(self, context: Context, obj: Any, /, *args: Any, **kwargs: Any) -> Any:
        budget().call()
        if isinstance(obj, BuiltinMethodType):
            args = check_method(obj.__self__, obj.__name__, args, kwargs)
        result = super().call(context, obj, *args, **kwargs)
        budget().charge(footprint(result))
        return result

    def wrap_str_format(self, value: Any) -> Callable[..., str] | None:
        wrapped = super().wrap_str_format(value)
        if wrapped is None:
            return None
        fmt: str = value.__self__
        is_map = value.__name__ == "format_map"

        def checked(*args: Any, **kwargs: Any) -> str:
            if is_map:
                mapping = args[0] if args and isinstance(args[0], Mapping) else {}
                check_str_format(fmt, (), mapping)
            else:
                check_str_format(fmt, args, kwargs)
            return wrapped(*args, **kwargs)

        return functools.update_wrapper(checked, wrapped)


TEXT = LimitedSandbox(autoescape=False, keep_trailing_newline=True)
HTML = LimitedSandbox(autoescape=True)


@functools.lru_cache(maxsize=128)
def _compiled(env: LimitedSandbox, source: str) -> Template:
    # compiling costs far more than rendering (the built-in templates are compiled per mail
    # otherwise); a compiled template holds no state of a render, so reusing it is safe
    return env.from_string(source)


def _render(env: LimitedSandbox, source: str, values: dict[str, Any], part: str) -> str:
    chunks: list[str] = []
    size = 0
    try:
        stream = _compiled(env, source).generate(values)
        for chunk in stream:  # streamed, so runaway output stops at the cap, not after it
            size += len(chunk)
            if size > MAX_OUTPUT:
                raise TemplateBudgetError(f"rendered output over {MAX_OUTPUT} characters")
            chunks.append(chunk)
    except TemplateError as exc:
        raise type(exc)(f"{part}: {exc}") from exc
    except MemoryError as exc:
        raise TemplateBudgetError(f"{part}: out of memory") from exc
    except RecursionError as exc:
        raise TemplateBudgetError(f"{part}: recursion too deep") from exc
    except JinjaError as exc:
        raise TemplateError(f"{part}: {type(exc).__name__}: {exc}") from exc
    except Exception as exc:  # a sandbox violation or an error inside a filter
        raise TemplateError(f"{part}: {type(exc).__name__}: {exc}") from exc
    return "".join(chunks)


def render_parts(
    subject: str, text: str, html: str | None, values: dict[str, Any]
) -> tuple[str, str, str | None]:
    """Subject, text and (optional) HTML part of one template, sharing one budget; raises
    TemplateError (TemplateBudgetError when a limit was hit)."""
    token = start_budget()
    try:
        return (
            _render(TEXT, subject, values, "subject"),
            _render(TEXT, text, values, "text"),
            _render(HTML, html, values, "html") if html else None,
        )
    finally:
        end_budget(token)
