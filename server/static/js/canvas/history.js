// Undo/redo of graph edits: snapshots of the graph's JSON taken before each edit.

const LIMIT = 100;

export class EditHistory {
  constructor() {
    this.past = [];
    this.future = [];
  }

  /** Remember `snapshot` (the graph before an edit); a new edit forgets what was undone. */
  record(snapshot) {
    const text = JSON.stringify(snapshot);
    if (this.past[this.past.length - 1] === text) return;
    this.past.push(text);
    if (this.past.length > LIMIT) this.past.shift();
    this.future = [];
  }

  canUndo() {
    return this.past.length > 0;
  }

  canRedo() {
    return this.future.length > 0;
  }

  /** The graph to show instead of `current`, or null when there is nothing to undo. */
  undo(current) {
    if (!this.past.length) return null;
    this.future.push(JSON.stringify(current));
    return JSON.parse(this.past.pop());
  }

  redo(current) {
    if (!this.future.length) return null;
    this.past.push(JSON.stringify(current));
    return JSON.parse(this.future.pop());
  }

  clear() {
    this.past = [];
    this.future = [];
  }
}
