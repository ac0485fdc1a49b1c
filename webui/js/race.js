// What a board shows about the race as a whole: clock or laps to go, flag, start lights.
// Times come from the Pi's monotonic clock, mapped to this browser by PiClock.

import { clockTime, entrantLabel, PHASE_TEXT } from "./format.js";

const RUNNING = new Set(["running", "finishing"]);
const LIGHTS_AFTER_GREEN_MS = 3000; // keep the "go" lights up briefly after green

/** {main, sub}: the big clock text and a line under it. */
export function raceClock(state, clock) {
  if (!state || state.race_id === null) return { main: "", sub: PHASE_TEXT.idle };
  const note = raceNote(state, clock);
  const shown = baseClock(state, clock);
  return note ? { main: shown.main, sub: note } : shown;
}

/** Race control news that beats the usual line: a void start, a track call, the countdown. */
function raceNote(state, clock) {
  if (state.restart_by !== null && state.restart_by !== undefined && state.phase === "ready") {
    return `Jump start: ${entrantLabel(state.entrant, state.restart_by)} · restart`;
  }
  const toGreen = state.resume_ns ? clock.msUntil(state.resume_ns) : null;
  if (toGreen !== null && toGreen > 0) return `Green in ${Math.ceil(toGreen / 1000)}`;
  if (state.track_call !== null && state.track_call !== undefined) {
    return `Track call: ${entrantLabel(state.entrant, state.track_call)}`;
  }
  return "";
}

function baseClock(state, clock) {
  const phase = PHASE_TEXT[state.phase] ?? state.phase;
  const leaderLaps = state.standings?.[0]?.laps ?? 0;
  const piNow = clock.piNowNs();
  if ((state.mode === "laps" || state.mode === "endurance") && state.laps) {
    const toGo = Math.max(0, state.laps - leaderLaps);
    if (state.phase === "finishing" || state.phase === "finished") {
      return { main: "Finish", sub: `${state.laps} laps · ${phase}` };
    }
    return {
      main: state.phase === "running" ? `${toGo} to go` : `${state.laps} laps`,
      sub: `Lap ${Math.min(leaderLaps + 1, state.laps)} of ${state.laps} · ${phase}`,
    };
  }
  if (state.ends_ns && RUNNING.has(state.phase) && piNow !== null) {
    return { main: clockTime((state.ends_ns - piNow) / 1e6), sub: `${modeText(state)} · ${phase}` };
  }
  if (state.start_ns && RUNNING.has(state.phase) && piNow !== null && piNow >= state.start_ns) {
    return { main: clockTime((piNow - state.start_ns) / 1e6), sub: `${modeText(state)} · ${phase}` };
  }
  if (state.phase === "ready" && state.duration_s) {
    return { main: clockTime(state.duration_s * 1000), sub: `${modeText(state)} · ${phase}` };
  }
  return { main: "", sub: `${modeText(state)} · ${phase}` };
}

export function modeText(state) {
  switch (state.mode) {
    case "laps": return `${state.laps} laps`;
    case "timed": return `${Math.round((state.duration_s ?? 0) / 60)} min race`;
    case "qualifying": return "Qualifying";
    case "practice": return "Practice";
    case "endurance": return state.laps ? `${state.laps}-lap endurance`
      : `${durationText(state.duration_s ?? 0)} endurance`;
    default: return state.mode ?? "";
  }
}

/** "90 min", "2 h", "2 h 30 min" */
function durationText(s) {
  const min = Math.round(s / 60);
  if (min < 60 || min % 30) return min >= 60 ? `${Math.floor(min / 60)} h ${min % 60} min` : `${min} min`;
  return `${min / 60} h`;
}

/**
 * The start lights right now: {show, reds (0..5), green}. Uses the plan (the Pi's
 * timestamps of each red and of green) so every screen lights in step; without a plan
 * or clock it falls back to the lights frame's own counts.
 */
export function startLights(state, lights, clock) {
  const plan = lights?.plan ?? state?.lights ?? null;
  const starting = state?.phase === "starting";
  if (plan && clock.synced) {
    const toGreen = clock.msUntil(plan.green_ns);
    const reds = plan.red_ns.filter((t) => clock.msUntil(t) <= 0).length;
    const green = toGreen <= 0;
    const recent = green && -toGreen < LIGHTS_AFTER_GREEN_MS;
    const show = (starting || recent) &&
      !["aborted", "stopped", "idle", "ready", "finished"].includes(state?.phase);
    return { show, reds: green ? 0 : reds, green };
  }
  if (starting && lights) return { show: true, reds: lights.reds, green: lights.green };
  return { show: false, reds: 0, green: false };
}

/**
 * Milliseconds until the start lights next change (a red, or green), or null. Pages set
 * a timer for it, so each lamp lights on its planned moment, not on the next poll.
 */
export function msToNextLight(state, lights, clock) {
  const plan = lights?.plan ?? state?.lights ?? null;
  if (!plan || !clock.synced) return null;
  const next = [...plan.red_ns, plan.green_ns, plan.green_ns + LIGHTS_AFTER_GREEN_MS * 1e6]
    .map((t) => clock.msUntil(t)).filter((ms) => ms > 0);
  return next.length ? Math.min(...next) : null;
}

/** Keep the start lights in step: render now, then again at each planned change. */
export function lightsTimer(render, link) {
  let timer = null;
  return function update() {
    clearTimeout(timer);
    render();
    const ms = msToNextLight(link.state, link.lights, link.clock);
    if (ms !== null) timer = setTimeout(update, ms);
  };
}

/** The fastest lap of the race so far (ms), for highlighting. */
export function raceBest(state) {
  let best = null;
  for (const s of state?.standings ?? []) {
    if (s.best_ms !== null && (best === null || s.best_ms < best)) best = s.best_ms;
  }
  return best;
}
