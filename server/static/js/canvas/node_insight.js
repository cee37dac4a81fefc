// The training node's insight in the canvas side panel: its latest job's live learning curve
// while it fits, then the headline of what the model learned.

import { h, replace } from "../dom.js";
import { fetchInsights, headline, liveCurveView } from "../insights.js";
import { jobHref } from "./badge.js";

class JobInsight {
  constructor(job) {
    this.jobId = job.id;
    this.status = null;
    this.curve = liveCurveView(job.id, `Learning curve · ${job.model_type}`);
    this.headline = h("div", { class: "insight-headline-box", "aria-live": "polite" });
    this.el = h(
      "section",
      { class: "node-insight", "aria-label": "Model insight", "data-job-id": job.id },
      h("h3", { text: "Learning curve" }),
      this.curve.el,
      this.headline,
      h("p", {}, h("a", { href: jobHref(job.id), text: "All insights on the job page →" })),
    );
  }

  async sync(job) {
    const key = `${job.status}/${job.attempt}`;
    if (this.status === key) return;
    this.status = key;
    const found = await fetchInsights(job.id);
    this.curve.set(found);
    replace(this.headline, headline(found));
  }
}

export class NodeInsights {
  /**
   * @param {LiveClient} live frames with learning-curve deltas arrive here
   * @param {NodeJobs} jobs the latest job of each node
   */
  constructor(live, jobs) {
    this.jobs = jobs;
    this.views = new Map();
    this.unlisten = live.onEvent((frame) => this.views.get(frame.job_id)?.curve.receive(frame));
  }

  stop() {
    this.unlisten();
  }

  /** The insight element of `nodeId`'s latest job (the same element while it is the latest), or null. */
  element(nodeId) {
    const job = this.jobs.forNode(nodeId);
    if (!job) return null;
    let view = this.views.get(job.id);
    if (!view) {
      view = new JobInsight(job);
      this.views.set(job.id, view);
    }
    view.sync(job).catch((exc) => console.warn("node insight", exc));
    return view.el;
  }
}
