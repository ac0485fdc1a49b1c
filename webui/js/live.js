// The live connection every page shares.
//
// Opens the WebSocket `/api/live`; if it fails to open (old browser, a proxy that drops
// upgrades), uses the Server-Sent Events stream `/api/live/events`, which carries the
// same frames. After a drop (Wi-Fi, server restart) it reconnects by itself with
// back-off, trying the WebSocket first again. On every (re)connect the server sends the
// current state first, so nothing stale survives a reconnect.
//
// Frames: {"type": "state"|"lap"|"lights"|"status", "now_ns": ..., "data": ...}.
// Events dispatched (detail = the frame's data): "state", "lap", "lights", "status",
// and "connection" whenever `live.connected` / `live.lapsOnline` change.

import { PiClock } from "./clock.js";

const OPEN_TIMEOUT_MS = 4000; // a WebSocket that has not opened by then counts as failed
const BACKOFF_MIN_MS = 500;
const BACKOFF_MAX_MS = 10000;
const QUIET_CHECK_MS = 10000; // no frame for this long: ask /api/health if the server is there
const FRAME_TYPES = ["state", "lap", "lights", "status"];

export class Live extends EventTarget {
  constructor({ base = "" } = {}) {
    super();
    this.base = base;
    this.clock = new PiClock();
    this.state = null; // last RaceState
    this.lights = null; // last LightsState
    this.status = null; // last {laps, mqtt}
    this.connected = false; // a transport is open and has delivered the opening frames
    this.transport = null; // "websocket" | "sse" | null
    this.attempts = 0;
    this.lastFrameAt = 0;
    this._close = null; // closes the current transport
    this._retryTimer = null;
    this._quietTimer = null;
    this._stopped = false;
    window.addEventListener("offline", () => this._drop("browser offline"));
    window.addEventListener("online", () => this.reconnectNow());
  }

  /** True only when the board may be shown as live: connected and the lap service up. */
  get live() {
    return this.connected && this.lapsOnline;
  }

  get lapsOnline() {
    return !this.status || this.status.laps !== false;
  }

  /** The lap service is up but cannot store passes (storage full): they wait, none lost. */
  get lapsDegraded() {
    return this.lapsOnline && this.status?.degraded === true;
  }

  start() {
    this._stopped = false;
    this._connect();
    this._quietTimer = setInterval(() => this._checkQuiet(), QUIET_CHECK_MS / 2);
    return this;
  }

  stop() {
    this._stopped = true;
    clearTimeout(this._retryTimer);
    clearInterval(this._quietTimer);
    if (this._close) this._close();
    this._close = null;
    this._setConnected(false, null);
  }

  reconnectNow() {
    if (this._stopped) return;
    clearTimeout(this._retryTimer);
    if (this._close) this._close();
    this._close = null;
    this.attempts = 0;
    this._connect();
  }

  _url(path, scheme) {
    const url = new URL(this.base + path, location.href);
    if (scheme) url.protocol = location.protocol === "https:" ? "wss:" : "ws:";
    return url.href;
  }

  _connect() {
    if (typeof WebSocket === "function") this._openWebSocket();
    else this._openSse();
  }

  _openWebSocket() {
    let opened = false;
    let done = false;
    let ws;
    try {
      // batch=1: frames that are ready together (a lap and its state) come as one array.
      ws = new WebSocket(this._url("/api/live?batch=1", true));
    } catch {
      this._openSse(); // blocked outright (some captive-portal browsers)
      return;
    }
    const timer = setTimeout(() => ws.close(), OPEN_TIMEOUT_MS);
    const finish = () => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      if (this._close !== close) return; // superseded by a newer attempt
      this._close = null;
      if (opened) this._drop("websocket closed");
      else this._openSse(); // never opened: try the fallback before backing off
    };
    const close = () => {
      done = true;
      clearTimeout(timer);
      ws.close();
    };
    this._close = close;
    ws.onopen = () => {
      opened = true;
      clearTimeout(timer);
      this.transport = "websocket";
    };
    ws.onmessage = (event) => this._message(event.data);
    ws.onerror = () => {}; // onclose follows with the details we need
    ws.onclose = finish;
  }

  _openSse() {
    if (typeof EventSource !== "function") {
      this._drop("no live transport");
      return;
    }
    const source = new EventSource(this._url("/api/live/events"));
    const close = () => source.close();
    this._close = close;
    source.onopen = () => {
      this.transport = "sse";
    };
    for (const type of FRAME_TYPES) {
      source.addEventListener(type, (event) => this._frame(event.data, type));
    }
    source.onmessage = (event) => this._frame(event.data); // unnamed events, if any
    // EventSource would retry on its own at a fixed pace; take over for back-off and for
    // trying the WebSocket again.
    source.onerror = () => {
      if (this._close !== close) return;
      source.close();
      this._close = null;
      this._drop("event stream closed");
    };
  }

  _message(text) {
    let data;
    try {
      data = JSON.parse(text);
    } catch {
      return; // garbage: ignore
    }
    for (const frame of Array.isArray(data) ? data : [data]) this._frame(frame);
  }

  _frame(text, sseType) {
    let frame = text;
    if (typeof text === "string") {
      try {
        frame = JSON.parse(text);
      } catch {
        return; // not a frame (keep-alive comment or garbage): ignore
      }
    }
    // The SSE stream may carry whole frames or just their data under an event name.
    if (!(frame && typeof frame === "object" && "type" in frame && "data" in frame)) {
      frame = { type: sseType, now_ns: frame?.now_ns, data: frame };
    }
    if (!FRAME_TYPES.includes(frame.type)) return;
    this.lastFrameAt = performance.now();
    this.clock.sync(frame.now_ns ?? frame.data?.now_ns);
    if (frame.type === "state") this.state = frame.data;
    else if (frame.type === "lights") this.lights = frame.data;
    else if (frame.type === "status") this.status = frame.data;
    this.attempts = 0;
    this.dispatchEvent(new CustomEvent(frame.type, { detail: frame.data }));
    if (frame.type === "status" || !this.connected) {
      this._setConnected(true, this.transport);
    }
  }

  _setConnected(connected, transport) {
    const changed = connected !== this.connected || transport !== this.transport;
    this.connected = connected;
    this.transport = transport;
    // Emit on every status frame too: lapsOnline may have changed.
    this.dispatchEvent(new CustomEvent("connection", {
      detail: { connected, transport, lapsOnline: this.lapsOnline, changed },
    }));
  }

  _drop(reason) {
    if (this._close) this._close();
    this._close = null;
    this._setConnected(false, null);
    if (this._stopped) return;
    clearTimeout(this._retryTimer);
    // Exponential back-off with jitter, so a hundred phones don't all return at once.
    const delay = Math.min(BACKOFF_MAX_MS, BACKOFF_MIN_MS * 2 ** this.attempts);
    this.attempts += 1;
    this.lastDropReason = reason;
    this._retryTimer = setTimeout(() => this._connect(), delay * (0.75 + Math.random() / 2));
  }

  // A connection that silently died (Wi-Fi gone without a close) delivers nothing. The
  // server only sends on change, so quiet is normal; ask the server whether it is there.
  async _checkQuiet() {
    if (!this.connected || performance.now() - this.lastFrameAt < QUIET_CHECK_MS) return;
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 3000);
    try {
      const response = await fetch(this._url("/api/health"), { signal: abort.signal, cache: "no-store" });
      if (!response.ok) throw new Error(`health ${response.status}`);
      this.lastFrameAt = performance.now();
    } catch {
      if (this.connected) this._drop("server not answering");
    } finally {
      clearTimeout(timer);
    }
  }
}

/** One shared connection per page. */
let shared = null;
export function live() {
  if (!shared) shared = new Live().start();
  return shared;
}
