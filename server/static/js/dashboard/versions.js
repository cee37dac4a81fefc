// A node's model versions: sortable table, promote (rollback), aliases, batch predictions, comparison, chart.

import { get, post, query } from "../api.js";
import { confirmDialog } from "../confirm.js";
import { h, replace } from "../dom.js";
import { renderAliases } from "./aliases.js";
import { renderComparison } from "./compare.js";
import { renderPredictions } from "./predictions.js";
import { METRIC_ORDER as METRICS } from "./tables.js";
import { metricOf } from "./version_metrics.js";
import { renderVersionChart } from "./versions_chart.js";
import { nextSort, versionsTable } from "./versions_table.js";

/**
 * Render the versions of (pipelineId, nodeId) into `box`, the node's alias panel into `aliasesBox` and its
 * batch-predictions panel into `predictionsBox` (followed on `live`) when given.
 * @returns {Promise<{reload: () => Promise<void>, stop: () => void}>}
 */
export async function renderVersions(box, { pipelineId, nodeId, jobId, changed, aliasesBox, predictionsBox, live }) {
  const nodeBase = `/pipelines/${encodeURIComponent(pipelineId)}/nodes/${encodeURIComponent(nodeId)}`;
  const base = `${nodeBase}/versions`;
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

  let predictions = null;
  const aliases = aliasesBox
    ? renderAliases(aliasesBox, {
        nodeBase,
        versions: () => state.items,
        predict: predictionsBox ? (alias) => predictions?.prepare(alias) : null,
        changed: async () => {
          await reload();
          changed?.(); // moving `active` changes the job page's header
        },
      })
    : null;

  predictions = predictionsBox && live
    ? renderPredictions(predictionsBox, {
        nodeBase, live, versions: () => state.items, aliases: () => aliases?.items() ?? [],
      })
    : null;

  const metricNames = () => METRICS.filter((m) => state.items.some((v) => metricOf(v, m) !== null));

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
    const onSort = (key) => {
      state.sort = nextSort(state.sort, key);
      renderTable();
      tableBox.querySelector(`th[aria-sort] button`)?.focus();
    };
    const { items, active, sort } = state;
    const onAlias = aliases ? (version) => aliases.prepare(version) : null;
    const onPredict = predictions ? (version) => predictions.prepare(version) : null;
    const names = metricNames();
    const table = versionsTable({ items, names, active, sort, jobId, onSort, onPromote: promote, onAlias, onPredict });
    replace(tableBox, table);
  }

  function renderChart() {
    state.chartMetric = renderVersionChart(chartBox, {
      items: state.items,
      active: state.active,
      names: metricNames(),
      metric: state.chartMetric,
      choose: (metric) => {
        state.chartMetric = metric;
        renderChart();
      },
    });
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
    await aliases?.reload();
    await predictions?.reload();
    // A promotion changes aliases only: keep the comparison the user is looking at.
    if (state.items.map((v) => v.version).join(",") !== before) renderComparison(compareBox, state.items, state.active);
  }

  await reload();
  return { reload, stop: () => predictions?.stop() };
}
