"""Operation limits for admin-written templates: what one Jinja operation may cost.

A template is code an admin (or whoever holds an admin key) writes, run on every auto-reply and
every preview. Jinja's sandbox keeps it away from Postroom's internals but not from the CPU or
the memory: `{{ "x" * 3000000000 }}` allocates 3 GB in one step, `{{ 9 ** 99999999 }}` computes
for hours, and CPython cannot interrupt either once it started. So every operation whose cost
depends on its operands is checked BEFORE it runs, from the operands alone:

- strings, byte strings and sequences built by `*`, `+`, `%`, `~`, filters and methods stay under
  `MAX_VALUE` characters (or elements), integers under `MAX_INT_BITS` bits;
- widths and precisions in format specs (`"%9999999d"`, `"{:>9999999}"`, `center(...)`) stay
  under `MAX_WIDTH`; `*` widths and nested `{}` widths are refused;
- one render has budgets (`Budget`): loop iterations and range elements, calls (macros too, so
  exponential recursion stops), and "work": the characters every operation produced.

These functions only decide; `sandbox.py` wires them into the environment. A violation raises
`TemplateBudgetError`, which names the operation and the limit.
"""

import re
import string
from collections.abc import Iterable, Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from itertools import islice
from typing import Any

from postroom_shared.errors import PermanentError

__all__ = [
    "MAX_CALLS",
    "MAX_INT_BITS",
    "MAX_LOOP_STEPS",
    "MAX_OUTPUT",
    "MAX_VALUE",
    "MAX_WIDTH",
    "MAX_WORK",
    "Budget",
    "TemplateBudgetError",
    "TemplateError",
    "bounded_list",
    "budget",
    "check_binop",
    "check_method",
    "check_printf",
    "check_str_format",
    "footprint",
]

MAX_VALUE = 100_000  # characters of one string, elements of one sequence
MAX_OUTPUT = 200_000  # characters of one rendered part (subject, text, html)
MAX_INT_BITS = 4_096  # ~1,233 decimal digits
MAX_WIDTH = 1_000  # a width or precision in a format spec or a padding method
MAX_LOOP_STEPS = 100_000  # loop iterations + range elements per render
MAX_CALLS = 50_000  # function, method and macro calls per render
MAX_WORK = 5_000_000  # characters produced by all operations of one render


class TemplateError(PermanentError):
    """The template cannot be rendered (syntax, unknown variable, sandbox violation, size)."""


class TemplateBudgetError(TemplateError):
    """The template would exceed an operation limit or a budget of its render."""


@dataclass
class Budget:
    """What one render may still spend; `budget()` is the one of the render in progress."""

    steps: int = MAX_LOOP_STEPS
    calls: int = MAX_CALLS
    work: int = MAX_WORK

    def step(self, n: int = 1) -> None:
        self.steps -= n
        if self.steps < 0:
            raise TemplateBudgetError(f"more than {MAX_LOOP_STEPS} loop steps")

    def call(self) -> None:
        self.calls -= 1
        if self.calls < 0:
            raise TemplateBudgetError(f"more than {MAX_CALLS} calls (runaway macro recursion?)")

    def charge(self, characters: int) -> None:
        self.work -= characters
        if self.work < 0:
            raise TemplateBudgetError(f"more than {MAX_WORK} characters of work")


_CURRENT: ContextVar[Budget] = ContextVar("postroom_template_budget")


def budget() -> Budget:
    """The budget of the render in progress (a fresh one outside any render, e.g. when Jinja
    folds constants while compiling)."""
    current = _CURRENT.get(None)
    if current is None:
        current = Budget()
        _CURRENT.set(current)
    return current


def start_budget() -> Any:
    """Give the render that starts now a fresh budget; returns the token to reset it."""
    return _CURRENT.set(Budget())


def end_budget(token: Any) -> None:
    _CURRENT.reset(token)


def footprint(value: Any, limit: int = MAX_VALUE, depth: int = 0) -> int:
    """About how many characters `value` takes printed; counting stops once over `limit`, so
    this costs at most `limit` steps whatever the value."""
    if isinstance(value, str | bytes | bytearray):
        return len(value)
    if isinstance(value, bool) or value is None:
        return 5
    if isinstance(value, int):
        return value.bit_length() // 3 + 1
    if isinstance(value, float):
        return 24
    if isinstance(value, range):
        return len(value) * 8 if len(value) <= limit else limit + 1
    parts: Iterable[Any]
    if isinstance(value, Mapping):
        parts = (x for pair in value.items() for x in pair)
    elif isinstance(value, list | tuple | set | frozenset):
        parts = value
    else:
        return 16  # macros, namespaces, undefined: small when printed
    if depth > 20:
        return limit + 1
    total = 2
    for part in parts:
        total += footprint(part, limit - total, depth + 1) + 2
        if total > limit:
            break
    return total


def _size_error(what: str, size: int) -> TemplateBudgetError:
    return TemplateBudgetError(f"{what} would be {size} characters or more (limit {MAX_VALUE})")


def _ensure_size(what: str, size: int) -> int:
    if size > MAX_VALUE:
        raise _size_error(what, size)
    budget().charge(size)
    return size


def _is_int(value: Any) -> bool:
    return isinstance(value, int)


def _is_seq(value: Any) -> bool:
    return isinstance(value, str | bytes | bytearray | list | tuple)


def check_binop(operator: str, left: Any, right: Any) -> None:
    """Refuse `left <operator> right` when its result would be too large to build."""
    if operator == "*":
        if _is_int(left) and _is_int(right):
            bits = abs(left).bit_length() + abs(right).bit_length()
            if bits > MAX_INT_BITS:
                raise TemplateBudgetError(f"'*' result over {MAX_INT_BITS} bits")
        elif (_is_seq(left) and _is_int(right)) or (_is_int(left) and _is_seq(right)):
            seq, times = (left, right) if _is_seq(left) else (right, left)
            times = max(int(times), 0)
            if len(seq) * times > MAX_VALUE:
                raise _size_error("repetition", len(seq) * times)
            _ensure_size("repetition", footprint(seq) * times)
    elif operator == "**":
        big = _is_int(left) and _is_int(right) and right > 0 and abs(left) > 1
        if big and (abs(left).bit_length() - 1) * right > MAX_INT_BITS:  # a lower bound
            raise TemplateBudgetError(f"'**' result over {MAX_INT_BITS} bits")
    elif operator == "+":
        if _is_seq(left) and _is_seq(right):
            _ensure_size("concatenation", footprint(left) + footprint(right))
    elif operator == "%" and isinstance(left, str):
        check_printf(left, right)


# printf-style conversion: %[(key)][flags][width][.precision][length]type
_PRINTF_RE = re.compile(r"%(?:\([^)]*\))?[#0\- +]*(\*|\d+)?(?:\.(\*|\d+))?[hlL]?(.)")


def _check_width(spec_part: str | None) -> int:
    if not spec_part:
        return 0
    if spec_part == "*":
        raise TemplateBudgetError("a '*' width or precision in a format string")
    if len(spec_part) > 6 or int(spec_part) > MAX_WIDTH:
        raise TemplateBudgetError(f"a width or precision over {MAX_WIDTH} in a format string")
    return int(spec_part)


def _largest(values: Iterable[Any]) -> int:
    return max((footprint(value) for value in islice(values, MAX_VALUE)), default=0)


def check_printf(fmt: str, args: Any) -> None:
    """`fmt % args` (and the `format` filter): widths bounded, result size bounded (a key can
    be named many times: every conversion counts as the largest value)."""
    padding = fields = 0
    for match in _PRINTF_RE.finditer(fmt):
        padding += _check_width(match.group(1)) + _check_width(match.group(2))
        fields += 1
    if isinstance(args, Mapping):
        values: Iterable[Any] = args.values()
    else:
        values = args if isinstance(args, tuple) else [args]
    _ensure_size("formatted string", len(fmt) + padding + fields * _largest(values))


def check_str_format(fmt: str, args: tuple[Any, ...], kwargs: Mapping[str, Any]) -> None:
    """`fmt.format(*args, **kwargs)`: no nested (argument-supplied) widths, widths bounded."""
    padding = 0
    try:
        fields = [spec for _, field, spec, _ in string.Formatter().parse(fmt) if field is not None]
    except ValueError as exc:
        raise TemplateError(f"format string: {exc}") from exc
    for spec in fields:
        if spec and "{" in spec:
            raise TemplateBudgetError("a nested {} width or precision in a format string")
        for number in re.findall(r"\d+", spec or ""):
            padding += _check_width(number)
    largest = _largest([*args, *kwargs.values()])
    _ensure_size("formatted string", len(fmt) + padding + len(fields) * largest)


def bounded_list(iterable: Any, what: str) -> list[Any]:
    """`iterable` as a list, refused past MAX_VALUE elements (a generator is read only that
    far)."""
    items = list(islice(iter(iterable), MAX_VALUE + 1))
    if len(items) > MAX_VALUE:
        raise _size_error(what, len(items))
    return items


def check_join(items: list[Any], separator: Any, what: str = "join") -> None:
    size = sum(footprint(item) for item in items)
    _ensure_size(what, size + footprint(separator) * max(len(items) - 1, 0))


def check_replace(text: Any, old: Any, new: Any, count: Any) -> None:
    if not isinstance(text, str | bytes) or not isinstance(new, str | bytes):
        return
    hits = text.count(old) if old else len(text) + 1
    if isinstance(count, int) and count >= 0:
        hits = min(hits, count)
    _ensure_size("replace", len(text) + hits * max(len(new) - len(old or ""), 0))


def check_padding(what: str, width: Any) -> None:
    if isinstance(width, int) and width > MAX_VALUE:
        raise _size_error(what, width)


def check_method(owner: Any, name: str, args: tuple[Any, ...], kwargs: dict[str, Any]) -> Any:
    """A method of a built-in value called from a template; returns the arguments to call it
    with (a `join` argument read into a bounded list)."""
    if isinstance(owner, str | bytes | bytearray):
        budget().charge(len(owner))
        if name in {"center", "ljust", "rjust", "zfill"} and args:
            check_padding(name, args[0])
        elif name == "expandtabs":
            tab = args[0] if args else kwargs.get("tabsize", 8)
            tabs = owner.count("\t") if isinstance(owner, str) else owner.count(b"\t")
            if isinstance(tab, int):
                _ensure_size("expandtabs", len(owner) + tabs * max(tab, 0))
        elif name == "replace" and len(args) >= 2:
            check_replace(owner, args[0], args[1], args[2] if len(args) > 2 else -1)
        elif name == "join" and args:
            items = bounded_list(args[0], "join")
            check_join(items, owner)
            args = (items, *args[1:])
        elif name == "translate" and args and isinstance(args[0], Mapping):
            longest = max((footprint(v) for v in args[0].values()), default=1)
            _ensure_size("translate", len(owner) * max(longest, 1))
    elif isinstance(owner, int) and name == "to_bytes":
        length = args[0] if args else kwargs.get("length", 1)
        check_padding("to_bytes", length)
    return args
