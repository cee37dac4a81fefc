// The canvas page: wires the dataset bar, palette, board, editor, panel, jobs and saving.

import { modelFamilies, nodeTypeSchemas } from "../api.js";
import { ActiveVersions } from "./active_versions.js";
import { AutoSaver } from "./autosave.js";
import { Banners } from "./banners.js";
import { boardTools } from "./board_tools.js";
import { DatasetChoice } from "./dataset_choice.js";
import { listDatasets } from "./datasets.js";
import { Editor } from "./editor.js";
import { Graph } from "./graph.js";
import { hydratePipeline } from "./hydrate.js";
import { NodeJobs } from "./jobs.js";
import { NodeInsights } from "./node_insight.js";
import { pageShell } from "./page_shell.js";
import { renderEmpty, renderName } from "./page_slots.js";
import { PanelHost } from "./panel_host.js";
import { LAST_PIPELINE, latestPipeline, rememberPipeline } from "./pipeline_io.js";
import { startTraining } from "./run.js";
import { validationHeadline } from "./validate_panel.js";
import { BoardView } from "./view.js";

export async function mount(main, { live }) {
  const [types, families, datasets] = await Promise.all([nodeTypeSchemas(), modelFamilies(), listDatasets()]);
  const typeOf = Object.fromEntries(types.map((t) => [t.type, t]));
  const labelOf = (type) => (typeOf[type] ? typeOf[type].label : type);
  const familyLabel = (type) => families.find((f) => f.model_type === type)?.label || null;
  const state = { graph: new Graph(), datasetId: null, dataset: null, datasets, selected: null, name: "" };

  const { saveState, announcer, banners, barSlot, toolsSlot, nameSlot, board, emptySlot, panel } = pageShell(
    main,
    types,
    (type) => addNode(type),
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
      headline: node.type === "train_model" ? versions.headline(node.id)
        : node.type === "validate_model" && jobs ? validationHeadline(jobs.forNode(node.id)) : null,
    }),
  );
  const jobs = new NodeJobs(live, (nodeId) => view.statusSlot(nodeId), (nodeId) => {
    panels.jobChanged(nodeId);
    const job = jobs.forNode(nodeId);
    if (job && job.status === "succeeded") {
      if (state.graph.node(nodeId)?.type === "validate_model") view.render();
      else versions.refresh(nodeId);
    }
  }, {
    // Jobs of this pipeline's nodes started elsewhere (another tab, the dashboard, the API) come live too.
    pipelineId: () => saver.pipelineId,
    nodeType: (nodeId) => state.graph.node(nodeId)?.type,
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
      renderEmpty(emptySlot, state.graph, showNotice);
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
    live,
    pipelineId: () => saver.pipelineId,
    onConfig: (nodeId, config) => {
      state.graph.setConfig(nodeId, config);
      const node = state.graph.node(nodeId);
      const chosen = node?.type === "dataset_source" ? config.dataset_source_id : null;
      if (chosen && chosen !== state.datasetId) {
        dataset.choose(chosen);
        return;
      }
      view.render();
      saver.schedule();
    },
    onRun: (nodeId, config) =>
      startTraining({ state, saver, jobs, announce }, nodeId, config),
  });

  const dataset = new DatasetChoice({ state, slot: barSlot, editor, notices, announce, select: (id) => selectNode(id) });

  // ---- selection ---------------------------------------------------------------------------
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

  // ---- saving ------------------------------------------------------------------------------
  // An alias moved (here, on the dashboard, by another tab): the node card's "Active vN" follows.
  const unlistenAliases = live.onEvent((frame) => {
    if (frame.type === "alias.changed" && frame.pipeline_id === saver.pipelineId) versions.refresh(frame.node_id);
  });

  function onSaved(result) {
    const id = result.pipeline.pipeline_id;
    jobs.follow(id); // and lets go of the previous id's topic
    rememberPipeline(id);
    notices.remember();
    panels.saved();
    const running = result.active_jobs_on_previous || [];
    if (result.id_changed && running.length) notices.showSoftLock(running, result.previous_pipeline_id, id);
  }

  const params = new URL(location.href).searchParams;
  const wanted =
    params.get("pipeline") || (params.has("new") ? null : localStorage.getItem(LAST_PIPELINE) || (await latestPipeline()));
  if (wanted) await hydratePipeline(wanted, { state, saver, view, jobs, notices, versions, dataset, showNotice });
  jobs.follow(saver.pipelineId);
  renderName(nameSlot, { state, saver, showNotice });
  dataset.render();
  view.render();
  panels.render(null);
  notices.render();
  tools.sync();
  renderEmpty(emptySlot, state.graph, showNotice);
  requestAnimationFrame(() => view.fit());
  if (!state.datasetId) saver.state("Choose a dataset to start", "idle");

  const onExit = () => saver.flushOnExit();
  window.addEventListener("pagehide", onExit);
  return () => {
    saver.flushOnExit();
    jobs.stop();
    insights.stop();
    panels.stop();
    unlistenAliases();
    window.removeEventListener("pagehide", onExit);
    window.removeEventListener("mlw:error", onError);
  };
}
