// One training job: status history, metrics (confusion matrix), hyperparameters, artifact, versions.

import { get, post, request } from "../api.js";
import { debounce, h, num, replace, when } from "../dom.js";
import { ACTIVE, statusPill, statusText } from "../status.js";
import { renderVersions } from "./versions.js";

const METRIC_ORDER = ["accuracy", "f1", "roc_auc", "precision", "recall", "log_loss", "rmse", "mae", "r2"];

function section(title, ...content) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  return h("section", { class: "section", "aria-labelledby": id }, h("h2", { id, text: title }), content);
}

function facts(pairs) {
  return h("dl", { class: "facts" }, pairs.filter(([, v]) => v !== undefined && v !== null && v !== "").map(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)]));
}

function eventDetails(event) {
  const skip = new Set(["type", "job_id", "pipeline_id", "node_id", "seq", "status", "at"]);
  const parts = [];
  for (const [key, value] of Object.entries(event)) {
    if (skip.has(key) || value === null || value === undefined) continue;
    parts.push(`${key}: ${typeof value === "object" ? JSON.stringify(value) : value}`);
  }
  return parts.join("; ");
}

function historyTable(events) {
  if (!events.length) return h("p", { class: "muted", text: "No events yet." });
  return h(
    "table",
    { class: "events" },
    h("thead", {}, h("tr", {}, ["#", "Time", "Event", "Status", "Details"].map((t) => h("th", { scope: "col", text: t })))),
    h(
      "tbody",
      {},
      events.map((e) =>
        h("tr", {}, h("td", { class: "num", text: e.seq }), h("td", { text: when(e.at) }), h("td", { text: e.type }), h("td", {}, statusPill(e.status)), h("td", { class: "muted", text: eventDetails(e) })),
      ),
    ),
  );
}

function metricsTable(metrics) {
  const train = metrics.train || {};
  const test = metrics.test || {};
  const names = METRIC_ORDER.filter((m) => m in train || m in test);
  return h(
    "table",
    { class: "metrics" },
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "Metric" }), h("th", { scope: "col", class: "num", text: "Train" }), h("th", { scope: "col", class: "num", text: "Test" }))),
    h("tbody", {}, names.map((m) => h("tr", {}, h("th", { scope: "row", text: m }), h("td", { class: "num", text: num(train[m]) }), h("td", { class: "num", text: num(test[m]) })))),
  );
}

function confusionMatrix(cm) {
  const labels = cm.labels || [];
  return h(
    "table",
    { class: "confusion" },
    h("caption", { text: "Confusion matrix (test): rows are actual classes, columns predicted" }),
    h("thead", {}, h("tr", {}, h("th", { scope: "col", text: "actual \\ predicted" }), labels.map((l) => h("th", { scope: "col", text: String(l) })))),
    h(
      "tbody",
      {},
      (cm.matrix || []).map((rowValues, i) =>
        h("tr", {}, h("th", { scope: "row", text: String(labels[i]) }), rowValues.map((v, j) => h("td", { class: i === j ? "diag" : "", text: v }))),
      ),
    ),
  );
}

function hyperTable(job) {
  const sent = job.hyperparameters || {};
  const resolved = job.resolved_hyperparameters || {};
  const names = [...new Set([...Object.keys(resolved), ...Object.keys(sent)])].sort();
  if (!names.length) return h("p", { class: "muted", text: "None." });
  const show = (v) => (v === undefined ? "—" : JSON.stringify(v));
  return h(
    "table",
    { class: "hyper-table" },
    h("thead", {}, h("tr", {}, ["Name", "As sent", "Used (defaults filled in)"].map((t) => h("th", { scope: "col", text: t })))),
    h("tbody", {}, names.map((n) => h("tr", {}, h("th", { scope: "row", text: n }), h("td", { text: show(sent[n]) }), h("td", { text: show(resolved[n]) })))),
  );
}

async function downloadArtifact(job, status) {
  status.textContent = "Downloading…";
  try {
    const response = await request("GET", `/training-jobs/${encodeURIComponent(job.id)}/artifact`, { raw: true });
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: `${job.id}.joblib` });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    status.textContent = `Downloaded ${job.id}.joblib (${blob.size} bytes).`;
  } catch (exc) {
    status.textContent = `Download failed: ${exc.message}`;
  }
}

export async function mount(main, { live, route }) {
  const jobId = route.jobId;
  const header = h("div", { class: "header-row" });
  const summary = h("div");
  const history = h("div");
  const metricsBox = h("div");
  const hyper = h("div");
  const versionsBox = h("div");
  replace(
    main,
    h(
      "div",
      { class: "dash" },
      h("p", {}, h("a", { href: "/user/training-jobs", text: "← All training jobs" })),
      header,
      section("Summary", summary),
      h("div", { class: "grid2" }, section("Metrics", metricsBox), section("Hyperparameters", hyper)),
      section("Status history", history),
      section("Model versions of this node", versionsBox),
    ),
  );
  let versionsFor = null;
  let versions = null;

  async function load() {
    const [job, events] = await Promise.all([
      get(`/training-jobs/${encodeURIComponent(jobId)}`),
      get(`/training-jobs/${encodeURIComponent(jobId)}/events`),
    ]);
    document.title = `Job ${job.node_id} · ${statusText(job)}`;
    const actions = [];
    if (ACTIVE.has(job.status) && job.status !== "cancelling") {
      actions.push(h("button", { type: "button", class: "danger", text: "Cancel job", on: { click: () => post(`/training-jobs/${encodeURIComponent(job.id)}/cancel`, {}).then(load) } }));
    }
    replace(header, h("h1", { text: `Training job · ${job.node_id}` }), statusPill(job.status, statusText(job)), actions);
    const artifactStatus = h("span", { class: "muted", role: "status" });
    const artifact = job.model_artifact_uri
      ? h("span", {}, h("button", { type: "button", text: "Download model (joblib)", on: { click: () => downloadArtifact(job, artifactStatus) } }), " ", artifactStatus)
      : null;
    replace(
      summary,
      facts([
        ["Job", job.id],
        ["Status", statusText(job)],
        ["Model", job.model_type],
        ["Node", job.node_id],
        ["Pipeline", h("a", { href: `/?pipeline=${encodeURIComponent(job.pipeline_id)}`, text: job.pipeline_id })],
        ["Dataset", job.dataset_source_id],
        ["Model version", job.model_version],
        ["Experiment tag", job.config?.experiment_tag],
        ["Description", job.config?.description],
        ["Max runtime", job.config?.max_runtime_s ? `${job.config.max_runtime_s} s` : null],
        ["Attempt", job.attempt],
        ["Created", when(job.created_at)],
        ["Started", job.started_at ? when(job.started_at) : null],
        ["Finished", job.finished_at ? when(job.finished_at) : null],
        ["Error", job.error_code ? `${job.error_code}: ${job.error_message || ""}` : null],
        ["Warnings", job.warnings?.length ? job.warnings.map((w) => (typeof w === "string" ? w : JSON.stringify(w))).join("; ") : null],
        ["Artifact", artifact],
      ]),
    );
    replace(history, historyTable(events.events));
    if (job.metrics) {
      const cm = job.metrics.test && job.metrics.test.confusion_matrix;
      const rows = job.metrics.rows ? `Rows: ${job.metrics.rows.train} train, ${job.metrics.rows.test} test.` : "";
      replace(metricsBox, metricsTable(job.metrics), h("p", { class: "muted", text: `${rows} Target: ${job.metrics.target ?? "—"}.` }), cm ? confusionMatrix(cm) : null);
    } else {
      replace(metricsBox, h("p", { class: "muted", text: "Metrics appear when the job succeeds." }));
    }
    replace(hyper, hyperTable(job));
    const key = `${job.pipeline_id}/${job.node_id}`;
    if (versionsFor !== key) {
      versionsFor = key;
      versions = await renderVersions(versionsBox, { pipelineId: job.pipeline_id, nodeId: job.node_id, jobId: job.id });
    } else if (versions && job.model_version != null) {
      await versions.reload();
    }
    return job;
  }

  const refresh = debounce(() => load().catch((e) => console.warn(e)), 250);
  const unlisten = live.onEvent((frame) => {
    if (frame.job_id === jobId && frame.type !== "snapshot.job") refresh();
  });
  live.subscribe({ job_id: jobId });
  await load();
  return () => unlisten();
}
