"""The evaluation report: one self-contained HTML document rendered from a result dict.

Self-contained because reports are archived as evidence and served under a strict Content-Security-Policy: the
CSS is inline, charts are inline SVG drawn here, there is no script and no external URL. Every string that
comes from data (group names, feature names, reasons) is escaped. Undefined values show as an em dash whose
reason is both in a tooltip and in the section's footnotes, so the report never shows a number that is not
there. Pass and fail are told by words as well as colour.
"""

from __future__ import annotations

import math
from html import escape
from typing import Any

DASH = "\u2014"
PALETTE = ("#1f6feb", "#d97706", "#7c3aed", "#059669", "#db2777", "#0891b2")
REFERENCE_COLOUR, CURRENT_COLOUR = "#64748b", "#d97706"
METHODS = ("between_groups", "to_overall")
DISTANCES, DISTANCE = ("wasserstein", "jensen_shannon"), "a distance method has no p-value"
CSS = """
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;color:#1e293b;margin:0;background:#f8fafc}
main{max-width:1100px;margin:0 auto;padding:24px}
h1{font-size:24px;margin:0 0 8px}h2{font-size:19px;margin:32px 0 8px;border-bottom:1px solid #cbd5e1}
h3{font-size:16px;margin:20px 0 6px}
table{border-collapse:collapse;margin:8px 0 16px;background:#fff}
caption{text-align:left;font-weight:600;padding:4px 0;color:#334155}
th,td{border:1px solid #e2e8f0;padding:4px 8px;text-align:left;vertical-align:top}
td.num{text-align:right;font-variant-numeric:tabular-nums}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 16px;margin:8px 0}
dl.meta dt{font-weight:600}dl.meta dd{margin:0;word-break:break-all}
.badge{display:inline-block;padding:1px 8px;border-radius:10px;font-weight:700;font-size:12px}
.pass{background:#dcfce7;color:#166534}.fail{background:#fee2e2;color:#991b1b}
.small{background:#fef9c3;color:#854d0e}
.undef{color:#64748b;cursor:help;border-bottom:1px dotted #64748b}
.notes{font-size:12px;color:#475569}.charts{display:flex;flex-wrap:wrap;gap:16px}
svg{background:#fff;border:1px solid #e2e8f0}
svg text{font:11px system-ui,sans-serif;fill:#334155}
"""


# --- formatting -------------------------------------------------------------------------------------------------

def _e(value: object) -> str:
    return escape(str(value), quote=True)


def _finite(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)


def _num(value: object, reason: str | None = None, *, digits: int = 4) -> str:
    """A number, or the em dash with its reason as a tooltip."""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if _finite(value):
        number = float(value)  # type: ignore[arg-type]
        return f"{number:,.{digits}f}" if abs(number) < 1e6 else f"{number:,.0f}"
    title = f' title="{_e(reason)}"' if reason else ""
    return f'<span class="undef"{title}>{DASH}</span>'


def _badge(passed: bool | None, yes: str = "PASS", no: str = "FAIL") -> str:
    if passed is None:
        return '<span class="badge">n/a</span>'
    return f'<span class="badge pass">{yes}</span>' if passed else f'<span class="badge fail">{no}</span>'


def _table(caption: str, headers: list[str], rows: list[list[str]], numeric: set[int] | None = None) -> str:
    """``rows`` hold cells already escaped or rendered; headers and caption are escaped here."""
    numeric = numeric or set()
    head = "".join(f'<th scope="col">{_e(h)}</th>' for h in headers)
    body = "".join("<tr>" + "".join(f'<td class="num">{c}</td>' if i in numeric else f"<td>{c}</td>"
                                    for i, c in enumerate(row)) + "</tr>" for row in rows)
    return f"<table><caption>{_e(caption)}</caption><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _footnotes(undefined: dict[str, Any], prefix: str = "") -> str:
    if not undefined:
        return ""
    items = "".join(f"<li><strong>{_e(prefix + str(name))}</strong>: {_e(reason)}</li>"
                    for name, reason in undefined.items())
    return f'<div class="notes"><p>Undefined values ({DASH}):</p><ul>{items}</ul></div>'


def _metric_names(entry: dict[str, Any], skip: set[str]) -> list[str]:
    return [k for k, v in entry.items() if k not in skip and (v is None or _finite(v)) and not isinstance(v, bool)]


# --- charts -----------------------------------------------------------------------------------------------------

def _svg(width: int, height: int, title: str, body: str) -> str:
    return (f'<svg role="img" width="{width}" height="{height}" viewBox="0 0 {width} {height}">'
            f"<title>{_e(title)}</title>{body}</svg>")


def _bars(title: str, labels: list[str], values: list[float | None], *, line: float | None = None,
          line_label: str = "overall", top: float = 1.0) -> str:
    """Horizontal bars in [0, top], one per label, with an optional vertical reference line."""
    left, width, bar = 150, 260, 16
    height = 28 + bar * len(labels) + 6 * len(labels)
    scale = width / top if top > 0 else 0.0
    parts = [f'<text x="8" y="16">{_e(title)}</text>']
    for i, (label, value) in enumerate(zip(labels, values, strict=True)):
        y = 26 + i * (bar + 6)
        short = label if len(label) <= 22 else label[:21] + "\u2026"
        parts.append(f'<text x="{left - 6}" y="{y + 12}" text-anchor="end">{_e(short)}</text>')
        if value is None:
            parts.append(f'<text x="{left + 4}" y="{y + 12}">{DASH} undefined</text>')
            continue
        length = max(0.0, min(value, top)) * scale
        parts.append(f'<rect x="{left}" y="{y}" width="{length:.1f}" height="{bar}" fill="{PALETTE[0]}"/>'
                     f'<text x="{left + length + 4:.1f}" y="{y + 12}">{value:.3f}</text>')
    if line is not None and _finite(line):
        x = left + max(0.0, min(line, top)) * scale
        parts.append(f'<line x1="{x:.1f}" y1="22" x2="{x:.1f}" y2="{height - 2}" stroke="#0f172a" '
                     f'stroke-dasharray="4 3"/><text x="{x + 3:.1f}" y="{height - 4}">{_e(line_label)}</text>')
    return _svg(left + width + 80, height, title, "".join(parts))


def _reliability(bins: list[dict[str, Any]]) -> str:
    """The reliability diagram: fraction positive against mean score per bin, and the diagonal."""
    size, pad = 240, 30
    span = size - 2 * pad

    def xy(x: float, y: float) -> str:
        return f"{pad + x * span:.1f},{size - pad - y * span:.1f}"

    parts = [f'<rect x="{pad}" y="{pad}" width="{span}" height="{span}" fill="none" stroke="#cbd5e1"/>',
             f'<polyline points="{xy(0, 0)} {xy(1, 1)}" fill="none" stroke="#94a3b8" stroke-dasharray="4 3"/>',
             f'<text x="{pad}" y="{size - 8}">mean score</text>',
             f'<text x="4" y="{pad - 8}">fraction positive</text>']
    points = [(b["mean_score"], b["fraction_positive"]) for b in bins
              if _finite(b.get("mean_score")) and _finite(b.get("fraction_positive"))]
    if points:
        parts.append(f'<polyline points="{" ".join(xy(x, y) for x, y in points)}" fill="none" '
                     f'stroke="{PALETTE[0]}" stroke-width="2"/>')
        parts.extend(f'<circle cx="{xy(x, y).split(",")[0]}" cy="{xy(x, y).split(",")[1]}" r="3" '
                     f'fill="{PALETTE[0]}"/>' for x, y in points)
    return _svg(size, size, "Reliability diagram: observed fraction of positives against the mean predicted "
                "score per bin; the dashed diagonal is perfect calibration", "".join(parts))


def _sparkline(feature: str, histogram: dict[str, Any]) -> str:
    """Reference (grey) and current (orange) bin shares side by side."""
    reference = [float(v) for v in histogram.get("reference") or [] if _finite(v)]
    current = [float(v) for v in histogram.get("current") or [] if _finite(v)]
    bins = max(len(reference), len(current))
    if bins == 0:
        return DASH
    width, height = 160, 36
    step = width / bins
    totals = (sum(reference) or 1.0, sum(current) or 1.0)
    shares = ([v / totals[0] for v in reference], [v / totals[1] for v in current])
    peak = max([*shares[0], *shares[1], 1e-12])
    parts = []
    for side, (values, colour) in enumerate(zip(shares, (REFERENCE_COLOUR, CURRENT_COLOUR), strict=True)):
        for i, share in enumerate(values):
            h = share / peak * (height - 2)
            parts.append(f'<rect x="{i * step + side * step / 2:.1f}" y="{height - h:.1f}" '
                         f'width="{max(step / 2 - 1, 0.5):.1f}" height="{h:.1f}" fill="{colour}"/>')
    return _svg(width, height, f"Distribution of {feature}: reference (grey) and current (orange) share per bin",
                "".join(parts))


def _windows_chart(windows: list[dict[str, Any]], threshold: float) -> str:
    width, height, pad = 560, 160, 30
    step = (width - 2 * pad) / max(len(windows), 1)
    span = height - 2 * pad
    parts = [f'<line x1="{pad}" y1="{height - pad}" x2="{width - pad}" y2="{height - pad}" stroke="#94a3b8"/>']
    for i, window in enumerate(windows):
        share = window.get("drift_share")
        x = pad + i * step
        if not _finite(share):
            parts.append(f'<text x="{x + 2:.1f}" y="{height - pad - 4}">{DASH}</text>')
            continue
        h = max(0.0, min(float(share), 1.0)) * span
        colour = "#dc2626" if window.get("dataset_drift") else PALETTE[0]
        parts.append(f'<rect x="{x + 1:.1f}" y="{height - pad - h:.1f}" width="{max(step - 2, 1):.1f}" '
                     f'height="{h:.1f}" fill="{colour}"/>')
    y = height - pad - threshold * span
    parts.append(f'<line x1="{pad}" y1="{y:.1f}" x2="{width - pad}" y2="{y:.1f}" stroke="#0f172a" '
                 f'stroke-dasharray="4 3"/><text x="{width - pad - 120}" y="{y - 4:.1f}">threshold '
                 f'{threshold:.2f}</text>')
    if windows:
        parts.append(f'<text x="{pad}" y="{height - 10}">{_e(windows[0].get("start", ""))}</text>'
                     f'<text x="{width - pad}" y="{height - 10}" text-anchor="end">'
                     f'{_e(windows[-1].get("end", ""))}</text>')
    return _svg(width, height, "Share of drifted features per time window (red: dataset drift)", "".join(parts))


# --- sections ---------------------------------------------------------------------------------------------------

def _header(result: dict[str, Any], title: str) -> str:
    fields = [("Rows", _num(result.get("rows"))), ("Task", _e(result.get("task") or DASH)),
              ("Weighted", _num(bool(result.get("weighted")))),
              ("Fingerprint", f"<code>{_e(result.get('fingerprint') or DASH)}</code>")]
    if result.get("reference_rows") is not None:
        fields += [("Reference rows", _num(result.get("reference_rows"))),
                   ("Reference fingerprint", f"<code>{_e(result.get('reference_fingerprint') or DASH)}</code>")]
    for key in ("timestamp", "created_at", "finished_at"):
        if result.get(key):
            fields.append((key.replace("_", " ").capitalize(), _e(result[key])))
    if result.get("engine"):
        fields.append(("Engine", f"{_e(result['engine'])}, {_num(result.get('elapsed_s'), digits=3)} s"))
    verdict = ""
    if result.get("passed") is not None:
        verdict = (f"<p>Policy: {_badge(result['passed'])} "
                   f"{'every check passed' if result['passed'] else 'at least one check failed'}</p>")
    meta = "".join(f"<dt>{_e(name)}</dt><dd>{value}</dd>" for name, value in fields)
    warnings = "".join(f"<li>{_e(w)}</li>" for w in result.get("warnings") or [])
    warned = f"<h2>Warnings</h2><ul>{warnings}</ul>" if warnings else ""
    return f'<header><h1>{_e(title)}</h1><dl class="meta">{meta}</dl>{verdict}</header>{warned}'


def _checks(checks: list[dict[str, Any]]) -> str:
    if not checks:
        return ""
    rows = []
    for check in checks:
        failing = ", ".join(f"{_e(f['group'])} ({_num(f.get('value'))})" for f in check.get("failing") or [])
        rows.append([_badge(check.get("passed")), _e(check.get("description") or check.get("metric")),
                     _num(check.get("value"), check.get("reason")),
                     f"{_e(check.get('comparator'))} {_num(check.get('threshold'))}", failing,
                     _e(check.get("reason") or "")])
    failed = sum(1 for c in checks if not c.get("passed"))
    caption = f"{len(checks)} checks, {failed} failed"
    table = _table(caption, ["result", "check", "value", "threshold", "failing", "reason"], rows, {2})
    return f'<section aria-labelledby="checks"><h2 id="checks">Policy checks</h2>{table}</section>'


def _performance(perf: dict[str, Any]) -> str:
    overall = perf.get("overall") or {}
    skip = {"count", "weight", "undefined"}
    names = _metric_names(overall, skip)
    undefined = overall.get("undefined") or {}
    approximate = set(perf.get("approximate") or ())  # from compacted score tables (evaluation-performance.md)
    parts = ['<section aria-labelledby="performance"><h2 id="performance">Performance</h2>',
             f"<p>Task: {_e(perf.get('task'))}; {_num(overall.get('count'))} rows, weight "
             f"{_num(overall.get('weight'))}.</p>",
             _table("Overall metrics", ["metric", "value"],
                    [[_e(n) + (" (approx.)" if n in approximate else ""), _num(overall.get(n), undefined.get(n))]
                     for n in names], {1}),
             _footnotes(undefined)]
    segments = perf.get("by_segment") or {}
    if segments:
        rows = []
        for label, entry in segments.items():
            reasons = entry.get("undefined") or {}
            rows.append([_e(label), _num(entry.get("count"))]
                        + [_num(entry.get(n), reasons.get(n)) for n in names])
        parts.append(_table("Metrics per segment", ["segment", "count", *names], rows,
                            set(range(1, len(names) + 2))))
    matrix = perf.get("confusion_matrix") or {}
    if matrix.get("labels"):
        labels = [str(label) for label in matrix["labels"]]
        rows = [[f"<strong>{_e(label)}</strong>", *(_num(c) for c in counts)]
                for label, counts in zip(labels, matrix.get("counts") or [], strict=False)]
        parts.append(_table("Confusion matrix (rows: true label, columns: predicted)", ["true \\ predicted",
                                                                                        *labels], rows,
                            set(range(1, len(labels) + 1))))
    per_class = perf.get("per_class") or {}
    if per_class:
        rows = [[_e(c), *(_num(v.get(k)) for k in ("precision", "recall", "f1", "support"))]
                for c, v in per_class.items()]
        parts.append(_table("Per class", ["class", "precision", "recall", "f1", "support"], rows, {1, 2, 3, 4}))
    calibration = perf.get("calibration") or []
    if calibration:
        rows = [[f"{_num(b.get('lower'), digits=2)}\u2013{_num(b.get('upper'), digits=2)}", _num(b.get("count")),
                 _num(b.get("mean_score")), _num(b.get("fraction_positive"))] for b in calibration]
        parts.append("<h3>Calibration</h3>" + _reliability(calibration)
                     + _table("Calibration bins", ["score bin", "count", "mean score", "fraction positive"],
                              rows, {1, 2, 3}))
    parts.append("</section>")
    return "".join(parts)


def _interval(intervals: dict[str, Any], metric: str, label: str) -> str:
    bounds = (intervals.get(metric) or {}).get(label)
    if not bounds or not all(_finite(b) for b in bounds):
        return ""
    return f'<br><span class="notes">[{bounds[0]:.3f}, {bounds[1]:.3f}]</span>'


def _group_table(caption: str, groups: list[dict[str, Any]], names: list[str], intervals: dict[str, Any]) -> str:
    rows = []
    for group in groups:
        label = str(group.get("label"))
        reasons = group.get("undefined") or {}
        mark = ' <span class="badge small">small</span>' if group.get("small") else ""
        rows.append([_e(label) + mark, _num(group.get("count")), _num(group.get("weight"))]
                    + [_num(group.get(n), reasons.get(n)) + _interval(intervals, n, label) for n in names])
    return _table(caption, ["group", "count", "weight", *names], rows, set(range(1, len(names) + 3)))


def _fairness(fair: dict[str, Any]) -> str:
    groups = fair.get("groups") or []
    overall = fair.get("overall") or {}
    names = _metric_names(overall, {"count", "weight", "undefined"})
    intervals = fair.get("intervals") or {}
    features = ", ".join(str(f) for f in fair.get("features") or [])
    parts = ['<section aria-labelledby="fairness"><h2 id="fairness">Fairness</h2>',
             f"<p>Sensitive features: {_e(features)}. Groups with fewer than {_num(fair.get('min_group_size'))} "
             f'rows are marked <span class="badge small">small</span>. Intervals: '
             f"{_num(fair.get('confidence'), digits=2)} bootstrap ({_num(fair.get('bootstrap'))} resamples).</p>"]
    four = fair.get("four_fifths") or {}
    if four:
        parts.append(f"<p>Four-fifths rule: {_badge(four.get('passes'))} ratio "
                     f"{_num(four.get('ratio'), (fair.get('undefined') or {}).get('four_fifths'))} "
                     f"(lowest selection rate: {_e(four.get('lowest_group') or DASH)}, highest: "
                     f"{_e(four.get('highest_group') or DASH)})</p>")
    parts.append(_group_table("Metrics per group (intersections of the sensitive features)", groups, names,
                              intervals))
    parts.append(_footnotes({f"{g.get('label')}: {k}": v for g in groups
                             for k, v in (g.get("undefined") or {}).items()}))
    charts = [m for m in ("selection_rate", "tpr", "fpr", "mae") if m in names]
    if groups and charts:
        labels = [str(g.get("label")) for g in groups]
        rendered = []
        for metric in charts:
            values = [g.get(metric) if _finite(g.get(metric)) else None for g in groups]
            top = 1.0 if metric != "mae" else max([v for v in values if v is not None] or [1.0]) * 1.1 or 1.0
            rendered.append(_bars(f"{metric} per group (dashed: overall)", labels, values,
                                  line=overall.get(metric), top=top))
        parts.append(f'<div class="charts">{"".join(rendered)}</div>')
    by_feature = fair.get("by_feature") or {}
    if len(by_feature) > 1:
        for feature, rows in by_feature.items():
            parts.append(_group_table(f"Metrics per group of {feature}", rows, names, {}))
    parts.append(_disparities(fair))
    parts.append(_footnotes(fair.get("undefined") or {}))
    parts.append("</section>")
    return "".join(parts)


def _disparities(fair: dict[str, Any]) -> str:
    disparities = fair.get("disparities") or {}
    if not disparities:
        return ""
    intervals = fair.get("intervals") or {}
    undefined = fair.get("undefined") or {}
    rows = []
    for name, entry in disparities.items():
        bounds = (intervals.get(name) or {}).get("between_groups")
        ci = f"[{bounds[0]:.3f}, {bounds[1]:.3f}]" if bounds and all(_finite(b) for b in bounds) else DASH
        reason = undefined.get(name)
        rows.append([_e(name), _num(entry.get("between_groups"), reason), ci,
                     _num(entry.get("to_overall"), reason)])
    parts = [_table("Disparities over the intersections", ["metric", "between groups", "interval", "to overall"],
                    rows, {1, 3})]
    for feature, table in (fair.get("disparities_by_feature") or {}).items():
        rows = [[_e(name), *(_num(e.get(m), undefined.get(f"{name}[{feature}]")) for m in METHODS)]
                for name, e in table.items()]
        parts.append(_table(f"Disparities by {feature}", ["metric", "between groups", "to overall"], rows, {1, 2}))
    return "".join(parts)


def _drift(drift: dict[str, Any]) -> str:
    entries = [(str(f.get("feature")), f) for f in drift.get("features") or []]
    outputs = {id(drift[k]): k for k in ("prediction", "score") if drift.get(k)}
    entries += [(str(drift[k].get("feature")), drift[k]) for k in ("prediction", "score") if drift.get(k)]
    undefined = drift.get("undefined") or {}
    rows = []
    for name, f in entries:
        def why(metric: str, name: str = name) -> str | None:  # the engine keys reasons "<feature>.<metric>"
            return undefined.get(f"{name}.{metric}") or undefined.get(name)

        method = _e(f.get("method")) + (" (approx.)" if f.get("approximate") else "")
        p_reason = DISTANCE if f.get("method") in DISTANCES else why("p_value")
        shown = f"{name} ({outputs[id(f)]})" if id(f) in outputs else name
        rows.append([_e(shown), _e(f.get("kind")), method, _num(f.get("statistic"), why("statistic")),
                     _num(f.get("p_value"), p_reason), _num(f.get("threshold")),
                     _badge(not f.get("drifted"), "stable", "DRIFTED"), _num(f.get("psi"), why("psi")),
                     _sparkline(shown, f.get("histogram") or {})])
    parts = ['<section aria-labelledby="drift"><h2 id="drift">Drift</h2>',
             f"<p>{_num(drift.get('reference_rows'))} reference rows, {_num(drift.get('current_rows'))} current "
             f"rows. Drift share {_num(drift.get('drift_share'))} (dataset drift at "
             f"{_num(drift.get('share_threshold'), digits=2)}): "
             f"{_badge(not drift.get('dataset_drift'), 'no dataset drift', 'DATASET DRIFT')}</p>",
             _table("Drift per feature", ["feature", "kind", "method", "statistic", "p-value", "threshold",
                                          "verdict", "PSI", "reference vs current"], rows, {3, 4, 5, 7})]
    windows = drift.get("windows") or []
    if windows:
        threshold = drift.get("share_threshold")
        parts.append("<h3>Drift over time</h3>"
                     + _windows_chart(windows, float(threshold) if _finite(threshold) else 0.5))
        rows = [[_e(w.get("start")), _e(w.get("end")), _num(w.get("rows")), _num(w.get("drift_share")),
                 _badge(not w.get("dataset_drift"), "no drift", "DRIFT")] for w in windows]
        parts.append(_table("Windows", ["start", "end", "rows", "drift share", "verdict"], rows, {2, 3}))
    parts.append(_footnotes(undefined))
    parts.append("</section>")
    return "".join(parts)


def render_html(result: dict[str, Any], *, title: str = "Evaluation report") -> str:
    """The whole report for a result dict (``EvaluationResult.to_dict()``)."""
    body = [_header(result, title), _checks(result.get("checks") or [])]
    if result.get("performance"):
        body.append(_performance(result["performance"]))
    if result.get("fairness"):
        body.append(_fairness(result["fairness"]))
    if result.get("drift"):
        body.append(_drift(result["drift"]))
    return ('<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{_e(title)}</title><style>{CSS}</style></head><body><main>{''.join(body)}</main></body></html>\n")
