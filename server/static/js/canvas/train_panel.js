// The training node's panel, generated from GET /model-families and the train_model schema.

import { h } from "../dom.js";
import { buildField } from "./fields.js";
import { deleteButton, panelForm, showFieldErrors } from "./panel.js";
import { advancedSection, followJob, readWidgets, runOnSubmit } from "./run_form.js";

const LABELS = {
  model_type: "Model family",
  task: "Task",
  target: "Target column",
  experiment_tag: "Experiment tag",
  description: "Description",
  max_runtime_s: "Max runtime (seconds)",
  run_now: "Run training now",
};

/**
 * Render the panel. `ctx` adds to the node-panel context: families, onRun(nodeId, config),
 * jobSummary(nodeId) → {el, update()}, isActive(nodeId) → bool, jobInsight(nodeId) → the latest job's
 * insight element (the same element while that job is the node's latest) or null, predictions: the node's
 * batch-predictions section (kept by the panel host across re-renders) or null.
 * @returns {{showErrors(error), setBusy(bool)}}
 */
export function renderTrainPanel(container, node, nodeType, ctx) {
  const config = structuredClone(node.data.config || {});
  const params = Object.fromEntries(nodeType.config.map((p) => [p.name, { ...p, label: LABELS[p.name] }]));
  const families = ctx.families;
  const general = h("p", { class: "form-error", role: "alert" });
  const status = h("div", { class: "job-summary", "aria-live": "polite" });
  const insightSlot = h("div", { class: "node-insights", dataset: { hook: "node-insights", nodeId: node.id } });
  let hyperWidgets = [];
  const widgets = {};

  const familyOf = (type) => families.find((f) => f.model_type === type) || null;
  const emit = () => ctx.onConfig(node.id, read());

  params.model_type.choice_labels = Object.fromEntries(families.map((f) => [f.model_type, f.label]));
  params.model_type.choices = families.map((f) => f.model_type);
  const simple = (name, extra = {}) => {
    widgets[name] = buildField(params[name], config[name], {
      path: name,
      columns: ctx.columns,
      onChange: extra.onChange || emit,
    });
    return widgets[name];
  };

  const hyperBox = h("div", { class: "hyper" });
  const familyHelp = h("p", { class: "muted" });
  // A family switch starts from that family's defaults: values of the previous family
  // (even of a parameter with the same name) do not carry over.
  const renderHyper = ({ reset = false } = {}) => {
    const family = familyOf(widgets.model_type.read());
    const task = widgets.task.read();
    const previous = reset ? {} : hyperWidgets.length ? readHyper() : config.hyperparameters || {};
    hyperWidgets = [];
    familyHelp.textContent = family ? `${family.description} Tasks: ${family.tasks.join(", ")}.` : "";
    if (!family) {
      hyperBox.replaceChildren(h("p", { class: "muted", text: "Choose a model family to see its hyperparameters." }));
      return;
    }
    const applicable = family.hyperparameters.filter((p) => !p.tasks || !task || p.tasks.includes(task));
    for (const param of applicable) {
      hyperWidgets.push({
        param,
        widget: buildField(param, previous[param.name], {
          path: `hyperparameters.${param.name}`,
          task,
          columns: ctx.columns,
          onChange: emit,
        }),
      });
    }
    const basic = hyperWidgets.filter((x) => !x.param.advanced).map((x) => x.widget.el);
    const advanced = hyperWidgets.filter((x) => x.param.advanced).map((x) => x.widget.el);
    hyperBox.replaceChildren(
      h(
        "fieldset",
        { class: "hyperparameters" },
        h("legend", { text: `Hyperparameters (${family.label})` }),
        h("p", { class: "help", text: "Blank fields use the defaults shown as placeholders." }),
        basic,
        advancedSection(advanced),
      ),
    );
  };

  const readHyper = () => readWidgets(hyperWidgets.map((x) => x.widget), (w) => w.path.slice("hyperparameters.".length));

  const read = () => {
    const names = ["model_type", "task", "target", "experiment_tag", "description", "max_runtime_s"];
    const out = readWidgets(names.map((name) => widgets[name]));
    out.hyperparameters = readHyper();
    out.run_now = widgets.run_now.control.checked;
    return out;
  };

  simple("model_type", { onChange: () => { renderHyper({ reset: true }); syncTask(); emit(); } });
  simple("task", { onChange: () => { renderHyper(); emit(); } });
  simple("target");
  simple("experiment_tag");
  simple("description");
  simple("max_runtime_s");
  simple("run_now", { onChange: () => { syncButton(); emit(); } });

  const syncTask = () => {
    const family = familyOf(widgets.model_type.read());
    for (const option of widgets.task.control.options) {
      option.disabled = Boolean(option.value && family && !family.tasks.includes(option.value));
    }
  };
  const blockedId = `run-blocked-${node.id}`;
  const submit = h("button", { type: "submit", class: "primary", "aria-describedby": blockedId });
  const blocked = h("p", { id: blockedId, class: "run-blocked muted", "aria-live": "polite" });
  let busy = false;
  const syncButton = () => {
    const running = widgets.run_now.control.checked && ctx.isActive(node.id);
    const text = widgets.run_now.control.checked ? "Run training" : "Save configuration";
    if (submit.textContent !== text) submit.textContent = text;
    submit.disabled = busy || running;
    const why = running ? "Disabled while this node's job is active." : "";
    if (blocked.textContent !== why) blocked.textContent = why;
  };

  const form = panelForm(
    node,
    ctx,
    { class: "train-form" },
    status,
    insightSlot,
    widgets.model_type.el,
    familyHelp,
    widgets.task.el,
    widgets.target.el,
    hyperBox,
    h(
      "fieldset",
      { class: "run-meta" },
      h("legend", { text: "Run details" }),
      widgets.experiment_tag.el,
      widgets.description.el,
      widgets.max_runtime_s.el,
    ),
    h(
      "div",
      { class: "panel-footer" },
      widgets.run_now.el,
      general,
      h("div", { class: "actions" }, submit, deleteButton(node, ctx)),
      blocked,
    ),
  );
  const allWidgets = () => [...Object.values(widgets), ...hyperWidgets.map((x) => x.widget)];
  const showErrors = (error) => showFieldErrors(allWidgets(), error, general);
  runOnSubmit(form, {
    widgets: allWidgets,
    values: read,
    run: (values) => ctx.onRun(node.id, values),
    showErrors,
    setBusy: (value) => {
      busy = value;
      syncButton();
    },
  });

  renderHyper();
  syncTask();
  syncButton();
  // After the form, not in it: the predictions section is a form of its own (and forms do not nest).
  container.replaceChildren(form, ctx.predictions || "");
  // Job updates patch the summary and the button; the form itself is never rebuilt.
  const refreshStatus = followJob(status, node, ctx, () => {
    // Moved only when the node's latest job changes: its live chart keeps drawing meanwhile.
    const shown = ctx.jobInsight ? ctx.jobInsight(node.id) : null;
    if (insightSlot.firstElementChild !== shown) insightSlot.replaceChildren(shown || "");
    syncButton();
  });
  return { showErrors, refreshStatus, nodeId: node.id };
}
