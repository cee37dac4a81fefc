// Auto-layout: left to right by depth (longest path from a source), stacked per column.

export const NODE_W = 210;
export const NODE_H = 96;
const GAP_X = 90;
const GAP_Y = 40;
const ORIGIN = 40;

/** Board positions {id: {x, y}} for every node of `graph` ({nodes, edges}). Pure. */
export function layoutLeftToRight(graph) {
  const depth = new Map(graph.nodes.map((n) => [n.id, 0]));
  // Longest-path layering; the graph is acyclic (connect refuses loops), so n passes suffice.
  for (let pass = 0; pass < graph.nodes.length; pass += 1) {
    let changed = false;
    for (const e of graph.edges) {
      const want = (depth.get(e.source) ?? 0) + 1;
      if (depth.has(e.target) && depth.get(e.target) < want) {
        depth.set(e.target, want);
        changed = true;
      }
    }
    if (!changed) break;
  }
  const columns = new Map();
  for (const node of graph.nodes) {
    const d = depth.get(node.id);
    if (!columns.has(d)) columns.set(d, []);
    columns.get(d).push(node);
  }
  const out = {};
  for (const [d, nodes] of columns) {
    // Keep the people's vertical order within a column.
    nodes.sort((a, b) => a.position.y - b.position.y || a.id.localeCompare(b.id));
    nodes.forEach((node, i) => {
      out[node.id] = { x: ORIGIN + d * (NODE_W + GAP_X), y: ORIGIN + i * (NODE_H + GAP_Y) };
    });
  }
  return out;
}

/** The box around every node, or null for an empty graph. */
export function bounds(nodes) {
  if (!nodes.length) return null;
  const xs = nodes.map((n) => n.position.x);
  const ys = nodes.map((n) => n.position.y);
  const x = Math.min(...xs);
  const y = Math.min(...ys);
  return { x, y, width: Math.max(...xs) + NODE_W - x, height: Math.max(...ys) + NODE_H - y };
}
