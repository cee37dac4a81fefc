// Form widgets generated from a parameter schema (GET /node-types, GET /model-families).
// Each widget reads back the value to send: `undefined` means "blank: use the default".

import { h, uid } from "../dom.js";

function defaultText(param, task) {
  if (param.default_by_task) {
    if (task && task in param.default_by_task) return String(param.default_by_task[task]);
    return Object.entries(param.default_by_task).map(([t, v]) => `${v} (${t})`).join(", ");
  }
  if (param.default === null || param.default === undefined) return "";
  return String(param.default);
}

/** A number as the server (Python) writes it in messages: floats keep their ".0". */
export function pyNumber(value, isFloat) {
  return isFloat && Number.isInteger(value) ? value.toFixed(1) : String(value);
}

function boundsText(param) {
  const parts = [];
  const isFloat = param.type === "float";
  if (param.minimum !== undefined) parts.push(`${param.exclusive_minimum ? ">" : ">="} ${pyNumber(param.minimum, isFloat)}`);
  if (param.maximum !== undefined && param.type !== "string") {
    parts.push(`${param.exclusive_maximum ? "<" : "<="} ${pyNumber(param.maximum, isFloat)}`);
  }
  return parts.join(", ");
}

/**
 * The server's own check of a number (actors/ml/params.py), so the browser refuses a value
 * before any save or request with the very message the API would give. "" when valid.
 */
export function numberProblem(param, value) {
  const isFloat = param.type === "float";
  if (!isFloat && !Number.isInteger(value)) return `must be an integer, got ${value}`;
  const low = param.minimum;
  const high = param.maximum;
  if (low !== undefined && (value < low || (param.exclusive_minimum && value === low))) {
    return `must be ${param.exclusive_minimum ? ">" : ">="} ${pyNumber(low, isFloat)}, got ${pyNumber(value, isFloat)}`;
  }
  if (high !== undefined && (value > high || (param.exclusive_maximum && value === high))) {
    return `must be ${param.exclusive_maximum ? "<" : "<="} ${pyNumber(high, isFloat)}, got ${pyNumber(value, isFloat)}`;
  }
  return "";
}

function parseNumber(text, integer) {
  const trimmed = text.trim();
  if (trimmed === "") return undefined;
  const value = Number(trimmed);
  if (!Number.isFinite(value)) return trimmed; // let the API name the problem
  return integer && Number.isInteger(value) ? value : value;
}

function selectOf(id, options, value) {
  const select = h("select", { id });
  for (const [optionValue, text] of options) {
    select.append(h("option", { value: optionValue, text, selected: optionValue === value }));
  }
  return select;
}

/**
 * Build one widget.
 * @param {object} param the schema entry ({name, type, default, description, ...})
 * @param {*} value the current value (undefined = blank)
 * @param {object} ctx {path, columns: [{name, dtype}], datasets: [{id, name}], task, onChange}
 * @returns {{el, control, path, read: () => *, setError: (msg) => void}}
 */
export function buildField(param, value, ctx) {
  const id = uid(`f-${param.name}`);
  const helpId = `${id}-help`;
  const errorId = `${id}-error`;
  const deflt = defaultText(param, ctx.task);
  const bounds = boundsText(param);
  const help = [param.description, bounds && `Allowed: ${bounds}.`].filter(Boolean).join(" ");
  let control;
  let read;
  let check = () => "";
  let group = null;

  switch (param.type) {
    case "int":
    case "float": {
      // min/max carry the inclusive bounds; an exclusive bound is checked by numberProblem.
      const bound = (b, exclusive) => (b === undefined || exclusive ? undefined : String(b));
      control = h("input", {
        id,
        type: "number",
        step: param.type === "int" ? "1" : "any",
        min: bound(param.minimum, param.exclusive_minimum),
        max: bound(param.maximum, param.exclusive_maximum),
        inputmode: param.type === "int" ? "numeric" : "decimal",
        placeholder: deflt ? `default: ${deflt}` : "blank: default",
        value: value === undefined || value === null ? "" : String(value),
      });
      if (param.minimum !== undefined) control.dataset.minimum = String(param.minimum);
      if (param.maximum !== undefined) control.dataset.maximum = String(param.maximum);
      read = () => parseNumber(control.value, param.type === "int");
      check = () => {
        if (control.validity.badInput) return "must be a number";
        const parsed = read();
        return typeof parsed === "number" ? numberProblem(param, parsed) : "";
      };
      break;
    }
    case "bool": {
      const initial = value === undefined || value === null ? Boolean(param.default) : Boolean(value);
      control = h("input", { id, type: "checkbox", checked: initial });
      read = () => (value === undefined && control.checked === Boolean(param.default) ? undefined : control.checked);
      break;
    }
    case "choice": {
      const options = param.required ? [["", "Choose…"]] : [["", deflt ? `Default (${deflt})` : "Default"]];
      for (const choice of param.choices || []) options.push([choice, (param.choice_labels || {})[choice] || choice]);
      control = selectOf(id, options, value ?? "");
      read = () => control.value || undefined;
      break;
    }
    case "id": {
      const options = [["", "Choose a dataset…"], ...(ctx.datasets || []).map((d) => [d.id, d.name])];
      control = selectOf(id, options, value ?? "");
      read = () => control.value || undefined;
      break;
    }
    case "column": {
      const options = [["", param.required ? "Choose a column…" : "Default"]];
      for (const col of ctx.columns || []) options.push([col.name, `${col.name} (${col.dtype})`]);
      const known = (ctx.columns || []).some((c) => c.name === value);
      if (value && !known) options.push([value, `${value} (not in dataset)`]);
      control = selectOf(id, options, value ?? "");
      read = () => control.value || undefined;
      break;
    }
    case "column_or_bool": {
      const options = [["", `Default (${deflt || "no"})`], ["true", "Yes: the target column"], ["false", "No"]];
      for (const col of ctx.columns || []) options.push([`col:${col.name}`, `Column ${col.name}`]);
      const current = value === true ? "true" : value === false ? "false" : value ? `col:${value}` : "";
      control = selectOf(id, options, current);
      read = () => {
        if (control.value === "") return undefined;
        if (control.value === "true" || control.value === "false") return control.value === "true";
        return control.value.slice(4);
      };
      break;
    }
    case "columns": {
      const chosen = new Set(Array.isArray(value) ? value : []);
      const boxes = (ctx.columns || []).map((col) => {
        const boxId = uid(`${id}-col`);
        const box = h("input", { id: boxId, type: "checkbox", value: col.name, checked: chosen.has(col.name) });
        return h("span", { class: "check" }, box, h("label", { for: boxId, text: col.name }));
      });
      const none = h("span", { class: "muted", text: "Choose a dataset to list its columns." });
      control = h("div", { class: "checks", id }, boxes.length ? boxes : none);
      const described = `${helpId} ${errorId}`;
      group = h("fieldset", { class: "field", "aria-describedby": described }, h("legend", { text: param.name }));
      read = () => {
        const picked = [...control.querySelectorAll("input:checked")].map((b) => b.value);
        return picked.length ? picked : undefined;
      };
      break;
    }
    case "string": {
      const long = (param.maximum ?? 0) > 200;
      control = h(long ? "textarea" : "input", {
        id,
        type: long ? undefined : "text",
        rows: long ? 3 : undefined,
        maxlength: param.maximum ?? undefined,
        value: value ?? "",
      });
      if (long) control.value = value ?? "";
      read = () => (control.value.trim() === "" ? undefined : control.value);
      break;
    }
    default: {
      // "scalar" and anything newer: free text, numbers sent as numbers.
      control = h("input", { id, type: "text", value: value ?? "", placeholder: deflt ? `default: ${deflt}` : "" });
      read = () => {
        const text = control.value.trim();
        if (text === "") return undefined;
        return /^-?\d+(\.\d+)?$/.test(text) ? Number(text) : text;
      };
    }
  }

  const helpEl = help ? h("p", { id: helpId, class: "help", text: help }) : null;
  const errorEl = h("p", { id: errorId, class: "field-error", role: "alert" });
  control.dataset.field = ctx.path;
  if (!group) control.setAttribute("aria-describedby", `${helpEl ? helpId : ""} ${errorId}`.trim());
  let widget = null;
  // An invalid value is shown at its field and never passed on (so never autosaved).
  const changed = () => {
    if (widget.validate() && ctx.onChange) ctx.onChange();
  };
  control.addEventListener("change", changed);
  if (control.tagName !== "SELECT" && control.type !== "checkbox") control.addEventListener("input", changed);

  let el;
  if (group) {
    el = group;
    el.append(control, helpEl || "", errorEl);
  } else if (param.type === "bool") {
    const label = h("label", { for: id, text: param.label || param.name });
    el = h("div", { class: "field field-check" }, control, label, helpEl, errorEl);
  } else {
    const label = h("label", { for: id, text: param.label || param.name });
    el = h("div", { class: "field" }, label, control, helpEl, errorEl);
  }
  el.dataset.fieldPath = ctx.path;

  widget = {
    el,
    control,
    path: ctx.path,
    read,
    /** Check the value as the server would; shows the problem and returns false when invalid. */
    validate() {
      const problem = check();
      this.setError(problem);
      return !problem;
    },
    setError(message) {
      errorEl.textContent = message || "";
      const target = group ? el : control;
      if (message) target.setAttribute("aria-invalid", "true");
      else target.removeAttribute("aria-invalid");
      el.classList.toggle("invalid", Boolean(message));
    },
  };
  return widget;
}

/** Does the API's error field (e.g. "config.hyperparameters.max_depth") name this widget's path? */
export function fieldMatches(errorField, path) {
  return errorField === path || errorField.endsWith(`.${path}`);
}
