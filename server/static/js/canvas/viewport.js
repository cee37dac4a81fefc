// Pan and zoom of the board: one CSS transform on the world layer; wheel, drag and keys.

const MIN_SCALE = 0.25;
const MAX_SCALE = 2;
const KEY_PAN = 60;
const ZOOM_STEP = 1.2;

const clamp = (value, low, high) => Math.min(high, Math.max(low, value));

export class Viewport {
  /**
   * @param {HTMLElement} root the board (clips, receives wheel and pointer events)
   * @param {HTMLElement} world the layer that carries nodes and edges
   * @param {object} hooks {isEmpty(target) → bool, click(ev), changed()}
   */
  constructor(root, world, hooks) {
    this.root = root;
    this.world = world;
    this.hooks = hooks;
    this.x = 0;
    this.y = 0;
    this.scale = 1;
    root.addEventListener("wheel", (ev) => this.onWheel(ev), { passive: false });
    root.addEventListener("pointerdown", (ev) => this.onPointerDown(ev));
    root.addEventListener("keydown", (ev) => this.onKey(ev));
    this.apply();
  }

  apply() {
    this.world.style.transform = `translate(${this.x}px, ${this.y}px) scale(${this.scale})`;
    this.root.dataset.scale = this.scale.toFixed(3);
    this.root.dataset.panX = String(Math.round(this.x));
    this.root.dataset.panY = String(Math.round(this.y));
    this.hooks.changed?.();
  }

  /** Board coordinates of a client (screen) point. */
  toWorld(clientX, clientY) {
    const box = this.root.getBoundingClientRect();
    return { x: (clientX - box.left - this.x) / this.scale, y: (clientY - box.top - this.y) / this.scale };
  }

  /** Zoom by `factor` keeping the board point under (cx, cy) (client coordinates) in place. */
  zoomAt(factor, cx, cy) {
    const box = this.root.getBoundingClientRect();
    const px = cx ?? box.left + box.width / 2;
    const py = cy ?? box.top + box.height / 2;
    const next = clamp(this.scale * factor, MIN_SCALE, MAX_SCALE);
    const at = this.toWorld(px, py);
    this.scale = next;
    this.x = px - box.left - at.x * next;
    this.y = py - box.top - at.y * next;
    this.apply();
  }

  panBy(dx, dy) {
    this.x += dx;
    this.y += dy;
    this.apply();
  }

  /** Show the whole box {x, y, width, height} (board coordinates), never zooming in past 1. */
  fit(bounds, margin = 40) {
    const width = this.root.clientWidth;
    const height = this.root.clientHeight;
    if (!bounds || !width || !height) {
      this.x = 0;
      this.y = 0;
      this.scale = 1;
      this.apply();
      return;
    }
    const scale = clamp(
      Math.min((width - 2 * margin) / bounds.width, (height - 2 * margin) / bounds.height, 1),
      MIN_SCALE,
      MAX_SCALE,
    );
    this.scale = scale;
    this.x = (width - bounds.width * scale) / 2 - bounds.x * scale;
    this.y = (height - bounds.height * scale) / 2 - bounds.y * scale;
    this.apply();
  }

  onWheel(ev) {
    ev.preventDefault();
    if (ev.ctrlKey || Math.abs(ev.deltaY) >= Math.abs(ev.deltaX)) {
      // A wheel notch zooms (as in node editors); pinch gestures arrive as ctrl+wheel.
      const factor = Math.exp(-ev.deltaY * (ev.ctrlKey ? 0.01 : 0.0015));
      this.zoomAt(factor, ev.clientX, ev.clientY);
    } else {
      this.panBy(-ev.deltaX, 0);
    }
  }

  onPointerDown(ev) {
    if (ev.button !== 0 && ev.button !== 1) return;
    if (!this.hooks.isEmpty(ev.target)) return;
    const start = { x: ev.clientX, y: ev.clientY, px: this.x, py: this.y };
    let moved = false;
    this.root.setPointerCapture(ev.pointerId);
    const move = (e) => {
      const dx = e.clientX - start.x;
      const dy = e.clientY - start.y;
      if (!moved && Math.abs(dx) + Math.abs(dy) < 4) return;
      moved = true;
      this.root.classList.add("panning");
      this.x = start.px + dx;
      this.y = start.py + dy;
      this.apply();
    };
    const up = (e) => {
      this.root.removeEventListener("pointermove", move);
      this.root.removeEventListener("pointerup", up);
      this.root.removeEventListener("pointercancel", up);
      this.root.classList.remove("panning");
      if (!moved) this.hooks.click?.(e);
    };
    this.root.addEventListener("pointermove", move);
    this.root.addEventListener("pointerup", up);
    this.root.addEventListener("pointercancel", up);
  }

  /** Keys on the board itself (a focused node handles its own arrows). */
  onKey(ev) {
    if (ev.target !== this.root) return;
    const pans = { ArrowLeft: [KEY_PAN, 0], ArrowRight: [-KEY_PAN, 0], ArrowUp: [0, KEY_PAN], ArrowDown: [0, -KEY_PAN] };
    if (pans[ev.key]) {
      ev.preventDefault();
      this.panBy(...pans[ev.key]);
    } else if (ev.key === "+" || ev.key === "=") {
      ev.preventDefault();
      this.zoomAt(ZOOM_STEP);
    } else if (ev.key === "-" || ev.key === "_") {
      ev.preventDefault();
      this.zoomAt(1 / ZOOM_STEP);
    }
  }

  zoomIn() {
    this.zoomAt(ZOOM_STEP);
  }

  zoomOut() {
    this.zoomAt(1 / ZOOM_STEP);
  }
}
