"""The server-side SVG charts: well-formed XML, accessible, marks where the scales put them, text escaped."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date

import pytest
from markupsafe import Markup

from aicoe.web import charts
from aicoe.web.charts import ScatterPoint, bar_chart, line_chart, nice_ticks, scatter_quadrants

NS = {"s": charts.SVG_NS}


def parse(markup: Markup) -> ET.Element:
    assert isinstance(markup, Markup)
    root = ET.fromstring(str(markup))
    assert root.tag == f"{{{charts.SVG_NS}}}svg"
    assert root.get("role") == "img"
    return root


def title_desc(root: ET.Element) -> tuple[str, str]:
    title, desc = root.find("s:title", NS), root.find("s:desc", NS)
    assert title is not None and desc is not None
    assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
    return title.text or "", desc.text or ""


def texts(root: ET.Element) -> list[str]:
    return [t.text or "" for t in root.iter(f"{{{charts.SVG_NS}}}text")]


# --- ticks and numbers ---------------------------------------------------------------------------------------

@pytest.mark.parametrize(("lo", "hi", "expected"), [
    (0, 1, [0, 0.25, 0.5, 0.75, 1]),
    (5, 40, [0, 10, 20, 30, 40]),
    (1, 5, [1, 2, 3, 4, 5]),
    (0.1, 0.3, [0.1, 0.15, 0.2, 0.25, 0.3]),
    (3, 3, [2.6, 2.8, 3.0, 3.2, 3.4]),
    (0, 0, [-1, -0.5, 0, 0.5, 1]),
    (-7, 12, [-10, -5, 0, 5, 10, 15]),
    (40, 5, [0, 10, 20, 30, 40]),
])
def test_nice_ticks_cover_the_range_with_round_steps(lo: float, hi: float, expected: list[float]) -> None:
    assert nice_ticks(lo, hi) == expected


def test_nice_ticks_refuse_non_finite_bounds() -> None:
    with pytest.raises(ValueError):
        nice_ticks(0, float("inf"))


def test_number_formats() -> None:
    assert [charts.fmt(v) for v in (0, 1234.5, 2.0, -0.125, 1e-12)] == ["0", "1,234.5", "2", "-0.12", "0"]
    assert [charts.fmt_short(v) for v in (9999, 12_000, 1_500_000, -2_000_000_000)] == ["9,999", "12k", "1.5M", "-2B"]


def test_date_ticks_months_and_days() -> None:
    assert charts.date_ticks(date(2024, 1, 15), date(2024, 12, 31)) == [
        date(2024, 3, 1), date(2024, 5, 1), date(2024, 7, 1), date(2024, 9, 1), date(2024, 11, 1)]
    assert charts.date_ticks(date(2022, 3, 1), date(2024, 6, 30)) == [
        date(2022, 7, 1), date(2023, 1, 1), date(2023, 7, 1), date(2024, 1, 1)]
    assert charts.date_ticks(date(2024, 1, 1), date(2024, 1, 20)) == [
        date(2024, 1, 1), date(2024, 1, 8), date(2024, 1, 15)]


# --- line chart ------------------------------------------------------------------------------------------------

SERIES = [(date(2024, 3, 1), 20.0), (date(2024, 1, 1), 10.0), (date(2024, 6, 1), 15.0)]


def test_line_chart_places_points_on_the_scales() -> None:
    root = parse(line_chart(SERIES, target=40, baseline=5, unit="%", title="Adoption"))
    box = charts.LINE_BOX
    # y ticks 0..40; x runs from 1 Jan (left edge) to 1 Jun (right edge, 152 days later)
    circles = root.findall(".//s:circle", NS)
    got = [(float(c.get("cx")), float(c.get("cy"))) for c in circles]  # type: ignore[arg-type]
    x_mar = box.left + box.width * 60 / 152
    expected = [(box.left, box.bottom - box.height * 10 / 40), (x_mar, box.bottom - box.height * 20 / 40),
                (box.right, box.bottom - box.height * 15 / 40)]
    for (gx, gy), (ex, ey) in zip(got, expected, strict=True):
        assert gx == pytest.approx(ex, abs=0.06) and gy == pytest.approx(ey, abs=0.06)
    polyline = root.find(".//s:polyline", NS)
    assert polyline is not None
    assert polyline.get("points") == " ".join(f"{c.get('cx')},{c.get('cy')}" for c in circles)
    assert [c.findtext("s:title", namespaces=NS) for c in circles] == [
        "2024-01-01: 10 %", "2024-03-01: 20 %", "2024-06-01: 15 %"]


def test_line_chart_reference_lines_and_description() -> None:
    root = parse(line_chart(SERIES, target=40, baseline=5, unit="%", title="Adoption",
                            target_date=date(2024, 12, 31)))
    box = charts.LINE_BOX
    target = root.find(".//s:line[@class='ref-target']", NS)
    baseline = root.find(".//s:line[@class='ref-baseline']", NS)
    assert target is not None and baseline is not None
    assert float(target.get("y1")) == pytest.approx(box.top)  # type: ignore[arg-type]
    assert float(baseline.get("y1")) == pytest.approx(box.bottom - box.height * 5 / 40, abs=0.06)  # type: ignore[arg-type]
    title, desc = title_desc(root)
    assert title == "Adoption"
    assert desc == ("3 measurements; from 2024-01-01 to 2024-06-01; latest 15 %; target 40 % by 2024-12-31; "
                    "baseline 5 %.")
    # the axis reaches the target date: the last point is no longer at the right edge
    last = root.findall(".//s:circle", NS)[-1]
    assert float(last.get("cx")) == pytest.approx(box.left + box.width * 152 / 365, abs=0.06)  # type: ignore[arg-type]
    assert {"Target 40", "Baseline 5", "0", "40"} <= set(texts(root))


def test_line_chart_lower_is_better_scale_includes_target_below_values() -> None:
    root = parse(line_chart([(date(2024, 1, 1), 120.0), (date(2024, 2, 1), 90.0)], target=30, baseline=120,
                            unit="min", title="Handling time"))
    labels = texts(root)
    assert labels[:5] == ["25", "50", "75", "100", "125"] and "Target 30" in labels


def test_line_chart_empty_and_single_point() -> None:
    empty = parse(line_chart([], target=1, baseline=0, unit="", title="Nothing"))
    assert "No measurements yet" in texts(empty)
    assert empty.find(".//s:polyline", NS) is None
    assert title_desc(empty)[1] == "0 measurements; target 1; baseline 0."
    one = parse(line_chart([(date(2024, 5, 10), 7.0)], target=None, baseline=None, unit="", title="One"))
    circle = one.find(".//s:circle", NS)
    box = charts.LINE_BOX
    assert circle is not None
    assert float(circle.get("cx")) == pytest.approx(box.left + box.width / 2)  # type: ignore[arg-type]


def test_line_chart_escapes_text() -> None:
    markup = line_chart(SERIES, target=1, baseline=0, unit="<b>&", title='Q&A "<script>"')
    assert "<script>" not in str(markup) and "<b>" not in str(markup)
    title, desc = title_desc(parse(markup))
    assert title == 'Q&A "<script>"'
    assert "latest 15 <b>&" in desc


def test_non_finite_values_are_left_out() -> None:
    root = parse(line_chart([(date(2024, 1, 1), float("nan")), (date(2024, 1, 2), 3.0)], target=None,
                            baseline=None, unit="", title="t"))
    assert len(root.findall(".//s:circle", NS)) == 1


# --- quadrant scatter ------------------------------------------------------------------------------------------

QUADRANTS = ("Strategic bets", "Quick wins", "Money pits", "Fill-ins")


def test_scatter_places_points_and_quadrants() -> None:
    root = parse(scatter_quadrants(
        [ScatterPoint("A", 1, 5, "/use-cases/UC-0001"), ScatterPoint("B", 5, 1), ScatterPoint("C", 3, 3)],
        x_label="Feasibility", y_label="Value", quadrant_labels=QUADRANTS))
    box, inset = charts.SCATTER_BOX, charts.SCATTER_INSET
    left, right = box.left + inset, box.right - inset
    top, bottom = box.top + inset, box.bottom - inset
    circles = root.findall(".//s:circle", NS)
    got = [(float(c.get("cx")), float(c.get("cy"))) for c in circles]  # type: ignore[arg-type]
    assert got == [(left, top), (right, bottom), ((left + right) / 2, (top + bottom) / 2)]
    link = root.find(".//s:a", NS)
    assert link is not None and link.get("href") == "/use-cases/UC-0001"
    assert link.get("aria-label") == "A: Feasibility 1, Value 5"
    quads = {q.get("data-quadrant"): q for q in root.findall(".//s:rect[@class='quadrant']", NS)}
    assert list(quads) == ["top-left", "top-right", "bottom-left", "bottom-right"]
    assert float(quads["top-right"].get("x")) == pytest.approx((left + right) / 2)  # type: ignore[arg-type]
    labels = [t.text for t in root.findall(".//s:text[@class='quadrant-label']", NS)]
    assert labels == list(QUADRANTS)
    title, desc = title_desc(root)
    assert title == "Value against Feasibility"
    assert desc == ("3 points; Feasibility across (1 to 5), Value up; quadrants top left: Strategic bets, "
                    "top right: Quick wins, bottom left: Money pits, bottom right: Fill-ins.")


def test_scatter_clamps_and_spreads_coincident_points() -> None:
    root = parse(scatter_quadrants([ScatterPoint("x", 9, -2), ScatterPoint("p", 4, 4), ScatterPoint("q", 4, 4)],
                                   x_label="F", y_label="V"))
    box, inset = charts.SCATTER_BOX, charts.SCATTER_INSET
    circles = root.findall(".//s:circle", NS)
    assert (float(circles[0].get("cx")), float(circles[0].get("cy"))) == (box.right - inset, box.bottom - inset)  # type: ignore[arg-type]
    p, q = [(float(c.get("cx")), float(c.get("cy"))) for c in circles[1:]]  # type: ignore[arg-type]
    assert p != q
    assert abs(p[0] - q[0]) == pytest.approx(14, abs=0.1)
    assert "p, q" in [t.text for t in root.findall(".//s:text[@class='point-label']", NS)]


def test_scatter_escapes_labels_and_links() -> None:
    markup = scatter_quadrants([ScatterPoint('<img src=x onerror="1">', 2, 2, "/u?a=1&b=<2>")],
                               x_label="F&B", y_label="V", quadrant_labels=("<q>", "", "", ""))
    assert "<img" not in str(markup) and "<q>" not in str(markup)
    root = parse(markup)
    link = root.find(".//s:a", NS)
    assert link is not None and link.get("href") == "/u?a=1&b=<2>"
    assert '<img src=x onerror="1">' in [t.text for t in root.iter(f"{{{charts.SVG_NS}}}text")]


def test_scatter_many_points_have_no_text_labels_and_empty_has_message() -> None:
    many = [ScatterPoint(f"P{i}", 1 + (i % 5), 1 + (i // 5) % 5) for i in range(charts.LABELLED_POINTS + 1)]
    root = parse(scatter_quadrants(many, x_label="F", y_label="V"))
    assert root.findall(".//s:text[@class='point-label']", NS) == []
    assert len(root.findall(".//s:circle", NS)) == len(many)
    empty = parse(scatter_quadrants([], x_label="F", y_label="V"))
    assert "Nothing to show yet" in texts(empty)
    with pytest.raises(ValueError):
        scatter_quadrants([], x_label="F", y_label="V", lo=5, hi=1)


# --- bars ------------------------------------------------------------------------------------------------------

def test_bar_chart_lengths_are_proportional() -> None:
    root = parse(bar_chart([("Idea", 10), ("Pilot & co", 3), ("Loss", -2)], unit="EUR", title="Funnel"))
    bars = root.findall(".//s:rect[@class='bar']", NS)
    widths = [float(b.get("width")) for b in bars]  # type: ignore[arg-type]
    # ticks -5..10 over the plot width: 10 units -> 2/3 of it, 3 -> 1/5, 2 -> 2/15
    plot = widths[0] * 3 / 2
    assert widths[1] == pytest.approx(plot / 5, abs=0.1)
    assert widths[2] == pytest.approx(plot * 2 / 15, abs=0.1)
    zero = float(bars[0].get("x"))  # type: ignore[arg-type]
    assert float(bars[2].get("x")) + widths[2] == pytest.approx(zero, abs=0.1)  # the loss ends at zero
    assert bars[2].get("fill") == charts.DANGER
    assert [b.findtext("s:title", namespaces=NS) for b in bars] == ["Idea: 10 EUR", "Pilot & co: 3 EUR",
                                                                     "Loss: -2 EUR"]
    assert title_desc(root) == ("Funnel", "Idea: 10 EUR; Pilot & co: 3 EUR; Loss: -2 EUR.")
    assert "Pilot &amp; co" in str(bar_chart([("Pilot & co", 1)], unit="", title="t"))


def test_bar_chart_truncates_long_labels_and_handles_empty() -> None:
    root = parse(bar_chart([("x" * 50, 1.0)], unit="", title="t"))
    assert "x" * 29 + "…" in texts(root)
    assert root.findall(".//s:rect[@class='bar']", NS)[0].findtext("s:title", namespaces=NS) == "x" * 50 + ": 1"
    empty = parse(bar_chart([], unit="", title="Nothing"))
    assert "No data yet" in texts(empty)
    assert title_desc(empty) == ("Nothing", "No data.")


def test_several_charts_on_one_page_have_distinct_ids() -> None:
    a, b = parse(bar_chart([], unit="", title="a")), parse(bar_chart([], unit="", title="b"))
    assert a.get("aria-labelledby") != b.get("aria-labelledby")
