"""Hostile templates: each one stops within a bound with an error that names the limit, while
ordinary templates (formatting, joins, small loops, macros) still render.

Before the operation limits, `{{ "x" * 3000000000 }}` allocated 3 GB and `{{ 9 ** 99999999 }}`
never finished, on the API's event loop (preview) and in the replier.
"""

import time
from collections.abc import AsyncIterator

import pytest

from postroom_replier.domain.templates import (
    Rendered,
    TemplateBudgetError,
    TemplateError,
    render,
)
from postroom_replier.renderer import TemplateRenderer
from postroom_shared.models import NotificationTemplate

VALUES = {"item": {"title": "Printer", "token": "INC-1"}, "message": {"subject": "Help"}}
BOUND_S = 5.0  # each hostile template is refused well within this (typically < 0.5 s)


def _template(text: str, subject: str = "s", html: str | None = None) -> NotificationTemplate:
    return NotificationTemplate(id="t", name="T", subject=subject, text=text, html=html)


HOSTILE = [
    ('{{ "x" * 3000000000 }}', "repetition"),
    ('{{ ["x"] * 3000000000 }}', "repetition"),
    ("{{ 9 ** 99999999 }}", "'**' result over 4096 bits"),
    ("{{ (2 ** 3000) * (2 ** 3000) }}", "'*' result over 4096 bits"),
    ("{{ range(10 ** 9) | join }}", "loop steps"),
    ("{{ range(99999) | join }}", "join would be"),
    ("{{ range(99999) | join('x' * 99) }}", "join would be"),
    ("{{ ('x' * 99999).join(range(999)) }}", "join would be"),
    ("{% for i in range(10000) %}{% for j in range(10000) %}{% endfor %}{% endfor %}", "loop"),
    (
        "{% set l = range(10000) | list %}{% for a in l %}{% for b in l %}{% endfor %}{% endfor %}",
        "loop steps",
    ),
    ("{% macro f(n) %}{{ f(n) }}{% endmacro %}{{ f(1) }}", "recursion too deep"),
    (
        "{% macro f(n) %}{% if n %}{{ f(n - 1) }}{{ f(n - 1) }}{% endif %}{% endmacro %}"
        "{{ f(40) }}",
        "calls",
    ),
    ('{{ "%999999999d" % 1 }}', "width or precision over 1000"),
    ('{{ "%.999999999f" % 1.5 }}', "width or precision over 1000"),
    ('{{ "%*d" % (999999999, 1) }}', "'*' width"),
    ('{{ "%s" % ("x" * 99990,) ~ "%s" % ("y" * 99990,) }}', "'~' concatenation would be"),
    ('{{ ("%(a)s" * 20000) % {"a": "x" * 99} }}', "formatted string would be"),
    ('{{ "%s%s" | format("x" * 99999, "y" * 99999) }}', "formatted string would be"),
    ('{{ "{:>999999999}".format(1) }}', "width or precision over 1000"),
    ('{{ "{:{}}".format(1, 999999999) }}', "nested {}"),
    ('{{ ("{0}" * 30000).format("x" * 99) }}', "formatted string would be"),
    ('{{ "{a:>99999999}".format_map({"a": 1}) }}', "width or precision over 1000"),
    ('{{ "x".center(999999999) }}', "center would be"),
    ('{{ "x" | center(999999999) }}', "center would be"),
    ('{{ "x".ljust(999999999) }}{{ "1".zfill(999999999) }}', "ljust would be"),
    ('{{ ("\t" * 999).expandtabs(999999) }}', "expandtabs would be"),
    ('{{ ("x" * 99999).replace("x", "y" * 99999) }}', "replace would be"),
    ('{{ ("x" * 99999) | replace("x", "y" * 999) }}', "replace would be"),
    ('{{ (1).to_bytes(999999999, "big") }}', "to_bytes would be"),
    ("{{ lipsum(999999) }}", "lipsum"),
    ("{{ lipsum(5, max=999999999) }}", "lipsum"),
    ('{{ [1] | batch(999999999, "x") | list }}', "batch would be"),
    ("{{ [1] | slice(999999999) | list }}", "slice would be"),
    ('{{ 1.5 | round(999999999, "floor") }}', "round"),
    ('{{ {"a": 1} | tojson(999999999) }}', "tojson"),
    ('{{ ("a\n" * 50000) | indent(999) }}', "indent would be"),
    ('{{ "a" | indent(99999) }}', "indent: width over"),
    ('{{ ("x" * 99999) | wordwrap(1, wrapstring="y" * 999) }}', "wordwrap would be"),
    (
        '{% set ns = namespace(s="x") %}{% for i in range(40) %}{% set ns.s = ns.s ~ ns.s %}'
        "{% endfor %}",
        "'~' concatenation would be",
    ),
    (
        '{% set ns = namespace(s="x") %}{% for i in range(40) %}{% set ns.s = ns.s + ns.s %}'
        "{% endfor %}",
        "concatenation would be",
    ),
    (
        '{% set ns = namespace(s="x") %}{% for i in range(40) %}'
        "{% set ns.s = [ns.s, ns.s] | join %}{% endfor %}",
        "join would be",
    ),
    (
        '{% set x %}{% for i in range(99999) %}{{ "y" * 99 }}{% endfor %}{% endset %}{{ x }}',
        "characters of work",
    ),
    (
        '{% macro m() %}{% for i in range(9999) %}{{ "y" * 99 }}{% endfor %}{% endmacro %}'
        "{{ m() }}",
        "macro or block output would be",
    ),
    ("{% for i in range(99999) %}{{ 'y' * 100 }}{% endfor %}", "rendered output over"),
]


@pytest.mark.parametrize(("source", "limit"), HOSTILE)
def test_hostile_template_stops_quickly_naming_the_limit(source: str, limit: str) -> None:
    started = time.monotonic()
    with pytest.raises(TemplateBudgetError) as caught:
        render(_template(source), VALUES)
    took = time.monotonic() - started
    assert limit in str(caught.value), str(caught.value)
    assert took < BOUND_S, f"{took:.2f} s"


def test_hostile_subject_and_html_parts_are_limited_too() -> None:
    with pytest.raises(TemplateBudgetError, match=r"^subject: repetition"):
        render(_template("ok", subject='{{ "x" * 3000000000 }}'), VALUES)
    with pytest.raises(TemplateBudgetError, match=r"^html: '\*\*' result"):
        render(_template("ok", html="<p>{{ 9 ** 99999999 }}</p>"), VALUES)


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ('{{ "%s, %05.1f%%" % (item.title, 12.345) }}', "Printer, 012.3%"),
        ('{{ "{} [{:>6}]".format(item.token, 42) }}', "INC-1 [    42]"),
        ('{{ "%(t)s" | format(t=item.title) }}', "Printer"),
        ('{{ ["a", "b"] | join(", ") }} {{ "-".join(["x", "y"]) }}', "a, b x-y"),
        ("{% for i in range(3) %}{{ loop.index }}{% endfor %}", "123"),
        ('{{ item.title ~ " " ~ item.token }}', "Printer INC-1"),
        ('{{ "ab" * 3 }} {{ 2 ** 10 }} {{ [1] + [2] }}', "ababab 1024 [1, 2]"),
        ('{% macro hi(n) %}Hi {{ n }}{% endmacro %}{{ hi("you") | upper }}', "HI YOU"),
        ('{{ "x" | center(5) }}|{{ "a\nb" | indent(2, true) }}', "  x  |  a\n  b"),
        ("{{ lipsum(2, html=false).count('\n\n') }}", "1"),
    ],
)
def test_ordinary_templates_still_render(source: str, expected: str) -> None:
    assert render(_template(source), VALUES).text == expected


@pytest.mark.parametrize(
    ("source", "error"),
    [
        ("{{ nope.x }}", "UndefinedError"),
        ("{{ item.__class__ }}", "unsafe"),
        ("{% set _postroom_loop = 1 %}", "reserved"),  # the loop guard cannot be replaced
        ("{% macro _postroom_concat() %}{% endmacro %}", "reserved"),
    ],
)
def test_errors_other_than_limits_are_plain_template_errors(source: str, error: str) -> None:
    with pytest.raises(TemplateError, match=error) as caught:
        render(_template(source), VALUES)
    assert not isinstance(caught.value, TemplateBudgetError)


# --- the worker process: what the operation limits do not foresee --------------------------

# Every single step is cheap and within every limit (a substring test over 100 KB), but 100,000
# of them take many seconds: only the deadline stops it.
SLOW = (
    '{% set s = "x" * 50000 ~ "y" %}{% set t = "x" * 99999 %}'
    "{% for i in range(99999) %}{% if s in t %}{% endif %}{% endfor %}"
)


@pytest.fixture
async def renderer() -> AsyncIterator[TemplateRenderer]:
    rendering = TemplateRenderer(workers=1, timeout_s=1.0)
    yield rendering
    await rendering.aclose()


async def test_worker_renders_like_the_process_itself(renderer: TemplateRenderer) -> None:
    template = _template("Hi {{ item.title }}", subject="[{{ item.token }}]", html="<b>&</b>")
    assert await renderer.render(template, VALUES) == Rendered("[INC-1]", "Hi Printer", "<b>&</b>")
    with pytest.raises(TemplateBudgetError, match="'\\*\\*' result over"):
        await renderer.render(_template("{{ 9 ** 99999999 }}"), VALUES)
    with pytest.raises(TemplateError, match="UndefinedError"):
        await renderer.render(_template("{{ nope.x }}"), VALUES)


async def test_a_render_past_the_deadline_is_stopped_and_the_next_one_works(
    renderer: TemplateRenderer,
) -> None:
    await renderer.render(_template("warm"), VALUES)  # the worker is up: time only the render
    started = time.monotonic()
    with pytest.raises(TemplateBudgetError, match="longer than 1 s"):
        await renderer.render(_template(SLOW), VALUES)
    took = time.monotonic() - started
    print(f"slow template stopped after {took:.2f} s (deadline 1 s)")
    assert took < 1.0 + BOUND_S
    assert (
        await renderer.render(_template("again {{ item.token }}"), VALUES)
    ).text == "again INC-1"
