// A node's model versions: sortable table, promote (rollback), side-by-side comparison, chart.

import { get, post, query } from "../api.js";
import { confirmDialog } from "../confirm.js";
import { h, num, replace, uid, when } from "../dom.js";
import { versionChart } from "../charts.js";
import { renderComparison } from "./compare.js";
import { METRIC_ORDER as METRICS, table } from "./tables.js";

const LOWER_IS_BETTER = new Set(["log_loss", "rmse", "mae"]);

function metricOf(version, name, partition = "test") {
  const value = ((version.metrics || {})[partition] || {})[name];
  return typeof value === "number" ? value : null;
}

function labelled(text, control) {
  return h("div", { class: "field" }, h("label", { for: control.id, text }), control);
}

/**
 * Render the versions of (pipelineId, nodeId) into `box`.
 * @returns {Promise<{reload: () => Promise<void>}>}
 */
export async function renderVersions(box, { pipelineId, nodeId, jobId, changed }) {
  const base = `/pipelines/${encodeURIComponent(pipelineId)}/nodes/${encodeURIComponent(nodeId)}/versions`;
  const state = { items: [], active: null, sort: { key: "version", dir: "descending" }, chartMetric: null };
  const tableBox = h("div");
  const compareBox = h("div");
  const chartBox = h("div", { class: "chart" });
  const message = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  replace(
    box,
    message,
    tableBox,
    h("h3", { text: "Metric across versions" }),
    chartBox,
    h("h3", { text: "Compare versions" }),
    compareBox,
  );

  const metricNames = () => METRICS.filter((m) => state.items.some((v) => metricOf(v, m) !== null));

  function sorted() {
    const { key, dir } = state.sort;
    const sign = dir === "ascending" ? 1 : -1;
    const value = (v) => (key === "version" ? v.version : metricOf(v, key));
    return [...state.items].sort((a, b) => {
      const [x, y] = [value(a), value(b)];
      if (x === null && y === null) return b.version - a.version;
      if (x === null) return 1; // rows without the metric come last either way
      if (y === null) return -1;
      return sign * (x - y) || b.version - a.version;
    });
  }

  function sortHeader(key, text) {
    const th = h("th", { scope: "col", class: "num" });
    if (state.sort.key === key) th.setAttribute("aria-sort", state.sort.dir);
    th.append(
      h("button", {
        type: "button",
        class: "sort",
        text,
        on: {
          click: () => {
            const same = state.sort.key === key;
            const best = LOWER_IS_BETTER.has(key) ? "ascending" : "descending";
            state.sort = { key, dir: same ? (state.sort.dir === "ascending" ? "descending" : "ascending") : best };
            renderTable();
            tableBox.querySelector(`th[aria-sort] button`)?.focus();
          },
        },
      }),
    );
    return th;
  }

  async function promote(version) {
    const from = state.active ? ` instead of v${state.active}` : "";
    const sure = await confirmDialog({
      title: `Promote v${version}?`,
      text: `v${version} becomes the active version of this node${from}. You can promote another version later.`,
      confirm: `Promote v${version}`,
    });
    if (!sure) return;
    message.textContent = `Promoting v${version}…`;
    try {
      const out = await post(`${base}/${version}/promote`, {});
      const was = out.previous_version ? ` (was v${out.previous_version})` : "";
      message.textContent = `v${out.version} is now the active version${was}.`;
      await reload();
      changed?.();
    } catch (exc) {
      message.textContent = `Promotion failed: ${exc.message}`;
    }
  }

  function renderTable() {
    const names = metricNames();
    const rows = sorted().map((v) => {
      const active = v.version === state.active;
      return h(
        "tr",
        { class: active ? "active-version" : "", dataset: { version: v.version } },
        h("th", { scope: "row", class: "num", text: `v${v.version}` }),
        h("td", { text: when(v.created_at) }),
        h("td", { text: v.model_type }),
        names.map((m) => h("td", { class: "num", text: num(metricOf(v, m)) })),
        h("td", { text: v.aliases.join(", ") || "—" }),
        h(
          "td",
          {},
          v.job_id === jobId
            ? h("span", { class: "muted", text: "this job" })
            : h("a", { href: `/user/training-jobs/${encodeURIComponent(v.job_id)}`, text: "job" }),
        ),
        h(
          "td",
          {},
          active
            ? h("span", { class: "pill", "data-status": "succeeded", text: "Active" })
            : h("button", {
                type: "button",
                class: "secondary small",
                text: `Promote v${v.version}`,
                on: { click: () => promote(v.version) },
              }),
        ),
      );
    });
    replace(
      tableBox,
      h(
        "table",
        { class: "versions" },
        h("caption", { class: "sr-only", text: "Model versions; sort by a column with its header button" }),
        h(
          "thead",
          {},
          h(
            "tr",
            {},
            sortHeader("version", "Version"),
            h("th", { scope: "col", text: "Created" }),
            h("th", { scope: "col", text: "Model" }),
            names.map((m) => sortHeader(m, `${m} (test)`)),
            h("th", { scope: "col", text: "Aliases" }),
            h("th", { scope: "col", text: "Job" }),
            h("th", { scope: "col", text: "Active" }),
          ),
        ),
        h("tbody", {}, rows),
      ),
    );
  }

  function renderChart() {
    const names = metricNames();
    if (!names.length) {
      replace(chartBox, h("p", { class: "muted", text: "No metrics yet." }));
      return;
    }
    if (!names.includes(state.chartMetric)) state.chartMetric = names[0];
    const select = h("select", { id: uid("chart-metric") });
    for (const m of names) select.append(h("option", { value: m, text: m, selected: m === state.chartMetric }));
    select.addEventListener("change", () => {
      state.chartMetric = select.value;
      renderChart();
      chartBox.querySelector("select")?.focus();
    });
    const points = [...state.items]
      .sort((a, b) => a.version - b.version)
      .map((v) => ({ x: v.version, y: metricOf(v, state.chartMetric), active: v.version === state.active }));
    replace(chartBox, labelled("Metric", select), versionChart(points, `${state.chartMetric} (test) by model version`));
  }

  function renderCompareForm() {
    renderComparison(compareBox, state.items, state.active);
  }

  async function reload() {
    const out = await get(`${base}${query({ limit: 500 })}`);
    const before = state.items.map((v) => v.version).join(",");
    state.items = out.items;
    state.active = out.active_version;
    if (!state.items.length) {
      replace(tableBox, h("p", { class: "muted", text: "No versions yet: a succeeded job creates one." }));
    } else {
      renderTable();
    }
    renderChart();
    // A promotion changes aliases only: keep the comparison the user is looking at.
    if (state.items.map((v) => v.version).join(",") !== before) renderCompareForm();
  }

  await reload();
  return { reload };
}
