// The active model version of each training node, for the node cards' headline metric.

import { get, query } from "../api.js";
import { num } from "../dom.js";
import { headlineMetric } from "../status.js";

export class ActiveVersions {
  /** @param {() => string|null} pipelineId @param {() => void} changed re-render the cards */
  constructor(pipelineId, changed) {
    this.pipelineId = pipelineId;
    this.changed = changed;
    this.byNode = new Map();
  }

  /** "Active v2 · accuracy 0.956", or null when the node has no active version. */
  headline(nodeId) {
    const v = this.byNode.get(nodeId);
    if (!v) return null;
    const metric = headlineMetric(v.metrics);
    return metric ? `Active v${v.version} · ${metric.name} ${num(metric.value, 3)}` : `Active v${v.version}`;
  }

  load(nodeIds) {
    for (const id of nodeIds) this.refresh(id);
  }

  async refresh(nodeId) {
    const pid = this.pipelineId();
    if (!pid) return;
    const base = `/pipelines/${encodeURIComponent(pid)}/nodes/${encodeURIComponent(nodeId)}/versions`;
    try {
      const out = await get(`${base}${query({ limit: 500 })}`);
      const active = out.items.find((v) => v.version === out.active_version) || null;
      if (active) this.byNode.set(nodeId, active);
      else this.byNode.delete(nodeId);
      this.changed();
    } catch (exc) {
      console.warn("versions of", nodeId, exc);
    }
  }
}
