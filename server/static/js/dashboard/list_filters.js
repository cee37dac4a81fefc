// The dashboard's view state: filters, sort, page size and page, all kept in the URL.

import { h, uid } from "../dom.js";
import { STATUSES, statusLabel } from "../status.js";

export const PAGE_SIZES = [10, 20, 50, 100];
export const DEFAULT_SIZE = 20;
const LOWER_FIRST = new Set(["log_loss", "rmse", "mae"]);
export const ORDERS = [
  ["-created_at", "Newest first"],
  ["created_at", "Oldest first"],
  ...["accuracy", "f1", "roc_auc", "precision", "recall", "r2", "log_loss", "rmse", "mae"].map((m) => [
    m,
    `${m} (${LOWER_FIRST.has(m) ? "lowest" : "highest"} first)`,
  ]),
];
export const KINDS = [
  ["", "All kinds"],
  ["training", "Training"],
  ["validation", "Validation"],
  ["predictions", "Predictions"],
];
const KEYS = ["status", "kind", "model", "tag", "pipeline", "from", "to", "q", "order", "limit", "cursor", "trail"];

/** The view named by a URL: every key a string ("" = not set); `trail` the cursors of earlier pages. */
export function readView(href) {
  const params = new URL(href).searchParams;
  const view = Object.fromEntries(KEYS.map((k) => [k, params.get(k) || ""]));
  const size = Number(view.limit);
  view.limit = Number.isInteger(size) && size >= 1 && size <= 200 ? size : DEFAULT_SIZE;
  if (!ORDERS.some(([value]) => value === view.order)) view.order = "-created_at";
  try {
    const trail = JSON.parse(view.trail || "[]");
    view.trail = Array.isArray(trail) ? trail.map(String) : [];
  } catch {
    view.trail = [];
  }
  return view;
}

/** The URL of `view` (defaults left out, so a plain view has a plain URL). */
export function viewUrl(view, href) {
  const url = new URL(href);
  for (const key of KEYS) {
    let value = view[key];
    if (key === "limit" && value === DEFAULT_SIZE) value = "";
    if (key === "order" && value === "-created_at") value = "";
    if (key === "trail") value = view.trail.length ? JSON.stringify(view.trail) : "";
    if (value) url.searchParams.set(key, String(value));
    else url.searchParams.delete(key);
  }
  return url;
}

function localDayStart(day) {
  const [y, m, d] = day.split("-").map(Number);
  return new Date(y, m - 1, d);
}

/** The API query of a view. Dates are whole local days: `to` includes its day. */
export function apiQuery(view) {
  let before;
  if (view.to) {
    const end = localDayStart(view.to);
    end.setDate(end.getDate() + 1);
    before = end.toISOString();
  }
  return {
    status: view.status || undefined,
    kind: view.kind || undefined,
    model_type: view.model || undefined,
    tag: view.tag || undefined,
    pipeline_id: view.pipeline || undefined,
    created_after: view.from ? localDayStart(view.from).toISOString() : undefined,
    created_before: before,
    q: view.q || undefined,
    order_by: view.order,
    limit: view.limit,
    cursor: view.cursor || undefined,
  };
}

function select(id, options, value) {
  const el = h("select", { id, name: id });
  for (const [optionValue, text] of options) {
    el.append(h("option", { value: String(optionValue), text, selected: String(optionValue) === String(value) }));
  }
  return el;
}

function field(text, control) {
  return h("div", { class: "field" }, h("label", { for: control.id, text }), control);
}

/**
 * The filter form. `apply(change)` is called with the changed keys (the page resets).
 * @param {object} view the current view
 * @param {object} ctx {families: [{model_type, label}], pipelines: [{pipeline_id, name}], apply(change)}
 */
export function filterForm(view, ctx) {
  const status = select(uid("f-status"), [["", "All statuses"], ...STATUSES.map((s) => [s, statusLabel(s)])], view.status);
  const kind = select(uid("f-kind"), KINDS, view.kind);
  const model = select(uid("f-model"), [["", "All families"], ...ctx.families.map((f) => [f.model_type, f.label])], view.model);
  const pipelines = [["", "All pipelines"], ...ctx.pipelines.map((p) => [p.pipeline_id, p.name || p.pipeline_id])];
  if (view.pipeline && !ctx.pipelines.some((p) => p.pipeline_id === view.pipeline)) pipelines.push([view.pipeline, view.pipeline]);
  const pipeline = select(uid("f-pipeline"), pipelines, view.pipeline);
  const tag = h("input", { id: uid("f-tag"), type: "text", value: view.tag, placeholder: "exact tag" });
  const from = h("input", { id: uid("f-from"), type: "date", value: view.from });
  const to = h("input", { id: uid("f-to"), type: "date", value: view.to });
  const q = h("input", { id: uid("f-q"), type: "search", value: view.q, placeholder: "node, pipeline, tag…" });
  const order = select(uid("f-order"), ORDERS, view.order);
  const sizes = PAGE_SIZES.includes(view.limit) ? PAGE_SIZES : [...PAGE_SIZES, view.limit].sort((a, b) => a - b);
  const limit = select(uid("f-limit"), sizes.map((n) => [n, `${n} per page`]), view.limit);
  const read = () => ({
    status: status.value,
    kind: kind.value,
    model: model.value,
    pipeline: pipeline.value,
    tag: tag.value.trim(),
    from: from.value,
    to: to.value,
    q: q.value.trim(),
    order: order.value,
    limit: Number(limit.value),
  });
  for (const control of [status, kind, model, pipeline, from, to, order, limit]) {
    control.addEventListener("change", () => ctx.apply(read()));
  }
  const form = h(
    "form",
    { class: "filters", role: "search", "aria-label": "Filter and sort training jobs" },
    field("Search", q),
    field("Status", status),
    field("Kind", kind),
    field("Model family", model),
    field("Pipeline", pipeline),
    field("Experiment tag", tag),
    field("Created from", from),
    field("Created to", to),
    field("Sort by", order),
    field("Page size", limit),
    h("button", { type: "submit", class: "secondary", text: "Apply" }),
    h("a", { href: location.pathname, text: "Clear filters" }),
  );
  form.addEventListener("submit", (ev) => {
    ev.preventDefault();
    ctx.apply(read());
  });
  return form;
}
