// The board: nodes as cards patched in place, edges as SVG curves with arrowheads, drag,
// connect, multi-select, label editing, pan and zoom (see viewport.js).

import { h } from "../dom.js";
import { NODE_W, bounds } from "./layout.js";
import { buildCard, editLabel, patchCard } from "./node_card.js";
import { Viewport } from "./viewport.js";

const PORT_Y = 26;
const STEP = 10;
const ARROW_GAP = 22; // the arrowhead (14 px at stroke 2) ends just before the input port

function portOut(node) {
  return { x: node.position.x + NODE_W, y: node.position.y + PORT_Y };
}

function portIn(node) {
  return { x: node.position.x - ARROW_GAP, y: node.position.y + PORT_Y };
}

function curve(a, b) {
  const dx = Math.max(40, Math.abs(b.x - a.x) / 2);
  return `M ${a.x} ${a.y} C ${a.x + dx} ${a.y}, ${b.x - dx} ${b.y}, ${b.x} ${b.y}`;
}

/**
 * The board. `handlers`: select(id, {additive}), move(id, x, y) (after a drag or a key),
 * beforeMove(), connect(source, target), remove(ids), rename(id, label), announce(text),
 * rendered(). `info(node)` gives {typeLabel, familyLabel, headline} for a card.
 */
export class BoardView {
  constructor(root, graph, handlers, info) {
    this.root = root;
    this.graph = graph;
    this.handlers = handlers;
    this.info = info;
    this.selection = new Set();
    this.connectFrom = null;
    this.cards = new Map();
    this.edgeGroup = h("svg:g");
    this.ghost = h("svg:path", { class: "edge ghost" });
    const marker = h(
      "svg:marker",
      { id: "arrow", viewBox: "0 0 10 10", refX: "0", refY: "5", markerWidth: "7", markerHeight: "7", orient: "auto" },
      h("svg:path", { d: "M 0 0 L 10 5 L 0 10 z", class: "arrowhead" }),
    );
    this.svg = h("svg:svg", { class: "edges", "aria-hidden": "true", width: "1", height: "1" },
      h("svg:defs", {}, marker), this.edgeGroup, this.ghost);
    this.layer = h("div", { class: "nodes" });
    this.world = h("div", { class: "world" }, this.svg, this.layer);
    root.replaceChildren(this.world);
    this.viewport = new Viewport(root, this.world, {
      isEmpty: (target) => [root, this.world, this.svg, this.layer].includes(target),
      click: () => this.handlers.select(null),
    });
  }

  setGraph(graph) {
    this.graph = graph;
    this.render();
  }

  /** The element where a node's job status goes (filled by the jobs overlay). */
  statusSlot(nodeId) {
    return this.cards.get(nodeId)?.slot || null;
  }

  /** Bring every card and edge up to date; cards of unchanged nodes are kept as they are. */
  render() {
    const alive = new Set();
    for (const node of this.graph.nodes) {
      alive.add(node.id);
      let card = this.cards.get(node.id);
      if (!card || card.el.dataset.type !== node.type) {
        card?.el.remove();
        card = this.createCard(node);
        this.cards.set(node.id, card);
        this.layer.append(card.el);
      }
      card.node = node;
      patchCard(card, node, { ...this.info(node), selected: this.selection.has(node.id) });
    }
    for (const [id, card] of this.cards) {
      if (alive.has(id)) continue;
      card.el.remove();
      this.cards.delete(id);
      this.selection.delete(id);
    }
    this.drawEdges();
    this.handlers.rendered?.();
  }

  createCard(node) {
    const card = buildCard(node);
    const id = node.id;
    card.el.addEventListener("pointerdown", (ev) => this.startDrag(ev, card));
    card.el.addEventListener("keydown", (ev) => this.key(ev, card));
    card.el.addEventListener("focus", () => {
      // A press selects on release (it may be a shift-click or a drag); keyboard focus selects now.
      if (this.pressing) return;
      if (this.connectFrom === null && !this.selection.has(id)) this.handlers.select(id);
    });
    card.title.addEventListener("dblclick", () => this.editLabel(id));
    card.outPort.addEventListener("pointerdown", (ev) => this.startConnect(ev, card));
    card.outPort.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (ev.detail === 0) this.beginKeyboardConnect(card.node); // keyboard activation (Enter/Space)
    });
    return card;
  }

  editLabel(id) {
    const card = this.cards.get(id);
    if (!card) return;
    editLabel(card, card.node.data.label || this.info(card.node).typeLabel, (text) => this.handlers.rename(id, text));
  }

  /** Select `ids` (the first is the one the panel shows). */
  select(ids) {
    this.selection = new Set(ids);
    for (const [nodeId, card] of this.cards) card.el.classList.toggle("selected", this.selection.has(nodeId));
  }

  focusNode(id) {
    this.cards.get(id)?.el.focus();
  }

  drawEdges() {
    const paths = this.graph.edges.map((e) => {
      const a = this.graph.node(e.source);
      const b = this.graph.node(e.target);
      if (!a || !b) return null;
      return h("svg:path", {
        class: "edge",
        d: curve(portOut(a), portIn(b)),
        "marker-end": "url(#arrow)",
        dataset: { edgeId: e.id, source: e.source, target: e.target },
      });
    });
    this.edgeGroup.replaceChildren(...paths.filter(Boolean));
  }

  fit() {
    this.viewport.fit(bounds(this.graph.nodes));
  }

  /** Make sure node `id` is on screen (fits the graph when it is not). */
  reveal(id) {
    const card = this.cards.get(id);
    if (!card) return;
    const box = card.el.getBoundingClientRect();
    const view = this.root.getBoundingClientRect();
    const inside = box.left >= view.left && box.right <= view.right && box.top >= view.top && box.bottom <= view.bottom;
    if (!inside) this.fit();
  }

  startDrag(ev, card) {
    if (ev.button !== 0 || ev.target.closest("button, a, input, select")) return;
    const node = card.node;
    const el = card.el;
    const additive = ev.shiftKey || ev.ctrlKey || ev.metaKey;
    const start = { x: ev.clientX, y: ev.clientY, left: node.position.x, top: node.position.y };
    let moved = false;
    this.pressing = true;
    el.setPointerCapture(ev.pointerId);
    const move = (e) => {
      const scale = this.viewport.scale;
      const dx = (e.clientX - start.x) / scale;
      const dy = (e.clientY - start.y) / scale;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 3) return;
      if (!moved) this.handlers.beforeMove?.();
      moved = true;
      el.classList.add("dragging");
      node.position = { x: Math.max(0, Math.round(start.left + dx)), y: Math.max(0, Math.round(start.top + dy)) };
      el.style.left = `${node.position.x}px`;
      el.style.top = `${node.position.y}px`;
      this.drawEdges();
    };
    const up = () => {
      this.pressing = false;
      el.removeEventListener("pointermove", move);
      el.removeEventListener("pointerup", up);
      el.removeEventListener("pointercancel", up);
      el.classList.remove("dragging");
      if (moved) this.handlers.move(node.id, node.position.x, node.position.y);
      else if (this.connectFrom !== null) this.finishKeyboardConnect(node);
      else this.handlers.select(node.id, { additive });
    };
    el.addEventListener("pointermove", move);
    el.addEventListener("pointerup", up);
    el.addEventListener("pointercancel", up);
  }

  startConnect(ev, card) {
    if (ev.button !== 0) return;
    ev.preventDefault();
    ev.stopPropagation();
    const node = card.node;
    const port = ev.currentTarget;
    port.setPointerCapture(ev.pointerId);
    const origin = portOut(node);
    let dragged = false;
    const move = (e) => {
      dragged = true;
      this.ghost.setAttribute("d", curve(origin, this.viewport.toWorld(e.clientX, e.clientY)));
    };
    const up = (e) => {
      port.removeEventListener("pointermove", move);
      port.removeEventListener("pointerup", up);
      port.removeEventListener("pointercancel", up);
      this.ghost.setAttribute("d", "");
      if (!dragged) {
        this.beginKeyboardConnect(node);
        return;
      }
      const under = document.elementFromPoint(e.clientX, e.clientY);
      const target = under && under.closest(".node");
      if (target && target.dataset.nodeId !== node.id) this.handlers.connect(node.id, target.dataset.nodeId);
    };
    port.addEventListener("pointermove", move);
    port.addEventListener("pointerup", up);
    port.addEventListener("pointercancel", up);
  }

  beginKeyboardConnect(node) {
    this.connectFrom = node.id;
    this.root.classList.add("connecting");
    this.handlers.announce(`Connecting from ${node.data.label || node.id}: choose the target node (Enter), or Escape.`);
  }

  finishKeyboardConnect(node) {
    const source = this.connectFrom;
    this.cancelConnect();
    if (source && source !== node.id) this.handlers.connect(source, node.id);
  }

  cancelConnect() {
    this.connectFrom = null;
    this.root.classList.remove("connecting");
  }

  key(ev, card) {
    if (ev.target !== ev.currentTarget) return;
    const node = card.node;
    const moves = { ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP] };
    if (moves[ev.key]) {
      ev.preventDefault();
      const [dx, dy] = moves[ev.key];
      this.handlers.beforeMove?.();
      this.handlers.move(node.id, node.position.x + dx, node.position.y + dy);
      this.focusNode(node.id);
    } else if (ev.key === "Delete" || ev.key === "Backspace") {
      ev.preventDefault();
      const ids = this.selection.has(node.id) ? [...this.selection] : [node.id];
      this.handlers.remove(ids);
    } else if (ev.key === "F2") {
      ev.preventDefault();
      this.editLabel(node.id);
    } else if (ev.key === "Enter" && this.connectFrom !== null) {
      ev.preventDefault();
      this.finishKeyboardConnect(node);
    } else if (ev.key === "Escape" && this.connectFrom !== null) {
      this.cancelConnect();
      this.handlers.announce("Connection cancelled.");
    }
  }
}
