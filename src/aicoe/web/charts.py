"""Server-side SVG charts: a KPI trend line, a quadrant scatter and horizontal bars.

Our own small renderer instead of a JavaScript library: pages stay usable without scripts, charts print, and
tests can parse the output as XML. Every chart is ``<svg role="img">`` with a ``<title>`` and a ``<desc>``
summarising the data; each mark carries its own ``<title>`` (a tooltip), and the page shows the same figures
as a table (the alternative for screen readers and for copying). All text is escaped here, so callers pass
plain strings and get back ``Markup`` to place in a template as is.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import date, timedelta
from itertools import count

from markupsafe import Markup, escape

SVG_NS = "http://www.w3.org/2000/svg"
INK, SOFT, GRID, BRAND, OK, DANGER = "#1a1f26", "#4a5361", "#d5dbe3", "#0b4f8a", "#1b6b3a", "#a4161a"
FONT = 'font-family="system-ui, sans-serif"'
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

_ids = count(1)  # unique ids per chart so several charts on a page keep their title/desc references apart


@dataclass(frozen=True)
class ScatterPoint:
    label: str
    x: float
    y: float
    href: str | None = None


@dataclass(frozen=True)
class Box:
    """The plotting area inside the margins, in SVG user units."""

    left: float
    top: float
    width: float
    height: float

    @property
    def right(self) -> float:
        return self.left + self.width

    @property
    def bottom(self) -> float:
        return self.top + self.height


# --- numbers and ticks -------------------------------------------------------------------------------------

def fmt(value: float) -> str:
    """A figure for a label: thousands separated, at most two decimals, no trailing zeros."""
    if abs(value) < 1e-9:
        return "0"
    text = f"{value:,.2f}".rstrip("0").rstrip(".")
    return "-0" if text == "-0" else text


def fmt_short(value: float) -> str:
    """A compact figure for axis ticks: 12k, 1.5M, 2B."""
    for limit, scale, suffix in ((1e9, 1e9, "B"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(value) >= limit:
            return fmt(round(value / scale, 1)) + suffix
    return fmt(value)


def nice_ticks(lo: float, hi: float, target: int = 5) -> list[float]:
    """Round tick values (steps of 1, 2, 2.5 or 5 times a power of ten) covering ``lo``..``hi``.

    The first tick is at or below ``lo`` and the last at or above ``hi``, so the ticks are the axis domain.
    Equal bounds are widened first (by 10% of their size, or by 1 around zero).
    """
    if not (math.isfinite(lo) and math.isfinite(hi)):
        raise ValueError("tick bounds must be finite")
    if lo > hi:
        lo, hi = hi, lo
    if hi - lo < 1e-12:
        pad = abs(lo) * 0.1 or 1.0
        lo, hi = lo - pad, hi + pad
    raw = (hi - lo) / max(target - 1, 1)
    magnitude = 10 ** math.floor(math.log10(raw))
    step = next(m * magnitude for m in (1, 2, 2.5, 5, 10) if m * magnitude >= raw - 1e-12)
    first = math.floor(lo / step + 1e-9) * step
    last = math.ceil(hi / step - 1e-9) * step
    n = round((last - first) / step)
    return [_clean(first + i * step) for i in range(n + 1)]


def _clean(value: float) -> float:
    """Drop floating-point noise from a tick (0.30000000000000004 -> 0.3)."""
    return float(f"{value:.10g}") + 0.0


def date_ticks(start: date, end: date, most: int = 6) -> list[date]:
    """Dates for x-axis ticks within ``start``..``end``: first days of months at a step of 1, 2, 3, 6, 12 or
    24 months, or for spans under two months every 1, 2, 7 or 14 days; at most ``most`` of them."""
    span = (end - start).days
    if span < 60:
        step = next((s for s in (1, 2, 7, 14, 28) if span // s + 1 <= most), 28)
        return [start + timedelta(days=i * step) for i in range(span // step + 1)]
    months = (end.year - start.year) * 12 + end.month - start.month
    step = next((s for s in (1, 2, 3, 6, 12, 24, 60) if months // s + 1 <= most), 120)
    first = date(start.year, start.month, 1)
    if first < start:
        first = _add_months(first, 1)
    if step >= 12:  # whole years start in January
        while first.month != 1:
            first = _add_months(first, 1)
    elif step > 1:  # quarters and halves start in January, April/July, ...
        while (first.month - 1) % step:
            first = _add_months(first, 1)
    ticks = []
    tick = first
    while tick <= end:
        ticks.append(tick)
        tick = _add_months(tick, step)
    return ticks or [start, end]


def _add_months(day: date, months: int) -> date:
    index = day.year * 12 + day.month - 1 + months
    return date(index // 12, index % 12 + 1, 1)


def date_label(day: date, daily: bool) -> str:
    return f"{day.day} {MONTHS[day.month - 1]}" if daily else f"{MONTHS[day.month - 1]} {day.year}"


# --- svg assembly --------------------------------------------------------------------------------------------

def _n(value: float) -> str:
    """A coordinate with at most one decimal."""
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def _open(width: int, height: int, title: str, desc: str, css_class: str) -> tuple[str, list[str]]:
    uid = next(_ids)
    head = (
        f'<svg xmlns="{SVG_NS}" class="chart {css_class}" role="img" viewBox="0 0 {width} {height}" '
        f'width="100%" preserveAspectRatio="xMidYMid meet" style="max-width:{width}px" '
        f'aria-labelledby="chart-{uid}-t chart-{uid}-d" {FONT} font-size="12">'
    )
    return head, [f'<title id="chart-{uid}-t">{escape(title)}</title>',
                  f'<desc id="chart-{uid}-d">{escape(desc)}</desc>']


def _close(head: str, parts: Iterable[str]) -> Markup:
    return Markup(head + "".join(parts) + "</svg>")  # noqa: S704 -- every piece of text was escaped above


def _text(x: float, y: float, content: str, *, anchor: str = "start", fill: str = SOFT, extra: str = "") -> str:
    return (f'<text x="{_n(x)}" y="{_n(y)}" text-anchor="{anchor}" fill="{fill}"{extra}>'
            f'{escape(content)}</text>')


def _line(x1: float, y1: float, x2: float, y2: float, stroke: str, extra: str = "") -> str:
    return f'<line x1="{_n(x1)}" y1="{_n(y1)}" x2="{_n(x2)}" y2="{_n(y2)}" stroke="{stroke}"{extra}/>'


def _empty(head: str, parts: list[str], width: int, height: int, message: str) -> Markup:
    parts.append(_text(width / 2, height / 2, message, anchor="middle"))
    return _close(head, parts)


def _finite(value: float | None) -> bool:
    return value is not None and math.isfinite(value)


def _truncate(label: str, most: int) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


# --- line chart ----------------------------------------------------------------------------------------------

LINE_W, LINE_H = 640, 300
LINE_BOX = Box(left=64, top=30, width=LINE_W - 64 - 90, height=LINE_H - 30 - 44)


def line_chart(series: Sequence[tuple[date, float]], *, target: float | None, baseline: float | None,
               unit: str, title: str, target_date: date | None = None) -> Markup:
    """A measurement series over time with the target and baseline as horizontal reference lines.

    The x axis runs from the first measurement to the last (or to ``target_date`` when it is later, so the
    remaining way is visible); the y axis covers the values, the target and the baseline with round ticks.
    Points are drawn in date order; non-finite values are left out.
    """
    points = sorted((d, float(v)) for d, v in series if _finite(v))
    unit_suffix = f" {unit}" if unit else ""
    summary = [f"{len(points)} measurement{'s' if len(points) != 1 else ''}"]
    if points:
        summary.append(f"from {points[0][0].isoformat()} to {points[-1][0].isoformat()}")
        summary.append(f"latest {fmt(points[-1][1])}{unit_suffix}")
    if _finite(target):
        summary.append(f"target {fmt(target)}{unit_suffix}"  # type: ignore[arg-type]
                       + (f" by {target_date.isoformat()}" if target_date else ""))
    if _finite(baseline):
        summary.append(f"baseline {fmt(baseline)}{unit_suffix}")  # type: ignore[arg-type]
    head, parts = _open(LINE_W, LINE_H, title, "; ".join(summary) + ".", "line-chart")
    if not points:
        return _empty(head, parts, LINE_W, LINE_H, "No measurements yet")

    box = LINE_BOX
    values = [v for _, v in points] + [r for r in (target, baseline) if _finite(r)]  # type: ignore[misc]
    ticks = nice_ticks(min(values), max(values))
    y_lo, y_hi = ticks[0], ticks[-1]
    start = points[0][0]
    end = max(points[-1][0], target_date) if target_date else points[-1][0]
    if start == end:
        start, end = start - timedelta(days=7), end + timedelta(days=7)
    span = (end - start).days

    def x_of(day: date) -> float:
        return box.left + box.width * (day - start).days / span

    def y_of(value: float) -> float:
        return box.bottom - box.height * (value - y_lo) / (y_hi - y_lo)

    for tick in ticks:  # horizontal grid and y labels
        y = y_of(tick)
        parts.append(_line(box.left, y, box.right, y, GRID))
        parts.append(_text(box.left - 8, y + 4, fmt_short(tick), anchor="end"))
    daily = span < 60
    for day in date_ticks(start, end):
        x = x_of(day)
        parts.append(_line(x, box.bottom, x, box.bottom + 5, SOFT))
        parts.append(_text(x, box.bottom + 20, date_label(day, daily), anchor="middle"))
    parts.append(_line(box.left, box.bottom, box.right, box.bottom, SOFT))
    if unit:
        parts.append(_text(box.left - 8, box.top - 16, unit, anchor="end"))

    for value, label, colour, dash in ((baseline, "Baseline", SOFT, "2 4"), (target, "Target", OK, "8 4")):
        if _finite(value):
            y = y_of(value)  # type: ignore[arg-type]
            parts.append(_line(box.left, y, box.right, y, colour,
                               f' stroke-width="2" stroke-dasharray="{dash}" class="ref-{label.lower()}"'))
            parts.append(_text(box.right + 6, y + 4, f"{label} {fmt_short(value)}", fill=colour))  # type: ignore[arg-type]

    coords = " ".join(f"{_n(x_of(d))},{_n(y_of(v))}" for d, v in points)
    parts.append(f'<polyline points="{coords}" fill="none" stroke="{BRAND}" stroke-width="2.5" '
                 f'stroke-linejoin="round" class="series"/>')
    for d, v in points:
        parts.append(f'<circle cx="{_n(x_of(d))}" cy="{_n(y_of(v))}" r="4" fill="{BRAND}" class="point">'
                     f'<title>{escape(d.isoformat())}: {escape(fmt(v) + unit_suffix)}</title></circle>')
    return _close(head, parts)


# --- quadrant scatter ----------------------------------------------------------------------------------------

SCATTER_W, SCATTER_H = 560, 480
SCATTER_BOX = Box(left=56, top=16, width=SCATTER_W - 56 - 16, height=SCATTER_H - 16 - 56)
SCATTER_INSET = 28  # the scale ends inside the frame: edge points stay whole, clear of the quadrant labels
LABELLED_POINTS = 15  # above this, labels would overlap: points keep their tooltip and the page's table


def scatter_quadrants(points: Sequence[ScatterPoint], *, x_label: str, y_label: str, x_mid: float = 3,
                      y_mid: float = 3, lo: float = 1, hi: float = 5,
                      quadrant_labels: tuple[str, str, str, str] = ("", "", "", "")) -> Markup:
    """Points on a ``lo``..``hi`` square split at ``x_mid``/``y_mid`` into four named quadrants.

    ``quadrant_labels`` are (top-left, top-right, bottom-left, bottom-right). Values outside the scale are
    drawn at its edge. Points at the same spot are spread on a small circle around it so each stays visible
    and clickable; a point with ``href`` is a link.
    """
    if not lo < hi:
        raise ValueError("lo must be below hi")
    shown = [p for p in points if _finite(p.x) and _finite(p.y)]
    corners = ("top left", "top right", "bottom left", "bottom right")
    named = [f"{c}: {q}" for c, q in zip(corners, quadrant_labels, strict=True) if q]
    desc = (f"{len(shown)} point{'s' if len(shown) != 1 else ''}; {x_label} across ({fmt(lo)} to {fmt(hi)}), "
            f"{y_label} up" + (f"; quadrants {', '.join(named)}" if named else "") + ".")
    head, parts = _open(SCATTER_W, SCATTER_H, f"{y_label} against {x_label}", desc, "scatter-chart")
    box = SCATTER_BOX

    inner = Box(box.left + SCATTER_INSET, box.top + SCATTER_INSET, box.width - 2 * SCATTER_INSET,
                box.height - 2 * SCATTER_INSET)

    def x_of(value: float) -> float:
        return inner.left + inner.width * (min(max(value, lo), hi) - lo) / (hi - lo)

    def y_of(value: float) -> float:
        return inner.bottom - inner.height * (min(max(value, lo), hi) - lo) / (hi - lo)

    mx, my = x_of(x_mid), y_of(y_mid)
    tints = ("#eef3f9", "#e7f5ec", "#fdecec", "#f6f4ea")
    quads = ((box.left, box.top, mx, my), (mx, box.top, box.right, my),
             (box.left, my, mx, box.bottom), (mx, my, box.right, box.bottom))
    for (x1, y1, x2, y2), tint, label, corner in zip(quads, tints, quadrant_labels, corners, strict=True):
        parts.append(f'<rect x="{_n(x1)}" y="{_n(y1)}" width="{_n(x2 - x1)}" height="{_n(y2 - y1)}" '
                     f'fill="{tint}" class="quadrant" data-quadrant="{corner.replace(" ", "-")}"/>')
        if label:
            left = corner.endswith("left")
            ty = y1 + 18 if corner.startswith("top") else y2 - 8
            parts.append(_text(x1 + 8 if left else x2 - 8, ty, label, anchor="start" if left else "end",
                               fill=INK, extra=' font-weight="600" class="quadrant-label"'))
    parts.append(_line(mx, box.top, mx, box.bottom, SOFT, ' stroke-dasharray="4 3"'))
    parts.append(_line(box.left, my, box.right, my, SOFT, ' stroke-dasharray="4 3"'))
    parts.append(f'<rect x="{_n(box.left)}" y="{_n(box.top)}" width="{_n(box.width)}" height="{_n(box.height)}" '
                 f'fill="none" stroke="{SOFT}"/>')
    for tick in nice_ticks(lo, hi, target=int(hi - lo) + 1 if (hi - lo) <= 10 else 6):
        if lo - 1e-9 <= tick <= hi + 1e-9:
            parts.append(_text(x_of(tick), box.bottom + 18, fmt(tick), anchor="middle"))
            parts.append(_text(box.left - 8, y_of(tick) + 4, fmt(tick), anchor="end"))
    parts.append(_text(box.left + box.width / 2, SCATTER_H - 12, x_label, anchor="middle", fill=INK,
                       extra=' font-weight="600"'))
    parts.append(_text(16, box.top + box.height / 2, y_label, anchor="middle", fill=INK,
                       extra=f' font-weight="600" transform="rotate(-90 16 {_n(box.top + box.height / 2)})"'))

    groups: dict[tuple[float, float], list[ScatterPoint]] = {}
    for p in shown:
        groups.setdefault((round(x_of(p.x), 1), round(y_of(p.y), 1)), []).append(p)
    with_labels = len(shown) <= LABELLED_POINTS
    for (cx, cy), members in groups.items():
        for i, p in enumerate(members):
            px, py = cx, cy
            if len(members) > 1:  # spread coincident points on a circle
                angle = 2 * math.pi * i / len(members)
                px, py = cx + 7 * math.cos(angle), cy + 7 * math.sin(angle)
            tip = f"{p.label}: {x_label} {fmt(p.x)}, {y_label} {fmt(p.y)}"
            mark = (f'<circle cx="{_n(px)}" cy="{_n(py)}" r="6" fill="{BRAND}" fill-opacity="0.85" '
                    f'stroke="#ffffff" class="point"><title>{escape(tip)}</title></circle>')
            if p.href:
                mark = f'<a href="{escape(p.href)}" aria-label="{escape(tip)}">{mark}</a>'
            parts.append(mark)
        if with_labels:  # one label per spot: coincident points share it
            text = _truncate(", ".join(p.label for p in members), 32)
            offset = 16 if len(members) > 1 else 9
            anchor = "end" if cx > inner.left + inner.width * 0.75 else "start"
            parts.append(_text(cx - offset if anchor == "end" else cx + offset, cy + 4, text, anchor=anchor,
                               fill=INK, extra=' class="point-label"'))
    if not shown:
        parts.append(_text(box.left + box.width / 2, box.top + box.height / 2, "Nothing to show yet",
                           anchor="middle"))
    return _close(head, parts)


# --- horizontal bars -----------------------------------------------------------------------------------------

BAR_W = 640
BAR_ROW, BAR_TOP, BAR_BOTTOM = 30, 12, 30
LABEL_CHARS = 30


def bar_chart(rows: Sequence[tuple[str, float]], *, unit: str, title: str) -> Markup:
    """One horizontal bar per row, in the order given, with its value at the end of the bar.

    Bars start at zero; negative values extend left of a zero line. Long labels are shortened on the chart
    (the full label is in each bar's tooltip and in the desc).
    """
    shown = [(str(label), float(v)) for label, v in rows if _finite(v)]
    unit_suffix = f" {unit}" if unit else ""
    desc = "; ".join(f"{label}: {fmt(v)}{unit_suffix}" for label, v in shown) or "No data"
    height = BAR_TOP + BAR_BOTTOM + BAR_ROW * max(len(shown), 1)
    head, parts = _open(BAR_W, height, title, desc + ".", "bar-chart")
    if not shown:
        return _empty(head, parts, BAR_W, height, "No data yet")
    longest = max(len(_truncate(label, LABEL_CHARS)) for label, _ in shown)
    left = min(max(60, 7 * longest + 16), 230)
    box = Box(left=left, top=BAR_TOP, width=BAR_W - left - 80, height=BAR_ROW * len(shown))
    ticks = nice_ticks(min(0.0, *(v for _, v in shown)), max(0.0, *(v for _, v in shown)))
    lo, hi = ticks[0], ticks[-1]

    def x_of(value: float) -> float:
        return box.left + box.width * (value - lo) / (hi - lo)

    for tick in ticks:
        x = x_of(tick)
        parts.append(_line(x, box.top, x, box.bottom, GRID))
        parts.append(_text(x, box.bottom + 18, fmt_short(tick), anchor="middle"))
    zero = x_of(0.0)
    for i, (label, value) in enumerate(shown):
        y = box.top + i * BAR_ROW
        x0, x1 = sorted((zero, x_of(value)))
        tip = f"{label}: {fmt(value)}{unit_suffix}"
        parts.append(f'<rect x="{_n(x0)}" y="{_n(y + 5)}" width="{_n(x1 - x0)}" height="{BAR_ROW - 10}" '
                     f'fill="{DANGER if value < 0 else BRAND}" class="bar"><title>{escape(tip)}</title></rect>')
        parts.append(_text(box.left - 8, y + BAR_ROW / 2 + 4, _truncate(label, LABEL_CHARS), anchor="end",
                           fill=INK))
        parts.append(_text(x1 + 6, y + BAR_ROW / 2 + 4, fmt_short(value) + unit_suffix, fill=INK,
                           extra=' class="bar-value"'))
    parts.append(_line(zero, box.top, zero, box.bottom, SOFT))
    return _close(head, parts)
