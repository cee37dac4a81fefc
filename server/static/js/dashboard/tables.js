// Tables of the job page: status history, metrics, confusion matrix, hyperparameters.

import { h, num, when } from "../dom.js";
import { statusPill } from "../status.js";

export const METRIC_ORDER = ["accuracy", "f1", "roc_auc", "precision", "recall", "log_loss", "rmse", "mae", "r2"];

/** A table: `head` is a list of column titles, `rows` a list of lists of cells (elements or text). */
export function table(cls, head, rows, caption) {
  const cell = (value) => (value instanceof Node ? value : h("td", { text: value }));
  const column = (title) => (title instanceof Node ? title : h("th", { scope: "col", text: title }));
  return h(
    "table",
    { class: cls },
    caption ? h("caption", { text: caption }) : null,
    h("thead", {}, h("tr", {}, head.map(column))),
    h("tbody", {}, rows.map((row) => h("tr", {}, row.map(cell)))),
  );
}

const rowHead = (text) => h("th", { scope: "row", text });
const numCell = (value) => h("td", { class: "num", text: num(value) });

export function warningText(w) {
  return typeof w === "string" ? w : (w && w.message) || JSON.stringify(w);
}

function metricsText(metrics) {
  const test = (metrics && metrics.test) || {};
  const names = METRIC_ORDER.filter((m) => typeof test[m] === "number");
  return names.map((m) => `${m} ${num(test[m], 3)}`).join(", ");
}

function eventDetails(event) {
  const skip = new Set(["type", "job_id", "pipeline_id", "node_id", "seq", "status", "at"]);
  const parts = [];
  for (const [key, value] of Object.entries(event)) {
    if (skip.has(key) || value === null || value === undefined) continue;
    if (key === "metrics") parts.push(`test: ${metricsText(value)}`);
    else if (key === "warning") parts.push(`warning: ${warningText(value)}`);
    else if (key === "version" && typeof value === "object") parts.push(`model version ${value.model_version}`);
    else parts.push(`${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
  }
  return parts.join("; ");
}

export function historyTable(events) {
  if (!events.length) return h("p", { class: "muted", text: "No events yet." });
  const rows = events.map((e) => [
    h("td", { class: "num", text: e.seq }),
    when(e.at),
    e.type,
    h("td", {}, statusPill(e.status)),
    h("td", { class: "muted", text: eventDetails(e) }),
  ]);
  return table("events", ["#", "Time", "Event", "Status", "Details"], rows);
}

export function metricsTable(metrics) {
  const train = metrics.train || {};
  const test = metrics.test || {};
  const names = METRIC_ORDER.filter((m) => m in train || m in test);
  const numHead = (text) => h("th", { scope: "col", class: "num", text });
  const head = ["Metric", numHead("Train"), numHead("Test")];
  return table("metrics", head, names.map((m) => [rowHead(m), numCell(train[m]), numCell(test[m])]));
}

export function confusionMatrix(cm) {
  const labels = (cm.labels || []).map(String);
  const rows = (cm.matrix || []).map((values, i) => [
    rowHead(labels[i]),
    ...values.map((v, j) => h("td", { class: i === j ? "diag" : "", text: v })),
  ]);
  const caption = "Confusion matrix (test): rows are actual classes, columns predicted";
  return table("confusion", ["actual \\ predicted", ...labels], rows, caption);
}

export function hyperTable(job) {
  const sent = job.hyperparameters || {};
  const resolved = job.resolved_hyperparameters || {};
  const names = [...new Set([...Object.keys(resolved), ...Object.keys(sent)])].sort();
  if (!names.length) return h("p", { class: "muted", text: "None." });
  const show = (v) => (v === undefined ? "—" : JSON.stringify(v));
  const rows = names.map((n) => [rowHead(n), show(sent[n]), show(resolved[n])]);
  return table("hyper-table", ["Name", "As sent", "Used (defaults filled in)"], rows);
}
