"""One self-contained HTML page per monitoring run: no script, no external resource, charts as inline SVG.

Sections: the run's summary; the drift status table (PSI, Jensen-Shannon, Model Monitor's distance, band);
the violations (``constraint_violations.json``); one chart per feature with the reference's and the current
window's share of each bin side by side; the drift score over the dataset's runs; model quality per evidence
window with its confidence interval and the alarm line (from the newest ``quality.json``). Pure: documents in,
text out (:func:`html.escape` on every value that came from data).
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape
from typing import Any

WIDTH, HEIGHT, PAD = 560, 200, 36
COLOURS = {"reference": "#4c78a8", "current": "#f58518", "stable": "#2e7d32", "watch": "#b26a00", "drift": "#c62828"}
STYLE = """
body{font-family:system-ui,sans-serif;margin:24px;color:#222;max-width:1200px}
table{border-collapse:collapse;margin:8px 0 24px}td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}
th{background:#f3f3f3}.stable{color:#2e7d32}.watch{color:#b26a00}.drift{color:#c62828;font-weight:bold}
.grid{display:flex;flex-wrap:wrap;gap:16px}figure{margin:0;border:1px solid #ddd;padding:8px}
figcaption{font-weight:bold;margin-bottom:4px}.legend span{margin-right:12px}.muted{color:#777}
"""


def _number(value: Any, digits: int = 4) -> str:
    return "" if value is None else f"{float(value):.{digits}f}"


def _label_order(labels: Sequence[str]) -> list[str]:
    """Numeric bin labels in order, then categories alphabetically, the null and unseen bins last."""
    numeric = sorted((x for x in labels if x.isdigit()), key=int)
    special = [x for x in ("__unseen__", "__null__") if x in labels]
    others = sorted(x for x in labels if not x.isdigit() and x not in special)
    return numeric + others + special


def bin_name(label: str, edges: Sequence[float]) -> str:
    """A numeric bin's range by its cut points (``<12.3``, ``12.3+``); categories and special bins as they are."""
    if not label.isdigit() or not edges:
        return {"__null__": "null", "__unseen__": "unseen"}.get(label, label)
    index = int(label)
    return f"<{edges[0]:.3g}" if index == 0 else f"{edges[index - 1]:.3g}+"


def bar_chart(feature: dict[str, Any]) -> str:
    """Reference vs current share per bin of one feature, as an SVG figure."""
    reference, current = feature["reference_shares"], feature["current_shares"]
    edges = feature.get("edges") or ()
    labels = _label_order(list(set(reference) | set(current)))
    top = max([*reference.values(), *current.values(), 1e-9])
    slot = (WIDTH - 2 * PAD) / max(len(labels), 1)
    bars: list[str] = []
    for i, label in enumerate(labels):
        for j, (side, shares) in enumerate((("reference", reference), ("current", current))):
            share = float(shares.get(label, 0.0))
            h = share / top * (HEIGHT - 2 * PAD)
            x = PAD + i * slot + j * slot * 0.45 + slot * 0.05
            bars.append(
                f'<rect x="{x:.1f}" y="{HEIGHT - PAD - h:.1f}" width="{slot * 0.4:.1f}" height="{h:.1f}" '
                f'fill="{COLOURS[side]}"><title>{escape(bin_name(label, edges))} {side}: {share:.4f}</title></rect>'
            )
        bars.append(
            f'<text x="{PAD + (i + 0.5) * slot:.1f}" y="{HEIGHT - PAD + 14}" font-size="9" text-anchor="middle">'
            f"{escape(bin_name(label, edges)[:10])}</text>"
        )
    name = escape(str(feature["feature"]))
    status = escape(str(feature["status"]))
    note = " (excluded from the drift score)" if feature.get("excluded") else ""
    return (
        f'<figure class="feature-plot" id="plot-{name}" data-feature="{name}"><figcaption>{name} '
        f'<span class="{status}">{status}</span> PSI {_number(feature["psi"], 3)}{note}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{name} reference vs current">'
        f'<line x1="{PAD}" y1="{HEIGHT - PAD}" x2="{WIDTH - PAD}" y2="{HEIGHT - PAD}" stroke="#999"/>'
        f"{''.join(bars)}</svg></figure>"
    )


def _scale(values: Sequence[float]) -> tuple[float, float]:
    low, high = min(values), max(values)
    return (low - 0.05, high + 0.05) if low == high else (low, high)


def line_chart(points: Sequence[tuple[str, float, float | None, float | None]], title: str, limit: float | None) -> str:
    """A series over runs or windows: ``(label, value, low, high)``; the interval as a band, ``limit`` dashed."""
    if not points:
        return f'<p class="muted">{escape(title)}: no data yet.</p>'
    every = [p[1] for p in points] + [v for p in points for v in p[2:] if v is not None]
    low, high = _scale(every + ([limit] if limit is not None else []))
    step = (WIDTH - 2 * PAD) / max(len(points) - 1, 1)

    def y(v: float) -> float:
        return HEIGHT - PAD - (v - low) / (high - low) * (HEIGHT - 2 * PAD)

    xs = [PAD + i * step for i in range(len(points))]
    line = " ".join(f"{x:.1f},{y(p[1]):.1f}" for x, p in zip(xs, points, strict=True))
    band = ""
    if all(p[2] is not None and p[3] is not None for p in points):
        upper = [f"{x:.1f},{y(float(p[3] or 0)):.1f}" for x, p in zip(xs, points, strict=True)]
        lower = [f"{x:.1f},{y(float(p[2] or 0)):.1f}" for x, p in zip(xs, points, strict=True)]
        band = f'<polygon points="{" ".join(upper + lower[::-1])}" fill="#4c78a8" opacity="0.2"/>'
    rule = ""
    if limit is not None:
        rule = (
            f'<line x1="{PAD}" y1="{y(limit):.1f}" x2="{WIDTH - PAD}" y2="{y(limit):.1f}" stroke="#c62828" '
            f'stroke-dasharray="4 3"><title>alarm line {limit:.4f}</title></line>'
        )
    dots = "".join(
        f'<circle cx="{x:.1f}" cy="{y(p[1]):.1f}" r="2.5" fill="#4c78a8"><title>{escape(p[0])}: {p[1]:.4f}</title>'
        "</circle>"
        for x, p in zip(xs, points, strict=True)
    )
    return (
        f'<figure class="series"><figcaption>{escape(title)}</figcaption>'
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" role="img" '
        f'aria-label="{escape(title)}">{band}{rule}<polyline points="{line}" fill="none" stroke="#4c78a8"/>{dots}'
        f'<text x="{PAD}" y="14" font-size="10">{high:.3f}</text>'
        f'<text x="{PAD}" y="{HEIGHT - 4}" font-size="10">{low:.3f}</text></svg></figure>'
    )


def _drift_table(features: Sequence[dict[str, Any]]) -> str:
    rows = "".join(
        f"<tr><td>{escape(str(f['feature']))}</td><td>{escape(str(f['kind']))}</td><td>{_number(f['psi'])}</td>"
        f"<td>{_number(f['js'])}</td><td>{_number(f['distance'])}</td>"
        f'<td class="{escape(str(f["status"]))}">{escape(str(f["status"]))}'
        f"{' (excluded)' if f.get('excluded') else ''}</td><td>{f['current_rows']}</td></tr>"
        for f in features
    )
    head = "<tr><th>feature</th><th>kind</th><th>PSI</th><th>Jensen-Shannon</th><th>distance</th><th>status</th>"
    return f'<table id="drift-table">{head}<th>rows</th></tr>{rows}</table>'


def _violations_table(violations: dict[str, Any]) -> str:
    items = violations.get("violations", [])
    if not items:
        return '<p id="violations">No constraint violations.</p>'
    rows = "".join(
        f"<tr><td>{escape(str(v['feature_name']))}</td><td>{escape(str(v['constraint_check_type']))}</td>"
        f"<td>{escape(str(v['description']))}</td></tr>"
        for v in items
    )
    return f'<table id="violations"><tr><th>feature</th><th>check</th><th>description</th></tr>{rows}</table>'


def _quality_section(history: Sequence[dict[str, Any]]) -> str:
    quality = [h for h in history if h.get("kind") == "quality" and h.get("windows")]
    if not quality:
        return '<p class="muted">Model quality: no ground truth merged yet.</p>'
    newest = quality[-1]
    points = [(str(w["end"]), float(w["value"]), float(w["low"]), float(w["high"])) for w in newest["windows"]]
    validation, threshold = float(newest["validation_metric"]), float(newest["threshold"])
    limit = validation - threshold if newest["metric"] == "pr_auc" else validation * (1 + threshold)
    level = float(newest.get("confidence", 0.99)) * 100
    title = f"{newest['metric']} per evidence window with {level:.0f}% interval (validation {validation:.4f})"
    return line_chart(points, title, limit)


def render_run_report(
    drift: dict[str, Any],
    violations: dict[str, Any],
    baseline_statistics: dict[str, Any],
    current_statistics: dict[str, Any],
    history: Sequence[dict[str, Any]],
) -> str:
    """The page of one data-quality run (module docstring)."""
    features = drift["features"]
    plotted = {f["feature"] for f in features}
    unplotted = [f["name"] for f in baseline_statistics["features"] if f["name"] not in plotted]
    runs = [h for h in history if h.get("kind") == "drift"] + [{**drift, "kind": "drift"}]
    drift_points = [(str(h["generated_at"]), float(h["drift_score"]), None, None) for h in runs]
    title = f"Monitoring of {drift['dataset']} ({drift['source']}) at {drift['generated_at']}"
    missing = f'<p class="muted">Not in the current data: {escape(", ".join(unplotted))}</p>' if unplotted else ""
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{escape(title)}</title><style>{STYLE}</style></head><body>"
        f"<h1>{escape(title)}</h1>"
        f"<p>{drift['rows']} rows from <code>{escape(str(drift['input']))}</code>; champion version "
        f"{escape(str(drift['model_version']))}; baseline of {baseline_statistics['dataset']['item_count']} rows; "
        f"current statistics of {current_statistics['dataset']['item_count']} rows. Drift score "
        f"<b>{drift['drift_score']:.3f}</b> (share of features in the drift band), {drift['violations']} violation(s)."
        "</p><h2>Drift status</h2>"
        f"{_drift_table(features)}<h2>Constraint violations</h2>{_violations_table(violations)}"
        '<h2>Distributions: reference vs current</h2><p class="legend">'
        f'<span style="color:{COLOURS["reference"]}">&#9632; reference (baseline)</span>'
        f'<span style="color:{COLOURS["current"]}">&#9632; current window</span></p>'
        f'<div class="grid">{"".join(bar_chart(f) for f in features)}</div>{missing}'
        "<h2>Over time</h2>"
        f'<div class="grid">{line_chart(drift_points, "drift score per run", None)}'
        f"{_quality_section(history)}</div></body></html>"
    )
