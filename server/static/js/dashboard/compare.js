// Side-by-side comparison of up to five versions: hyperparameters and metrics, differences
// highlighted, the best value of each metric marked.

import { h, num, replace, uid } from "../dom.js";
import { comparisonView, fetchInsights } from "../insights.js";
import { METRIC_ORDER } from "./tables.js";
import { LOWER_IS_BETTER, metricOf } from "./version_metrics.js";

export const MAX_COMPARED = 5;

function show(value) {
  if (value === undefined || value === null) return "—";
  return typeof value === "number" ? num(value) : typeof value === "string" ? value : JSON.stringify(value);
}

/** The comparison table of `versions` (in the order given). Pure: builds elements only. */
export function comparisonTable(versions) {
  const head = h("tr", {}, h("th", { scope: "col", text: "" }), versions.map((v) => h("th", { scope: "col", class: "num", text: `v${v.version}` })));
  const rows = [];
  const row = (name, values, best) => {
    const differ = new Set(values.map((x) => JSON.stringify(x ?? null))).size > 1;
    rows.push(
      h(
        "tr",
        { class: differ ? "changed" : "" },
        h("th", { scope: "row", text: name }),
        values.map((x, i) =>
          h("td", { class: `num${differ ? " changed" : ""}${best === i ? " best" : ""}`, text: show(x) + (best === i ? " ★" : "") }),
        ),
      ),
    );
  };
  row("model", versions.map((v) => v.model_type));
  const hyper = [...new Set(versions.flatMap((v) => Object.keys(v.hyperparameters || {})))].sort();
  for (const name of hyper) row(name, versions.map((v) => (v.hyperparameters || {})[name]));
  for (const partition of ["test", "train"]) {
    for (const m of METRIC_ORDER) {
      const values = versions.map((v) => metricOf(v, m, partition));
      if (values.every((x) => x === null)) continue;
      let best = null;
      if (partition === "test" && values.filter((x) => x !== null).length > 1) {
        const known = values.map((x, i) => [x, i]).filter(([x]) => x !== null);
        known.sort((a, b) => (LOWER_IS_BETTER.has(m) ? a[0] - b[0] : b[0] - a[0]));
        best = known[0][1];
      }
      row(`${m} (${partition})`, values, best);
    }
  }
  return h(
    "table",
    { class: "diff compare" },
    h("caption", { text: "Hyperparameters and metrics; differing rows highlighted, ★ the best test value" }),
    h("thead", {}, head),
    h("tbody", {}, rows),
  );
}

/**
 * Checkboxes to choose up to five versions, and their comparison.
 * @param {Element} box where it goes
 * @param {Array} items the node's versions
 * @param {number|null} active the active version
 */
export function renderComparison(box, items, active) {
  if (items.length < 2) {
    replace(box, h("p", { class: "muted", text: "Comparison needs at least two versions." }));
    return;
  }
  const byVersion = [...items].sort((a, b) => b.version - a.version);
  const chosen = new Set(byVersion.slice(0, 2).map((v) => v.version));
  if (active != null && !chosen.has(active)) chosen.add(active);
  const result = h("div", { class: "table-scroll" });
  const overlay = h("div", { class: "compare-insights" });
  let asked = 0;
  const showInsights = async (picked) => {
    const ticket = ++asked;
    const runs = await Promise.all(picked.map(async (v) => ({
      name: `v${v.version}`,
      found: await fetchInsights(v.job_id).catch(() => null),
    })));
    // Only the latest choice of versions is drawn.
    if (ticket === asked) replace(overlay, comparisonView(runs.filter((r) => r.found)));
  };
  const note = h("p", { class: "help", id: uid("compare-note"), "aria-live": "polite" });
  const boxes = byVersion.map((v) => {
    const id = uid(`compare-v${v.version}`);
    const input = h("input", { id, type: "checkbox", value: String(v.version), checked: chosen.has(v.version), "aria-describedby": note.id });
    input.addEventListener("change", () => {
      if (input.checked) chosen.add(v.version);
      else chosen.delete(v.version);
      update();
    });
    return { input, el: h("span", { class: "check" }, input, h("label", { for: id, text: `v${v.version}${v.version === active ? " (active)" : ""}` })) };
  });
  const update = () => {
    const full = chosen.size >= MAX_COMPARED;
    for (const b of boxes) b.input.disabled = full && !b.input.checked;
    note.textContent = full ? `At most ${MAX_COMPARED} versions side by side.` : `Choose up to ${MAX_COMPARED} versions.`;
    const picked = byVersion.filter((v) => chosen.has(v.version)).sort((a, b) => a.version - b.version);
    replace(result, picked.length >= 2 ? comparisonTable(picked) : h("p", { class: "muted", text: "Choose at least two versions." }));
    if (picked.length >= 2) showInsights(picked).catch((e) => console.warn("compare insights", e));
    else replace(overlay);
  };
  replace(
    box,
    h("fieldset", { class: "compare-controls" }, h("legend", { text: "Versions to compare" }), h("div", { class: "checks" }, boxes.map((b) => b.el)), note),
    result,
    overlay,
  );
  update();
}
