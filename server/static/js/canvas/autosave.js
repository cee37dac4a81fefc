// Autosave: the graph is saved (debounced) after every change and on demand before a job.

import { put } from "../api.js";

export class AutoSaver {
  /**
   * @param {object} opts
   * @param {() => ({dataset_source_id, graph})|null} opts.payload what to save, or null when nothing can be
   * @param {(result) => void} opts.saved called with the PUT /pipelines answer
   * @param {(error) => void} opts.failed called when a save fails
   * @param {(text, state) => void} opts.state shows the save state to the user
   * @param {number} [opts.delay] debounce in milliseconds
   */
  constructor({ payload, saved, failed, state, delay = 600, pipelineId = null }) {
    this.payload = payload;
    this.saved = saved;
    this.failed = failed;
    this.state = state;
    this.delay = delay;
    this.pipelineId = pipelineId;
    this.dirty = false;
    this.timer = null;
    this.inflight = null;
  }

  schedule() {
    this.dirty = true;
    this.state("Unsaved changes…", "dirty");
    clearTimeout(this.timer);
    this.timer = setTimeout(() => this.flush().catch(() => {}), this.delay);
  }

  /** Save now if anything changed; resolves with the saved pipeline id (or null). */
  async flush() {
    clearTimeout(this.timer);
    while (this.inflight) await this.inflight.catch(() => {});
    if (!this.dirty) return this.pipelineId;
    const body = this.payload();
    if (!body) {
      this.state("Choose a dataset to save the pipeline", "idle");
      return null;
    }
    this.dirty = false;
    this.state("Saving…", "saving");
    const previous = this.pipelineId;
    this.inflight = put("/pipelines", previous ? { ...body, previous_pipeline_id: previous } : body);
    try {
      const result = await this.inflight;
      this.pipelineId = result.pipeline.pipeline_id;
      this.state(`Saved ${new Date().toLocaleTimeString()}`, "saved");
      this.saved(result);
      return this.pipelineId;
    } catch (exc) {
      this.dirty = true;
      this.state("Not saved", "error");
      this.failed(exc);
      throw exc;
    } finally {
      this.inflight = null;
    }
  }

  /** Best effort when the page goes away: a keepalive request outlives the page. */
  flushOnExit() {
    if (!this.dirty) return;
    const body = this.payload();
    if (!body) return;
    clearTimeout(this.timer);
    const previous = this.pipelineId;
    const payload = previous ? { ...body, previous_pipeline_id: previous } : body;
    put("/pipelines", payload, { keepalive: true }).catch(() => {});
    this.dirty = false;
  }
}
