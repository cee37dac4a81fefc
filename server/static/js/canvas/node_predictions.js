// The training node's "Batch predictions" section on the canvas: the job page's predictions panel
// (dashboard/predictions.js) over this node's versions and aliases, kept current while the node is shown.

import { ApiError, get, query } from "../api.js";
import { renderPredictions } from "../dashboard/predictions.js";
import { debounce, h, replace, uid } from "../dom.js";

const NO_VERSION = "Train this node first: predictions need a model version.";

/** The node's versions; none while the saved graph does not hold the node yet (added since the last save). */
async function versionsOf(nodeBase) {
  try {
    return (await get(`${nodeBase}/versions${query({ limit: 500 })}`)).items;
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 404) return [];
    throw exc;
  }
}

/**
 * The section of node `nodeId`; `pipelineId()` is the canvas's pipeline now (a change to the data path
 * makes a new pipeline, whose node has versions of its own).
 * @param {{pipelineId: () => string|null, nodeId: string, live: LiveClient}} opts
 * @returns {{el: HTMLElement, nodeId: string, sync: () => void, jobChanged: (job) => void, stop: () => void}}
 */
export function nodePredictions({ pipelineId, nodeId, live }) {
  const titleId = uid("node-predict-title");
  const note = h("p", { class: "muted predict-absent", role: "status", text: "Loading model versions…" });
  const formBox = h("div", { hidden: true });
  const el = h(
    "section",
    { class: "node-predictions", "aria-labelledby": titleId },
    h("h3", { id: titleId, text: "Batch predictions" }),
    note,
    formBox,
  );
  const state = { pid: undefined, items: [], aliases: [], stopped: false };
  let predictions = null;
  let loading = null;

  async function load() {
    if (state.stopped) return;
    const pid = pipelineId();
    if (pid !== state.pid) {
      // Another pipeline's versions: its model list and any job shown belong to the old node.
      predictions?.stop();
      predictions = null;
      replace(formBox);
      state.pid = pid;
      state.items = [];
      state.aliases = [];
    }
    if (pid) {
      const nodeBase = `/pipelines/${encodeURIComponent(pid)}/nodes/${encodeURIComponent(nodeId)}`;
      const items = await versionsOf(nodeBase);
      const aliases = items.length ? (await get(`${nodeBase}/aliases`)).items : [];
      if (state.stopped || pid !== state.pid) return;
      state.items = items;
      state.aliases = aliases;
      if (!predictions && state.items.some((v) => !v.deleted_at)) {
        predictions = renderPredictions(formBox, {
          nodeBase, live, versions: () => state.items, aliases: () => state.aliases,
        });
      }
    }
    const usable = state.items.some((v) => !v.deleted_at);
    note.hidden = usable;
    note.textContent = usable ? "" : NO_VERSION;
    formBox.hidden = !usable;
    if (usable) await predictions.reload();
  }

  // Reloads are serialised: an alias event during a load reloads once more after it, never in parallel.
  const reload = debounce(() => {
    if (state.stopped) return;
    const run = () => load().catch((exc) => {
      note.hidden = false;
      note.textContent = `Model versions could not be loaded: ${exc.message}`;
    });
    loading = (loading || Promise.resolve()).then(run);
  }, 150);

  const unlisten = live.onEvent((frame) => {
    if (frame.type === "alias.changed" && frame.pipeline_id === state.pid && frame.node_id === nodeId) reload();
  });

  reload();
  reload.flush();

  const seen = new Set();
  return {
    el,
    nodeId,
    /** The canvas saved: reload when that moved the node to another pipeline. */
    sync: () => {
      if (pipelineId() !== state.pid) reload();
    },
    /** The node's latest job changed: a succeeded training adds a version. */
    jobChanged: (job) => {
      if (!job || job.status !== "succeeded" || job.model_version == null || seen.has(job.id)) return;
      seen.add(job.id);
      if (!state.items.some((v) => v.version === job.model_version)) reload();
    },
    stop: () => {
      state.stopped = true;
      unlisten();
      predictions?.stop();
    },
  };
}
