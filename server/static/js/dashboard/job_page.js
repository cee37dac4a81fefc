// One training job: status history, metrics (confusion matrix), hyperparameters, artifact, versions.

import { get, request } from "../api.js";
import { debounce, h, replace, when } from "../dom.js";
import { fetchInsights, findingsView, liveCurveView } from "../insights.js";
import { ACTIVE, TERMINAL, statusText } from "../status.js";
import { jobHeader } from "./job_header.js";
import { duration } from "./list_rows.js";
import { downloadPredictions, modelOf } from "./predictions.js";
import { confusionMatrix, historyTable, hyperTable, metricsTable, warningText } from "./tables.js";
import { renderVersions } from "./versions.js";

function section(title, ...content) {
  const id = `sec-${title.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  return h("section", { class: "section", "aria-labelledby": id }, h("h2", { id, text: title }), content);
}

function facts(pairs) {
  const shown = pairs.filter(([, v]) => v !== undefined && v !== null && v !== "");
  return h("dl", { class: "facts" }, shown.map(([k, v]) => [h("dt", { text: k }), h("dd", {}, v)]));
}

function metricsBlock(metrics) {
  if (!metrics) return [h("p", { class: "muted", text: "Metrics appear when the job succeeds." })];
  const cm = metrics.test && metrics.test.confusion_matrix;
  const rows = metrics.rows ? `Rows: ${metrics.rows.train} train, ${metrics.rows.test} test.` : "";
  const note = h("p", { class: "muted", text: `${rows} Target: ${metrics.target ?? "—"}.` });
  return [metricsTable(metrics), note, cm ? confusionMatrix(cm) : null];
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

/** A predictions job's model and, once it succeeded, its download. */
function predictionsFact(job) {
  const status = h("span", { class: "muted", "aria-live": "polite" });
  const format = (job.config?.format || "csv").toUpperCase();
  const download = job.status === "succeeded"
    ? h("button", { type: "button", class: "small", text: `Download predictions (${format})`,
        on: { click: () => downloadPredictions(job, status) } })
    : null;
  return h("span", {}, `${modelOf(job)} → ${format} `, download, " ", status);
}

export async function mount(main, { live, route }) {
  const jobId = route.jobId;
  const header = h("div");
  const summary = h("div");
  const history = h("div");
  const metricsBox = h("div");
  const hyper = h("div");
  const versionsBox = h("div");
  const aliasesBox = h("div");
  const predictionsBox = h("div");
  const curve = liveCurveView(jobId);
  const findingsBox = h("div");
  replace(
    main,
    h(
      "div",
      { class: "dash" },
      h("p", {}, h("a", { href: "/user/training-jobs", text: "← All training jobs" })),
      header,
      section("Model versions of this node", versionsBox),
      section("Aliases", aliasesBox),
      section("Batch predictions", predictionsBox),
      h("div", { class: "grid2" }, section("Metrics", metricsBox), section("Hyperparameters", hyper)),
      section("Learning curve", curve.el),
      section("What the model learned", findingsBox),
      section("Summary", summary),
      section("Status history", history),
    ),
  );
  let versionsFor = null;
  let versions = null;
  let current = null;
  let insightsFor = null;

  async function loadInsights(job) {
    // Once per status: the curve then follows the websocket; findings exist once it succeeded.
    const key = `${job.status}/${job.attempt}`;
    if (insightsFor === key) return;
    insightsFor = key;
    const found = await fetchInsights(job.id);
    curve.set(found);
    replace(findingsBox, findingsView(found));
  }

  async function load() {
    const [job, events] = await Promise.all([
      get(`/training-jobs/${encodeURIComponent(jobId)}`),
      get(`/training-jobs/${encodeURIComponent(jobId)}/events`),
    ]);
    current = job;
    // An ended job sends no more events: its topic goes (the pipeline topic stays for alias changes).
    if (TERMINAL.has(job.status)) live.unsubscribe({ job_id: jobId });
    const node = job.node_label || job.node_id;
    document.title = `Job ${node} · ${statusText(job)}`;
    const versionsBase = `/pipelines/${encodeURIComponent(job.pipeline_id)}/nodes/${encodeURIComponent(job.node_id)}/versions`;
    const activeVersion = job.model_version != null
      ? await get(`${versionsBase}?limit=1`).then((v) => v.active_version, () => null)
      : null;
    replace(
      header,
      jobHeader(job, {
        activeVersion,
        reload: async () => {
          await load();
          await versions?.reload();
        },
        download: (status) => downloadArtifact(job, status),
      }),
    );
    replace(
      summary,
      facts([
        ["Job", job.id],
        ["Status", statusText(job)],
        ["Model", job.model_type],
        ["Node", `${node} (id ${job.node_id})`],
        ["Pipeline", h("a", { href: `/?pipeline=${encodeURIComponent(job.pipeline_id)}`, text: job.pipeline_name || job.pipeline_id })],
        ["Worker", job.worker],
        ["Duration", duration(job.started_at, job.finished_at)],
        ["Dataset", job.dataset_source_id],
        ["Model version", job.model_version],
        ["Predictions", job.kind === "predictions" ? predictionsFact(job) : null],
        ["Report", job.kind === "validation" && job.status === "succeeded"
          ? h("a", { href: `${location.pathname.replace(/\/$/, "")}/report`, text: "Open the validation report" }) : null],
        ["Experiment tag", job.config?.experiment_tag],
        ["Description", job.config?.description],
        ["Max runtime", job.config?.max_runtime_s ? `${job.config.max_runtime_s} s` : null],
        ["Attempt", job.attempt],
        ["Created", when(job.created_at)],
        ["Started", job.started_at ? when(job.started_at) : null],
        ["Finished", job.finished_at ? when(job.finished_at) : null],
        ["Error", job.error_code ? `${job.error_code}: ${job.error_message || ""}` : null],
        ["Warnings", job.warnings?.length ? job.warnings.map(warningText).join("; ") : null],
        ["Artifact", job.artifact_sha256 ? `sha256 ${job.artifact_sha256.slice(0, 16)}…` : null],
      ]),
    );
    replace(history, historyTable(events.events));
    replace(metricsBox, metricsBlock(job.metrics));
    replace(hyper, hyperTable(job));
    loadInsights(job).catch((e) => console.warn("insights", e));
    const key = `${job.pipeline_id}/${job.node_id}`;
    if (versionsFor !== key) {
      versionsFor = key;
      const node = {
        pipelineId: job.pipeline_id, nodeId: job.node_id, jobId: job.id, changed: () => refresh(), aliasesBox,
        predictionsBox, live,
      };
      versions?.stop();
      versions = await renderVersions(versionsBox, node);
    } else if (versions && job.model_version != null) {
      await versions.reload();
    }
    return job;
  }

  const refresh = debounce(() => load().catch((e) => console.warn(e)), 250);
  // An alias of this node moved (here, in another tab, by the API): the header's active version, the chips and
  // the alias panel follow. load() reloads the versions itself when the job has one.
  const aliasesMoved = debounce(() => (current?.model_version != null ? load() : versions?.reload())
    ?.catch((e) => console.warn(e)), 250);
  const unlisten = live.onEvent((frame) => {
    if (frame.type === "alias.changed") {
      if (current && frame.pipeline_id === current.pipeline_id && frame.node_id === current.node_id) aliasesMoved();
      return;
    }
    if (frame.job_id !== jobId || frame.type === "snapshot.job") return;
    curve.receive(frame);
    if (frame.type === "job.progress") {
      // Progress patches the status text in place; the page's buttons are not rebuilt.
      if (current && ACTIVE.has(current.status)) {
        current = { ...current, progress: frame.progress, status: frame.status || current.status };
        for (const pill of header.querySelectorAll(".pill[data-job-status]")) pill.textContent = statusText(current);
      }
      return;
    }
    refresh();
  });
  live.subscribe({ job_id: jobId });
  const job = await load();
  live.subscribe({ pipeline_id: job.pipeline_id }); // the node's alias changes
  return () => {
    unlisten();
    versions?.stop();
    live.unsubscribe({ job_id: jobId }, { pipeline_id: job.pipeline_id });
  };
}
