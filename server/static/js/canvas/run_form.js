// The pieces the node panels share around their fields: reading them, the advanced section,
// running the node from the form, and the job summary a runnable node shows.

import { h } from "../dom.js";

/** The widgets' values by path (a widget left blank is omitted). */
export function readWidgets(widgets, key = (widget) => widget.path) {
  const out = {};
  for (const widget of widgets) {
    const value = widget.read();
    if (value !== undefined) out[key(widget)] = value;
  }
  return out;
}

/** The fields' elements split by their param's `advanced` flag; `params[i]` declares `widgets[i]`. */
export function fieldGroups(widgets, params) {
  return {
    basic: widgets.filter((_, i) => !params[i].advanced).map((w) => w.el),
    advanced: widgets.filter((_, i) => params[i].advanced).map((w) => w.el),
  };
}

/** The collapsed "Advanced" section of `elements`; null when there are none. */
export function advancedSection(elements) {
  return elements.length ? h("details", { class: "advanced" }, h("summary", { text: "Advanced" }), elements) : null;
}

/**
 * Run the node when `form` is submitted: every widget is checked first (the first invalid one
 * gets the focus), then `run(values())`; the error it returns is shown at its fields.
 * `setBusy(true)` and `setBusy(false)` bracket the request.
 */
export function runOnSubmit(form, { widgets, values, run, showErrors, setBusy }) {
  form.addEventListener("submit", async (ev) => {
    ev.preventDefault();
    showErrors(null);
    const invalid = widgets().filter((w) => !w.validate());
    if (invalid.length) {
      invalid[0].control.focus?.();
      return;
    }
    const body = values();
    setBusy(true);
    try {
      const error = await run(body);
      if (error) showErrors(error);
    } finally {
      setBusy(false);
    }
  });
}

/**
 * Put the node's job summary into `status`; returns refreshStatus(), which updates it and
 * then calls `onUpdate` (the panel's own follow-ups). Job updates patch the summary; the
 * form itself is never rebuilt.
 */
export function followJob(status, node, ctx, onUpdate) {
  const summary = ctx.jobSummary(node.id);
  status.replaceChildren(summary.el);
  const refreshStatus = () => {
    summary.update();
    onUpdate();
  };
  refreshStatus();
  return refreshStatus;
}
