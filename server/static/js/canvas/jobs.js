// Training jobs on the canvas: the latest job of each node, kept live from the websocket.

import { get, post } from "../api.js";
import { ACTIVE } from "../status.js";
import { JobBadge, jobHref } from "./badge.js";

export { jobHref };

/** Merge a newer view of a job into an older one; never goes back in the event sequence. */
export function mergeJob(current, incoming) {
  if (!current) return incoming;
  if ((incoming.last_seq ?? 0) < (current.last_seq ?? 0)) return current;
  return { ...current, ...incoming };
}

/**
 * The kind of job each runnable node type runs itself (server/views/pipelines.py NODE_JOB_KINDS): batch
 * predictions read a training node's model but are not that node's job, so they never become its badge.
 */
export const NODE_JOB_KIND = { train_model: "training", validate_model: "validation" };

export class NodeJobs {
  /**
   * @param {LiveClient} live
   * @param {(nodeId) => Element|null} slotOf where a node's badge goes
   * @param {(nodeId) => void} changed called after a node's job changed (patch the panel)
   * @param {{pipelineId: () => string|null, nodeType: (nodeId) => string|undefined}} [canvas] the open
   *   pipeline and its graph: a job of one of its nodes that this page did not start (another tab, the
   *   dashboard, the API) is adopted from the pipeline topic's events and snapshots
   */
  constructor(live, slotOf, changed, canvas = null) {
    this.live = live;
    this.slotOf = slotOf;
    this.changed = changed;
    this.canvas = canvas;
    this.byNode = new Map();
    this.byId = new Map();
    this.badges = new Map();
    this.fetching = new Map(); // job id -> frames that arrived while its row is read
    this.passed = new Set(); // jobs read and found older than their node's latest: not read again
    this.stopped = false;
    this.topics = live.scope(); // the followed pipeline and the job topics below
    this.pipelineTopic = null; // the pipeline whose topic brings its jobs' events (the open one)
    this.jobTopics = new Set();
    this.unlisten = live.onEvent((frame) => this.receive(frame));
  }

  stop() {
    this.stopped = true;
    this.unlisten();
    this.fetching.clear();
    this.topics.clear();
    this.jobTopics.clear();
  }

  /**
   * Listen to pipeline `pipelineId` (the open one; a save may move the canvas to a new id): its topic brings
   * the events of its jobs, and its snapshot replays them from their last seq after a reconnect. The old
   * pipeline's topic goes once the jobs still running on it have a job topic of their own.
   */
  follow(pipelineId) {
    const previous = this.pipelineTopic;
    if (!pipelineId || pipelineId === previous || this.stopped) return;
    this.pipelineTopic = pipelineId;
    this.topics.subscribe({ pipeline_id: pipelineId });
    this.syncTopics();
    if (previous) this.topics.unsubscribe({ pipeline_id: previous });
  }

  /**
   * A job topic only for a node's latest job that is still active and not on the followed pipeline (a job
   * of the pipeline before a save changed its id, or one tracked before the pipeline is followed); a job
   * that ended (its final event applied) or that a newer job replaced has none. The topics held stay
   * bounded by the nodes, whatever the number of runs.
   */
  syncTopics() {
    if (this.stopped) return;
    const wanted = new Set();
    for (const job of this.byNode.values()) {
      if (ACTIVE.has(job.status) && job.pipeline_id !== this.pipelineTopic) wanted.add(job.id);
    }
    for (const id of [...this.jobTopics]) {
      if (wanted.has(id)) continue;
      this.jobTopics.delete(id);
      this.topics.unsubscribe({ job_id: id });
    }
    for (const id of wanted) {
      if (this.jobTopics.has(id)) continue;
      this.jobTopics.add(id);
      this.topics.subscribe({ job_id: id });
    }
  }

  /** Track `job` as its node's latest job (from hydration, a submit, a cancel or the pipeline topic). */
  track(job) {
    const merged = mergeJob(this.byId.get(job.id), job);
    this.byId.set(job.id, merged);
    const shown = this.byNode.get(job.node_id);
    if (!shown || shown.id === job.id || Date.parse(job.created_at) >= Date.parse(shown.created_at)) {
      this.byNode.set(job.node_id, merged);
    }
    // Replay only what happened after this row; the snapshot brings the rest.
    this.live.noteSeq(job.id, merged.last_seq);
    this.syncTopics();
    this.render(job.node_id);
    this.changed(job.node_id);
  }

  forNode(nodeId) {
    return this.byNode.get(nodeId) || null;
  }

  /** Whether the node's latest job is queued, running or cancelling. */
  isActive(nodeId) {
    const job = this.byNode.get(nodeId);
    return Boolean(job && ACTIVE.has(job.status));
  }

  update(jobId, patch) {
    const current = this.byId.get(jobId);
    if (!current) return;
    const next = { ...current, ...patch };
    this.byId.set(jobId, next);
    if (this.byNode.get(next.node_id)?.id === jobId) this.byNode.set(next.node_id, next);
    this.syncTopics();
    this.render(next.node_id);
    this.changed(next.node_id);
  }

  async refresh(jobId) {
    try {
      const job = await get(`/training-jobs/${encodeURIComponent(jobId)}`);
      const current = this.byId.get(jobId);
      if (current && (job.last_seq ?? 0) >= (current.last_seq ?? 0)) this.update(jobId, job);
    } catch (exc) {
      console.warn("job refresh failed", exc);
    }
  }

  /** Whether `job` (a row or an event) is the own job of a node of the open pipeline's graph. */
  belongsHere(job) {
    if (!this.canvas || !job || job.pipeline_id !== this.canvas.pipelineId()) return false;
    const wanted = NODE_JOB_KIND[this.canvas.nodeType(job.node_id)];
    // Every event names its kind (store/jobs.py); a row without one (never, today) is read before it counts.
    return Boolean(wanted) && (job.kind == null || job.kind === wanted);
  }

  /** Whether `job` is newer than the job its node shows now. */
  isLatest(job) {
    const shown = this.byNode.get(job.node_id);
    return !shown || shown.id === job.id || Date.parse(job.created_at) >= Date.parse(shown.created_at);
  }

  /**
   * A job this page did not start, seen on the pipeline topic: a snapshot row is adopted at once; an event
   * reads the job's row first (events carry the change, not the whole job) and replays what arrived meanwhile.
   */
  discover(frame) {
    if (this.stopped || this.passed.has(frame.job_id)) return;
    if (frame.type === "snapshot.job") {
      if (this.belongsHere(frame.job) && frame.job.kind && this.isLatest(frame.job)) this.track(frame.job);
      return;
    }
    if (!this.belongsHere(frame)) return;
    const waiting = this.fetching.get(frame.job_id);
    if (waiting) {
      waiting.push(frame);
      return;
    }
    this.fetching.set(frame.job_id, [frame]);
    get(`/training-jobs/${encodeURIComponent(frame.job_id)}`)
      .then((job) => {
        const frames = this.fetching.get(job.id);
        this.fetching.delete(job.id);
        if (this.stopped || !frames) return;
        if (!this.belongsHere(job) || !job.kind || !this.isLatest(job)) {
          this.passed.add(job.id);
          return;
        }
        this.track(job);
        for (const later of frames) this.receive(later);
      })
      .catch((exc) => {
        this.fetching.delete(frame.job_id);
        console.warn("job discovery failed", exc);
      });
  }

  receive(frame) {
    if (typeof frame.job_id !== "string") return;
    const current = this.byId.get(frame.job_id);
    if (!current) {
      this.discover(frame);
      return;
    }
    if (frame.type === "snapshot.job") {
      this.update(frame.job_id, mergeJob(current, frame.job));
    } else if (frame.type === "job.progress") {
      if (!ACTIVE.has(current.status)) return;
      this.update(frame.job_id, { progress: frame.progress, status: frame.status || current.status });
    } else if (typeof frame.seq === "number" && frame.seq > (current.last_seq ?? 0)) {
      const patch = { status: frame.status, last_seq: frame.seq };
      if (frame.model_version != null) patch.model_version = frame.model_version;
      if (frame.metrics) patch.metrics = { ...(current.metrics || {}), ...frame.metrics };
      if (frame.error_code) patch.error_code = frame.error_code;
      if (frame.error_message) patch.error_message = frame.error_message;
      this.update(frame.job_id, patch);
      // The event carries the headline only; the row has metrics, errors and the version in full.
      if (frame.type === "job.status") this.refresh(frame.job_id);
    }
  }

  async cancel(jobId) {
    const job = await post(`/training-jobs/${encodeURIComponent(jobId)}/cancel`, {});
    this.track(job);
    return job;
  }

  renderAll() {
    for (const nodeId of this.byNode.keys()) this.render(nodeId);
  }

  /** Patch the node's badge in place; it is created once per card slot. */
  render(nodeId) {
    const slot = this.slotOf(nodeId);
    if (!slot) return;
    let badge = this.badges.get(nodeId);
    if (!badge || badge.el.parentNode !== slot) {
      badge = new JobBadge(nodeId, (jobId) => this.cancel(jobId).catch((e) => alertError(e)));
      this.badges.set(nodeId, badge);
      slot.replaceChildren(badge.el);
    }
    badge.update(this.byNode.get(nodeId) || null);
  }
}

function alertError(exc) {
  window.dispatchEvent(new CustomEvent("mlw:error", { detail: exc.message || String(exc) }));
}
