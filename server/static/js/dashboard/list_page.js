// The dashboard: the user's training jobs with a status filter and paging, updated live.

import { get, query } from "../api.js";
import { debounce, h, num, replace, uid, when } from "../dom.js";
import { ACTIVE, STATUSES, headlineMetric, statusLabel, statusPill, statusText } from "../status.js";

const PAGE_SIZE = 20;
const COLUMNS = ["Created", "Node", "Model", "Status", "Version", "Headline metric", "Pipeline"];

export async function mount(main, { live }) {
  const params = new URL(location.href).searchParams;
  const state = { status: params.get("status") || "", cursors: [null], page: 0, items: [], next: null };
  const limit = Number(params.get("limit")) || PAGE_SIZE;

  const filterId = uid("status-filter");
  const filter = h("select", { id: filterId });
  filter.append(h("option", { value: "", text: "All statuses" }));
  for (const s of STATUSES) {
    filter.append(h("option", { value: s, text: statusLabel(s), selected: s === state.status }));
  }
  const body = h("tbody");
  const pageInfo = h("span", { class: "muted", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "secondary", text: "Previous page" });
  const next = h("button", { type: "button", class: "secondary", text: "Next page" });
  const empty = h("p", { class: "muted" });

  replace(
    main,
    h(
      "section",
      { class: "dash", "aria-labelledby": "jobs-title" },
      h("h1", { id: "jobs-title", text: "My training jobs" }),
      h(
        "div",
        { class: "filters" },
        h("div", { class: "field inline" }, h("label", { for: filterId, text: "Status" }), filter),
      ),
      h(
        "table",
        { class: "jobs" },
        h("caption", { class: "sr-only", text: "Training jobs, newest first" }),
        h(
          "thead",
          {},
          h("tr", {}, COLUMNS.map((t) => h("th", { scope: "col", text: t }))),
        ),
        body,
      ),
      empty,
      h("div", { class: "pager" }, prev, next, pageInfo),
    ),
  );

  function row(job) {
    const metric = headlineMetric(job.metrics);
    return h(
      "tr",
      { dataset: { jobId: job.id, status: job.status } },
      h("td", { text: when(job.created_at) }),
      h("td", {}, h("a", { href: `/user/training-jobs/${encodeURIComponent(job.id)}`, text: job.node_id })),
      h("td", { text: job.model_type }),
      h("td", {}, statusPill(job.status, statusText(job))),
      h("td", { class: "num", text: job.model_version ?? "—" }),
      h("td", { class: "num", text: metric ? `${metric.name} ${num(metric.value, 3)}` : "—" }),
      h("td", { class: "muted", text: job.pipeline_id }),
    );
  }

  function render() {
    replace(body, state.items.map(row));
    const none = state.status
      ? `No ${statusLabel(state.status).toLowerCase()} jobs.`
      : "No training jobs yet. Run one from the canvas.";
    empty.textContent = state.items.length ? "" : none;
    prev.disabled = state.page === 0;
    next.disabled = !state.next;
    pageInfo.textContent = `Page ${state.page + 1}`;
  }

  async function load() {
    const cursor = state.cursors[state.page] || undefined;
    const page = await get(`/users/me/training-jobs${query({ status: state.status || undefined, limit, cursor })}`);
    state.items = page.items;
    state.next = page.next_cursor;
    render();
  }

  filter.addEventListener("change", () => {
    state.status = filter.value;
    state.cursors = [null];
    state.page = 0;
    const url = new URL(location.href);
    if (state.status) url.searchParams.set("status", state.status);
    else url.searchParams.delete("status");
    history.replaceState(null, "", url);
    load();
  });
  next.addEventListener("click", () => {
    if (!state.next) return;
    state.cursors[state.page + 1] = state.next;
    state.page += 1;
    load();
  });
  prev.addEventListener("click", () => {
    if (state.page === 0) return;
    state.page -= 1;
    load();
  });

  const reload = debounce(() => load().catch((e) => console.warn(e)), 300);
  const refreshRow = async (jobId) => {
    const job = await get(`/training-jobs/${encodeURIComponent(jobId)}`);
    const at = state.items.findIndex((j) => j.id === jobId);
    if (at < 0) return;
    if (state.status && job.status !== state.status) {
      reload();
      return;
    }
    state.items[at] = job;
    render();
  };
  const unlisten = live.onEvent((frame) => {
    const known = state.items.find((j) => j.id === frame.job_id);
    if (frame.type === "job.progress") {
      // A report that arrives after the job ended is stale: it must not reopen a finished row.
      if (known && ACTIVE.has(known.status)) {
        Object.assign(known, { progress: frame.progress, status: frame.status || known.status });
        render();
      }
      return;
    }
    if (frame.type === "snapshot.job") return;
    if (known) refreshRow(frame.job_id).catch((e) => console.warn(e));
    else if (state.page === 0) reload(); // a new job, or one that now matches the filter
  });
  live.subscribe({ user: "me" });
  await load();
  return () => unlisten();
}
