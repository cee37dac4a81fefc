// The metric-across-versions chart with its metric picker.

import { h, replace, uid } from "../dom.js";
import { versionChart } from "../charts.js";
import { metricOf } from "./version_metrics.js";

function labelled(text, control) {
  return h("div", { class: "field" }, h("label", { for: control.id, text }), control);
}

/**
 * Draw the chart of `metric` (one of `names`) over `items` into `box`; `choose` is called
 * with the metric the user picks. Returns the metric drawn (the first name when `metric` is not one).
 */
export function renderVersionChart(box, { items, active, names, metric, choose }) {
  if (!names.length) {
    replace(box, h("p", { class: "muted", text: "No metrics yet." }));
    return metric;
  }
  const shown = names.includes(metric) ? metric : names[0];
  const select = h("select", { id: uid("chart-metric") });
  for (const m of names) select.append(h("option", { value: m, text: m, selected: m === shown }));
  select.addEventListener("change", () => {
    choose(select.value);
    box.querySelector("select")?.focus();
  });
  const points = [...items]
    .sort((a, b) => a.version - b.version)
    .map((v) => ({ x: v.version, y: metricOf(v, shown), active: v.version === active }));
  replace(box, labelled("Metric", select), versionChart(points, `${shown} (test) by model version`));
  return shown;
}
