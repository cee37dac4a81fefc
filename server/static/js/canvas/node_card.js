// A node on the board: a compact card built once and patched in place afterwards.

import { h } from "../dom.js";

/**
 * Build the card of `node`. Its parts are patched by `patchCard`; `slot` is where the
 * job badge lives (filled by the jobs overlay and never rebuilt by the board).
 */
export function buildCard(node) {
  const title = h("div", { class: "node-title" });
  const kind = h("div", { class: "node-type" });
  const headline = h("div", { class: "node-metric" });
  const slot = h("div", { class: "node-status" });
  const outPort = h("button", { type: "button", class: "port out", title: "Drag to another node to connect" });
  const el = h(
    "div",
    { class: "node", tabindex: 0, role: "group", dataset: { nodeId: node.id, type: node.type } },
    node.type === "dataset_source" ? null : h("span", { class: "port in", "aria-hidden": "true" }),
    title,
    kind,
    node.type === "train_model" || node.type === "validate_model" ? headline : null,
    slot,
    outPort,
  );
  return { el, title, kind, headline, slot, outPort, shown: {} };
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
}

function setAttr(el, name, value) {
  if (el.getAttribute(name) !== value) el.setAttribute(name, value);
}

/**
 * Bring the card up to date; touches only what changed.
 * @param {object} card from buildCard
 * @param {object} node the graph node
 * @param {object} info {typeLabel, familyLabel, headline: "Active v2 · accuracy 0.95" | null, selected}
 */
export function patchCard(card, node, info) {
  const label = node.data.label || info.typeLabel;
  setText(card.title, label);
  setText(card.kind, info.familyLabel ? `${info.typeLabel} · ${info.familyLabel}` : info.typeLabel);
  setText(card.headline, info.headline || (node.type === "validate_model" ? "No report yet" : "No active version yet"));
  card.headline.classList.toggle("muted", !info.headline);
  setAttr(card.el, "aria-label", `${label} (${info.typeLabel})`);
  setAttr(card.el, "title", `${label} · ${info.typeLabel} · id ${node.id}`);
  setAttr(card.outPort, "aria-label", `Connect ${label} to another node`);
  const left = `${node.position.x}px`;
  const top = `${node.position.y}px`;
  if (card.el.style.left !== left) card.el.style.left = left;
  if (card.el.style.top !== top) card.el.style.top = top;
  card.el.classList.toggle("selected", Boolean(info.selected));
}

/**
 * Edit the card's label in place (double-click or F2). `commit(text)` is called with the
 * new label, or not at all when Escape cancels.
 */
export function editLabel(card, current, commit) {
  if (card.title.querySelector("input")) return;
  const input = h("input", {
    type: "text",
    class: "label-edit",
    value: current,
    maxlength: 500,
    "aria-label": "Node label",
  });
  let done = false;
  const finish = (save) => {
    if (done) return;
    done = true;
    const text = input.value.trim();
    card.title.textContent = current;
    if (save && text && text !== current) commit(text);
    card.el.focus();
  };
  input.addEventListener("keydown", (ev) => {
    ev.stopPropagation();
    if (ev.key === "Enter") {
      ev.preventDefault();
      finish(true);
    } else if (ev.key === "Escape") {
      ev.preventDefault();
      finish(false);
    }
  });
  input.addEventListener("pointerdown", (ev) => ev.stopPropagation());
  input.addEventListener("blur", () => finish(true));
  card.title.replaceChildren(input);
  input.focus();
  input.select();
}
