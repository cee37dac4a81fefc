// The board's tool strip (undo, redo, zoom, fit, arrange, delete) and its keyboard shortcuts.

import { h } from "../dom.js";

function tool(text, label, onClick, shortcut) {
  return h("button", {
    type: "button",
    class: "secondary small tool",
    text,
    "aria-label": label,
    title: shortcut ? `${label} (${shortcut})` : label,
    "aria-keyshortcuts": shortcut || undefined,
    on: { click: onClick },
  });
}

/**
 * @param {Element} slot where the strip goes
 * @param {object} ctx {editor, view, selection() → node ids}
 * @returns {{sync(), key(ev)}}
 */
export function boardTools(slot, { editor, view, selection }) {
  const undo = tool("↶ Undo", "Undo", () => editor.undo(), "Control+Z");
  const redo = tool("↷ Redo", "Redo", () => editor.redo(), "Control+Shift+Z");
  const zoomOut = tool("−", "Zoom out", () => view.viewport.zoomOut(), "-");
  const zoomIn = tool("+", "Zoom in", () => view.viewport.zoomIn(), "+");
  const zoomText = h("span", { class: "zoom-level muted", "aria-live": "off" });
  const fit = tool("Fit", "Fit to view", () => view.fit(), "F");
  const arrange = tool("Arrange", "Arrange left to right", () => editor.layout(), "L");
  const remove = tool("Delete selected", "Delete selected nodes", () => editor.remove(selection()), "Delete");
  slot.replaceChildren(
    h("div", { class: "board-tools", role: "toolbar", "aria-label": "Board tools" },
      undo, redo, zoomOut, zoomText, zoomIn, fit, arrange, remove),
  );
  const sync = () => {
    undo.disabled = !editor.history.canUndo();
    redo.disabled = !editor.history.canRedo();
    remove.disabled = selection().length === 0;
    zoomText.textContent = `${Math.round(view.viewport.scale * 100)}%`;
  };
  const previous = view.viewport.hooks.changed;
  view.viewport.hooks.changed = () => {
    previous?.();
    zoomText.textContent = `${Math.round(view.viewport.scale * 100)}%`;
  };
  const key = (ev) => {
    if (ev.target.closest("input, select, textarea")) return;
    const mod = ev.ctrlKey || ev.metaKey;
    const k = ev.key.toLowerCase();
    if (mod && k === "z") {
      ev.preventDefault();
      if (ev.shiftKey) editor.redo();
      else editor.undo();
    } else if (mod && k === "y") {
      ev.preventDefault();
      editor.redo();
    } else if (!mod && (k === "f" || k === "0")) {
      ev.preventDefault();
      view.fit();
    } else if (!mod && k === "l") {
      ev.preventDefault();
      editor.layout();
    } else {
      return;
    }
    sync();
  };
  sync();
  return { sync, key };
}

/** What an empty board offers: the example pipeline in one click, or the pipeline list. */
export function emptyBoard({ openExample }) {
  return h(
    "div",
    { class: "empty-board card" },
    h("h2", { text: "An empty pipeline" }),
    h("p", {
      class: "muted",
      text: "Upload or choose a dataset above and add nodes from the palette, or start from a ready example.",
    }),
    h(
      "div",
      { class: "actions" },
      h("button", { type: "button", text: "Open example", on: { click: openExample } }),
      h("a", { href: "/pipelines", text: "Browse your pipelines" }),
    ),
  );
}
