// The top of a job's page: status, headline metrics, the model version and its actions.

import { post } from "../api.js";
import { confirmDialog } from "../confirm.js";
import { h, num } from "../dom.js";
import { ACTIVE, statusPill, statusText } from "../status.js";

const HEADLINES = {
  classification: ["accuracy", "f1", "roc_auc"],
  regression: ["r2", "rmse", "mae"],
};

function headlineMetrics(metrics) {
  const test = (metrics && metrics.test) || {};
  const names = typeof test.accuracy === "number" ? HEADLINES.classification : HEADLINES.regression;
  return names.filter((m) => typeof test[m] === "number").map((m) => [m, test[m]]);
}

function pill(job) {
  const el = statusPill(job.status, statusText(job));
  el.dataset.jobStatus = "";
  return el;
}

/**
 * @param {object} job the job row (with pipeline_name and node_label)
 * @param {object} ctx {activeVersion: number|null, reload(), download(statusEl)}
 */
export function jobHeader(job, ctx) {
  const node = job.node_label || job.node_id;
  const actions = [];
  if (ACTIVE.has(job.status) && job.status !== "cancelling") {
    const cancel = () => post(`/training-jobs/${encodeURIComponent(job.id)}/cancel`, {}).then(ctx.reload);
    actions.push(h("button", { type: "button", class: "danger", text: "Cancel job", on: { click: cancel } }));
  }
  const message = h("span", { class: "muted", role: "status", "aria-live": "polite" });
  let version = null;
  if (job.model_version != null) {
    const active = ctx.activeVersion === job.model_version;
    const base = `/pipelines/${encodeURIComponent(job.pipeline_id)}/nodes/${encodeURIComponent(job.node_id)}/versions`;
    const promote = async () => {
      const sure = await confirmDialog({
        title: `Promote v${job.model_version}?`,
        text: `v${job.model_version} becomes the active version of ${node}` +
          (ctx.activeVersion ? ` instead of v${ctx.activeVersion}.` : "."),
        confirm: `Promote v${job.model_version}`,
      });
      if (!sure) return;
      try {
        await post(`${base}/${job.model_version}/promote`, {});
        await ctx.reload();
      } catch (exc) {
        message.textContent = `Promotion failed: ${exc.message}`;
      }
    };
    version = h(
      "div",
      { class: "version-box" },
      h("span", { class: "version-number", text: `Model v${job.model_version}` }),
      active
        ? h("span", { class: "pill", "data-status": "succeeded", text: "Active" })
        : h("button", { type: "button", class: "secondary small", text: `Promote v${job.model_version}`, on: { click: promote } }),
    );
    if (job.model_artifact_uri) {
      const status = h("span", { class: "muted", role: "status" });
      actions.push(
        h("button", { type: "button", text: "Download model (joblib)", on: { click: () => ctx.download(status) } }),
        status,
      );
    }
  }
  const stats = headlineMetrics(job.metrics).map(([name, value]) =>
    h("div", { class: "stat" }, h("span", { class: "stat-name", text: `${name} (test)` }), h("span", { class: "stat-value", text: num(value, 3) })),
  );
  return h(
    "div",
    { class: "job-top" },
    h(
      "div",
      { class: "header-row" },
      h("h1", { text: `Training job · ${node}` }),
      pill(job),
    ),
    h(
      "p",
      { class: "muted" },
      "Pipeline ",
      h("a", { href: `/?pipeline=${encodeURIComponent(job.pipeline_id)}`, title: `id ${job.pipeline_id}`, text: job.pipeline_name || "Untitled pipeline" }),
      ` · node ${node}`,
    ),
    stats.length ? h("div", { class: "stats" }, stats) : null,
    h("div", { class: "header-row" }, version, actions, message),
  );
}
