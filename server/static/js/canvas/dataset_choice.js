// The pipeline's dataset: the dataset bar, loading the chosen one, and the graph's Dataset
// node following the choice.

import { get } from "../api.js";
import { replace } from "../dom.js";
import { datasetBar } from "./datasets.js";

export class DatasetChoice {
  /**
   * @param {object} opts
   * @param {object} opts.state the page state (datasetId, dataset, datasets, graph)
   * @param {HTMLElement} opts.slot where the dataset bar goes
   * @param {object} opts.editor the graph editor
   * @param {object} opts.notices the banners
   * @param {(text) => void} opts.announce
   * @param {(nodeId) => void} opts.select selects a node
   */
  constructor({ state, slot, editor, notices, announce, select }) {
    Object.assign(this, { state, slot, editor, notices, announce, select });
  }

  render() {
    const { state } = this;
    replace(
      this.slot,
      datasetBar({
        datasets: state.datasets,
        currentId: state.datasetId,
        choose: (id) => this.choose(id),
        uploaded: (dataset) => {
          state.datasets = [dataset, ...state.datasets.filter((d) => d.id !== dataset.id)];
          this.choose(dataset.id);
          this.announce(`Uploaded ${dataset.name}.`);
        },
      }),
    );
  }

  async load(id) {
    const { state } = this;
    state.datasetId = id;
    try {
      state.dataset = await get(`/datasets/${encodeURIComponent(id)}`);
    } catch (exc) {
      state.dataset = null;
      this.notices.showNotice(`The dataset could not be loaded: ${exc.message}`);
    }
  }

  /** The pipeline's dataset; the graph's Dataset node follows it (added, visibly, when missing). */
  async choose(id) {
    const { state, editor } = this;
    await this.load(id);
    const source = state.graph.nodes.find((n) => n.type === "dataset_source");
    const name = state.dataset?.name || id;
    if (source) {
      editor.beforeEdit();
      source.data.config = { ...source.data.config, dataset_source_id: id };
      editor.done(`The Dataset node now reads ${name}.`);
    } else {
      const node = editor.add("dataset_source", {
        label: name,
        config: { dataset_source_id: id },
        position: { x: 40, y: 60 },
      });
      this.notices.showInfo(`Added a Dataset node for ${name}; connect its port to the next step.`);
      this.select(node.id);
    }
    this.render();
  }
}
