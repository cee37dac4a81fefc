// The side panel of a selected node: label, input connection, and the config form of its type.

import { h, uid } from "../dom.js";
import { buildField, fieldMatches } from "./fields.js";
import { advancedSection, fieldGroups, readWidgets } from "./run_form.js";

/** The part every node panel shares: title, label, input, delete. */
export function panelHeader(node, ctx) {
  const labelId = uid("node-label");
  const label = h("input", { id: labelId, type: "text", value: node.data.label || "", maxlength: 500 });
  label.addEventListener("change", () => ctx.onLabel(label.value.trim()));
  const parts = [
    h("h2", { id: "panel-title", text: node.data.label || ctx.typeLabel }),
    h("p", { class: "muted", text: ctx.typeLabel, title: `Node id: ${node.id}` }),
    h("div", { class: "field" }, h("label", { for: labelId, text: "Node label" }), label),
  ];
  if (node.type !== "dataset_source") parts.push(inputSelector(node, ctx));
  return parts;
}

function inputSelector(node, ctx) {
  const id = uid("node-input");
  const current = ctx.graph.inputsOf(node.id)[0];
  const select = h("select", { id });
  select.append(h("option", { value: "", text: "Not connected", selected: !current }));
  for (const other of ctx.graph.nodes) {
    if (other.id === node.id || ctx.graph.reaches(node.id, other.id)) continue;
    const text = other.data.label || other.type;
    select.append(h("option", { value: other.id, text, selected: current && current.source === other.id }));
  }
  select.addEventListener("change", () => {
    if (select.value) ctx.onConnect(select.value, node.id);
    else if (current) ctx.onDisconnect(current.id);
  });
  return h("div", { class: "field" }, h("label", { for: id, text: "Input from" }), select);
}

/** The form of a node's panel, `class` added to `node-form`, opening with the shared header. */
export function panelForm(node, ctx, attrs, ...children) {
  const { class: extra, ...rest } = attrs;
  const form = { class: extra ? `node-form ${extra}` : "node-form", novalidate: true, "aria-labelledby": "panel-title" };
  return h("form", { ...form, ...rest }, ...panelHeader(node, ctx), ...children);
}

export function deleteButton(node, ctx) {
  return h("button", {
    type: "button",
    class: "danger",
    text: "Delete node",
    on: { click: () => ctx.onRemove(node.id) },
  });
}

/** Show an ApiError at the widgets it names; returns true when at least one matched. */
export function showFieldErrors(widgets, error, general) {
  for (const w of widgets) w.setError("");
  general.textContent = "";
  if (!error) return false;
  const messages = new Map();
  for (const item of error.details.errors || []) if (item.field) messages.set(item.field, item.message);
  let first = null;
  for (const field of error.fields()) {
    const widget = widgets.find((w) => fieldMatches(field, w.path));
    if (!widget) continue;
    widget.setError(messages.get(field) || error.message);
    first ??= widget;
  }
  if (first) {
    first.control.focus?.();
    return true;
  }
  general.textContent = error.message;
  return false;
}

/** The panel of any node type other than train_model. */
export function renderNodePanel(container, node, nodeType, ctx) {
  const general = h("p", { class: "form-error", role: "alert" });
  const widgets = [];
  const onChange = () => ctx.onConfig(node.id, readWidgets(widgets));
  for (const param of nodeType.config) {
    widgets.push(
      buildField(param, node.data.config[param.name], {
        path: param.name,
        columns: ctx.columns,
        datasets: ctx.datasets,
        onChange,
      }),
    );
  }
  const { basic, advanced } = fieldGroups(widgets, nodeType.config);
  const form = panelForm(
    node,
    ctx,
    { on: { submit: (ev) => ev.preventDefault() } },
    h("p", { class: "muted", text: nodeType.description }),
    basic,
    advancedSection(advanced),
    general,
    deleteButton(node, ctx),
  );
  container.replaceChildren(form);
  return { showErrors: (error) => showFieldErrors(widgets, error, general) };
}
