// One row of the dashboard's job table: human names, status, version, metric, duration, worker.

import { h, num, when } from "../dom.js";
import { headlineMetric, statusPill, statusText } from "../status.js";

export const JOB_COLUMNS = [
  ["Created", ""],
  ["Pipeline", ""],
  ["Node", ""],
  ["Model", ""],
  ["Status", ""],
  ["Version", "num"],
  ["Metric (test)", "num"],
  ["Duration", "num"],
  ["Worker", ""],
];

/** "2m 05s" from two ISO times (the second defaults to now), or "—". */
export function duration(startIso, endIso) {
  if (!startIso) return "—";
  const start = Date.parse(startIso);
  const end = endIso ? Date.parse(endIso) : Date.now();
  if (Number.isNaN(start) || Number.isNaN(end) || end < start) return "—";
  if (end - start < 1000) return "<1s";
  const total = Math.round((end - start) / 1000);
  const h_ = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = total % 60;
  if (h_) return `${h_}h ${String(m).padStart(2, "0")}m`;
  if (m) return `${m}m ${String(s).padStart(2, "0")}s`;
  return `${s}s`;
}

/** The metric a row shows: the one the list is sorted by, else the headline metric. */
function shownMetric(job, order) {
  const test = (job.metrics && job.metrics.test) || {};
  if (order && typeof test[order] === "number") return { name: order, value: test[order] };
  if (order && !order.includes("created_at")) return null;
  return headlineMetric(job.metrics);
}

export function jobRow(job, families, order) {
  const family = families.find((f) => f.model_type === job.model_type);
  const metric = shownMetric(job, order);
  const jobHref = `/user/training-jobs/${encodeURIComponent(job.id)}`;
  return h(
    "tr",
    { dataset: { jobId: job.id, status: job.status } },
    h("td", { text: when(job.created_at) }),
    h(
      "td",
      {},
      h("a", {
        href: `/?pipeline=${encodeURIComponent(job.pipeline_id)}`,
        title: `Pipeline id ${job.pipeline_id}`,
        text: job.pipeline_name || "Untitled pipeline",
      }),
    ),
    h("td", {}, h("a", { href: jobHref, title: `Node id ${job.node_id}`, text: job.node_label || job.node_id })),
    h("td", { text: `${family ? family.label : job.model_type}${job.kind && job.kind !== "training" ? ` · ${job.kind}` : ""}` }),
    h("td", {}, statusPill(job.status, statusText(job))),
    h("td", { class: "num", text: job.model_version != null ? `v${job.model_version}` : "—" }),
    h("td", { class: "num", text: metric ? `${metric.name} ${num(metric.value, 3)}` : "—" }),
    h("td", { class: "num", text: duration(job.started_at, job.finished_at) }),
    h("td", { class: "muted", text: job.worker || "—" }),
  );
}
