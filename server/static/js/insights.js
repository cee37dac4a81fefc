// A job's insights: the live learning curve and what the explain stage found.
//
// The curve arrives as deltas inside job.progress frames ({offset, points, count, ...});
// a delta that does not continue what we have (a dropped pub/sub message, a page opened
// mid-fit) makes us fetch the stored curve from GET /training-jobs/{id}/insights instead.

import { get } from "./api.js";
import { curveChart, overlayCurves, xyChart } from "./charts.js";
import { h, num, replace } from "./dom.js";

export function insightsPath(jobId) {
  return `/training-jobs/${encodeURIComponent(jobId)}/insights`;
}

export function fetchInsights(jobId) {
  return get(insightsPath(jobId));
}

/** The points of one job's curve, extended by deltas; `onGap` is called when a delta does not fit. */
export class LiveCurve {
  constructor(onGap) {
    this.curve = null;
    this.onGap = onGap;
  }

  reset(curve) {
    this.curve = curve ? { ...curve, points: [...curve.points] } : null;
    return this.curve;
  }

  /** Apply a delta; returns the curve, or null when points are missing before it (onGap then runs). */
  apply(delta) {
    const have = this.curve;
    const count = have ? have.count ?? have.points.length : 0;
    if (delta.offset > count) {
      this.onGap();
      return null;
    }
    if (delta.count <= count) return have; // nothing new (a replayed or overlapping frame)
    // A stored curve may be downsampled; the points after it are appended as they come.
    const fresh = delta.points.slice(count - delta.offset);
    this.curve = { unit: delta.unit, series: delta.series, points: [...(have ? have.points : []), ...fresh],
                   count: delta.count, best_step: null };
    return this.curve;
  }
}

/** A learning-curve figure that follows a job while it fits. */
export function liveCurveView(jobId, title = "Learning curve") {
  const box = h("div", { class: "live-curve" });
  let chart = null;
  let fetching = false;
  const draw = (curve) => {
    if (!curve || !curve.points.length) {
      if (!chart) replace(box, h("p", { class: "muted", text: "The learning curve appears as the model fits." }));
      return;
    }
    if (chart) chart.update(curve);
    else {
      chart = curveChart(curve, title);
      replace(box, chart.el);
    }
  };
  const reload = async () => {
    if (fetching) return;
    fetching = true;
    try {
      const found = await fetchInsights(jobId);
      draw(live.reset(found.learning_curve || null));
    } catch (exc) {
      console.warn("insights fetch failed", exc);
    } finally {
      fetching = false;
    }
  };
  const live = new LiveCurve(reload);
  draw(null);
  return {
    el: box,
    reload,
    /** Show the curve of an insights answer fetched elsewhere. */
    set(found) {
      draw(live.reset(found.learning_curve || null));
    },
    receive(frame) {
      if (frame.job_id !== jobId || frame.type !== "job.progress" || !frame.learning_curve) return;
      const curve = live.apply(frame.learning_curve);
      if (curve) draw(curve);
    },
  };
}

// ---- the explain stage's findings ----------------------------------------------------------

const IMPORTANCE_KINDS = [
  ["permutation_mean", "Permutation (score drop)"],
  ["shap_mean_abs", "Mean |SHAP|"],
  ["gain", "Gain"],
  ["impurity", "Impurity decrease"],
  ["coefficient", "Coefficient"],
  ["mean_abs_coefficient", "Mean |coefficient|"],
];

/** Feature importance as a table with bars scaled per column (largest |value| = full bar). */
export function importanceTable(rows, limit = 20) {
  const kinds = IMPORTANCE_KINDS.filter(([key]) => rows.some((r) => typeof r[key] === "number"));
  const top = rows.slice(0, limit);
  const scale = Object.fromEntries(kinds.map(([key]) => [key, Math.max(...rows.map((r) => Math.abs(r[key] ?? 0))) || 1]));
  const cell = (row, key) => {
    const value = row[key];
    if (typeof value !== "number") return h("td", { class: "num", text: "—" });
    const bar = h("span", { class: value < 0 ? "bar negative" : "bar", "aria-hidden": "true" });
    bar.style.width = `${Math.round((Math.abs(value) / scale[key]) * 100)}%`;
    const extra = key === "permutation_mean" && typeof row.permutation_std === "number" ? ` ± ${num(row.permutation_std, 3)}` : "";
    return h("td", { class: "num importance" }, h("span", { class: "bar-track" }, bar), `${num(value, 4)}${extra}`);
  };
  return h(
    "table",
    { class: "importance-table" },
    h("caption", { text: rows.length > limit ? `Top ${limit} of ${rows.length} features` : "Features" }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Feature" }), kinds.map(([, label]) => h("th", { scope: "col", text: label })))),
    h("tbody", {}, top.map((row) => h("tr", { "data-feature": row.feature }, h("th", { scope: "row", text: row.feature }),
      kinds.map(([key]) => cell(row, key))))),
  );
}

function curveSet(set, title, xLabel, yLabel, extra = {}) {
  const curves = set.curves.map((c) => {
    const score = c.auc ?? c.average_precision;
    const name = set.scheme === "binary" ? `class ${c.label}` : `${c.label} vs rest`;
    return { label: score == null ? name : `${name} (${num(score, 3)})`, points: c.points };
  });
  return xyChart({ title, xLabel, yLabel, curves, xRange: [0, 1], yRange: [0, 1], ...extra });
}

function decileTable(deciles) {
  return h(
    "table",
    { class: "deciles" },
    h("caption", { text: "Error by decile of the actual value" }),
    h("thead", {}, h("tr", {}, ["Decile", "Range", "Rows", "MAE", "RMSE", "Bias"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, deciles.map((d) => h("tr", {},
      h("th", { scope: "row", text: String(d.decile) }),
      h("td", { text: `${num(d.low, 3)} – ${num(d.high, 3)}` }),
      h("td", { class: "num", text: String(d.count) }),
      h("td", { class: "num", text: num(d.mae, 4) }),
      h("td", { class: "num", text: num(d.rmse, 4) }),
      h("td", { class: "num", text: num(d.bias, 4) })))),
  );
}

function residualCharts(res) {
  const pts = res.points;
  const values = pts.flatMap((p) => [p[0], p[1]]).filter((v) => typeof v === "number");
  const [lo, hi] = [Math.min(...values), Math.max(...values)];
  const sampled = res.sampled ? ` (a sample of ${pts.length} of ${res.rows} test rows)` : ` (${res.rows} test rows)`;
  return [
    xyChart({
      title: "Predicted vs actual", xLabel: "actual", yLabel: "predicted", scatter: true,
      curves: [{ label: "test rows", points: pts.map((p) => [p[0], p[1]]) }],
      diagonal: "perfect prediction", diagonalPoints: [[lo, lo], [hi, hi]], caption: `Each dot is a test row${sampled}.`,
    }),
    xyChart({
      title: "Residuals", xLabel: "predicted", yLabel: "actual − predicted", scatter: true,
      curves: [{ label: "test rows", points: pts.map((p) => [p[1], p[2]]) }],
      diagonal: "zero", diagonalPoints: [[Math.min(...pts.map((p) => p[1])), 0], [Math.max(...pts.map((p) => p[1])), 0]],
    }),
    decileTable(res.by_decile),
  ];
}

function explainNote(found) {
  const e = found.explain;
  if (!e) return null;
  const parts = [`Explained on ${e.rows} of ${e.test_rows} test rows in ${num(e.seconds, 2)} s`,
                 `permutation importance: ${e.permutation_features} features × ${e.permutation_repeats} shuffles`];
  if (e.skipped.length) parts.push(`skipped (time budget ${e.budget_s} s): ${e.skipped.join(", ")}`);
  return h("p", { class: "muted explain-note", text: `${parts.join("; ")}.` });
}

function stoppingNote(found) {
  const s = found.early_stopping;
  if (!s) return null;
  return h("p", { class: "muted", text: `Early stopping after ${s.rounds} rounds without improvement on ${s.validation_rows} ` +
    `validation rows (${num(s.validation_fraction * 100, 1)}% of the train rows, seed ${s.seed}); ` +
    `the model keeps ${s.best_iteration} rounds.` });
}

/** Everything the job page shows below the learning curve. */
export function findingsView(found) {
  const parts = [stoppingNote(found)];
  if (found.feature_importance) parts.push(h("h3", { text: "Feature importance" }), importanceTable(found.feature_importance));
  if (found.roc) {
    parts.push(h("h3", { text: "Classification curves (test rows)" }), h("div", { class: "chart-grid" },
      curveSet(found.roc, "ROC curve", "false positive rate", "true positive rate", { diagonal: "chance" }),
      curveSet(found.pr, "Precision-recall curve", "recall", "precision"),
      curveSet(found.calibration, "Calibration", "mean predicted probability", "fraction positive",
               { diagonal: "perfectly calibrated" })));
  }
  if (found.residuals) parts.push(h("h3", { text: "Residuals (test rows)" }), h("div", { class: "chart-grid" }, residualCharts(found.residuals)));
  parts.push(explainNote(found));
  if (!found.feature_importance && !found.roc && !found.residuals) {
    parts.push(h("p", { class: "muted", text: "Feature importance and diagnostic curves appear when the job succeeds." }));
  }
  return h("div", { class: "findings" }, parts);
}

/** One line for the canvas side panel: the headline of what the model learned. */
export function headline(found) {
  const bits = [];
  const top = (found.feature_importance || []).slice(0, 3).map((r) => r.feature);
  if (top.length) bits.push(`Top features: ${top.join(", ")}`);
  const roc = found.roc?.curves || [];
  if (roc.length === 1) bits.push(`ROC AUC ${num(roc[0].auc, 3)}`);
  else if (roc.length) bits.push(`mean one-vs-rest AUC ${num(roc.reduce((s, c) => s + (c.auc || 0), 0) / roc.length, 3)}`);
  const deciles = found.residuals?.by_decile || [];
  if (deciles.length) {
    const worst = deciles.reduce((a, b) => ((b.mae ?? 0) > (a.mae ?? 0) ? b : a));
    bits.push(`largest error in decile ${worst.decile} (MAE ${num(worst.mae, 3)})`);
  }
  if (found.early_stopping) bits.push(`stopped early at round ${found.early_stopping.best_iteration}`);
  return bits.length ? h("p", { class: "insight-headline", text: `${bits.join(" · ")}.` }) : null;
}

/** Two or more versions side by side: learning curves overlaid, importance in adjacent columns. */
export function comparisonView(runs) {
  const withCurves = runs.filter((r) => r.found?.learning_curve?.points?.length);
  const parts = [];
  if (withCurves.length) {
    const metrics = [...new Set(withCurves.flatMap((r) => r.found.learning_curve.series.map((s) => s.metric)))];
    parts.push(h("div", { class: "chart-grid" }, metrics.map((m) =>
      overlayCurves(withCurves.map((r) => ({ name: r.name, curve: r.found.learning_curve })), m))));
  } else {
    parts.push(h("p", { class: "muted", text: "These versions have no learning curves to overlay." }));
  }
  const kind = IMPORTANCE_KINDS.map(([key]) => key).find((key) =>
    runs.every((r) => (r.found?.feature_importance || []).some((row) => typeof row[key] === "number")));
  if (kind) {
    const label = IMPORTANCE_KINDS.find(([key]) => key === kind)[1];
    const byRun = runs.map((r) => Object.fromEntries(r.found.feature_importance.map((row) => [row.feature, row[kind]])));
    const features = [...new Set(runs.flatMap((r) => r.found.feature_importance.map((row) => row.feature)))];
    features.sort((x, y) => Math.abs(byRun[byRun.length - 1][y] ?? 0) - Math.abs(byRun[byRun.length - 1][x] ?? 0));
    const scale = Math.max(...byRun.flatMap((m) => Object.values(m).map((v) => Math.abs(v ?? 0)))) || 1;
    const cell = (value) => {
      if (typeof value !== "number") return h("td", { class: "num", text: "—" });
      const bar = h("span", { class: value < 0 ? "bar negative" : "bar", "aria-hidden": "true" });
      bar.style.width = `${Math.round((Math.abs(value) / scale) * 100)}%`;
      return h("td", { class: "num importance" }, h("span", { class: "bar-track" }, bar), num(value, 4));
    };
    parts.push(h(
      "table",
      { class: "importance-table compare-importance" },
      h("caption", { text: `Feature importance compared: ${label}` }),
      h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Feature" }), runs.map((r) => h("th", { scope: "col", text: r.name })))),
      h("tbody", {}, features.slice(0, 20).map((f) => h("tr", {}, h("th", { scope: "row", text: f }), byRun.map((m) => cell(m[f]))))),
    ));
  } else {
    parts.push(h("p", { class: "muted", text: "No importance that both versions share." }));
  }
  return h("div", { class: "insight-compare" }, h("h4", { text: "Learning curves and importance" }), parts);
}
