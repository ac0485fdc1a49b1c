// Spoken callouts (speechSynthesis), reusable by any page.
//
// - A small queue of its own: one utterance at a time, the next when it ends (or after a
//   time-out, since some engines never say "end"); at most MAX_QUEUE waiting, the oldest
//   dropped first, and a text that waited longer than STALE_MS is not said at all.
// - Callouts carry a key (e.g. "7:yellow:8123…"): a key is said once for this page's life,
//   so a reconnect or a re-render never repeats one. mark() records a key without speaking
//   (a page's baseline: what was already true when it opened).
// - Mute, kept in storage (`pitwall.voice.muted` unless told otherwise).
// - Browsers speak only after one user gesture on the page: until then the voice is
//   "locked" and callouts are dropped (not saved up). Any tap or key unlocks it.
//
// voice.state: "unsupported" | "locked" | "muted" | "on"; a "change" event on every change.

import { load, save } from "./storage.js";

const MAX_QUEUE = 4;
const STALE_MS = 15000;
const MIN_WAIT_MS = 2500; // the time-out for an utterance: this plus PER_CHAR_MS a letter
const PER_CHAR_MS = 90;
const UNLOCK_TAP_MS = 1500; // a pointerdown and its click belong to one tap

export const VOICE_MUTED = "pitwall.voice.muted";

export class Voice extends EventTarget {
  constructor({ key = VOICE_MUTED, rate = 1.05, lang = "en" } = {}) {
    super();
    this.key = key;
    this.rate = rate;
    this.lang = lang;
    this.supported = "speechSynthesis" in window && "SpeechSynthesisUtterance" in window;
    this._muted = Boolean(load(key, false));
    // A gesture may already have happened (a reload keeps none; a tap before this ran does).
    this.unlocked = Boolean(navigator.userActivation?.hasBeenActive);
    this.said = new Set();
    this.queue = []; // [{text, at}]
    this.speaking = false;
    this._timer = null;
    this._gen = 0; // stop() makes a pending utterance's late "end" a no-op
    this._unlockedAt = -Infinity;
    const unlock = () => {
      if (this.unlocked) return;
      this.unlocked = true;
      this._unlockedAt = performance.now();
      this._changed();
    };
    for (const type of ["pointerdown", "keydown", "touchend"]) {
      window.addEventListener(type, unlock, { capture: true, passive: true });
    }
  }

  get muted() {
    return this._muted;
  }

  set muted(value) {
    this._muted = Boolean(value);
    save(this.key, this._muted);
    if (this._muted) this.stop();
    this._changed();
  }

  get state() {
    if (!this.supported) return "unsupported";
    if (this._muted) return "muted";
    return this.unlocked ? "on" : "locked";
  }

  /**
   * Say `text` once per `key` (no key: always). `group`: a newer callout of the same
   * group replaces one still waiting (two leader changes in a row: only the latest).
   * False when it was not queued.
   */
  say(text, key = null, group = null) {
    if (key !== null) {
      if (this.said.has(key)) return false;
      this.said.add(key);
    }
    if (this.state !== "on" || !text) return false;
    if (group !== null) this.queue = this.queue.filter((item) => item.group !== group);
    this.queue.push({ text, group, at: performance.now() });
    while (this.queue.length > MAX_QUEUE) this.queue.shift();
    this._next();
    return true;
  }

  /** Count `key` as said without saying it. */
  mark(key) {
    this.said.add(key);
  }

  has(key) {
    return this.said.has(key);
  }

  /** Silence: the queue and what is being said. */
  stop() {
    this.queue = [];
    this.speaking = false;
    this._gen += 1;
    clearTimeout(this._timer);
    if (this.supported) {
      try {
        speechSynthesis.cancel();
      } catch {
        // nothing to cancel
      }
    }
  }

  /** Wire a button: its text and aria-pressed follow the state; a tap unlocks or mutes. */
  bindButton(button) {
    const texts = {
      unsupported: "No sound", locked: "Tap to enable sound", muted: "Sound off", on: "Sound on",
    };
    const render = () => {
      const state = this.state;
      button.dataset.state = state;
      button.textContent = texts[state];
      button.disabled = state === "unsupported";
      button.setAttribute("aria-pressed", String(state === "on"));
    };
    button.addEventListener("click", () => {
      // The window's listener sees this tap's pointerdown first and unlocks: the tap that
      // unlocked is the one that turns the sound on, not a mute.
      const unlocking = performance.now() - this._unlockedAt < UNLOCK_TAP_MS;
      this._unlockedAt = -Infinity;
      if (this.state === "locked" || (unlocking && this.state === "on")) {
        this.unlocked = true; // this tap is the gesture
        this._changed();
        this._speakNow("Sound on");
      } else if (this.state !== "unsupported") {
        this.unlocked = true;
        this.muted = !this._muted;
        if (!this._muted) this._speakNow("Sound on");
      }
    });
    this.addEventListener("change", render);
    render();
  }

  _changed() {
    this.dispatchEvent(new Event("change"));
  }

  _speakNow(text) {
    this.queue.push({ text, at: performance.now() });
    this._next();
  }

  _next() {
    if (this.speaking) return;
    const now = performance.now();
    while (this.queue.length && now - this.queue[0].at > STALE_MS) this.queue.shift();
    const item = this.queue.shift();
    if (!item || this.state !== "on") return;
    this.speaking = true;
    const utterance = new SpeechSynthesisUtterance(item.text);
    utterance.rate = this.rate;
    utterance.lang = this.lang;
    let done = false;
    const gen = this._gen;
    const finish = () => {
      if (done || gen !== this._gen) return;
      done = true;
      clearTimeout(this._timer);
      this.speaking = false;
      this._next();
    };
    utterance.addEventListener("end", finish);
    utterance.addEventListener("error", finish);
    this._timer = setTimeout(finish, MIN_WAIT_MS + PER_CHAR_MS * item.text.length);
    try {
      speechSynthesis.speak(utterance);
    } catch {
      finish();
    }
  }
}
