// Graph edits with undo/redo: every edit snapshots the graph first, then re-renders and saves.

import { GraphError } from "./graph.js";
import { EditHistory } from "./history.js";
import { layoutLeftToRight } from "./layout.js";

export class Editor {
  /**
   * @param {object} deps {state (has .graph), view, saver, announce(text), notice(text),
   *   changed() (panel and tools refresh), removed(nodeIds) (jobs of deleted nodes)}
   */
  constructor(deps) {
    this.deps = deps;
    this.history = new EditHistory();
  }

  get graph() {
    return this.deps.state.graph;
  }

  /** Snapshot before an edit that the board makes by itself (a drag). */
  beforeEdit() {
    this.history.record(this.graph.toJSON());
  }

  done(text, { panel = true } = {}) {
    this.deps.view.render();
    this.deps.changed({ panel });
    if (text) this.deps.announce(text);
    this.deps.saver.schedule();
  }

  add(type, { label, config, position }) {
    this.beforeEdit();
    const right = this.graph.nodes.reduce((x, n) => Math.max(x, n.position.x + 300), 40);
    const top = this.graph.nodes.length ? Math.min(...this.graph.nodes.map((n) => n.position.y)) : 60;
    const node = this.graph.addNode(type, { position: position || { x: right, y: top }, label, config });
    this.done(`Added ${label}.`);
    this.deps.view.reveal(node.id);
    return node;
  }

  move(id, x, y) {
    this.graph.moveNode(id, x, y);
    this.done(null, { panel: false });
  }

  rename(id, label) {
    const node = this.graph.node(id);
    if (!node || node.data.label === label) return;
    this.beforeEdit();
    node.data.label = label;
    this.done(`Renamed to ${label}.`);
  }

  connect(source, target) {
    const before = this.graph.toJSON();
    try {
      this.graph.connect(source, target);
    } catch (exc) {
      if (!(exc instanceof GraphError)) throw exc;
      this.deps.notice(exc.message);
      this.deps.announce(exc.message);
      return false;
    }
    this.history.record(before);
    const name = (id) => this.graph.node(id)?.data.label || id;
    this.done(`Connected ${name(source)} to ${name(target)}.`);
    return true;
  }

  disconnect(edgeId) {
    this.beforeEdit();
    this.graph.disconnect(edgeId);
    this.done("Disconnected.");
  }

  remove(ids) {
    const present = ids.filter((id) => this.graph.node(id));
    if (!present.length) return;
    this.beforeEdit();
    for (const id of present) this.graph.removeNode(id);
    this.deps.removed(present);
    this.done(present.length === 1 ? `Deleted ${present[0]}.` : `Deleted ${present.length} nodes.`);
  }

  layout() {
    if (!this.graph.nodes.length) return;
    this.beforeEdit();
    const at = layoutLeftToRight(this.graph);
    for (const node of this.graph.nodes) node.position = at[node.id];
    this.done("Arranged the graph left to right.");
    this.deps.view.fit();
  }

  undo() {
    const previous = this.history.undo(this.graph.toJSON());
    if (previous) this.restore(previous, "Undone.");
  }

  redo() {
    const next = this.history.redo(this.graph.toJSON());
    if (next) this.restore(next, "Redone.");
  }

  restore(json, text) {
    this.graph.nodes = json.nodes;
    this.graph.edges = json.edges;
    this.done(text);
  }
}
