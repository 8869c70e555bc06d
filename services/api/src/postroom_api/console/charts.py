"""Bar charts as inline SVG, drawn on the server from plain numbers.

The console runs no script of its own to draw, and its CSP forbids `style=""`: the bars are
`<rect>`s sized by attributes and coloured by classes (console.css), each with a `<title>` that
gives its exact count on hover, and the whole chart carries an accessible name. The page shows
the same numbers in a table for screen readers and for copying.
"""

from collections.abc import Sequence
from dataclasses import dataclass

from markupsafe import Markup, escape

__all__ = ["Bar", "bar_chart"]

WIDTH, HEIGHT = 480, 160
_TOP, _BOTTOM, _LEFT = 14, 20, 34  # room for the maximum's label, the ticks and the y axis
_MAX_TICKS = 12


@dataclass(frozen=True)
class Bar:
    """One bar: its short axis label (`"09"`), what it stands for (`"09:00 UTC"`), its count."""

    tick: str
    name: str
    count: int


def _fmt(value: float) -> str:
    return f"{value:.1f}".removesuffix(".0")


def bar_chart(bars: Sequence[Bar], *, title: str, what: str, css: str = "") -> Markup:
    """An `<svg role="img">` with one bar per entry, scaled so the largest fills the height
    (a count above zero stays at least one unit tall, so one huge hour does not hide the
    others), every `n`th tick labelled, and the total in the accessible name."""
    total = sum(bar.count for bar in bars)
    top = max((bar.count for bar in bars), default=0)
    plot_w, plot_h = WIDTH - _LEFT, HEIGHT - _TOP - _BOTTOM
    step = plot_w / len(bars) if bars else plot_w
    every = max(1, -(-len(bars) // _MAX_TICKS))
    label = f"{title}: {total} in all" + (f", at most {top} in one bar" if bars else "")
    parts = [
        f'<svg class="chart {escape(css)}" role="img" aria-label="{escape(label)}"'
        f' viewBox="0 0 {WIDTH} {HEIGHT}"'
        f' xmlns="http://www.w3.org/2000/svg">',
        f"<title>{escape(label)}</title>",
        f'<line class="axis" x1="{_LEFT}" y1="{_TOP + plot_h}" x2="{WIDTH}" y2="{_TOP + plot_h}"/>',
        f'<text class="axis-label" x="{_LEFT - 4}" y="{_TOP + 4}" text-anchor="end">{top}</text>',
        f'<text class="axis-label" x="{_LEFT - 4}" y="{_TOP + plot_h}" text-anchor="end">0</text>',
    ]
    for n, bar in enumerate(bars):
        x = _LEFT + n * step
        height = 0.0 if not bar.count else max(1.0, plot_h * bar.count / top)
        parts.append(
            f'<rect class="bar" x="{_fmt(x + step * 0.1)}" y="{_fmt(_TOP + plot_h - height)}"'
            f' width="{_fmt(step * 0.8)}" height="{_fmt(height)}">'
            f"<title>{escape(bar.name)}: {bar.count} {escape(what)}</title></rect>"
        )
        if n % every == 0:
            parts.append(
                f'<text class="axis-label" x="{_fmt(x + step / 2)}" y="{HEIGHT - 4}"'
                f' text-anchor="middle">{escape(bar.tick)}</text>'
            )
    if not total:
        parts.append(
            f'<text class="axis-label" x="{_LEFT + plot_w / 2:.0f}" y="{_TOP + plot_h / 2:.0f}"'
            f' text-anchor="middle">nothing yet</text>'
        )
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every value above is escaped or a number
