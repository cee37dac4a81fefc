// The pipeline graph as data: nodes {id, type, position, data: {label, config}} and edges.

export class GraphError extends Error {}

function clone(value) {
  return JSON.parse(JSON.stringify(value));
}

export class Graph {
  constructor(graph = {}) {
    this.nodes = clone(graph.nodes || []);
    this.edges = clone(graph.edges || []);
    for (const node of this.nodes) {
      node.position ??= { x: 40, y: 40 };
      node.data ??= {};
      node.data.config ??= {};
    }
  }

  node(id) {
    return this.nodes.find((n) => n.id === id) || null;
  }

  /** A fresh node id like "train-model-2" (readable in URLs, logs and the dashboard). */
  freshId(type) {
    const stem = type.replace(/_/g, "-");
    let n = 1;
    const taken = new Set(this.nodes.map((node) => node.id));
    while (taken.has(`${stem}-${n}`)) n += 1;
    return `${stem}-${n}`;
  }

  addNode(type, { position, label, config } = {}) {
    const node = {
      id: this.freshId(type),
      type,
      position: position || { x: 40 + 30 * this.nodes.length, y: 40 + 20 * this.nodes.length },
      data: { label: label || type, config: config || {} },
    };
    this.nodes.push(node);
    return node;
  }

  removeNode(id) {
    this.nodes = this.nodes.filter((n) => n.id !== id);
    this.edges = this.edges.filter((e) => e.source !== id && e.target !== id);
  }

  moveNode(id, x, y) {
    const node = this.node(id);
    if (node) node.position = { x: Math.max(0, Math.round(x)), y: Math.max(0, Math.round(y)) };
  }

  setConfig(id, config) {
    const node = this.node(id);
    if (node) node.data.config = clone(config);
  }

  inputsOf(id) {
    return this.edges.filter((e) => e.target === id);
  }

  /** True when `target` can already be reached from `source` (so target → source would loop). */
  reaches(source, target) {
    const seen = new Set();
    const stack = [source];
    while (stack.length) {
      const at = stack.pop();
      if (at === target) return true;
      if (seen.has(at)) continue;
      seen.add(at);
      for (const e of this.edges) if (e.source === at) stack.push(e.target);
    }
    return false;
  }

  /** Add the edge source → target; each node takes one input. Replaces the target's old input. */
  connect(source, target) {
    if (source === target) throw new GraphError("A node cannot feed itself.");
    if (!this.node(source) || !this.node(target)) throw new GraphError("Both nodes must exist.");
    if (this.node(target).type === "dataset_source") throw new GraphError("A dataset node takes no input.");
    if (this.reaches(target, source)) throw new GraphError("That connection would make a loop.");
    this.edges = this.edges.filter((e) => e.target !== target);
    const edge = { id: `e-${source}-${target}`, source, target };
    this.edges.push(edge);
    return edge;
  }

  disconnect(edgeId) {
    this.edges = this.edges.filter((e) => e.id !== edgeId);
  }

  /** The node ids upstream of `id`, nearest first. */
  ancestors(id) {
    const out = [];
    let edge = this.inputsOf(id)[0];
    while (edge && !out.includes(edge.source)) {
      out.push(edge.source);
      edge = this.inputsOf(edge.source)[0];
    }
    return out;
  }

  toJSON() {
    return { nodes: clone(this.nodes), edges: clone(this.edges) };
  }
}
