// A node's job badge: built once per node, then patched in place on every update, so a
// person's click on Cancel is never lost to a rebuild while progress arrives.

import { h, when } from "../dom.js";
import { statusText } from "../status.js";

export function jobHref(jobId) {
  return `/user/training-jobs/${encodeURIComponent(jobId)}`;
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

export class JobBadge {
  /** @param {(jobId) => void} cancel asks the API to cancel the badge's current job */
  constructor(nodeId, cancel) {
    this.jobId = null;
    this.link = h("a", { class: "badge" });
    this.tipTitle = h("strong");
    this.tipJob = h("span");
    this.tipCreated = h("span");
    this.tipLink = h("a", { text: "Open in the dashboard →" });
    this.tip = h("div", { class: "tip", role: "tooltip" }, this.tipTitle, this.tipJob, this.tipCreated, this.tipLink);
    this.cancelButton = h("button", {
      type: "button",
      class: "danger small cancel",
      text: "Cancel",
      "aria-label": `Cancel training job of ${nodeId}`,
    });
    this.cancelButton.addEventListener("pointerdown", (ev) => ev.stopPropagation());
    this.cancelButton.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (this.jobId && !this.cancelButton.disabled) cancel(this.jobId);
    });
    this.progress = h("progress", { max: 1, value: 0, "aria-label": "Training progress" });
    this.el = h(
      "div",
      { class: "badge-wrap" },
      h("div", { class: "badge-row" }, this.link, this.cancelButton),
      this.progress,
      this.tip,
    );
  }

  /** Show `job` (or nothing when null). Only text and attributes change. */
  update(job) {
    this.el.hidden = !job;
    if (!job) {
      this.jobId = null;
      return;
    }
    this.jobId = job.id;
    const text = statusText(job);
    const tipId = `tip-${job.id}`;
    setText(this.link, text);
    setAttr(this.link, "href", jobHref(job.id));
    setAttr(this.link, "data-status", job.status);
    setAttr(this.link, "aria-describedby", tipId);
    setAttr(this.tip, "id", tipId);
    setText(this.tipTitle, text);
    setText(this.tipJob, `Job ${job.id.slice(0, 8)} · ${job.model_type}`);
    setText(this.tipCreated, `Created ${when(job.created_at)}`);
    setAttr(this.tipLink, "href", jobHref(job.id));
    const cancellable = job.status === "queued" || job.status === "running";
    const showCancel = cancellable || job.status === "cancelling";
    // Kept in the layout (visibility, not display) so nothing moves when it comes and goes.
    this.cancelButton.classList.toggle("invisible", !showCancel);
    this.cancelButton.disabled = !cancellable;
    setText(this.cancelButton, job.status === "cancelling" ? "Cancelling…" : "Cancel");
    const pct = job.status === "running" && job.progress && job.progress.total ? job.progress : null;
    this.progress.classList.toggle("invisible", !pct);
    if (pct) {
      if (this.progress.max !== pct.total) this.progress.max = pct.total;
      this.progress.value = Math.min(pct.completed ?? 0, pct.total);
    }
  }
}
