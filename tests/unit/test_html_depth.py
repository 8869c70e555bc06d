"""HTML nesting is capped before the HTML parser sees it (html5ever, behind nh3, is quadratic in
the depth of open elements: 20,000 nested `<div>`s took 2 s a pass, 80,000 took 25 s).

Deeper than MAX_DEPTH, the HTML is reduced to its text; anything a person writes keeps its
structure, and the scan that measures the depth is linear itself.
"""

import time

import pytest

from postroom_converter.analysis import analyse
from postroom_converter.domain.html import MAX_DEPTH, html_to_text, nesting_depth, sanitise_html

BOUND_S = 2.0  # generous for a loaded two-core machine; the old code took 25 s at 80,000


def _timed(html: str) -> tuple[str, str, float]:
    started = time.perf_counter()
    safe, text = sanitise_html(html, ()), html_to_text(html)
    return safe, text, time.perf_counter() - started


@pytest.mark.parametrize("depth", [20_000, 80_000])
def test_deep_nesting_is_reduced_to_its_text_in_bounded_time(depth: int) -> None:
    safe, text, took = _timed("<div>" * depth + "hello &amp; bye" + "</div>" * depth)
    assert took < BOUND_S, f"{depth} levels took {took:.2f} s"
    assert text == "hello & bye"
    assert "hello &amp; bye" in safe and "<div>" not in safe


def test_a_whole_mail_nested_deep_is_analysed_in_bounded_time() -> None:
    raw = (
        b"From: m@example.org\r\nSubject: deep\r\nContent-Type: text/html\r\n\r\n"
        + b"<div>" * 80_000
        + b"deep text"
    )
    started = time.perf_counter()
    result = analyse(raw, signer=None)
    assert time.perf_counter() - started < BOUND_S
    assert result.mail is not None
    assert "deep text" in result.mail.text


def test_ordinary_structure_is_kept() -> None:
    nested = "<div>" * 50 + "<b>bold</b> <a href='https://x.example'>link</a>" + "</div>" * 50
    safe, text, _ = _timed(nested)
    assert "<b>bold</b>" in safe and 'href="https://x.example"' in safe
    assert text == "bold link"


@pytest.mark.parametrize(
    ("html", "depth"),
    [
        ("<p>one<p>two<p>three", 0),  # optional end tags: the parser closes them itself
        ("<ul><li>a<li>b</ul>", 1),
        ("<div><br><img src=x><hr/><span/></div>", 1),
        ("<table><tr><td><table><tr><td>x</table></table>", 2),
        ("<div><div></div><div><div></div></div></div>", 3),
        ("<!-- <div><div> --><div>", 2),  # comments are not parsed: an estimate, never an error
        ("a < b and c > d", 0),
        ("<" * 100_000, 0),
        ("</div>" * 10 + "<div>", 1),
    ],
)
def test_nesting_depth(html: str, depth: int) -> None:
    assert nesting_depth(html) == depth


def test_the_depth_scan_is_linear_on_runs_of_angle_brackets() -> None:
    for html in ("<" * 1_000_000, "<a" * 500_000, "<div " * 200_000 + ">"):
        started = time.perf_counter()
        nesting_depth(html)
        html_to_text(html)
        assert time.perf_counter() - started < BOUND_S


def test_just_under_the_cap_is_parsed_as_html() -> None:
    html = "<div>" * (MAX_DEPTH - 1) + "<b>x</b>" + "</div>" * (MAX_DEPTH - 1)
    assert "<b>x</b>" in sanitise_html(html, ())
