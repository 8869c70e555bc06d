"""The dashboard's SVG bar charts (`console.charts.bar_chart`): scaling, an empty chart, one
huge hour among small ones, and labels that cannot break out of the markup."""

import xml.etree.ElementTree as ET

from postroom_api.console.charts import HEIGHT, Bar, bar_chart

NS = {"svg": "http://www.w3.org/2000/svg"}


def _svg(bars: list[Bar], title: str = "Mails received per hour") -> ET.Element:
    return ET.fromstring(str(bar_chart(bars, title=title, what="mails")))  # noqa: S314 - ours


def _heights(svg: ET.Element) -> list[float]:
    return [float(rect.attrib["height"]) for rect in svg.iterfind("svg:rect", NS)]


def test_bars_scale_to_the_largest_count() -> None:
    svg = _svg([Bar("09", "09:00 UTC", 2), Bar("10", "10:00 UTC", 4), Bar("11", "11:00", 0)])
    heights = _heights(svg)
    assert heights[1] == 2 * heights[0] and heights[2] == 0
    assert heights[1] < HEIGHT
    titles = [t.text for t in svg.iterfind("svg:rect/svg:title", NS)]
    assert titles == ["09:00 UTC: 2 mails", "10:00 UTC: 4 mails", "11:00: 0 mails"]
    assert svg.attrib["role"] == "img"
    assert svg.attrib["aria-label"] == "Mails received per hour: 6 in all, at most 4 in one bar"
    assert "style" not in str(bar_chart([Bar("a", "a", 1)], title="t", what="w"))


def test_an_empty_chart_says_so() -> None:
    for bars in ([], [Bar("09", "09:00", 0), Bar("10", "10:00", 0)]):
        svg = _svg(bars)
        assert all(height == 0 for height in _heights(svg))
        texts = [t.text for t in svg.iterfind("svg:text", NS)]
        assert "nothing yet" in texts
        assert svg.attrib["aria-label"].startswith("Mails received per hour: 0 in all")


def test_one_huge_hour_leaves_the_small_ones_visible() -> None:
    bars = [Bar(f"{h:02}", f"{h:02}:00", 1) for h in range(24)]
    bars[5] = Bar("05", "05:00", 100_000)
    heights = _heights(_svg(bars))
    assert max(heights) == heights[5]
    assert min(heights) >= 1.0  # a count of 1 next to 100 000 is still drawn
    labels = [t.text for t in _svg(bars).iterfind("svg:text", NS)]
    assert "100000" in labels  # the y axis names the largest count
    assert "00" in labels and "02" in labels and "01" not in labels  # every other tick of 24


def test_labels_are_escaped() -> None:
    hostile = '</title><script>alert(1)</script>"'
    markup = str(bar_chart([Bar(hostile, hostile, 1)], title=hostile, what="<b>"))
    assert "<script>" not in markup and "<b>" not in markup
    svg = ET.fromstring(markup)  # noqa: S314 - ours; still one well-formed element
    assert svg.attrib["aria-label"].startswith(hostile)
    assert svg.find("svg:rect/svg:title", NS) is not None
