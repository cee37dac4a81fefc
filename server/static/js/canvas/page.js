// The canvas page: dataset, palette, board, config panel, live job badges, autosave.

import { ApiError, get, modelFamilies, nodeTypeSchemas, post } from "../api.js";
import { h, replace } from "../dom.js";
import { statusText } from "../status.js";
import { AutoSaver } from "./autosave.js";
import { Banners, storedOrphans } from "./banners.js";
import { datasetBar, listDatasets } from "./datasets.js";
import { Graph, GraphError } from "./graph.js";
import { NodeJobs, jobHref } from "./jobs.js";
import { NodeInsights } from "./node_insight.js";
import { renderNodePanel } from "./panel.js";
import { renderTrainPanel } from "./train_panel.js";
import { BoardView } from "./view.js";

const LAST_PIPELINE = "mlw.pipeline";
function newKey() {
  if (crypto.randomUUID) return crypto.randomUUID();
  return `${Date.now()}-${Math.random().toString(16).slice(2)}`;
}

export async function mount(main, { live }) {
  const [types, families, datasets] = await Promise.all([nodeTypeSchemas(), modelFamilies(), listDatasets()]);
  const typeOf = Object.fromEntries(types.map((t) => [t.type, t]));
  const labelOf = (type) => (typeOf[type] ? typeOf[type].label : type);
  const state = { graph: new Graph(), datasetId: null, dataset: null, datasets, selected: null, panel: null };

  const saveState = h("span", { class: "save-state", role: "status", "aria-live": "polite" });
  const announcer = h("p", { class: "sr-only", role: "status", "aria-live": "polite" });
  const banners = h("div", { class: "banners" });
  const barSlot = h("div", { class: "bar-slot" });
  const board = h("div", { class: "board", role: "region", "aria-label": "Pipeline canvas", tabindex: -1 });
  const panel = h("aside", { class: "panel", "aria-label": "Node configuration" });
  const palette = h(
    "aside",
    { class: "palette", "aria-labelledby": "palette-title" },
    h("h2", { id: "palette-title", text: "Add a node" }),
    types.map((t) =>
      h("button", {
        type: "button",
        class: "palette-item",
        title: t.description,
        dataset: { nodeType: t.type },
        text: t.label,
        "aria-label": `Add ${t.label} node`,
        on: { click: () => addNode(t.type) },
      }),
    ),
  );
  replace(
    main,
    h(
      "section",
      { class: "canvas-page", "aria-labelledby": "canvas-title" },
      h("div", { class: "toolbar" }, h("h1", { id: "canvas-title", text: "Pipeline canvas" }), barSlot, saveState),
      banners,
      h("div", { class: "workspace" }, palette, board, panel),
      announcer,
    ),
  );
  const announce = (text) => {
    announcer.textContent = text;
  };
  const notices = new Banners(banners, () => saver.pipelineId);
  const showNotice = (text) => notices.showNotice(text);
  const onError = (ev) => showNotice(ev.detail);
  window.addEventListener("mlw:error", onError);

  const view = new BoardView(
    board,
    state.graph,
    {
      select: (id) => selectNode(id),
      move: (id, x, y) => {
        state.graph.moveNode(id, x, y);
        view.render();
        saver.schedule();
      },
      connect: (source, target) => connect(source, target),
      remove: (id) => removeNode(id),
      announce,
      rendered: () => jobs && jobs.renderAll(),
    },
    labelOf,
  );
  const jobs = new NodeJobs(live, (nodeId) => view.statusSlot(nodeId), () => {
    if (state.panel && state.panel.refreshStatus) state.panel.refreshStatus();
  });
  const insights = new NodeInsights(live, jobs);

  const saver = new AutoSaver({
    payload: () => (state.datasetId ? { dataset_source_id: state.datasetId, graph: state.graph.toJSON() } : null),
    saved: (result) => onSaved(result),
    failed: (exc) => showNotice(`The pipeline could not be saved: ${exc.message}`),
    state: (text, kind) => {
      saveState.textContent = text;
      saveState.dataset.state = kind;
    },
  });

  // ---- dataset ---------------------------------------------------------------------------
  function renderBar() {
    replace(
      barSlot,
      datasetBar({
        datasets: state.datasets,
        currentId: state.datasetId,
        choose: (id) => chooseDataset(id),
        uploaded: (dataset) => {
          state.datasets = [dataset, ...state.datasets.filter((d) => d.id !== dataset.id)];
          chooseDataset(dataset.id);
          announce(`Uploaded ${dataset.name}.`);
        },
      }),
    );
  }

  async function loadDataset(id) {
    state.datasetId = id;
    try {
      state.dataset = await get(`/datasets/${encodeURIComponent(id)}`);
    } catch (exc) {
      state.dataset = null;
      showNotice(`The dataset could not be loaded: ${exc.message}`);
    }
  }

  async function chooseDataset(id) {
    await loadDataset(id);
    let source = state.graph.nodes.find((n) => n.type === "dataset_source");
    if (!source) {
      const at = { position: { x: 40, y: 60 }, label: labelOf("dataset_source") };
      source = state.graph.addNode("dataset_source", at);
    }
    source.data.config = { ...source.data.config, dataset_source_id: id };
    renderBar();
    view.render();
    renderPanel();
    saver.schedule();
  }

  // ---- graph edits -----------------------------------------------------------------------
  function addNode(type) {
    const right = state.graph.nodes.reduce((x, n) => Math.max(x, n.position.x + 240), 40);
    const config = type === "dataset_source" && state.datasetId ? { dataset_source_id: state.datasetId } : {};
    const node = state.graph.addNode(type, { position: { x: right, y: 60 }, label: labelOf(type), config });
    view.render();
    selectNode(node.id);
    view.focusNode(node.id);
    announce(`Added ${labelOf(type)} (${node.id}).`);
    saver.schedule();
  }

  function connect(source, target) {
    try {
      state.graph.connect(source, target);
    } catch (exc) {
      if (!(exc instanceof GraphError)) throw exc;
      showNotice(exc.message);
      announce(exc.message);
      return;
    }
    view.render();
    renderPanel();
    announce(`Connected ${source} to ${target}.`);
    saver.schedule();
  }

  function removeNode(id) {
    const job = jobs.forNode(id);
    state.graph.removeNode(id);
    if (job) notices.addOrphan(job);
    if (state.selected === id) state.selected = null;
    view.render();
    renderPanel();
    board.focus();
    announce(`Deleted ${id}.`);
    saver.schedule();
  }

  function selectNode(id) {
    if (state.selected === id) return;
    state.selected = id;
    view.select(id);
    renderPanel();
  }

  // ---- the panel -------------------------------------------------------------------------
  function panelContext(node) {
    return {
      graph: state.graph,
      typeLabel: labelOf(node.type),
      columns: state.dataset ? state.dataset.columns : [],
      datasets: state.datasets,
      families,
      onLabel: (label) => {
        node.data.label = label || labelOf(node.type);
        view.render();
        saver.schedule();
      },
      onConnect: (source, target) => connect(source, target),
      onDisconnect: (edgeId) => {
        state.graph.disconnect(edgeId);
        view.render();
        saver.schedule();
      },
      onRemove: (nodeId) => removeNode(nodeId),
      onConfig: (nodeId, config) => {
        state.graph.setConfig(nodeId, config);
        const chosen = node.type === "dataset_source" ? config.dataset_source_id : null;
        if (chosen && chosen !== state.datasetId) {
          chooseDataset(chosen);
          return;
        }
        saver.schedule();
      },
      onRun: (nodeId, config) => runTraining(nodeId, config),
      jobSummary: (nodeId) => jobSummary(nodeId),
      jobInsight: (nodeId) => insights.element(nodeId),
    };
  }

  function renderPanel() {
    const node = state.selected ? state.graph.node(state.selected) : null;
    if (!node) {
      state.panel = null;
      replace(
        panel,
        h("h2", { text: "Configuration" }),
        h("p", {
          class: "muted",
          text:
            "Select a node to configure it. Drag a node's right-hand port onto another node to connect them; " +
            "arrow keys move the focused node and Delete removes it.",
        }),
      );
      return;
    }
    const type = typeOf[node.type] || { type: node.type, label: node.type, config: [], description: "" };
    state.panel = node.type === "train_model"
      ? renderTrainPanel(panel, node, type, panelContext(node))
      : renderNodePanel(panel, node, type, panelContext(node));
  }

  function jobSummary(nodeId) {
    const job = jobs.forNode(nodeId);
    if (!job) return null;
    return h(
      "p",
      { class: "muted" },
      "Latest job: ",
      h("a", { href: jobHref(job.id), text: statusText(job) }),
    );
  }

  async function runTraining(nodeId, config) {
    state.graph.setConfig(nodeId, config);
    saver.schedule();
    let pipelineId;
    try {
      pipelineId = await saver.flush();
    } catch (exc) {
      return exc instanceof ApiError ? exc : new ApiError(0, "save_failed", exc.message, {});
    }
    if (!state.datasetId) {
      return new ApiError(0, "no_dataset", "Choose or upload a dataset first.", { field: "dataset" });
    }
    if (!config.run_now) {
      announce("Configuration saved; no job was started.");
      return null;
    }
    try {
      const job = await post("/training-jobs", {
        dataset_source_id: state.datasetId,
        node_id: nodeId,
        graph: state.graph.toJSON(),
        config,
        pipeline_id: pipelineId || undefined,
        idempotency_key: newKey(),
      });
      jobs.track(job);
      announce(`Training job queued for ${nodeId}.`);
      return null;
    } catch (exc) {
      if (exc instanceof ApiError) return exc;
      throw exc;
    }
  }

  // ---- saving and hydration ---------------------------------------------------------------
  function onSaved(result) {
    const id = result.pipeline.pipeline_id;
    localStorage.setItem(LAST_PIPELINE, id);
    const url = new URL(location.href);
    url.searchParams.set("pipeline", id);
    history.replaceState(null, "", url);
    notices.remember();
    const running = result.active_jobs_on_previous || [];
    if (result.id_changed && running.length) notices.showSoftLock(running, result.previous_pipeline_id, id);
  }

  async function hydrate(pipelineId) {
    let hydrated;
    try {
      hydrated = await get(`/pipelines/${encodeURIComponent(pipelineId)}`);
    } catch (exc) {
      if (exc instanceof ApiError && exc.status === 404) {
        localStorage.removeItem(LAST_PIPELINE);
        return;
      }
      throw exc;
    }
    state.graph = new Graph(hydrated.pipeline.graph);
    saver.pipelineId = hydrated.pipeline.pipeline_id;
    await loadDataset(hydrated.pipeline.dataset_source_id);
    view.setGraph(state.graph);
    for (const job of hydrated.jobs || []) jobs.track(job);
    const gone = (j) => state.graph.node(j.node_id)?.type !== "train_model";
    notices.setOrphans([...(hydrated.orphan_jobs || []), ...storedOrphans(saver.pipelineId)].filter(gone));
    saver.state("All changes saved", "saved");
  }

  const wanted = new URL(location.href).searchParams.get("pipeline") || localStorage.getItem(LAST_PIPELINE);
  if (wanted) await hydrate(wanted);
  renderBar();
  view.render();
  renderPanel();
  notices.render();
  if (!state.datasetId) saver.state("Choose a dataset to start", "idle");

  const onExit = () => saver.flushOnExit();
  window.addEventListener("pagehide", onExit);
  return () => {
    saver.flushOnExit();
    jobs.stop();
    insights.stop();
    window.removeEventListener("pagehide", onExit);
    window.removeEventListener("mlw:error", onError);
  };
}
