// Starting a training job from the panel: flush pending saves, then POST the job.

import { ApiError, post } from "../api.js";

function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

/**
 * Save the node's (already validated) config and start a job when `config.run_now`.
 * @returns {Promise<ApiError|null>} the error to show at the fields, or null
 */
export async function startTraining({ state, saver, jobs, announce }, nodeId, config) {
  if (!state.datasetId) {
    return new ApiError(0, "no_dataset", "Choose or upload a dataset first.", { field: "dataset" });
  }
  if (config.run_now && jobs.isActive(nodeId)) {
    return new ApiError(409, "job_active", "A job of this node is still active: cancel it or wait.", {});
  }
  state.graph.setConfig(nodeId, config);
  saver.schedule();
  let pipelineId;
  try {
    pipelineId = await saver.flush();
  } catch (exc) {
    return exc instanceof ApiError ? exc : new ApiError(0, "save_failed", exc.message, {});
  }
  if (!config.run_now) {
    announce("Configuration saved; no job was started.");
    return null;
  }
  const validation = state.graph.node(nodeId)?.type === "validate_model";
  // run_now is the training form's switch; a validation node always runs when asked.
  const { run_now: _runNow, ...sent } = config;
  try {
    const job = await post("/training-jobs", {
      dataset_source_id: state.datasetId,
      node_id: nodeId,
      graph: state.graph.toJSON(),
      config: validation ? sent : config,
      pipeline_id: pipelineId || undefined,
      idempotency_key: newKey(),
    });
    jobs.track(job);
    const label = state.graph.node(nodeId)?.data.label || nodeId;
    announce(`${validation ? "Validation" : "Training"} job queued for ${label}.`);
    return null;
  } catch (exc) {
    if (exc instanceof ApiError) {
      if (exc.code === "job_active" || exc.status === 409) {
        return new ApiError(exc.status, exc.code, "A job of this node is still active: cancel it or wait.", exc.details);
      }
      return exc;
    }
    throw exc;
  }
}
