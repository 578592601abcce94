"""Draw one system's lineage as server-side SVG, layered left to right.

Columns: vendors, datasets, models (a base model left of what derives from it), the system, its deployments;
empty columns are dropped. Boxes carry the asset's name and kind, arrows carry the relation (training, derived
from, used by, ...). Like web/charts.py: ``role="img"`` with ``<title>`` and ``<desc>``, every text escaped here,
each box with its own ``<title>`` (the full name as a tooltip), and the page shows the same graph as a table.
"""

from __future__ import annotations

from collections import defaultdict
from itertools import count

from markupsafe import Markup, escape

from aicoe.inventory.lineage import Lineage, Node

SVG_NS = "http://www.w3.org/2000/svg"
INK, SOFT, LINE = "#1a1f26", "#4a5361", "#8a94a3"
FILL = {"vendor": "#f3ecfa", "dataset": "#eaf4ee", "model": "#e8f0f8", "system": "#fdf3e3", "deployment": "#f1f2f4"}
KIND_LABEL = {"vendor": "Vendor", "dataset": "Dataset", "model": "Model", "system": "AI system",
              "deployment": "Deployment"}
HREF = {"vendor": "/vendors/{}", "dataset": "/datasets/{}", "model": "/models/{}", "system": "/ai-systems/{}"}
BOX_W, BOX_H, GAP_X, GAP_Y, MARGIN = 190, 46, 110, 22, 16
NAME_CHARS = 26

_ids = count(1)


def href(node: Node) -> str | None:
    """Where a box links: its record's page, unless it has none or lies outside the caller's units."""
    pattern = HREF.get(node.kind)
    return pattern.format(node.ref_id) if pattern and node.in_scope else None


def _truncate(text: str, most: int) -> str:
    return text if len(text) <= most else text[: most - 1] + "…"


def columns(graph: Lineage) -> list[list[Node]]:
    """The nodes in drawing columns; a model sits one column right of its base model."""
    depth: dict[str, int] = {}
    bases = {e.target: e.source for e in graph.edges if e.kind == "derived_from"}

    def model_depth(node_id: str, seen: frozenset[str] = frozenset()) -> int:
        if node_id not in depth:
            base = bases.get(node_id)
            depth[node_id] = 0 if base is None or base in seen else model_depth(base, seen | {node_id}) + 1
        return depth[node_id]

    slots: dict[tuple[int, int], list[Node]] = defaultdict(list)
    for node in graph.nodes:
        order = {"vendor": 0, "dataset": 1, "model": 2, "system": 3, "deployment": 4}[node.kind]
        slots[(order, model_depth(node.id) if node.kind == "model" else 0)].append(node)
    return [slots[key] for key in sorted(slots)]


def _n(value: float) -> str:
    text = f"{value:.1f}"
    return text[:-2] if text.endswith(".0") else text


def lineage_svg(graph: Lineage, *, title: str) -> Markup:
    uid = next(_ids)
    cols = columns(graph)
    tallest = max((len(c) for c in cols), default=1)
    width = MARGIN * 2 + len(cols) * BOX_W + max(len(cols) - 1, 0) * GAP_X
    height = MARGIN * 2 + tallest * BOX_H + (tallest - 1) * GAP_Y
    where: dict[str, tuple[float, float]] = {}
    for c, column in enumerate(cols):
        offset = (height - (len(column) * BOX_H + (len(column) - 1) * GAP_Y)) / 2
        for r, node in enumerate(column):
            where[node.id] = (MARGIN + c * (BOX_W + GAP_X), offset + r * (BOX_H + GAP_Y))
    kinds = defaultdict(int)
    for node in graph.nodes:
        kinds[node.kind] += 1
    summary = ", ".join(f"{kinds[k]} {KIND_LABEL[k].lower()}{'s' if kinds[k] != 1 else ''}"
                        for k in KIND_LABEL if kinds[k])
    desc = f"{summary}; {len(graph.edges)} link{'s' if len(graph.edges) != 1 else ''}. The table lists them."
    parts = [
        f'<svg xmlns="{SVG_NS}" class="chart lineage" role="img" viewBox="0 0 {width} {height}" width="100%" '
        f'preserveAspectRatio="xMidYMid meet" style="max-width:{width}px" '
        f'aria-labelledby="lineage-{uid}-t lineage-{uid}-d" font-family="system-ui, sans-serif" font-size="12">',
        f'<title id="lineage-{uid}-t">{escape(title)}</title>', f'<desc id="lineage-{uid}-d">{escape(desc)}</desc>',
        f'<defs><marker id="lineage-{uid}-arrow" viewBox="0 0 10 10" refX="10" refY="5" markerWidth="7" '
        f'markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="{LINE}"/></marker></defs>',
    ]
    for edge in graph.edges:
        if edge.source not in where or edge.target not in where:
            continue
        (sx, sy), (tx, ty) = where[edge.source], where[edge.target]
        x1, y1, x2, y2 = sx + BOX_W, sy + BOX_H / 2, tx, ty + BOX_H / 2
        bend = max((x2 - x1) / 2, 30)
        parts.append(f'<path d="M{_n(x1)},{_n(y1)} C{_n(x1 + bend)},{_n(y1)} {_n(x2 - bend)},{_n(y2)} '
                     f'{_n(x2)},{_n(y2)}" fill="none" stroke="{LINE}" stroke-width="1.4" '
                     f'marker-end="url(#lineage-{uid}-arrow)"><title>{escape(edge.label)}</title></path>')
        if edge.label:
            parts.append(f'<text x="{_n((x1 + x2) / 2)}" y="{_n((y1 + y2) / 2 - 4)}" text-anchor="middle" '
                         f'font-size="10" fill="{SOFT}" paint-order="stroke" stroke="#fff" stroke-width="3">'
                         f'{escape(_truncate(edge.label, 22))}</text>')
    for node in graph.nodes:
        x, y = where[node.id]
        box = (f'<g class="node {node.kind}"><title>{escape(KIND_LABEL[node.kind])}: {escape(node.label)}</title>'
               f'<rect x="{_n(x)}" y="{_n(y)}" width="{BOX_W}" height="{BOX_H}" rx="6" fill="{FILL[node.kind]}" '
               f'stroke="{INK if node.kind == "system" else LINE}" stroke-width="{2 if node.kind == "system" else 1}"/>'
               f'<text x="{_n(x + 10)}" y="{_n(y + 19)}" fill="{INK}" font-weight="600">'
               f'{escape(_truncate(node.label, NAME_CHARS))}</text>'
               f'<text x="{_n(x + 10)}" y="{_n(y + 36)}" fill="{SOFT}" font-size="11">'
               f'{escape(_truncate(" · ".join(p for p in (KIND_LABEL[node.kind], node.detail) if p), 32))}</text>'
               f'</g>')
        link = href(node)
        parts.append(f'<a href="{escape(link)}">{box}</a>' if link else box)
    parts.append("</svg>")
    return Markup("".join(parts))  # noqa: S704 -- every piece of text was escaped above
