// The canvas banners: errors, the soft-lock warning, and jobs of nodes no longer in the graph.

import { h, replace } from "../dom.js";
import { statusText } from "../status.js";
import { jobHref } from "./jobs.js";

const ORPHANS = "mlw.orphans.";

/** Jobs of deleted nodes, remembered per pipeline for the browser session (a reload keeps the banner). */
export function storedOrphans(pipelineId) {
  try {
    return JSON.parse(sessionStorage.getItem(ORPHANS + pipelineId) || "[]");
  } catch {
    return [];
  }
}

export function storeOrphans(pipelineId, jobs) {
  if (!pipelineId) return;
  const keep = jobs.map((j) => ({
    id: j.id,
    node_id: j.node_id,
    status: j.status,
    model_version: j.model_version,
    created_at: j.created_at,
  }));
  sessionStorage.setItem(ORPHANS + pipelineId, JSON.stringify(keep));
}

function banner(kind, name, content, dismiss) {
  return h(
    "div",
    { class: `banner ${kind}`, role: kind === "info" ? "status" : "alert", dataset: { banner: name } },
    h("div", { class: "banner-text" }, content),
    h("button", { type: "button", class: "secondary small", text: "Dismiss", on: { click: dismiss } }),
  );
}

export class Banners {
  /** @param {Element} root where banners go; @param {() => string|null} pipelineId the current id */
  constructor(root, pipelineId) {
    this.root = root;
    this.pipelineId = pipelineId;
    this.notice = null;
    this.info = null;
    this.softLock = null;
    this.orphans = [];
  }

  showNotice(text) {
    this.notice = text;
    this.render();
  }

  /** A passing piece of information (not an error), e.g. what a choice just added. */
  showInfo(text) {
    this.info = text;
    this.render();
  }

  /** Running jobs still use the previous pipeline id after the data path changed. */
  showSoftLock(jobs, from, to) {
    this.softLock = { jobs, from, to };
    this.render();
  }

  setOrphans(jobs) {
    const seen = new Set();
    this.orphans = jobs.filter((j) => !seen.has(j.id) && seen.add(j.id));
    this.render();
  }

  addOrphan(job) {
    this.setOrphans([job, ...this.orphans]);
  }

  remember() {
    storeOrphans(this.pipelineId(), this.orphans);
  }

  render() {
    const items = [];
    if (this.notice) {
      items.push(banner("error", "notice", this.notice, () => this.showNotice(null)));
    }
    if (this.info) {
      items.push(banner("info", "info", this.info, () => this.showInfo(null)));
    }
    if (this.softLock) {
      const { jobs, from, to } = this.softLock;
      const content = [
        h("strong", { text: "The data path changed while training runs. " }),
        `${jobs.length} running job(s) use the previous pipeline (${from}); rerunning may produce different ` +
          `results because the pipeline id is now ${to}. `,
        jobs.map((j) => h("a", { href: jobHref(j.id), text: `Job of ${j.node_id}` })),
      ];
      items.push(banner("warning", "soft-lock", content, () => {
        this.softLock = null;
        this.render();
      }));
    }
    if (this.orphans.length) {
      const content = [
        `${this.orphans.length} training job(s) belong to nodes that are no longer in this graph. `,
        this.orphans.map((j) => h("a", { href: jobHref(j.id), text: `History of ${j.node_id} (${statusText(j)})` })),
      ];
      items.push(banner("info", "orphans", content, () => {
        this.setOrphans([]);
        this.remember();
      }));
    }
    replace(this.root, items);
  }
}
