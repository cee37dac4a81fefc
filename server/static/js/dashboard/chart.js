// A small inline-SVG line chart: one metric across model versions.

import { h, num } from "../dom.js";

const W = 560;
const H = 240;
const PAD = { left: 56, right: 16, top: 16, bottom: 36 };

/**
 * @param {Array<{x: number, y: number|null, active?: boolean}>} points versions in order
 * @param {string} title accessible name ("accuracy (test) by version")
 */
export function lineChart(points, title) {
  const usable = points.filter((p) => typeof p.y === "number");
  const svg = h("svg:svg", { viewBox: `0 0 ${W} ${H}`, role: "img", "aria-label": title });
  svg.append(h("svg:title", { text: title }));
  if (!usable.length) {
    svg.append(h("svg:text", { x: W / 2, y: H / 2, "text-anchor": "middle", text: "No values for this metric yet" }));
    return svg;
  }
  const xs = usable.map((p) => p.x);
  const ys = usable.map((p) => p.y);
  let [ymin, ymax] = [Math.min(...ys), Math.max(...ys)];
  if (ymin === ymax) {
    const pad = Math.abs(ymin) * 0.05 || 0.05;
    ymin -= pad;
    ymax += pad;
  }
  const [xmin, xmax] = [Math.min(...xs), Math.max(...xs)];
  const width = W - PAD.left - PAD.right;
  const sx = (x) => PAD.left + (xmax === xmin ? width / 2 : ((x - xmin) / (xmax - xmin)) * width);
  const sy = (y) => H - PAD.bottom - ((y - ymin) / (ymax - ymin)) * (H - PAD.top - PAD.bottom);

  svg.append(
    h("svg:line", { class: "axis", x1: PAD.left, y1: H - PAD.bottom, x2: W - PAD.right, y2: H - PAD.bottom }),
    h("svg:line", { class: "axis", x1: PAD.left, y1: PAD.top, x2: PAD.left, y2: H - PAD.bottom }),
  );
  for (const v of [ymin, (ymin + ymax) / 2, ymax]) {
    svg.append(h("svg:text", { x: PAD.left - 6, y: sy(v) + 4, "text-anchor": "end", text: num(v, 3) }));
  }
  for (const p of usable) {
    svg.append(h("svg:text", { x: sx(p.x), y: H - PAD.bottom + 16, "text-anchor": "middle", text: `v${p.x}` }));
  }
  svg.append(h("svg:text", { x: (W + PAD.left) / 2, y: H - 4, "text-anchor": "middle", text: "model version" }));
  const d = usable.map((p, i) => `${i ? "L" : "M"} ${sx(p.x).toFixed(1)} ${sy(p.y).toFixed(1)}`).join(" ");
  svg.append(h("svg:path", { class: "line", d }));
  for (const p of usable) {
    const dot = h("svg:circle", {
      class: p.active ? "point active" : "point",
      cx: sx(p.x),
      cy: sy(p.y),
      r: p.active ? 6 : 4,
    });
    dot.append(h("svg:title", { text: `v${p.x}: ${num(p.y)}${p.active ? " (active)" : ""}` }));
    svg.append(dot);
  }
  return svg;
}
