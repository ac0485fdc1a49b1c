// The TV board: standings, race clock or laps to go, flag, start lights, Wi-Fi QR; in
// endurance races the stint, stops, pit and pace columns (board.js). Club nights: the
// full-width flag band and frame, the next heat's grid with its countdown, the track
// record, and spoken callouts (voice.js).

import { info } from "./api.js";
import { mountBanner } from "./banner.js";
import {
  flashRow, gridText, heatGrid, heatLabel, lightsMarkup, RACES, renderClock, renderFlag,
  renderFlagBand, renderStandings, setLights, tickPitTimers, trackRecordText,
} from "./board.js";
import { clockTime, entrantLabel, lapTime } from "./format.js";
import { live } from "./live.js";
import { registerServiceWorker } from "./pwa.js";
import { lightsTimer, startLights } from "./race.js";
import { Voice } from "./voice.js";

const RECORD_BANNER_MS = 8000;
const $ = (id) => document.getElementById(id);
const link = live();
mountBanner(link);
registerServiceWorker();
const voice = new Voice();
voice.bindButton($("sound"));

const overlay = $("lights-overlay");
overlay.innerHTML = lightsMarkup();
const lightsEl = overlay.querySelector(".lights");

function renderState() {
  const state = link.state;
  renderStandings($("standings"), state, { marks: true });
  document.body.classList.toggle("endurance", state?.mode === "endurance");
  $("race-name").textContent = state?.name || "";
  renderFlag($("flag"), state);
  renderFlagBand($("flag-band"), state);
  $("frame").dataset.flag = $("flag-band").hidden ? "none" : $("flag-band").dataset.flag;
  const on = Boolean(state && state.race_id !== null);
  setText($("heat"), on ? heatLabel(state) : "");
  setText($("record-line"), on ? trackRecordText(state) : "");
  renderHeatGrid(state);
  callouts(state);
  tick();
}

function setText(el, text) {
  if (el.textContent !== text) el.textContent = text;
  el.hidden = !text;
}

// --- the next heat's grid ------------------------------------------------------------
let shownGrid = null; // the heatGrid() on screen (its countdown ticks)
function renderHeatGrid(state) {
  shownGrid = state && state.race_id !== null ? heatGrid(state) : null;
  $("next-heat").hidden = !shownGrid;
  if (!shownGrid) return;
  const g = shownGrid;
  $("next-heat-title").textContent = `${g.startNs !== null ? "Next: heat" : "Heat"} ${g.heat} of ${g.heats}`;
  $("next-heat-grid").textContent = gridText(g.grid);
  setText($("next-heat-out"), g.sittingOut.length ? `Sitting out: ${g.sittingOut.join(", ")}` : "");
  tickHeatGrid();
}

function tickHeatGrid() {
  if (!shownGrid) return;
  let text = "";
  if (shownGrid.startNs !== null) {
    const ms = link.clock.msUntil(shownGrid.startNs);
    text = ms === null ? "" : ms > 0 ? `Lights in ${clockTime(ms + 999)}` : "Lights now";
  } else if (link.state?.phase === "starting") text = "Lights";
  else text = "Waiting for the start";
  const el = $("next-heat-countdown");
  if (el.textContent !== text) el.textContent = text;
}

// --- callouts --------------------------------------------------------------------------
// Each callout is keyed by the race and the event (voice.js says a key once), so a
// reconnect or a re-render never repeats it. The first state of each race this page sees
// only marks what is already true: opening the TV mid-race announces nothing old.
let seen = { race: null, leader: null, caution: null };

function callouts(state) {
  if (!state || state.race_id === null) return;
  const quiet = seen.race !== state.race_id;
  if (quiet) seen = { race: state.race_id, leader: null, caution: null };
  const say = (key, text, group = null) => {
    const full = `${state.race_id}:${key}`;
    if (quiet) voice.mark(full);
    else voice.say(text, full, group);
  };
  const name = (s) => s.driver || entrantLabel(state.entrant, s.entrant);
  const leader = state.standings?.[0] ?? null;
  const racing = ["running", "finishing"].includes(state.phase);
  const race = RACES.has(state.mode);

  // Flags. A caution is told apart from the next by its power-cut moment.
  if (state.flag === "yellow" || state.flag === "red") {
    seen.caution = state.power_cut_ns ?? seen.caution ?? "c";
    if (state.flag === "yellow") say(`yellow:${seen.caution}`, "Yellow flag");
    else say(`red:${seen.caution}`, "Red flag. Race stopped");
  } else if (state.flag === "green" && seen.caution !== null) {
    say(`green:${seen.caution}`, "Green flag");
    seen.caution = null;
  }

  // A new leader (in practice and qualifying: the fastest lap).
  if (leader && leader.laps > 0 && racing && state.flag !== "chequered" &&
      leader.entrant !== seen.leader) {
    say(`leader:${leader.entrant}:${leader.laps}`,
      race ? `${name(leader)} leads` : `${name(leader)} is fastest`, "leader");
  }
  // Before anyone has a lap the first row is only the grid's order: nobody leads yet.
  if (leader && leader.laps > 0) seen.leader = leader.entrant;

  // The last lap: the leader starts it in a lap race; a timed race's clock ran out.
  if (leader && state.mode !== "practice" && state.mode !== "qualifying") {
    const lapRace = state.laps && (state.mode === "laps" || state.mode === "endurance");
    if (lapRace && state.phase === "running" && leader.laps === state.laps - 1) {
      say("lastlap", "Last lap");
    } else if (!lapRace && state.phase === "finishing" && !leader.finished) {
      say("lastlap", "Last lap");
    }
  }

  // The finish.
  if (state.flag === "chequered" && leader && (state.phase === "finished" || leader.finished)) {
    say("finish", race ? `Chequered flag, ${name(leader)} wins` : "Chequered flag");
  }

  // Records: one callout per best lap (a track record that later drops to a personal
  // best, when someone beats it, is not said again).
  for (const s of state.standings ?? []) {
    if (!s.record || s.best_ms === null) continue;
    const key = `record:${s.entrant}:${s.best_ms}`;
    if (voice.has(`${state.race_id}:${key}`)) continue;
    if (s.record === "track") {
      say(key, `New track record, ${name(s)}, ${lapTime(s.best_ms)}`);
      if (!quiet) showRecordBanner(`NEW TRACK RECORD — ${name(s)} ${lapTime(s.best_ms)}`);
    } else {
      say(key, `Personal best, ${name(s)}`);
    }
  }
}

/** Between frames: a timed race's clock running out, a green countdown ending. */
function tickCallouts() {
  const state = link.state;
  if (!state || state.race_id === null || seen.race !== state.race_id) return;
  if (state.mode === "timed" && state.phase === "running" && state.flag === "green" &&
      state.ends_ns && state.standings?.length) {
    const ms = link.clock.msUntil(state.ends_ns);
    if (ms !== null && ms <= 0) voice.say("Last lap", `${state.race_id}:lastlap`);
  }
  if (state.resume_ns && seen.caution !== null) {
    const ms = link.clock.msUntil(state.resume_ns);
    if (ms !== null && ms <= 0) voice.say("Green flag", `${state.race_id}:green:${seen.caution}`);
  }
}

let bannerTimer = null;
function showRecordBanner(text) {
  const el = $("record-banner");
  el.textContent = text;
  el.hidden = false;
  clearTimeout(bannerTimer);
  bannerTimer = setTimeout(() => { el.hidden = true; }, RECORD_BANNER_MS);
}

// The clock and the lights move between frames: redraw them on animation frames.
function tick() {
  renderClock($("clock-main"), $("clock-sub"), link.state, link.clock);
  tickPitTimers($("standings"), link.clock);
  tickHeatGrid();
  tickCallouts();
  const view = startLights(link.state, link.lights, link.clock);
  setLights(lightsEl, view);
  overlay.hidden = !view.show;
}

// Besides every animation frame, a timer at each planned light change (frames pause in
// background tabs and are throttled on some TVs).
const lightsOnTime = lightsTimer(tick, link);
link.addEventListener("state", () => { renderState(); lightsOnTime(); });
link.addEventListener("lights", lightsOnTime);
link.addEventListener("lap", (e) => flashRow($("standings"), e.detail.entrant));
renderState();
(function loop() {
  tick();
  requestAnimationFrame(loop);
})();
setInterval(tick, 250); // rAF stops in a hidden tab; the callouts and countdowns do not

// Track info (name, Wi-Fi) once the server answers; retried on each reconnect until then.
let trackLoaded = false;
async function loadTrack() {
  const track = await info();
  if (!track || trackLoaded) return;
  trackLoaded = true;
  if (track.track_name) $("track").textContent = track.track_name;
  if (track.wifi) {
    $("wifi-qr").src = track.wifi.qr_svg || "/api/wifi/qr.svg";
    $("wifi-ssid").textContent = track.wifi.ssid;
    $("wifi").hidden = false;
  }
}
link.addEventListener("connection", () => link.connected && !trackLoaded && loadTrack());
loadTrack();
