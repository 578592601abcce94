"""The risk heat map as server-side SVG: a likelihood × impact grid, each cell coloured by the level of its
band, showing its count of live risks and linking to the register filtered to that cell.

Like the charts in ``aicoe.web.charts``: ``<svg role="img">`` with a ``<title>`` and a ``<desc>`` that sums up the
data, one ``<title>`` and ``aria-label`` per cell, all text escaped here; the page shows the same counts as a
table for screen readers and copying.
"""

from __future__ import annotations

from collections.abc import Callable
from itertools import count

from markupsafe import Markup, escape

from aicoe.risk.constants import BASES, LEVELS
from aicoe.risk.service import HeatCell, HeatMap
from aicoe.web.charts import FONT, INK, SOFT, SVG_NS

# Fill per level: light tints that keep the dark count text above 7:1 contrast.
FILLS = {"low": "#d9efe0", "medium": "#fff1c7", "high": "#fbd9bf", "critical": "#f6bcbf"}
NO_LEVEL = "#eceff3"
CELL_W, CELL_H = 84, 56
LEFT, TOP, BOTTOM, RIGHT = 132, 16, 58, 12
_ids = count(1)


def _plural(n: int) -> str:
    return f"{n} risk" if n == 1 else f"{n} risks"


def _short(label: str, most: int) -> str:
    return label if len(label) <= most else label[: most - 1] + "…"


def cell_description(heat: HeatMap, cell: HeatCell) -> str:
    level = LEVELS.get(cell.level or "", "no level")
    return (f"Likelihood {heat.likelihood_labels[cell.likelihood - 1]} × impact {heat.impact_labels[cell.impact - 1]}:"
            f" score {cell.score}, {level.lower()}, {_plural(cell.count)}")


def heatmap_svg(heat: HeatMap, href: Callable[[HeatCell], str]) -> Markup:
    """The grid, most likely at the top and most severe impact to the right; ``href`` gives each cell's link."""
    rows, cols = len(heat.likelihood_labels), len(heat.impact_labels)
    width, height = LEFT + cols * CELL_W + RIGHT, TOP + rows * CELL_H + BOTTOM
    uid = next(_ids)
    busiest = max(heat.cells, key=lambda c: (c.count, c.score))
    desc = (f"{_plural(heat.total)} on a {rows} × {cols} matrix"
            + (f"; the most in one cell: {cell_description(heat, busiest)}." if heat.total else "."))
    parts = [
        f'<svg xmlns="{SVG_NS}" class="chart heatmap" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" style="max-width:{width}px" '
        f'aria-labelledby="heat-{uid}-t heat-{uid}-d" {FONT} font-size="12">',
        f'<title id="heat-{uid}-t">{escape(BASES.get(heat.basis, heat.basis))} risk heat map</title>',
        f'<desc id="heat-{uid}-d">{escape(desc)}</desc>',
    ]
    for cell in heat.cells:
        x = LEFT + (cell.impact - 1) * CELL_W
        y = TOP + (rows - cell.likelihood) * CELL_H
        tip = escape(cell_description(heat, cell))
        weight = ' font-weight="700"' if cell.count else ""
        parts.append(
            f'<a href="{escape(href(cell))}" aria-label="{tip}">'
            f'<rect x="{x}" y="{y}" width="{CELL_W}" height="{CELL_H}" fill="{FILLS.get(cell.level or "", NO_LEVEL)}" '
            f'stroke="#ffffff" stroke-width="2"><title>{tip}</title></rect>'
            f'<text x="{x + CELL_W / 2:g}" y="{y + CELL_H / 2 + 6:g}" text-anchor="middle" font-size="18" '
            f'fill="{INK if cell.count else SOFT}"{weight}>{cell.count}</text></a>')
    for position, label in enumerate(heat.likelihood_labels, start=1):
        y = TOP + (rows - position) * CELL_H + CELL_H / 2 + 4
        parts.append(f'<text x="{LEFT - 8}" y="{y:g}" text-anchor="end" fill="{INK}">'
                     f'{escape(_short(label, 18))}<title>{escape(label)}</title></text>')
    for position, label in enumerate(heat.impact_labels, start=1):
        x = LEFT + (position - 1) * CELL_W + CELL_W / 2
        parts.append(f'<text x="{x:g}" y="{TOP + rows * CELL_H + 18}" text-anchor="middle" fill="{INK}">'
                     f'{escape(_short(label, 12))}<title>{escape(label)}</title></text>')
    parts.append(f'<text x="{LEFT + cols * CELL_W / 2:g}" y="{height - 10}" text-anchor="middle" fill="{SOFT}" '
                 f'font-weight="600">Impact →</text>')
    parts.append(f'<text x="14" y="{TOP + rows * CELL_H / 2:g}" text-anchor="middle" fill="{SOFT}" font-weight="600" '
                 f'transform="rotate(-90 14 {TOP + rows * CELL_H / 2:g})">Likelihood →</text>')
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every piece of text was escaped above
