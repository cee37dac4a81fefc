// The dashboard: the user's training jobs, filtered, sorted and paged from the URL, updated live.

import { get, modelFamilies, query } from "../api.js";
import { debounce, h, replace } from "../dom.js";
import { ACTIVE, statusText } from "../status.js";
import { apiQuery, filterForm, readView, viewUrl } from "./list_filters.js";
import { JOB_COLUMNS, jobRow } from "./list_rows.js";

async function pipelineChoices() {
  try {
    return (await get(`/pipelines${query({ limit: 200 })}`)).items;
  } catch {
    return [];
  }
}

export async function mount(main, { live }) {
  const [families, pipelines] = await Promise.all([modelFamilies(), pipelineChoices()]);
  let view = readView(location.href);
  const state = { items: [], next: null };
  const formSlot = h("div");
  const body = h("tbody");
  const pageInfo = h("span", { class: "muted", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "secondary", text: "Previous page" });
  const next = h("button", { type: "button", class: "secondary", text: "Next page" });
  const empty = h("p", { class: "muted" });
  const failure = h("p", { class: "error", role: "alert" });

  replace(
    main,
    h(
      "section",
      { class: "dash wide", "aria-labelledby": "jobs-title" },
      h("h1", { id: "jobs-title", text: "My training jobs" }),
      formSlot,
      failure,
      h(
        "div",
        { class: "table-scroll" },
        h(
          "table",
          { class: "jobs" },
          h("caption", { class: "sr-only", text: "Training jobs" }),
          h("thead", {}, h("tr", {}, JOB_COLUMNS.map(([t, cls]) => h("th", { scope: "col", class: cls, text: t })))),
          body,
        ),
      ),
      empty,
      h("div", { class: "pager" }, prev, next, pageInfo),
    ),
  );

  const renderForm = () =>
    replace(formSlot, filterForm(view, { families, pipelines, apply: (change) => go({ ...change, cursor: "", trail: [] }) }));

  function render() {
    replace(body, state.items.map((job) => jobRow(job, families, view.order)));
    const filtered = view.status || view.kind || view.model || view.tag || view.pipeline || view.from || view.to || view.q;
    empty.textContent = state.items.length
      ? ""
      : filtered
        ? "No training jobs match these filters."
        : "No training jobs yet. Run one from the canvas.";
    prev.disabled = view.trail.length === 0;
    next.disabled = !state.next;
    pageInfo.textContent = `Page ${view.trail.length + 1}`;
  }

  async function load() {
    try {
      const page = await get(`/users/me/training-jobs${query(apiQuery(view))}`);
      failure.textContent = "";
      state.items = page.items;
      state.next = page.next_cursor;
    } catch (exc) {
      failure.textContent = `The jobs could not be loaded: ${exc.message}`;
      state.items = [];
      state.next = null;
    }
    render();
  }

  /** Change the view: a new history entry, so back and forward walk through views. */
  function go(change) {
    view = { ...view, ...change };
    history.pushState(null, "", viewUrl(view, location.href));
    renderForm();
    load();
  }

  next.addEventListener("click", () => {
    if (state.next) go({ trail: [...view.trail, view.cursor], cursor: state.next });
  });
  prev.addEventListener("click", () => {
    if (!view.trail.length) return;
    go({ trail: view.trail.slice(0, -1), cursor: view.trail[view.trail.length - 1] });
  });
  const onPop = () => {
    view = readView(location.href);
    renderForm();
    load();
  };
  window.addEventListener("popstate", onPop);

  const reload = debounce(() => load(), 300);
  const refreshRow = async (jobId) => {
    const job = await get(`/training-jobs/${encodeURIComponent(jobId)}`);
    const at = state.items.findIndex((j) => j.id === jobId);
    if (at < 0) return;
    if (view.status && job.status !== view.status) {
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
        // Patch the status text in place: the row's links are not rebuilt while a job runs.
        const pill = body.querySelector(`tr[data-job-id="${CSS.escape(frame.job_id)}"] .pill`);
        if (pill) pill.textContent = statusText(known);
      }
      return;
    }
    if (frame.type === "snapshot.job" || !frame.job_id) return; // alias.changed: no row shows aliases
    if (known) refreshRow(frame.job_id).catch((e) => console.warn(e));
    else if (!view.cursor && view.order === "-created_at") reload(); // a new job, or one that now matches
  });
  live.subscribe({ user: "me" });
  renderForm();
  await load();
  return () => {
    unlisten();
    window.removeEventListener("popstate", onPop);
  };
}
