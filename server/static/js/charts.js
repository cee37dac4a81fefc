// Charts drawn with the vendored uPlot (server/static/vendor/uplot, see docs/ui.md).
//
// Every chart is a <figure> whose plot has role="img" and an aria-label, with a caption
// that states what the eye would read off it, so nothing depends on seeing the canvas.
// Axes are honest: a loss or an error starts at zero, a score in [0, 1] shows [0, 1].

import uPlot from "../vendor/uplot/uPlot.esm.js";
import { h, num } from "./dom.js";

const WIDTH = 560;
const HEIGHT = 260;
export const COLORS = ["#1f5fbf", "#c2410c", "#15803d", "#7e22ce", "#b91c1c", "#0f766e", "#a16207", "#4338ca"];
const PARTITION_COLORS = { train: COLORS[0], test: COLORS[1], validation: COLORS[2] };
const LOSSES = new Set(["log_loss", "rmse", "mae"]);

function widthOf(el) {
  return Math.max(280, Math.min(WIDTH, (el && el.clientWidth) || WIDTH));
}

/** Zero-based range for values that cannot be negative (losses, errors, importance). */
function fromZero(_u, _min, max) {
  const top = Number.isFinite(max) && max > 0 ? max * 1.05 : 1;
  return [0, top];
}

/** [0, 1] for scores, widened below zero only when a value is (R² can be negative). */
function unitRange(_u, min, _max) {
  return [Number.isFinite(min) && min < 0 ? min * 1.05 : 0, 1];
}

function axis(label, extra = {}) {
  return { label, stroke: "#1f2933", grid: { stroke: "#e4e7eb" }, ticks: { stroke: "#cbd2d9" }, ...extra };
}

function figure(title, caption) {
  const plot = h("div", { class: "plot", role: "img", "aria-label": title });
  const cap = h("figcaption", { class: "muted", text: caption || "" });
  const fig = h("figure", { class: "chart-figure" }, plot, cap);
  return { fig, plot, cap };
}

function mount(plot, opts, data) {
  const chart = new uPlot({ width: widthOf(plot.parentElement), height: HEIGHT, ...opts }, data, plot);
  return chart;
}

function seriesLabel(s) {
  return `${s.partition} ${s.metric.replace("_", " ")}`;
}

function curveData(curve) {
  const xs = curve.points.map((p) => p[0]);
  const columns = curve.series.map((_, i) => curve.points.map((p) => (p[i + 1] === null ? null : p[i + 1])));
  return [xs, ...columns];
}

function curveCaption(curve) {
  if (!curve.points.length) return "No points yet.";
  const last = curve.points[curve.points.length - 1];
  const parts = curve.series.map((s, i) => `${seriesLabel(s)} ${num(last[i + 1], 4)}`);
  const unit = curve.unit === "trees" ? "trees" : "rounds";
  const best = curve.best_step ? ` Early stopping kept round ${curve.best_step}.` : "";
  return `After ${last[0]} ${unit}: ${parts.join(", ")}.${best}`;
}

/**
 * A learning curve: loss on the left axis (from zero), the headline score on the right ([0, 1]).
 * @param {{unit, series, points, count, best_step}} curve
 * @returns {{el: Element, update(curve): void, destroy(): void}}
 */
export function curveChart(curve, title = "Learning curve") {
  const { fig, plot, cap } = figure(title, curveCaption(curve));
  fig.classList.add("learning-curve");
  const series = [
    { label: curve.unit === "trees" ? "trees" : "round" },
    ...curve.series.map((s) => {
      const loss = LOSSES.has(s.metric);
      return {
        label: seriesLabel(s),
        scale: loss ? "loss" : "score",
        stroke: PARTITION_COLORS[s.partition] || COLORS[3],
        width: 2,
        dash: loss ? undefined : [6, 4],
        spanGaps: true,
        points: { show: false },
      };
    }),
  ];
  const lossName = curve.series.find((s) => LOSSES.has(s.metric))?.metric || "loss";
  const scoreName = curve.series.find((s) => !LOSSES.has(s.metric))?.metric || "score";
  const opts = {
    title,
    scales: { x: { time: false }, loss: { range: fromZero }, score: { range: unitRange } },
    axes: [
      axis(curve.unit === "trees" ? "trees in the forest" : "boosting round"),
      axis(`${lossName.replace("_", " ")} (solid, from 0)`, { scale: "loss" }),
      axis(`${scoreName} (dashed)`, { scale: "score", side: 1, grid: { show: false } }),
    ],
    series,
  };
  let chart = null;
  let key = "";
  const render = (c) => {
    fig.dataset.count = String(c.count ?? c.points.length);
    fig.dataset.last = c.points.length ? String(c.points[c.points.length - 1][0]) : "0";
    cap.textContent = curveCaption(c);
    const shape = JSON.stringify([c.unit, c.series]);
    if (chart && shape === key) {
      chart.setData(curveData(c));
      return;
    }
    if (chart) chart.destroy();
    key = shape;
    chart = mount(plot, opts, curveData(c));
  };
  // uPlot measures its container: draw once the figure is in the document.
  requestAnimationFrame(() => render(curve));
  return {
    el: fig,
    update: (c) => (chart ? render(c) : requestAnimationFrame(() => render(c))),
    destroy: () => chart && chart.destroy(),
  };
}

/**
 * Curves with their own x values each (ROC, PR, calibration, predicted vs actual).
 * @param {{title, xLabel, yLabel, curves: Array<{label, points: number[][]}>, caption?, diagonal?, scatter?,
 *          xRange?, yRange?}} spec
 */
export function xyChart(spec) {
  const { fig, plot } = figure(spec.title, spec.caption);
  const lines = [...spec.curves];
  if (spec.diagonal) lines.push({ label: spec.diagonal, points: spec.diagonalPoints || [[0, 0], [1, 1]], guide: true });
  const series = [
    {},
    ...lines.map((c, i) => ({
      label: c.label,
      stroke: c.guide ? "#9aa5b1" : COLORS[i % COLORS.length],
      fill: spec.scatter && !c.guide ? `${COLORS[i % COLORS.length]}55` : undefined,
      width: c.guide ? 1 : 2,
      dash: c.guide ? [4, 4] : undefined,
      paths: spec.scatter && !c.guide ? () => null : undefined,
      points: { show: Boolean(spec.scatter && !c.guide), size: 4, fill: COLORS[i % COLORS.length] },
    })),
  ];
  const data = [null, ...lines.map((c) => [c.points.map((p) => p[0]), c.points.map((p) => p[1])])];
  const range = (r) => (r ? () => r : undefined);
  const opts = {
    mode: 2,
    title: spec.title,
    scales: { x: { time: false, range: range(spec.xRange) }, y: { range: range(spec.yRange) } },
    axes: [axis(spec.xLabel), axis(spec.yLabel)],
    series,
    legend: { live: false },
  };
  requestAnimationFrame(() => mount(plot, opts, data));
  return fig;
}

/**
 * One metric across model versions (replaces the hand-drawn SVG chart). The y axis starts at
 * zero (or below, if a value is negative) so that small differences are not blown up.
 * @param {Array<{x: number, y: number|null, active?: boolean}>} points
 */
export function versionChart(points, title) {
  const usable = points.filter((p) => typeof p.y === "number");
  const active = usable.find((p) => p.active);
  const caption = usable.length
    ? `${usable.length} version(s); y axis from ${Math.min(0, ...usable.map((p) => p.y)) < 0 ? "the lowest value" : "0"}.` +
      (active ? ` Active: v${active.x} (${num(active.y)}).` : "")
    : "No values for this metric yet.";
  const { fig, plot } = figure(title, caption);
  if (!usable.length) return fig;
  const xs = usable.map((p) => p.x);
  const opts = {
    title,
    scales: {
      x: { time: false, range: (_u, min, max) => [min - 0.5, max + 0.5] },
      y: { range: (_u, min, max) => [Math.min(0, min * 1.05), max > 0 ? max * 1.05 : 1] },
    },
    axes: [
      axis("model version", { values: (_u, ticks) => ticks.map((t) => (xs.includes(t) ? `v${t}` : "")) }),
      axis(title.split(" ")[0]),
    ],
    series: [
      { label: "version", value: (_u, v) => (v == null ? "—" : `v${v}`) },
      { label: title.split(" ")[0], stroke: COLORS[0], width: 2, points: { show: true, size: 8, fill: "#fff" } },
      { label: "active", stroke: COLORS[2], width: 0, paths: () => null, points: { show: true, size: 12, fill: COLORS[2] } },
    ],
  };
  const data = [xs, usable.map((p) => p.y), usable.map((p) => (p.active ? p.y : null))];
  requestAnimationFrame(() => mount(plot, opts, data));
  return fig;
}

/**
 * Several learning curves overlaid (version comparison): one series per (version, series).
 * @param {Array<{name: string, curve: object}>} runs
 */
export function overlayCurves(runs, metric) {
  const title = `${metric.replace("_", " ")} by round, compared`;
  const curves = [];
  for (const { name, curve } of runs) {
    curve.series.forEach((s, i) => {
      if (s.metric !== metric) return;
      curves.push({ label: `${name} ${s.partition}`, points: curve.points.map((p) => [p[0], p[i + 1]]) });
    });
  }
  const lossy = LOSSES.has(metric);
  return xyChart({
    title,
    xLabel: runs[0]?.curve.unit === "trees" ? "trees" : "boosting round",
    yLabel: lossy ? `${metric} (from 0)` : metric,
    curves,
    yRange: lossy ? undefined : [0, 1],
    caption: curves.length ? `${curves.length} curves.` : "No learning curves to compare.",
  });
}
