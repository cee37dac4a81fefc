// The pipeline browser: your pipelines with open, rename, duplicate; search and paging in the URL.

import { del, get, patch, post, query } from "../api.js";
import { confirmDialog } from "../confirm.js";
import { h, replace, uid, when } from "../dom.js";
import { statusPill } from "../status.js";

const PAGE_SIZE = 20;

function canvasHref(pid) {
  return `/?pipeline=${encodeURIComponent(pid)}`;
}

export async function mount(main) {
  const params = new URL(location.href).searchParams;
  const state = { q: params.get("q") || "", cursor: params.get("cursor") || null, trail: [], items: [], next: null };
  try {
    state.trail = JSON.parse(params.get("trail") || "[]");
  } catch {
    state.trail = [];
  }
  const searchId = uid("pipeline-search");
  const search = h("input", { id: searchId, type: "search", value: state.q, placeholder: "Name, id or dataset" });
  const body = h("tbody");
  const empty = h("p", { class: "muted" });
  const message = h("p", { class: "muted", role: "status", "aria-live": "polite" });
  const prev = h("button", { type: "button", class: "secondary", text: "Previous page" });
  const next = h("button", { type: "button", class: "secondary", text: "Next page" });
  const pageInfo = h("span", { class: "muted" });
  const example = h("button", { type: "button", class: "secondary", text: "Open example" });
  replace(
    main,
    h(
      "section",
      { class: "dash", "aria-labelledby": "pipelines-title" },
      h(
        "div",
        { class: "header-row" },
        h("h1", { id: "pipelines-title", text: "My pipelines" }),
        h("a", { class: "button-link", href: "/?new=1", text: "New pipeline" }),
        example,
      ),
      h(
        "form",
        { class: "filters", role: "search", on: { submit: (ev) => { ev.preventDefault(); go({ q: search.value.trim(), cursor: null, trail: [] }); } } },
        h("div", { class: "field inline" }, h("label", { for: searchId, text: "Search" }), search),
        h("button", { type: "submit", class: "secondary", text: "Search" }),
      ),
      message,
      h(
        "table",
        { class: "pipelines" },
        h("caption", { class: "sr-only", text: "Pipelines, most recently changed first" }),
        h(
          "thead",
          {},
          h("tr", {}, ["Name", "Dataset", "Nodes", "Last job", "Updated", "Actions"].map((t) => h("th", { scope: "col", text: t }))),
        ),
        body,
      ),
      empty,
      h("div", { class: "pager" }, prev, next, pageInfo),
    ),
  );

  function go(change, push = true) {
    Object.assign(state, change);
    const url = new URL(location.href);
    for (const [key, value] of [["q", state.q], ["cursor", state.cursor], ["trail", state.trail.length ? JSON.stringify(state.trail) : ""]]) {
      if (value) url.searchParams.set(key, value);
      else url.searchParams.delete(key);
    }
    if (push) history.pushState(null, "", url);
    load().catch((exc) => {
      message.textContent = `The pipelines could not be loaded: ${exc.message}`;
    });
  }

  function nameCell(p) {
    const cell = h("td");
    const show = () =>
      replace(cell, h("a", { href: canvasHref(p.pipeline_id), title: `id ${p.pipeline_id}`, text: p.name || p.pipeline_id }));
    show();
    cell.rename = () => {
      const id = uid("rename");
      const input = h("input", { id, type: "text", value: p.name || "", maxlength: 200 });
      const form = h(
        "form",
        { class: "inline-form" },
        h("label", { for: id, class: "sr-only", text: "New name" }),
        input,
        h("button", { type: "submit", class: "small", text: "Save" }),
        h("button", { type: "button", class: "secondary small", text: "Cancel", on: { click: show } }),
      );
      form.addEventListener("submit", async (ev) => {
        ev.preventDefault();
        try {
          const out = await patch(`/pipelines/${encodeURIComponent(p.pipeline_id)}`, { name: input.value });
          message.textContent = `Renamed to ${out.pipeline.name}.`;
          await load(); // the row's buttons are named after the pipeline
          body.querySelector(`tr[data-pipeline-id="${CSS.escape(p.pipeline_id)}"] td a`)?.focus();
        } catch (exc) {
          message.textContent = `Rename failed: ${exc.message}`;
          input.setAttribute("aria-invalid", "true");
          input.focus();
        }
      });
      replace(cell, form);
      input.focus();
      input.select();
    };
    return cell;
  }

  function row(p) {
    const name = nameCell(p);
    const label = p.name || p.pipeline_id;
    const duplicate = async () => {
      try {
        const out = await post(`/pipelines/${encodeURIComponent(p.pipeline_id)}/duplicate`, {});
        message.textContent = `Created ${out.pipeline.name}.`;
        go({ cursor: null, trail: [] });
      } catch (exc) {
        message.textContent = `Duplicate failed: ${exc.message}`;
      }
    };
    const remove = async () => {
      const sure = await confirmDialog({
        title: `Delete ${label}?`,
        text: "The pipeline, its training jobs, model versions and artifacts are deleted for good.",
        confirm: "Delete pipeline",
      });
      if (!sure) return;
      try {
        await del(`/pipelines/${encodeURIComponent(p.pipeline_id)}`);
        if (localStorage.getItem("mlw.pipeline") === p.pipeline_id) localStorage.removeItem("mlw.pipeline");
        message.textContent = `Deleted ${label}.`;
        go({}, false);
      } catch (exc) {
        message.textContent =
          exc.status === 409 ? `${label} has an active training job: cancel it first.` : `Delete failed: ${exc.message}`;
      }
    };
    return h(
      "tr",
      { dataset: { pipelineId: p.pipeline_id } },
      name,
      h("td", { text: p.dataset_name || p.dataset_source_id }),
      h("td", { class: "num", text: p.node_count }),
      h("td", {}, p.last_job_status ? statusPill(p.last_job_status) : h("span", { class: "muted", text: "No jobs" })),
      h("td", { text: when(p.updated_at) }),
      h(
        "td",
        { class: "row-actions" },
        h("a", { href: canvasHref(p.pipeline_id), text: "Open", "aria-label": `Open ${label}` }),
        h("button", { type: "button", class: "secondary small", text: "Rename", "aria-label": `Rename ${label}`, on: { click: () => name.rename() } }),
        h("button", { type: "button", class: "secondary small", text: "Duplicate", "aria-label": `Duplicate ${label}`, on: { click: duplicate } }),
        h("button", { type: "button", class: "danger small", text: "Delete", "aria-label": `Delete ${label}`, on: { click: remove } }),
      ),
    );
  }

  async function load() {
    const page = await get(`/pipelines${query({ limit: PAGE_SIZE, cursor: state.cursor || undefined, q: state.q || undefined })}`);
    state.items = page.items;
    state.next = page.next_cursor;
    replace(body, state.items.map(row));
    empty.textContent = state.items.length ? "" : state.q ? "No pipeline matches." : "No pipelines yet: open the example or start a new one.";
    prev.disabled = state.trail.length === 0;
    next.disabled = !state.next;
    pageInfo.textContent = `Page ${state.trail.length + 1}`;
  }

  next.addEventListener("click", () => {
    if (state.next) go({ trail: [...state.trail, state.cursor || ""], cursor: state.next });
  });
  prev.addEventListener("click", () => {
    if (!state.trail.length) return;
    const trail = state.trail.slice(0, -1);
    go({ trail, cursor: state.trail[state.trail.length - 1] || null });
  });
  example.addEventListener("click", async () => {
    try {
      const out = await post("/pipelines/example", {});
      location.assign(canvasHref(out.pipeline.pipeline_id));
    } catch (exc) {
      message.textContent = `The example could not be opened: ${exc.message}`;
    }
  });
  const onPop = () => {
    const p = new URL(location.href).searchParams;
    search.value = p.get("q") || "";
    let trail = [];
    try {
      trail = JSON.parse(p.get("trail") || "[]");
    } catch {
      trail = [];
    }
    go({ q: search.value, cursor: p.get("cursor"), trail }, false);
  };
  window.addEventListener("popstate", onPop);
  await load();
  return () => window.removeEventListener("popstate", onPop);
}
