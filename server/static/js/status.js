// How a job's status reads to people: badge text, headline metric, terminal states.

import { h, num } from "./dom.js";

export const STATUSES = ["queued", "running", "cancelling", "succeeded", "failed", "cancelled"];
export const ACTIVE = new Set(["queued", "running", "cancelling"]);
export const TERMINAL = new Set(["succeeded", "failed", "cancelled"]);

const LABELS = {
  queued: "Queued",
  running: "Running",
  cancelling: "Cancelling",
  succeeded: "Succeeded",
  failed: "Failed",
  cancelled: "Cancelled",
};

export function statusLabel(status) {
  return LABELS[status] || String(status);
}

/** The metric shown next to a version: accuracy for classifiers, R² for regressors. */
export function headlineMetric(metrics) {
  const test = (metrics && metrics.test) || {};
  for (const name of ["accuracy", "r2", "rmse", "f1"]) {
    if (typeof test[name] === "number") return { name, value: test[name] };
  }
  return null;
}

/** Progress as a whole percentage, or null when unknown. */
export function progressPercent(progress) {
  if (!progress || typeof progress.total !== "number" || progress.total <= 0) return null;
  const done = Math.max(0, Math.min(progress.completed ?? 0, progress.total));
  return Math.round((100 * done) / progress.total);
}

/** One line describing the job's state, e.g. "Succeeded · v3 · accuracy 0.93". */
export function statusText(job) {
  const parts = [statusLabel(job.status)];
  if (job.status === "running") {
    const pct = progressPercent(job.progress);
    if (pct !== null) parts[0] = `Running ${pct}%`;
    if (job.progress && job.progress.stage) parts.push(job.progress.stage);
  }
  if (job.status === "succeeded") {
    if (job.model_version != null) parts.push(`v${job.model_version}`);
    const metric = headlineMetric(job.metrics);
    if (metric) parts.push(`${metric.name} ${num(metric.value, 3)}`);
  }
  if (job.status === "failed") {
    parts.push(job.error_message || job.error_code || "unknown error");
  }
  return parts.join(" · ");
}

/** A status pill; `data-status` drives its colour. */
export function statusPill(status, text) {
  return h("span", { class: "pill", "data-status": status, text: text || statusLabel(status) });
}
