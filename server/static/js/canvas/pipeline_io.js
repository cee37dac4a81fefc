// The open pipeline: its URL, its human name, and the example pipeline.

import { get, patch, post } from "../api.js";
import { h, uid } from "../dom.js";

export const LAST_PIPELINE = "mlw.pipeline";

/** The canvas URL names the open pipeline, so a reload or a shared link opens it again. */
export function rememberPipeline(id) {
  localStorage.setItem(LAST_PIPELINE, id);
  const url = new URL(location.href);
  if (url.searchParams.get("pipeline") === id && !url.searchParams.has("new")) return;
  url.searchParams.delete("new");
  url.searchParams.set("pipeline", id);
  history.replaceState(null, "", url);
}

/** The id of the pipeline changed most recently (what a first visit opens), or null. */
export async function latestPipeline() {
  const page = await get("/pipelines?limit=1");
  return page.items.length ? page.items[0].pipeline_id : null;
}

/** Create (or find) the caller's copy of the example pipeline; resolves with its id. */
export async function openExample() {
  const out = await post("/pipelines/example", {});
  return out.pipeline.pipeline_id;
}

/**
 * The pipeline's name, saved with PATCH when it changes (or with the first save).
 * @param {object} ctx {value, pipelineId() → id|null, changed(name), failed(error)}
 */
export function pipelineNameField(ctx) {
  const id = uid("pipeline-name");
  const input = h("input", {
    id,
    type: "text",
    class: "pipeline-name",
    value: ctx.value || "",
    maxlength: 200,
    placeholder: "Untitled pipeline",
  });
  const commit = async () => {
    const name = input.value.trim();
    ctx.changed(name);
    const pid = ctx.pipelineId();
    if (!pid || !name) return;
    try {
      await patch(`/pipelines/${encodeURIComponent(pid)}`, { name });
    } catch (exc) {
      ctx.failed(exc);
    }
  };
  input.addEventListener("change", commit);
  input.addEventListener("keydown", (ev) => {
    if (ev.key === "Enter") {
      ev.preventDefault();
      input.blur();
    }
  });
  return h("div", { class: "field inline" }, h("label", { for: id, text: "Pipeline name" }), input);
}
