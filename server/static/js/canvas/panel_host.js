// The side panel: which node's form is shown, and in-place job updates of that form.

import { h, replace } from "../dom.js";
import { statusText } from "../status.js";
import { jobHref } from "./badge.js";
import { nodePredictions } from "./node_predictions.js";
import { renderNodePanel } from "./panel.js";
import { renderTrainPanel } from "./train_panel.js";
import { renderValidatePanel } from "./validate_panel.js";

/** "Latest job: <link>", patched in place as the job changes. */
function jobSummary(jobs, nodeId) {
  const link = h("a");
  const el = h("p", { class: "muted latest-job" }, "Latest job: ", link);
  const update = () => {
    const job = jobs.forNode(nodeId);
    el.hidden = !job;
    if (!job) return;
    const text = statusText(job);
    if (link.textContent !== text) link.textContent = text;
    const href = jobHref(job.id);
    if (link.getAttribute("href") !== href) link.setAttribute("href", href);
  };
  update();
  return { el, update };
}

export class PanelHost {
  /**
   * @param {Element} root the panel element
   * @param {object} deps {state, typeOf, labelOf, families, jobs, insights, editor, onConfig, onRun,
   *   live, pipelineId: () => string|null}
   */
  constructor(root, deps) {
    this.root = root;
    this.deps = deps;
    this.current = null;
    this.predictions = null;
  }

  /**
   * The predictions section of training node `node`, or null for another node. One per selected node:
   * a re-render of that node (after a graph edit) moves it, so a predictions job stays followed; selecting
   * another node stops its live listeners.
   */
  predictionsFor(node) {
    const wanted = node && node.type === "train_model" ? node.id : null;
    if (this.predictions && this.predictions.nodeId === wanted) return this.predictions.el;
    this.predictions?.stop();
    this.predictions = null;
    if (!wanted || !this.deps.live) return null;
    this.predictions = nodePredictions({ pipelineId: this.deps.pipelineId, nodeId: wanted, live: this.deps.live });
    return this.predictions.el;
  }

  /** Show the form of node `id` (or the help text when null). */
  render(id) {
    const { state, typeOf, labelOf, families, jobs, editor } = this.deps;
    const node = id ? state.graph.node(id) : null;
    if (!node) {
      this.current = null;
      this.predictionsFor(null);
      replace(
        this.root,
        h("h2", { text: "Configuration" }),
        h("p", {
          class: "muted",
          text:
            "Select a node to configure it. Drag a node's right-hand port onto another node to connect them; " +
            "double-click a title (or press F2) to rename; arrow keys move the focused node and Delete removes it. " +
            "Drag the empty board to pan, use the wheel to zoom; Ctrl+Z undoes.",
        }),
      );
      return;
    }
    const type = typeOf[node.type] || { type: node.type, label: node.type, config: [], description: "" };
    const ctx = {
      graph: state.graph,
      typeLabel: labelOf(node.type),
      columns: state.dataset ? state.dataset.columns : [],
      datasets: state.datasets,
      families,
      onLabel: (label) => editor.rename(node.id, label || labelOf(node.type)),
      onConnect: (source, target) => editor.connect(source, target),
      onDisconnect: (edgeId) => editor.disconnect(edgeId),
      onRemove: (nodeId) => editor.remove([nodeId]),
      onConfig: (nodeId, config) => this.deps.onConfig(nodeId, config),
      onRun: (nodeId, config) => this.deps.onRun(nodeId, config),
      jobSummary: (nodeId) => jobSummary(jobs, nodeId),
      isActive: (nodeId) => jobs.isActive(nodeId),
      latestJob: (nodeId) => jobs.forNode(nodeId),
      jobInsight: (nodeId) => (this.deps.insights ? this.deps.insights.element(nodeId) : null),
      predictions: this.predictionsFor(node),
    };
    const scroll = this.root.scrollTop;
    const render = { train_model: renderTrainPanel, validate_model: renderValidatePanel }[node.type] || renderNodePanel;
    this.current = render(this.root, node, type, ctx);
    this.current.nodeId = node.id;
    // Re-rendering the same node (after a graph edit) keeps the reader's place.
    if (this.shownId === node.id) this.root.scrollTop = scroll;
    this.shownId = node.id;
  }

  jobChanged(nodeId) {
    if (this.current && this.current.nodeId === nodeId && this.current.refreshStatus) this.current.refreshStatus();
    if (this.predictions?.nodeId === nodeId) this.predictions.jobChanged(this.deps.jobs.forNode(nodeId));
  }

  /** The pipeline was saved (maybe under a new id: a changed data path has versions of its own). */
  saved() {
    this.predictions?.sync();
  }

  /** The page goes: no listener of the panel outlives it. */
  stop() {
    this.predictionsFor(null);
  }
}
