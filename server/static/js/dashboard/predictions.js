// Batch predictions of a node's model: choose a version or an alias, a dataset and a format, follow the job
// live, download the output.

import { DATASETS_CHANGED, get, post, query, saveDownload } from "../api.js";
import { h, replace, uid } from "../dom.js";
import { ACTIVE, TERMINAL, statusPill, statusText } from "../status.js";

const FORMATS = [
  ["csv", "CSV"],
  ["parquet", "Parquet"],
];

/** The output file's name, as the server names it. */
export function predictionsFile(job) {
  return `${job.id}.predictions.${job.config?.format || "csv"}`;
}

/** "champion (v3)" or "v3": what the job predicts with. */
export function modelOf(job) {
  const { version, version_ref: ref } = job.config || {};
  if (ref === undefined || ref === null || ref === String(version)) return version != null ? `v${version}` : "the model";
  return version != null ? `${ref} (v${version})` : ref;
}

/** Save a succeeded predictions job's output through the browser (the request carries the token). */
export async function downloadPredictions(job, status) {
  const name = predictionsFile(job);
  status.textContent = "Downloading…";
  try {
    const size = await saveDownload(`/training-jobs/${encodeURIComponent(job.id)}/predictions`, name);
    status.textContent = `Downloaded ${name} (${size} bytes).`;
  } catch (exc) {
    status.textContent = `Download failed: ${exc.message}`;
  }
}

function select(id, name, options) {
  return h("select", { id, name }, options.map(([value, text]) => h("option", { value, text })));
}

function field(id, label, control) {
  return h("div", { class: "field inline" }, h("label", { for: id, text: label }), control);
}

/**
 * Render the batch-predictions panel of a node into `box`.
 * @param {HTMLElement} box
 * @param {{nodeBase: string, live: LiveClient, versions: () => object[], aliases: () => object[]}} opts
 *   nodeBase: the node's API path; versions/aliases: the node's live versions and aliases now.
 * @returns {{reload: () => Promise<void>, prepare: (ref: string) => void, stop: () => void}}
 */
export function renderPredictions(box, { nodeBase, live, versions, aliases }) {
  const ids = { model: uid("predict-model"), dataset: uid("predict-dataset"), format: uid("predict-format") };
  const model = h("select", { id: ids.model, name: "model" });
  const dataset = h("select", { id: ids.dataset, name: "dataset", required: true });
  const format = select(ids.format, "format", FORMATS);
  const error = h("p", { class: "form-error", role: "alert" });
  const form = h(
    "form",
    { class: "inline-form predict-form", "aria-label": "Run batch predictions" },
    field(ids.model, "Model", model),
    field(ids.dataset, "Dataset", dataset),
    field(ids.format, "Format", format),
    h("button", { type: "submit", class: "small", text: "Run predictions" }),
  );
  const help = h("p", {
    class: "help",
    text: "The dataset needs the model's input columns; the output adds a prediction (and class probabilities).",
  });
  const jobBox = h("div", { class: "predict-job", "aria-live": "polite" });
  replace(box, form, error, help, jobBox);
  const state = { job: null };

  function fillModels(chosen) {
    const keep = chosen ?? model.value;
    const byAlias = aliases().map((a) => [a.alias, `${a.alias} (v${a.version})`]);
    const byNumber = versions().filter((v) => !v.deleted_at).map((v) => [String(v.version), `v${v.version}`]);
    replace(
      model,
      byNumber.map(([value, text]) => h("option", { value, text, selected: value === keep })),
      byAlias.length ? h("optgroup", { label: "Aliases" },
        byAlias.map(([value, text]) => h("option", { value, text, selected: value === keep }))) : null,
    );
  }

  let datasetReads = 0;
  async function fillDatasets() {
    const read = ++datasetReads;
    const page = await get(`/datasets${query({ limit: 200 })}`);
    if (read !== datasetReads) return; // a later read answers for both
    const prompt = page.items.length ? "Choose a dataset…" : "No datasets yet: upload one on the canvas";
    const wanted = [["", prompt], ...page.items.map((d) => [d.id, `${d.name} (${d.n_rows} rows)`])];
    const shown = [...dataset.options].map((o) => [o.value, o.text]);
    if (JSON.stringify(wanted) === JSON.stringify(shown)) return; // unchanged: an open list is left alone
    const keep = dataset.value; // read now: the user may have chosen while the list was read
    replace(dataset, wanted.map(([value, text]) => h("option", { value, text, selected: value === keep })));
  }

  // The user's datasets change elsewhere: an upload on this page says so at once, and opening the list
  // reads it again (another tab, the API); the current choice is kept.
  const refreshDatasets = () => fillDatasets().catch((exc) => console.warn("datasets", exc));
  window.addEventListener(DATASETS_CHANGED, refreshDatasets);
  dataset.addEventListener("focus", refreshDatasets);

  function renderJob() {
    const job = state.job;
    if (!job) return;
    const status = h("p", { class: "muted" });
    const link = h("a", { href: `/user/training-jobs/${encodeURIComponent(job.id)}`, text: "job" });
    const download = job.status === "succeeded"
      ? h("button", { type: "button", text: `Download predictions (${(job.config?.format || "csv").toUpperCase()})`,
          on: { click: () => downloadPredictions(job, status) } })
      : null;
    const failure = job.status === "failed"
      ? h("p", { class: "error", role: "alert", dataset: { errorCode: job.error_code || "" },
          text: `Predictions failed: ${job.error_message || job.error_code || "unknown error"}` })
      : null;
    replace(
      jobBox,
      h("p", { class: "predict-status" }, `Predictions of ${modelOf(job)} `, "(", link, "): ",
        statusPill(job.status, statusText(job))),
      failure,
      download,
      status,
    );
  }

  // The shown job's topic: dropped once the job has ended (its row read) or another run replaces it.
  const topics = live.scope();

  async function refresh() {
    if (!state.job) return;
    const job = await get(`/training-jobs/${encodeURIComponent(state.job.id)}`);
    if (state.job?.id !== job.id) return; // another run replaced it meanwhile
    state.job = job;
    if (TERMINAL.has(job.status)) topics.unsubscribe({ job_id: job.id });
    renderJob();
  }

  const unlisten = live.onEvent((frame) => {
    const job = state.job;
    if (!job || frame.job_id !== job.id) return;
    if (frame.type === "job.progress") {
      if (!ACTIVE.has(job.status)) return;
      state.job = { ...job, progress: frame.progress, status: frame.status || job.status };
      renderJob();
      return;
    }
    if (frame.type === "snapshot.job") state.job = { ...job, ...frame.job };
    refresh().catch((e) => (error.textContent = e.message));
  });

  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    error.textContent = "";
    if (!form.reportValidity()) return;
    const ref = model.value;
    if (!ref) {
      error.textContent = "This node has no model version to predict with yet.";
      return;
    }
    state.job = null; // the previous run's status and download go: this one replaces them
    topics.clear();
    replace(jobBox, h("p", { class: "muted", text: "Starting predictions…" }));
    try {
      const job = await post(`${nodeBase}/versions/${encodeURIComponent(ref)}/predictions`, {
        dataset_id: dataset.value,
        format: format.value,
      });
      state.job = job;
      topics.subscribe({ job_id: job.id });
      renderJob();
    } catch (exc) {
      replace(jobBox);
      const where = exc.fields?.()[0];
      error.textContent = `Predictions not started: ${exc.message}${where ? ` (${where})` : ""}`;
    }
  });

  let datasetsLoaded = false;
  async function reload() {
    fillModels();
    if (!datasetsLoaded) await fillDatasets(); // the user's datasets change elsewhere: once per page
    datasetsLoaded = true;
  }

  /** Preselect `ref` (a version number or an alias) and move focus to the dataset (a row's "Predict"). */
  function prepare(ref) {
    fillModels(String(ref));
    dataset.focus();
  }

  function stop() {
    unlisten();
    topics.clear();
    window.removeEventListener(DATASETS_CHANGED, refreshDatasets);
    datasetReads += 1; // a read still under way fills nothing
  }

  return { reload, prepare, stop };
}
