// A validation job's report: each version's metrics on the same rows side by side, the paired
// differences with their bootstrap intervals, the curves, the data checks; JSON and HTML downloads.

import { get, request } from "../api.js";
import { h, num, replace } from "../dom.js";
import { findingsView } from "../insights.js";
import { jobHref } from "../canvas/badge.js";
import { table } from "./tables.js";

function section(title, ...content) {
  const id = `rep-${title.toLowerCase().replace(/[^a-z]+/g, "-")}`;
  return h("section", { class: "section", "aria-labelledby": id }, h("h2", { id, text: title }), content);
}

function metricsSideBySide(report) {
  const versions = report.versions;
  const head = ["Metric", ...versions.map((v) => `v${v.version} (${v.ref})`)];
  const rows = report.metric_names.map((name) => [
    h("th", { scope: "row", text: name }),
    ...versions.map((v) => h("td", { class: "num", text: v.metrics ? num(v.metrics[name]) : "—" })),
  ]);
  return table("report-metrics", head, rows, `Metrics on the same ${report.rows} rows`);
}

function comparisonTable(comparison) {
  const rows = Object.entries(comparison.metrics).map(([name, m]) => [
    h("th", { scope: "row", text: name }),
    h("td", { class: "num", text: num(m.baseline) }),
    h("td", { class: "num", text: num(m.value) }),
    h("td", { class: "num", text: num(m.difference) }),
    h("td", { class: "num", text: `[${num(m.ci_low)}, ${num(m.ci_high)}]` }),
    h("td", { text: m.significant ? "yes" : "no" }),
  ]);
  return table("report-comparison", ["Metric", "Baseline", "Value", "Difference", "95% CI", "CI excludes 0"], rows,
    `v${comparison.version} against v${comparison.baseline}`);
}

async function download(jobId, kind, status) {
  const suffix = kind === "html" ? "report.html" : "report";
  const name = `validation-${jobId}.${kind}`;
  status.textContent = "Downloading…";
  try {
    const response = await request("GET", `/training-jobs/${encodeURIComponent(jobId)}/${suffix}`, { raw: true });
    const blob = kind === "json" ? new Blob([JSON.stringify(await response.json(), null, 2)], { type: "application/json" })
      : await response.blob();
    const url = URL.createObjectURL(blob);
    const link = h("a", { href: url, download: name });
    document.body.append(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(url), 10000);
    status.textContent = `Downloaded ${name} (${blob.size} bytes).`;
  } catch (exc) {
    status.textContent = `Download failed: ${exc.message}`;
  }
}

function render(main, report) {
  const status = h("p", { class: "muted", "aria-live": "polite" });
  const source = report.data.source === "dataset" ? `dataset ${report.data.dataset_source_id}` : "the test partition";
  const failed = report.versions.filter((v) => v.error).map((v) => h("p", { class: "form-error", text: v.error }));
  const curves = report.versions.filter((v) => v.curves && Object.keys(v.curves).length).map((v) =>
    h("div", { class: "report-curves" }, h("h3", { text: `Version ${v.version}` }), findingsView(v.curves)));
  replace(
    main,
    h(
      "div",
      { class: "dash report" },
      h("p", {}, h("a", { href: jobHref(report.job_id), text: "← The validation job" })),
      h("h1", { text: "Validation report" }),
      h("p", { class: "muted", text: `${report.task} of ${report.target} on ${source}: ${report.rows} rows, ` +
        `node ${report.train_node_id}.` }),
      h("div", { class: "actions" },
        h("button", { type: "button", text: "Download JSON", on: { click: () => download(report.job_id, "json", status) } }),
        h("button", { type: "button", text: "Download HTML", on: { click: () => download(report.job_id, "html", status) } })),
      status,
      section("Metrics", metricsSideBySide(report), failed),
      section("Differences", h("p", { class: "muted", text: `Paired bootstrap: ${report.bootstrap.resamples} ` +
        `resamples of the same rows, seed ${report.bootstrap.seed}.` }),
        report.comparisons.length ? report.comparisons.map(comparisonTable)
          : h("p", { class: "muted", text: "One version: nothing to compare." })),
      section("Data checks", report.warnings.length
        ? h("ul", { class: "report-warnings" }, report.warnings.map((w) => h("li", { text: `${w.code}: ${w.message}` })))
        : h("p", { class: "muted", text: "No findings." })),
      section("Curves", curves.length ? curves : h("p", { class: "muted", text: "No curves for these rows." })),
    ),
  );
}

export async function mount(main, { route }) {
  replace(main, h("p", { class: "muted", text: "Loading the report…" }));
  try {
    render(main, await get(`/training-jobs/${encodeURIComponent(route.jobId)}/report`));
  } catch (exc) {
    replace(main, h("div", { class: "dash" }, h("p", {}, h("a", { href: jobHref(route.jobId), text: "← The job" })),
      h("p", { class: "form-error", role: "alert", text: `The report is not available: ${exc.message}` })));
  }
  return () => {};
}
