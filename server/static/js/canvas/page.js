// The canvas page: wires the dataset bar, palette, board, editor, panel, jobs and saving.

import { ApiError, get, modelFamilies, nodeTypeSchemas } from "../api.js";
import { h, replace } from "../dom.js";
import { ActiveVersions } from "./active_versions.js";
import { AutoSaver } from "./autosave.js";
import { Banners, storedOrphans } from "./banners.js";
import { boardTools, emptyBoard } from "./board_tools.js";
import { datasetBar, listDatasets } from "./datasets.js";
import { Editor } from "./editor.js";
import { Graph } from "./graph.js";
import { NodeJobs } from "./jobs.js";
import { NodeInsights } from "./node_insight.js";
import { PanelHost } from "./panel_host.js";
import { LAST_PIPELINE, latestPipeline, openExample, pipelineNameField, rememberPipeline } from "./pipeline_io.js";
import { startTraining } from "./run.js";
import { BoardView } from "./view.js";

export async function mount(main, { live }) {
  const [types, families, datasets] = await Promise.all([nodeTypeSchemas(), modelFamilies(), listDatasets()]);
  const typeOf = Object.fromEntries(types.map((t) => [t.type, t]));
  const labelOf = (type) => (typeOf[type] ? typeOf[type].label : type);
  const familyLabel = (type) => families.find((f) => f.model_type === type)?.label || null;
  const state = { graph: new Graph(), datasetId: null, dataset: null, datasets, selected: null, name: "" };

  const saveState = h("span", { class: "save-state", role: "status", "aria-live": "polite" });
  const announcer = h("p", { class: "sr-only", role: "status", "aria-live": "polite" });
  const banners = h("div", { class: "banners" });
  const barSlot = h("div", { class: "bar-slot" });
  const toolsSlot = h("div", { class: "tools-slot" });
  const nameSlot = h("div", { class: "name-slot" });
  const board = h("div", { class: "board", role: "region", "aria-label": "Pipeline canvas board", tabindex: 0 });
  const emptySlot = h("div", { class: "empty-slot" });
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
      h(
        "div",
        { class: "toolbar" },
        h("h1", { id: "canvas-title", class: "sr-only", text: "Pipeline canvas" }),
        nameSlot,
        barSlot,
        saveState,
      ),
      banners,
      h("div", { class: "workspace" }, palette, h("div", { class: "board-wrap" }, toolsSlot, board, emptySlot), panel),
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

  const versions = new ActiveVersions(() => saver.pipelineId, () => view.render());
  const view = new BoardView(
    board,
    state.graph,
    {
      select: (id, opts) => selectNode(id, opts),
      beforeMove: () => editor.beforeEdit(),
      move: (id, x, y) => editor.move(id, x, y),
      connect: (source, target) => editor.connect(source, target),
      remove: (ids) => editor.remove(ids),
      rename: (id, label) => editor.rename(id, label),
      announce,
      rendered: () => jobs && jobs.renderAll(),
    },
    (node) => ({
      typeLabel: labelOf(node.type),
      familyLabel: node.type === "train_model" ? familyLabel(node.data.config?.model_type) : null,
      headline: node.type === "train_model" ? versions.headline(node.id) : null,
    }),
  );
  const jobs = new NodeJobs(live, (nodeId) => view.statusSlot(nodeId), (nodeId) => {
    panels.jobChanged(nodeId);
    const job = jobs.forNode(nodeId);
    if (job && job.status === "succeeded") versions.refresh(nodeId);
  });

  const saver = new AutoSaver({
    payload: () =>
      state.datasetId ? { dataset_source_id: state.datasetId, graph: state.graph.toJSON(), name: state.name || undefined } : null,
    saved: (result) => onSaved(result),
    failed: (exc) => showNotice(`The pipeline could not be saved: ${exc.message}`),
    state: (text, kind) => {
      saveState.textContent = text;
      saveState.dataset.state = kind;
    },
  });

  const editor = new Editor({
    state,
    view,
    saver,
    announce,
    notice: showNotice,
    changed: ({ panel: affectsPanel }) => {
      if (state.selected && !state.graph.node(state.selected)) state.selected = null;
      if (affectsPanel || !state.selected) panels.render(state.selected);
      tools.sync();
      renderEmpty();
    },
    removed: (ids) => {
      for (const id of ids) {
        const job = jobs.forNode(id);
        if (job) notices.addOrphan(job);
      }
      board.focus();
    },
  });
  const tools = boardTools(toolsSlot, {
    editor,
    view,
    selection: () => [...view.selection],
  });
  board.addEventListener("keydown", (ev) => tools.key(ev));

  const insights = new NodeInsights(live, jobs);
  const panels = new PanelHost(panel, {
    state,
    typeOf,
    labelOf,
    families,
    jobs,
    insights,
    editor,
    onConfig: (nodeId, config) => {
      state.graph.setConfig(nodeId, config);
      const node = state.graph.node(nodeId);
      const chosen = node?.type === "dataset_source" ? config.dataset_source_id : null;
      if (chosen && chosen !== state.datasetId) {
        chooseDataset(chosen);
        return;
      }
      view.render();
      saver.schedule();
    },
    onRun: (nodeId, config) =>
      startTraining({ state, saver, jobs, announce }, nodeId, config),
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

  /** The pipeline's dataset; the graph's Dataset node follows it (added, visibly, when missing). */
  async function chooseDataset(id) {
    await loadDataset(id);
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
      notices.showInfo(`Added a Dataset node for ${name}; connect its port to the next step.`);
      selectNode(node.id);
    }
    renderBar();
  }

  function addNode(type) {
    const config = type === "dataset_source" && state.datasetId ? { dataset_source_id: state.datasetId } : {};
    const node = editor.add(type, { label: labelOf(type), config });
    selectNode(node.id);
    view.focusNode(node.id);
  }

  function selectNode(id, { additive = false } = {}) {
    if (additive && id) {
      const chosen = new Set(view.selection);
      if (chosen.has(id)) chosen.delete(id);
      else chosen.add(id);
      view.select([...chosen]);
      tools.sync();
      return;
    }
    view.select(id ? [id] : []);
    tools.sync();
    if (state.selected === id) return;
    state.selected = id;
    panels.render(id);
  }

  // ---- saving and hydration ---------------------------------------------------------------
  function onSaved(result) {
    const id = result.pipeline.pipeline_id;
    rememberPipeline(id);
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
        showNotice("That pipeline does not exist or is not yours.");
        return;
      }
      throw exc;
    }
    state.graph = new Graph(hydrated.pipeline.graph);
    state.name = hydrated.pipeline.name || "";
    saver.pipelineId = hydrated.pipeline.pipeline_id;
    rememberPipeline(saver.pipelineId);
    await loadDataset(hydrated.pipeline.dataset_source_id);
    view.setGraph(state.graph);
    for (const job of hydrated.jobs || []) jobs.track(job);
    const gone = (j) => state.graph.node(j.node_id)?.type !== "train_model";
    notices.setOrphans([...(hydrated.orphan_jobs || []), ...storedOrphans(saver.pipelineId)].filter(gone));
    saver.state("All changes saved", "saved");
    versions.load(state.graph.nodes.filter((n) => n.type === "train_model").map((n) => n.id));
  }

  function renderEmpty() {
    const empty = state.graph.nodes.length === 0;
    emptySlot.hidden = !empty;
    if (empty && !emptySlot.firstChild) {
      emptySlot.append(
        emptyBoard({
          openExample: async () => {
            try {
              const pid = await openExample();
              location.assign(`/?pipeline=${encodeURIComponent(pid)}`);
            } catch (exc) {
              showNotice(`The example could not be opened: ${exc.message}`);
            }
          },
        }),
      );
    }
  }

  function renderName() {
    replace(
      nameSlot,
      pipelineNameField({
        value: state.name,
        pipelineId: () => saver.pipelineId,
        changed: (name) => {
          state.name = name;
          if (!saver.pipelineId) saver.schedule();
        },
        failed: (exc) => showNotice(`The pipeline could not be renamed: ${exc.message}`),
      }),
    );
  }

  const params = new URL(location.href).searchParams;
  const wanted =
    params.get("pipeline") || (params.has("new") ? null : localStorage.getItem(LAST_PIPELINE) || (await latestPipeline()));
  if (wanted) await hydrate(wanted);
  renderName();
  renderBar();
  view.render();
  panels.render(null);
  notices.render();
  tools.sync();
  renderEmpty();
  requestAnimationFrame(() => view.fit());
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
