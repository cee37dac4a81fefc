// Draws the graph on the board: nodes as focusable boxes, edges as SVG curves; drag and connect.

import { h, replace } from "../dom.js";

const NODE_W = 200;
const PORT_Y = 26;
const STEP = 10;

function portOut(node) {
  return { x: node.position.x + NODE_W, y: node.position.y + PORT_Y };
}

function portIn(node) {
  return { x: node.position.x, y: node.position.y + PORT_Y };
}

function curve(a, b) {
  const dx = Math.max(40, Math.abs(b.x - a.x) / 2);
  return `M ${a.x} ${a.y} C ${a.x + dx} ${a.y}, ${b.x - dx} ${b.y}, ${b.x} ${b.y}`;
}

/**
 * The board. `handlers`: select(id), move(id, x, y), connect(source, target),
 * remove(id), announce(text). `labelOf(node)` gives a node type's display name.
 */
export class BoardView {
  constructor(root, graph, handlers, labelOf) {
    this.root = root;
    this.graph = graph;
    this.handlers = handlers;
    this.labelOf = labelOf;
    this.selected = null;
    this.connectFrom = null;
    this.nodeEls = new Map();
    this.statusSlots = new Map();
    this.svg = h("svg:svg", { class: "edges", "aria-hidden": "true" });
    this.layer = h("div", { class: "nodes" });
    this.ghost = h("svg:path", { class: "edge ghost" });
    replace(root, this.svg, this.layer);
    root.addEventListener("click", (ev) => {
      if (ev.target === root || ev.target === this.layer || ev.target === this.svg) this.handlers.select(null);
    });
  }

  setGraph(graph) {
    this.graph = graph;
    this.render();
  }

  /** The element where a node's job status goes (filled by the jobs overlay). */
  statusSlot(nodeId) {
    return this.statusSlots.get(nodeId) || null;
  }

  render() {
    this.nodeEls.clear();
    this.statusSlots.clear();
    const els = this.graph.nodes.map((node) => this.nodeElement(node));
    replace(this.layer, els);
    this.drawEdges();
    this.handlers.rendered?.();
  }

  nodeElement(node) {
    const label = node.data.label || this.labelOf(node.type);
    const slot = h("div", { class: "node-status" });
    const outPort = h("button", {
      type: "button",
      class: "port out",
      "aria-label": `Connect ${label} to another node`,
      title: "Drag to another node to connect",
    });
    const el = h(
      "div",
      {
        class: "node",
        tabindex: 0,
        role: "group",
        "aria-label": `${label} node (${node.id})`,
        dataset: { nodeId: node.id, type: node.type },
      },
      node.type === "dataset_source" ? null : h("span", { class: "port in", "aria-hidden": "true" }),
      h("div", { class: "node-title", text: label }),
      h("div", { class: "node-type", text: `${this.labelOf(node.type)} · ${node.id}` }),
      slot,
      outPort,
    );
    el.style.left = `${node.position.x}px`;
    el.style.top = `${node.position.y}px`;
    if (node.id === this.selected) el.classList.add("selected");
    el.addEventListener("pointerdown", (ev) => this.startDrag(ev, node, el));
    el.addEventListener("keydown", (ev) => this.key(ev, node));
    el.addEventListener("focus", () => {
      if (this.connectFrom === null && this.selected !== node.id) this.handlers.select(node.id);
    });
    outPort.addEventListener("pointerdown", (ev) => this.startConnect(ev, node));
    outPort.addEventListener("click", (ev) => {
      ev.stopPropagation();
      if (ev.detail === 0) this.beginKeyboardConnect(node); // keyboard activation (Enter/Space)
    });
    this.nodeEls.set(node.id, el);
    this.statusSlots.set(node.id, slot);
    return el;
  }

  select(id) {
    this.selected = id;
    for (const [nodeId, el] of this.nodeEls) el.classList.toggle("selected", nodeId === id);
  }

  focusNode(id) {
    this.nodeEls.get(id)?.focus();
  }

  drawEdges() {
    let width = 0;
    let height = 0;
    for (const n of this.graph.nodes) {
      width = Math.max(width, n.position.x + NODE_W + 80);
      height = Math.max(height, n.position.y + 160);
    }
    this.svg.setAttribute("width", String(Math.max(width, this.root.clientWidth)));
    this.svg.setAttribute("height", String(Math.max(height, this.root.clientHeight)));
    this.layer.style.width = `${width}px`;
    this.layer.style.height = `${height}px`;
    const paths = this.graph.edges.map((e) => {
      const a = this.graph.node(e.source);
      const b = this.graph.node(e.target);
      if (!a || !b) return null;
      return h("svg:path", { class: "edge", d: curve(portOut(a), portIn(b)), dataset: { edgeId: e.id } });
    });
    replace(this.svg, paths, this.ghost);
  }

  startDrag(ev, node, el) {
    if (ev.button !== 0 || ev.target.closest("button, a, input, select")) return;
    const start = { x: ev.clientX, y: ev.clientY, left: node.position.x, top: node.position.y };
    let moved = false;
    el.setPointerCapture(ev.pointerId);
    const move = (e) => {
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 3) return;
      moved = true;
      el.classList.add("dragging");
      node.position = { x: Math.max(0, start.left + dx), y: Math.max(0, start.top + dy) };
      el.style.left = `${node.position.x}px`;
      el.style.top = `${node.position.y}px`;
      this.drawEdges();
    };
    const up = () => {
      el.removeEventListener("pointermove", move);
      el.removeEventListener("pointerup", up);
      el.removeEventListener("pointercancel", up);
      el.classList.remove("dragging");
      if (moved) this.handlers.move(node.id, node.position.x, node.position.y);
      else if (this.connectFrom !== null) this.finishKeyboardConnect(node);
      else this.handlers.select(node.id);
    };
    el.addEventListener("pointermove", move);
    el.addEventListener("pointerup", up);
    el.addEventListener("pointercancel", up);
  }

  startConnect(ev, node) {
    if (ev.button !== 0) return;
    ev.preventDefault();
    ev.stopPropagation();
    const port = ev.currentTarget;
    port.setPointerCapture(ev.pointerId);
    const origin = portOut(node);
    const box = () => this.root.getBoundingClientRect();
    const at = (e) => ({
      x: e.clientX - box().left + this.root.scrollLeft,
      y: e.clientY - box().top + this.root.scrollTop,
    });
    let dragged = false;
    const move = (e) => {
      dragged = true;
      this.ghost.setAttribute("d", curve(origin, at(e)));
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

  key(ev, node) {
    if (ev.target !== ev.currentTarget) return;
    const moves = { ArrowLeft: [-STEP, 0], ArrowRight: [STEP, 0], ArrowUp: [0, -STEP], ArrowDown: [0, STEP] };
    if (moves[ev.key]) {
      ev.preventDefault();
      const [dx, dy] = moves[ev.key];
      this.handlers.move(node.id, node.position.x + dx, node.position.y + dy);
      this.focusNode(node.id);
    } else if (ev.key === "Delete" || ev.key === "Backspace") {
      ev.preventDefault();
      this.handlers.remove(node.id);
    } else if (ev.key === "Enter" && this.connectFrom !== null) {
      ev.preventDefault();
      this.finishKeyboardConnect(node);
    } else if (ev.key === "Escape" && this.connectFrom !== null) {
      this.cancelConnect();
      this.handlers.announce("Connection cancelled.");
    }
  }
}
