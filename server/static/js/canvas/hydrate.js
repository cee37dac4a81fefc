// Opening a saved pipeline on the canvas: its graph, name, dataset, live jobs, orphaned jobs
// and the active versions of its training nodes.

import { ApiError, get } from "../api.js";
import { storedOrphans } from "./banners.js";
import { Graph } from "./graph.js";
import { LAST_PIPELINE, rememberPipeline } from "./pipeline_io.js";

/**
 * Load `pipelineId` into the page; a 404 forgets it and says so.
 * @param {object} page {state, saver, view, jobs, notices, versions, dataset, showNotice}
 */
export async function hydratePipeline(pipelineId, { state, saver, view, jobs, notices, versions, dataset, showNotice }) {
  let hydrated;
  try {
    hydrated = await get(`/pipelines/${encodeURIComponent(pipelineId)}`);
  } catch (exc) {
    if (exc instanceof ApiError && exc.status === 404) {
      localStorage.removeItem(LAST_PIPELINE);
      showNotice("That pipeline does not exist or is not yours.");
      return;
    }
    throw exc;
  }
  state.graph = new Graph(hydrated.pipeline.graph);
  state.name = hydrated.pipeline.name || "";
  saver.pipelineId = hydrated.pipeline.pipeline_id;
  rememberPipeline(saver.pipelineId);
  await dataset.load(hydrated.pipeline.dataset_source_id);
  view.setGraph(state.graph);
  for (const job of hydrated.jobs || []) jobs.track(job);
  const runnable = new Set(["train_model", "validate_model"]);
  const gone = (j) => !runnable.has(state.graph.node(j.node_id)?.type);
  notices.setOrphans([...(hydrated.orphan_jobs || []), ...storedOrphans(saver.pipelineId)].filter(gone));
  saver.state("All changes saved", "saved");
  versions.load(state.graph.nodes.filter((n) => n.type === "train_model").map((n) => n.id));
}
