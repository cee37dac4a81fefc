// The versions table: rows sorted by version or a metric, sort buttons, alias chips, predict and promote buttons.

import { h, num, when } from "../dom.js";
import { aliasChip } from "./aliases.js";
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

function aliasCell(v, onAlias) {
  const chips = v.aliases.map((name) => aliasChip(name));
  const set = onAlias && !v.deleted_at
    ? h("button", {
        type: "button",
        class: "secondary small",
        text: "Set alias",
        "aria-label": `Set alias on v${v.version}`,
        on: { click: () => onAlias(v.version) },
      })
    : null;
  return h("td", { class: "aliases-cell" }, chips.length ? chips : h("span", { class: "muted", text: "—" }), " ", set);
}

function predictCell(v, onPredict) {
  if (!onPredict || v.deleted_at) return h("td", {}, h("span", { class: "muted", text: "—" }));
  const label = `Predict with v${v.version}`;
  return h("td", {}, h("button", {
    type: "button", class: "secondary small", text: "Predict", "aria-label": label, on: { click: () => onPredict(v.version) },
  }));
}

function versionRow(v, { names, active, jobId, onPromote, onAlias, onPredict }) {
  const isActive = v.version === active;
  return h(
    "tr",
    { class: isActive ? "active-version" : "", dataset: { version: v.version } },
    h("th", { scope: "row", class: "num", text: `v${v.version}` }),
    h("td", { text: when(v.created_at) }),
    h("td", { text: v.model_type }),
    names.map((m) => h("td", { class: "num", text: num(metricOf(v, m)) })),
    aliasCell(v, onAlias),
    onPredict ? predictCell(v, onPredict) : null,
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
 * @param {{items, names, active, sort, jobId, onSort: (key) => void, onPromote: (version) => void,
 *   onAlias: ((version) => void) | null, onPredict: ((version) => void) | null}} opts
 *   onAlias: the row's "Set alias"; onPredict: the row's "Predict" column (neither shown without its callback)
 */
export function versionsTable({ items, names, active, sort, jobId, onSort, onPromote, onAlias = null, onPredict = null }) {
  const options = { names, active, jobId, onPromote, onAlias, onPredict };
  const rows = sortVersions(items, sort).map((v) => versionRow(v, options));
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
        onPredict ? h("th", { scope: "col", text: "Predictions" }) : null,
        h("th", { scope: "col", text: "Job" }),
        h("th", { scope: "col", text: "Active" }),
      ),
    ),
    h("tbody", {}, rows),
  );
}
