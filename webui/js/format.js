// Display formats. Honest precision: lap times to the millisecond, as the lap service
// derives `*_ms` from nanosecond stamps; never more digits than the source has.

/** A lap or best time: "4.688" or "1:02.345"; "" when there is none. */
export function lapTime(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "";
  const total = Math.round(ms); // whole milliseconds
  const minutes = Math.floor(total / 60000);
  const rest = ((total % 60000) / 1000).toFixed(3);
  return minutes > 0 ? `${minutes}:${rest.padStart(6, "0")}` : rest;
}

/** Gap to the leader: "+0.239", "+1 lap", "+3 laps"; "" for the leader. */
export function gap(standing) {
  if (standing.gap_laps > 0) {
    return `+${standing.gap_laps} lap${standing.gap_laps === 1 ? "" : "s"}`;
  }
  if (standing.gap_ms === null || standing.gap_ms === undefined) return "";
  return `+${lapTime(standing.gap_ms)}`;
}

/** A race clock: "12:05" or "1:02:03" (whole seconds, rounded down). */
export function clockTime(ms) {
  if (ms === null || !Number.isFinite(ms)) return "";
  const s = Math.max(0, Math.floor(ms / 1000));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const sec = String(s % 60).padStart(2, "0");
  return h > 0 ? `${h}:${String(m).padStart(2, "0")}:${sec}` : `${m}:${sec}`;
}

/** A short duration in seconds: "4.2 s", "38 s"; "" when there is none. */
export function seconds(ms) {
  if (ms === null || ms === undefined || !Number.isFinite(ms)) return "";
  const s = ms / 1000;
  return `${Math.abs(s) < 10 ? s.toFixed(1) : Math.round(s)} s`;
}

/** "Car 3" / "Lane 1" for an entrant number, given the race's entrant key. */
export function entrantLabel(key, n) {
  return `${key === "lane" ? "Lane" : "Car"} ${n}`;
}

export const PHASE_TEXT = {
  idle: "No race",
  ready: "Ready",
  starting: "Lights",
  running: "Racing",
  finishing: "Last lap",
  finished: "Finished",
  stopped: "Stopped",
  aborted: "Aborted",
};

/** Endurance pace tags, as words (the colour is never the only cue). */
export const PACE_TEXT = { good: "good", bad: "bad", unknown: "unknown" };

export const FLAG_TEXT = {
  none: "",
  green: "Green",
  yellow: "Yellow",
  red: "Red",
  chequered: "Chequered",
};

/** Escape text for innerHTML. */
export function esc(text) {
  return String(text ?? "").replace(/[&<>"']/g, (c) => ({
    "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;",
  })[c]);
}
