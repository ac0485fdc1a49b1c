// The Pi's clock, mapped onto this browser's clock.
//
// Every live frame carries `now_ns`: the Pi's CLOCK_MONOTONIC when the server sent it.
// At receipt, performance.now() is at least that moment plus the network delay, so
// `performance.now() - now_ns/1e6` over-estimates the offset by the delay. The smallest
// offset among recent frames is the best estimate (the frame that travelled fastest).
// Nothing here reads the wall clock: the Pi has none worth trusting.

const WINDOW = 32; // recent samples kept; old ones age out if the Pi reboots

export class PiClock {
  constructor() {
    this.samples = [];
    this.offsetMs = null; // local ms = Pi ms + offsetMs
  }

  /** Record one frame's `now_ns`, received just now. */
  sync(nowNs) {
    if (typeof nowNs !== "number" || !Number.isFinite(nowNs)) return;
    this.samples.push(performance.now() - nowNs / 1e6);
    if (this.samples.length > WINDOW) this.samples.shift();
    // A Pi reboot restarts its clock: the newest sample then differs wildly; start over.
    const newest = this.samples[this.samples.length - 1];
    if (this.offsetMs !== null && Math.abs(newest - this.offsetMs) > 60_000) {
      this.samples = [newest];
    }
    this.offsetMs = Math.min(...this.samples);
  }

  get synced() {
    return this.offsetMs !== null;
  }

  /** The Pi's clock now, in ns (null before the first frame). */
  piNowNs() {
    return this.synced ? (performance.now() - this.offsetMs) * 1e6 : null;
  }

  /** Milliseconds from now until the Pi's moment `tNs` (negative: already past). */
  msUntil(tNs) {
    return this.synced ? tNs / 1e6 + this.offsetMs - performance.now() : null;
  }
}
