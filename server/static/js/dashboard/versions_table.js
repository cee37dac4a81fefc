// The versions table: rows sorted by version or a metric, sort buttons, promote buttons.

import { h, num, when } from "../dom.js";
import { LOWER_IS_BETTER, metricOf } from "./version_metrics.js";

/** `items` sorted by `sort` ({key, dir}); rows without the metric come last either way. */
export function sortVersions(items, { key, dir }) {
  const sign = dir === "ascending" ? 1 : -1;
  const value = (v) => (key === "version" ? v.version : metricOf(v, key));
  return [...items].sort((a, b) => {
    const [x, y] = [value(a), value(b)];
    if (x === null && y === null) return b.version - a.version;
    if (x === null) return 1;
    if (y === null) return -1;
    return sign * (x - y) || b.version - a.version;
  });
}

/** The sort after a click on `key`'s header: flip the same column, else its best-first order. */
export function nextSort(sort, key) {
  if (sort.key === key) return { key, dir: sort.dir === "ascending" ? "descending" : "ascending" };
  return { key, dir: LOWER_IS_BETTER.has(key) ? "ascending" : "descending" };
}

function sortHeader(sort, key, text, onSort) {
  const th = h("th", { scope: "col", class: "num" });
  if (sort.key === key) th.setAttribute("aria-sort", sort.dir);
  th.append(h("button", { type: "button", class: "sort", text, on: { click: () => onSort(key) } }));
  return th;
}

function versionRow(v, { names, active, jobId, onPromote }) {
  const isActive = v.version === active;
  return h(
    "tr",
    { class: isActive ? "active-version" : "", dataset: { version: v.version } },
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
      isActive
        ? h("span", { class: "pill", "data-status": "succeeded", text: "Active" })
        : h("button", {
            type: "button",
            class: "secondary small",
            text: `Promote v${v.version}`,
            on: { click: () => onPromote(v.version) },
          }),
    ),
  );
}

/**
 * The table of `items` with a column per metric in `names`.
 * @param {{items, names, active, sort, jobId, onSort: (key) => void, onPromote: (version) => void}} opts
 */
export function versionsTable({ items, names, active, sort, jobId, onSort, onPromote }) {
  const rows = sortVersions(items, sort).map((v) => versionRow(v, { names, active, jobId, onPromote }));
  return h(
    "table",
    { class: "versions" },
    h("caption", { class: "sr-only", text: "Model versions; sort by a column with its header button" }),
    h(
      "thead",
      {},
      h(
        "tr",
        {},
        sortHeader(sort, "version", "Version", onSort),
        h("th", { scope: "col", text: "Created" }),
        h("th", { scope: "col", text: "Model" }),
        names.map((m) => sortHeader(sort, m, `${m} (test)`, onSort)),
        h("th", { scope: "col", text: "Aliases" }),
        h("th", { scope: "col", text: "Job" }),
        h("th", { scope: "col", text: "Active" }),
      ),
    ),
    h("tbody", {}, rows),
  );
}
