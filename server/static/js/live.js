// The websocket client of the hub: authenticate, subscribe, replay from `since`, reconnect.

import { getToken } from "./session.js";

const PATH = "/ml-workflow/ws";
const UNAUTHORIZED = 4401;
const MAX_BACKOFF_MS = 10000;

function topicKey(topic) {
  const [[kind, value]] = Object.entries(topic);
  return `${kind}:${value}`;
}

/**
 * One live connection per page. Listeners receive every job frame (snapshot jobs are
 * delivered as `{type: "snapshot.job", job}` so callers handle one stream) and the
 * `alias.changed` frames of the pipelines (or the user) subscribed to.
 */
export class LiveClient {
  constructor() {
    this.topics = new Map();
    this.lastSeq = new Map();
    this.listeners = new Set();
    this.stateListeners = new Set();
    this.socket = null;
    this.closed = false;
    this.backoff = 500;
    this.state = "connecting";
    this.retryTimer = null;
  }

  onEvent(fn) {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  onState(fn) {
    this.stateListeners.add(fn);
    fn(this.state);
    return () => this.stateListeners.delete(fn);
  }

  setState(state) {
    this.state = state;
    this.stateListeners.forEach((fn) => fn(state));
  }

  start() {
    this.closed = false;
    this.connect();
    return this;
  }

  connect() {
    const proto = location.protocol === "https:" ? "wss:" : "ws:";
    const socket = new WebSocket(`${proto}//${location.host}${PATH}`);
    this.socket = socket;
    this.setState("connecting");
    socket.addEventListener("open", () => {
      // The token goes in the first frame rather than the URL, so it stays out of access logs.
      socket.send(JSON.stringify({ op: "auth", token: getToken() || "" }));
    });
    socket.addEventListener("message", (msg) => this.receive(msg.data));
    socket.addEventListener("close", (ev) => {
      if (this.socket !== socket) return;
      this.socket = null;
      if (this.closed) return;
      if (ev.code === UNAUTHORIZED) {
        this.setState("unauthorized");
        return;
      }
      this.setState("reconnecting");
      this.retryTimer = setTimeout(() => this.connect(), this.backoff);
      this.backoff = Math.min(this.backoff * 2, MAX_BACKOFF_MS);
    });
  }

  receive(text) {
    let frame;
    try {
      frame = JSON.parse(text);
    } catch {
      return;
    }
    if (frame.type === "welcome") {
      this.backoff = 500;
      this.setState("live");
      this.sendSubscribe([...this.topics.values()]);
      return;
    }
    if (frame.type === "snapshot") {
      for (const job of frame.jobs || []) {
        this.noteSeq(job.id, job.last_seq);
        this.emit({ type: "snapshot.job", job_id: job.id, job });
      }
      return;
    }
    if (typeof frame.type === "string" && frame.type.startsWith("job.")) {
      if (typeof frame.seq === "number") this.noteSeq(frame.job_id, frame.seq);
      this.emit(frame);
    } else if (frame.type === "alias.changed") {
      this.emit(frame); // a node's alias was set, moved or removed: no job, no seq
    }
  }

  noteSeq(jobId, seq) {
    if (typeof seq !== "number") return;
    if ((this.lastSeq.get(jobId) ?? 0) < seq) this.lastSeq.set(jobId, seq);
  }

  emit(frame) {
    for (const fn of this.listeners) {
      try {
        fn(frame);
      } catch (exc) {
        console.error("live listener failed", exc);
      }
    }
  }

  /** Listen to topics: `{job_id}`, `{pipeline_id}` or `{user: "me"}`; already-known ones are skipped. */
  subscribe(...topics) {
    const fresh = topics.filter((t) => !this.topics.has(topicKey(t)));
    for (const t of fresh) this.topics.set(topicKey(t), t);
    if (fresh.length && this.state === "live") this.sendSubscribe(fresh);
  }

  sendSubscribe(topics) {
    if (!topics.length || !this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    const since = Object.fromEntries(this.lastSeq);
    this.socket.send(JSON.stringify({ op: "subscribe", topics, since }));
  }

  stop() {
    this.closed = true;
    clearTimeout(this.retryTimer);
    if (this.socket) this.socket.close(1000, "page closed");
    this.socket = null;
    this.listeners.clear();
    this.stateListeners.clear();
  }
}
