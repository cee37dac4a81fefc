"""A validation report as one standalone HTML file: inline CSS and SVG, no script, no external asset.

Every value that comes from data (column names, category values, refs) is escaped: the
file is opened outside the service, and served with a CSP that allows no script anyway.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from html import escape
from typing import Any

CSS = """body{font:14px/1.45 system-ui,sans-serif;margin:2rem;color:#1d2433;max-width:70rem}
table{border-collapse:collapse;margin:.5rem 0 1.5rem}th,td{border:1px solid #ccd3de;padding:.3rem .6rem;
text-align:right}th:first-child,td:first-child{text-align:left}caption{text-align:left;font-weight:600}
.sig{font-weight:700}.warn{color:#8a4b00}.charts{display:flex;flex-wrap:wrap;gap:1rem}
figure{margin:0}svg{border:1px solid #ccd3de;background:#fff}"""
COLOURS = ("#2563eb", "#dc2626", "#16a34a", "#9333ea", "#ea580c")
SIZE = 220


def _num(value: Any) -> str:
    if value is None:
        return "n/a"
    if isinstance(value, float):
        return f"{value:.4f}"
    return escape(str(value))


def _metrics_table(report: Mapping[str, Any]) -> str:
    names: Sequence[str] = report.get("metric_names") or []
    versions = report.get("versions") or []
    head = "".join(f"<th>v{escape(str(v['version']))} ({escape(str(v.get('ref', '')))})</th>" for v in versions)
    rows = []
    for name in names:
        cells = "".join(f"<td>{_num((v.get('metrics') or {}).get(name))}</td>" for v in versions)
        rows.append(f"<tr><td>{escape(name)}</td>{cells}</tr>")
    errors = "".join(f"<p class='warn'>v{escape(str(v['version']))}: {escape(str(v['error']))}</p>"
                     for v in versions if v.get("error"))
    return (f"<table id='metrics'><caption>Metrics on {_num(report.get('rows'))} rows</caption>"
            f"<tr><th>metric</th>{head}</tr>{''.join(rows)}</table>{errors}")


def _comparisons(report: Mapping[str, Any]) -> str:
    parts = []
    for comparison in report.get("comparisons") or []:
        rows = []
        for name, item in (comparison.get("metrics") or {}).items():
            mark = " class='sig'" if item.get("significant") else ""
            rows.append(f"<tr{mark}><td>{escape(name)}</td><td>{_num(item.get('baseline'))}</td>"
                        f"<td>{_num(item.get('value'))}</td><td>{_num(item.get('difference'))}</td>"
                        f"<td>[{_num(item.get('ci_low'))}, {_num(item.get('ci_high'))}]</td></tr>")
        title = f"v{escape(str(comparison['version']))} against v{escape(str(comparison['baseline']))}"
        parts.append(f"<table class='comparison'><caption>{title}</caption><tr><th>metric</th><th>baseline</th>"
                     f"<th>value</th><th>difference</th><th>95% paired bootstrap CI</th></tr>{''.join(rows)}</table>")
    return "".join(parts)


def _polyline(points: Sequence[Sequence[Any]], colour: str, bounds: tuple[float, float, float, float]) -> str:
    x0, x1, y0, y1 = bounds
    spanx, spany = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    coords = " ".join(f"{(float(p[0]) - x0) / spanx * SIZE:.1f},{SIZE - (float(p[1]) - y0) / spany * SIZE:.1f}"
                      for p in points if p[0] is not None and p[1] is not None)
    return f"<polyline fill='none' stroke='{colour}' stroke-width='1.5' points='{coords}'/>"


def _chart(title: str, series: list[tuple[str, Sequence[Sequence[Any]]]], unit: bool) -> str:
    every = [p for _, pts in series for p in pts if p[0] is not None and p[1] is not None]
    if not every:
        return ""
    if unit:
        bounds = (0.0, 1.0, 0.0, 1.0)
    else:
        xs, ys = [float(p[0]) for p in every], [float(p[1]) for p in every]
        bounds = (min(xs), max(xs), min(ys), max(ys))
    lines = "".join(_polyline(pts, COLOURS[i % len(COLOURS)], bounds) for i, (_, pts) in enumerate(series))
    legend = ", ".join(f"<span style='color:{COLOURS[i % len(COLOURS)]}'>{escape(name)}</span>"
                       for i, (name, _) in enumerate(series))
    return (f"<figure><figcaption>{escape(title)}: {legend}</figcaption>"
            f"<svg width='{SIZE}' height='{SIZE}' viewBox='0 0 {SIZE} {SIZE}' role='img' "
            f"aria-label='{escape(title)}'>{lines}</svg></figure>")


def _curves(report: Mapping[str, Any]) -> str:
    charts = []
    for key, title in (("roc", "ROC"), ("pr", "Precision-recall"), ("calibration", "Calibration")):
        series = []
        for version in report.get("versions") or []:
            for curve in ((version.get("curves") or {}).get(key) or {}).get("curves") or []:
                series.append((f"v{version['version']} {curve.get('label')}", curve.get("points") or []))
        charts.append(_chart(title, series, unit=True))
    residuals = [(f"v{v['version']}", [(p[0], p[1]) for p in ((v.get("curves") or {}).get("residuals") or {})
                                       .get("points") or []]) for v in report.get("versions") or []]
    charts.append(_chart("Predicted against actual", [s for s in residuals if s[1]], unit=False))
    return f"<div class='charts'>{''.join(charts)}</div>"


def _warnings(report: Mapping[str, Any]) -> str:
    items = "".join(f"<li class='warn'>{escape(str(w.get('code')))}: {escape(str(w.get('message')))}</li>"
                    for w in report.get("warnings") or [])
    return f"<h2>Data checks</h2><ul id='warnings'>{items or '<li>No findings.</li>'}</ul>"


def render_report(report: Mapping[str, Any]) -> str:
    """The report as a complete HTML document."""
    generated = dt.datetime.fromtimestamp(float(report.get("generated_at") or 0), dt.UTC).isoformat()
    boot = report.get("bootstrap") or {}
    source = (report.get("data") or {}).get("source")
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Validation report {escape(str(report.get('job_id')))}</title><style>{CSS}</style></head><body>"
        f"<h1>Validation report</h1><p>Job {escape(str(report.get('job_id')))} · pipeline "
        f"{escape(str(report.get('pipeline_id')))} · node {escape(str(report.get('train_node_id')))} · "
        f"{escape(str(report.get('task')))} of {escape(str(report.get('target')))} · rows: "
        f"{escape(str(source))} · generated {escape(generated)}</p>"
        f"{_metrics_table(report)}<h2>Differences</h2><p>Paired bootstrap, {_num(boot.get('resamples'))} "
        f"resamples, seed {_num(boot.get('seed'))}; bold rows exclude 0.</p>{_comparisons(report)}"
        f"<h2>Curves</h2>{_curves(report)}{_warnings(report)}</body></html>"
    )
