// The canvas page's frame: toolbar slots, palette, board, side panel and the announcer.

import { h, replace } from "../dom.js";

/**
 * Build the page into `main` and return its parts; `addNode(type)` is the palette's action.
 * @returns {{saveState, announcer, banners, barSlot, toolsSlot, nameSlot, board, emptySlot, panel}}
 */
export function pageShell(main, types, addNode) {
  const parts = {
    saveState: h("span", { class: "save-state", role: "status", "aria-live": "polite" }),
    announcer: h("p", { class: "sr-only", role: "status", "aria-live": "polite" }),
    banners: h("div", { class: "banners" }),
    barSlot: h("div", { class: "bar-slot" }),
    toolsSlot: h("div", { class: "tools-slot" }),
    nameSlot: h("div", { class: "name-slot" }),
    board: h("div", { class: "board", role: "region", "aria-label": "Pipeline canvas board", tabindex: 0 }),
    emptySlot: h("div", { class: "empty-slot" }),
    panel: h("aside", { class: "panel", "aria-label": "Node configuration" }),
  };
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
  const { nameSlot, barSlot, saveState, banners, toolsSlot, board, emptySlot, panel, announcer } = parts;
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
  return parts;
}
