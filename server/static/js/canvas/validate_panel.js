// The validation node's panel: which versions to compare on which rows, Run, and the report link.

import { h } from "../dom.js";
import { buildField } from "./fields.js";
import { deleteButton, panelForm, showFieldErrors } from "./panel.js";
import { advancedSection, fieldGroups, followJob, readWidgets, runOnSubmit } from "./run_form.js";

const LABELS = {
  versions: "Versions",
  dataset_source_id: "Data (blank: the test partition)",
  n_bootstrap: "Bootstrap resamples",
  random_state: "Bootstrap seed",
  max_runtime_s: "Max runtime (seconds)",
};

/** The report page of a validation job. */
export function reportHref(jobId) {
  return `/user/training-jobs/${encodeURIComponent(jobId)}/report`;
}

/** One line for the node card: each version's first metric on the evaluated rows. */
export function validationHeadline(job) {
  const summary = job && job.status === "succeeded" ? job.metrics : null;
  if (!summary || !summary.versions) return null;
  const entries = Object.entries(summary.versions);
  if (!entries.length) return null;
  const metric = summary.task === "regression" ? "rmse" : "accuracy";
  const shown = entries.map(([v, m]) => `v${v} ${m[metric] == null ? "—" : Number(m[metric]).toFixed(3)}`);
  return `${metric}: ${shown.join(" · ")}`;
}

/**
 * Render the panel. `ctx` is the node-panel context plus onRun, jobSummary, isActive and latestJob.
 * @returns {{showErrors(error), refreshStatus(), nodeId}}
 */
export function renderValidatePanel(container, node, nodeType, ctx) {
  const config = node.data.config || {};
  const general = h("p", { class: "form-error", role: "alert" });
  const status = h("div", { class: "job-summary", "aria-live": "polite" });
  const reportLink = h("a", { class: "report-link", text: "Open the validation report", hidden: true });
  const widgets = nodeType.config.map((param) =>
    buildField({ ...param, label: LABELS[param.name] || param.label }, config[param.name], {
      path: param.name,
      columns: ctx.columns,
      datasets: ctx.datasets,
      onChange: () => ctx.onConfig(node.id, read()),
    }),
  );
  const read = () => readWidgets(widgets);
  const { basic, advanced } = fieldGroups(widgets, nodeType.config);
  const submit = h("button", { type: "submit", class: "primary", text: "Run validation" });
  let busy = false;
  const syncButton = () => {
    submit.disabled = busy || ctx.isActive(node.id);
  };
  const form = panelForm(
    node,
    ctx,
    { class: "validate-form" },
    status,
    reportLink,
    h("p", { class: "muted", text: nodeType.description }),
    basic,
    advancedSection(advanced),
    h("div", { class: "panel-footer" }, general, h("div", { class: "actions" }, submit, deleteButton(node, ctx))),
  );
  const showErrors = (error) => showFieldErrors(widgets, error, general);
  runOnSubmit(form, {
    widgets: () => widgets,
    values: () => ({ ...read(), run_now: true }),
    run: (values) => ctx.onRun(node.id, values),
    showErrors,
    setBusy: (value) => {
      busy = value;
      syncButton();
    },
  });
  container.replaceChildren(form);
  const refreshStatus = followJob(status, node, ctx, () => {
    const job = ctx.latestJob(node.id);
    const ready = Boolean(job && job.status === "succeeded");
    reportLink.hidden = !ready;
    if (ready && reportLink.getAttribute("href") !== reportHref(job.id)) reportLink.setAttribute("href", reportHref(job.id));
    syncButton();
  });
  return { showErrors, refreshStatus, nodeId: node.id };
}
