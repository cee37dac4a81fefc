// The websocket client of the hub: authenticate, subscribe, replay from `since`, reconnect.

import { getToken } from "./session.js";

const PATH = "/ml-workflow/ws";
const UNAUTHORIZED = 4401;
const MAX_BACKOFF_MS = 10000;
/** The hub's limit of topics per frame and per socket (server/hub/policy.py HubConfig.max_topics). */
export const MAX_TOPICS = 100;
/**
 * Jobs whose last seq the client remembers for `since`. Each snapshot of a pipeline topic lists up to 200
 * jobs, so a long session would otherwise send an ever larger `since` with every subscribe until the frame
 * passed the hub's 64 KiB; a forgotten job is only re-sent as its current row (no replay), never lost.
 */
export const MAX_REMEMBERED_SEQS = 1000;
const PAGE = Symbol("page");

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
    this.topics = new Map(); // topic key -> topic; held while any holder (the page or a scope) holds it
    this.holders = new Map(); // topic key -> Set of holders
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
    } else if (frame.type === "error") {
      // A refused frame (too_many_topics: a subscription the hub did not take) must not pass silently.
      console.error(`live: the hub refused a frame: ${frame.code} (${frame.field}): ${frame.message}`);
    }
  }

  noteSeq(jobId, seq) {
    if (typeof seq !== "number") return;
    const known = this.lastSeq.get(jobId);
    if (known !== undefined && known >= seq) return;
    // Re-inserted, so the Map's order is least recently advanced first: the oldest are forgotten.
    this.lastSeq.delete(jobId);
    this.lastSeq.set(jobId, seq);
    while (this.lastSeq.size > MAX_REMEMBERED_SEQS) this.lastSeq.delete(this.lastSeq.keys().next().value);
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

  /**
   * Listen to topics: `{job_id}`, `{pipeline_id}` or `{user: "me"}`; already-held ones are skipped.
   * Every topic held costs one of the hub's MAX_TOPICS per socket: `unsubscribe` what is no longer needed.
   */
  subscribe(...topics) {
    this.hold(PAGE, topics);
  }

  /** Stop listening to topics this page subscribed (a scope's holds stay). */
  unsubscribe(...topics) {
    this.release(PAGE, topics);
  }

  /**
   * Topics held on behalf of one part of the page (a section, a job list): a topic is unsubscribed once
   * no holder wants it any more; `clear()` lets go of everything the scope holds (when the part stops).
   */
  scope() {
    const owner = Symbol("scope");
    return {
      subscribe: (...topics) => this.hold(owner, topics),
      unsubscribe: (...topics) => this.release(owner, topics),
      holds: (topic) => Boolean(this.holders.get(topicKey(topic))?.has(owner)),
      clear: () => this.release(owner, [...this.topics.values()]),
    };
  }

  /** Whether the connection listens to `topic` (for whichever holder). */
  has(topic) {
    return this.topics.has(topicKey(topic));
  }

  hold(owner, topics) {
    const fresh = [];
    for (const t of topics) {
      const key = topicKey(t);
      let holders = this.holders.get(key);
      if (!holders) {
        holders = new Set();
        this.holders.set(key, holders);
        this.topics.set(key, t);
        fresh.push(t);
      }
      holders.add(owner);
    }
    if (fresh.length && this.state === "live") this.sendSubscribe(fresh);
  }

  release(owner, topics) {
    const gone = [];
    for (const t of topics) {
      const key = topicKey(t);
      const holders = this.holders.get(key);
      if (!holders || !holders.delete(owner) || holders.size) continue;
      this.holders.delete(key);
      this.topics.delete(key);
      gone.push(t);
    }
    if (gone.length && this.state === "live") this.sendTopics("unsubscribe", gone);
  }

  sendSubscribe(topics) {
    const since = Object.fromEntries(this.lastSeq);
    this.sendTopics("subscribe", topics, { since });
  }

  /** Send `op` for `topics`, never more of them in one frame than the hub accepts. */
  sendTopics(op, topics, extra = {}) {
    if (!topics.length || !this.socket || this.socket.readyState !== WebSocket.OPEN) return;
    if (op === "subscribe" && this.topics.size > MAX_TOPICS) {
      console.error(`live: ${this.topics.size} topics held, the hub accepts ${MAX_TOPICS} per connection`);
    }
    for (let i = 0; i < topics.length; i += MAX_TOPICS) {
      this.socket.send(JSON.stringify({ op, topics: topics.slice(i, i + MAX_TOPICS), ...extra }));
    }
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
