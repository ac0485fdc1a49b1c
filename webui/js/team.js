// Team strategy (endurance), for a team's phone: pick your team once (or open
// team.html#entrant=3), then the stint at the wheel, the pit window, the stops, the
// position now and after everyone's stops, and a driver-change call: a banner, a
// vibration and a voice when the pit window is about to close or the team enters the pit.

import { api } from "./api.js";
import { mountBanner } from "./banner.js";
import { clockTime, entrantLabel, esc, lapTime, PACE_TEXT, seconds } from "./format.js";
import { live } from "./live.js";
import { registerServiceWorker } from "./pwa.js";
import { load, persistent, save } from "./storage.js";
import { keepAwake, keepAwakeWhile } from "./wakelock.js";

const KEY = "pitwall.team.choice"; // the team's entrant number
const SOUND = "pitwall.team.sound";
const CALL_LAPS = 2; // call the stop when the window closes within this many laps…
const CALL_MS = 60_000; // …or this much time
const UNDER_WAY = new Set(["running", "finishing", "stopped"]);
const $ = (id) => document.getElementById(id);
const link = live();
mountBanner(link);
registerServiceWorker();

let choice = fromHash() ?? load(KEY);
let sound = load(SOUND, true);
let config = null; // {race_id, entrants: [{car|lane, driver (team), drivers, kart}]}
let lastCall = null; // the call last announced, so each is spoken once
const onTrack = new Map(); // entrant -> the driver last seen on track (not in the pit)

function fromHash() {
  const n = Number(new URLSearchParams(location.hash.slice(1)).get("entrant"));
  return location.hash.includes("entrant=") && Number.isInteger(n) && n >= 0 && n <= 255 ? n : null;
}

// --- the race's teams (their drivers come from the set-up) ----------------------------------
let loading = null;
async function loadConfig() {
  const id = link.state?.race_id ?? null;
  if (id === null || config?.race_id === id || loading === id) return;
  loading = id;
  try {
    const detail = await api(`/api/races/${id}`);
    config = { race_id: id, key: detail.config.entrant, entrants: detail.config.entrants };
  } catch {
    config = null; // retried on the next state frame
  } finally {
    loading = null;
  }
  render();
}

function teams() {
  const state = link.state;
  const rows = (state?.standings ?? []).map((s) => ({ n: s.entrant, name: s.driver }));
  if (rows.length) return rows.sort((a, b) => a.n - b.n);
  const key = config?.key ?? "car";
  return (config?.entrants ?? []).map((e) => ({ n: e[key], name: e.driver }));
}

function teamDrivers(n) {
  const key = config?.key ?? link.state?.entrant ?? "car";
  return config?.entrants?.find((e) => e[key] === n)?.drivers ?? [];
}

// --- picking -------------------------------------------------------------------------------
function showPicker() {
  $("picker").hidden = false;
  $("mine").hidden = true;
  $("storage-note").hidden = persistent;
  renderPicker();
}

function renderPicker() {
  if ($("picker").hidden) return;
  const state = link.state;
  const list = teams();
  const key = state?.entrant ?? config?.key ?? "car";
  $("choices").replaceChildren(...list.map((t) => {
    const button = document.createElement("button");
    button.type = "button";
    button.dataset.n = t.n;
    button.innerHTML = `${esc(t.name || entrantLabel(key, t.n))}<small>${esc(entrantLabel(key, t.n))}</small>`;
    button.addEventListener("click", () => pick(t.n));
    return button;
  }));
  $("picker-hint").textContent = list.length ? "Pick your team. This phone remembers it."
    : state?.mode && state.mode !== "endurance" ? "The race on track is not an endurance race."
      : "No teams yet: the race director sets up an endurance race first.";
}

function pick(n) {
  choice = n;
  save(KEY, n);
  history.replaceState(null, "", `#entrant=${n}`);
  lastCall = null;
  if (sound) speak(""); // this tap is the gesture browsers want before speaking
  keepAwake();
  showMine();
}

$("change").addEventListener("click", showPicker);
window.addEventListener("hashchange", () => {
  const n = fromHash();
  if (n !== null && n !== choice) pick(n);
});

// --- my team ----------------------------------------------------------------------------------
function showMine() {
  $("picker").hidden = true;
  $("mine").hidden = false;
  render();
}

function mine() {
  const state = link.state;
  if (choice === null || !state || state.race_id === null) return null;
  return (state.standings ?? []).find((s) => s.entrant === choice) ?? null;
}

/** The driver who takes over next: the one named in the pit, else the team's rotation. */
function nextDriver(s) {
  const drivers = teamDrivers(s.entrant);
  const was = onTrack.get(s.entrant) ?? s.stint?.driver ?? "";
  if (s.pit?.in_pit && s.stint?.driver && s.stint.driver !== was) return s.stint.driver;
  if (drivers.length < 2) return drivers.length ? drivers[0] : "";
  const i = drivers.indexOf(was);
  return drivers[(i + 1) % drivers.length];
}

/** What the pit window says: laps and time to its opening and closing (null: no such rule). */
function windowNow(s, now) {
  const st = s.stint ?? {};
  const lapsTo = (lap) => (lap === null || lap === undefined ? null : lap - s.laps);
  const msTo = (ns) => (ns === null || ns === undefined || now === null ? null : (ns - now) / 1e6);
  return {
    opensLaps: lapsTo(st.opens_lap), opensMs: msTo(st.opens_ns),
    closesLaps: lapsTo(st.closes_lap), closesMs: msTo(st.closes_ns),
  };
}

/** The call to make now, or null: {id, title, detail, spoken}. */
function callFor(s, state, now) {
  if (!s?.pit || !UNDER_WAY.has(state.phase) || s.finished) return null;
  const next = nextDriver(s);
  const change = next ? `Driver change: ${next}` : "";
  if (s.pit.in_pit) {
    return { id: `pit-${s.pit.stops}`, kind: "pit", title: "In the pit",
      detail: change || "Pit stop", spoken: `Pit stop. ${next ? `${next} drives next.` : ""}` };
  }
  const w = windowNow(s, now);
  const lapsSoon = w.closesLaps !== null && w.closesLaps <= CALL_LAPS;
  const timeSoon = w.closesMs !== null && w.closesMs <= CALL_MS;
  if (!lapsSoon && !timeSoon) return null;
  const over = (w.closesLaps !== null && w.closesLaps <= 0) || (w.closesMs !== null && w.closesMs <= 0);
  let when;
  if (over) when = "now: the stint is at its maximum";
  else if (lapsSoon) when = `within ${w.closesLaps} lap${w.closesLaps === 1 ? "" : "s"}`;
  else when = `within ${clockTime(w.closesMs)}`;
  return { id: `window-${s.stint.no}`, kind: "window", title: `Box ${when}`,
    detail: change || "Pit window closing",
    spoken: `Box, box. ${over ? "Pit now." : `Pit ${when}.`} ${next ? `${next} drives next.` : ""}` };
}

function render() {
  renderPicker();
  if (choice === null || $("mine").hidden) return;
  const state = link.state;
  const s = mine();
  if (s && !s.pit?.in_pit && s.stint?.driver) onTrack.set(s.entrant, s.stint.driver);
  const key = state?.entrant ?? config?.key ?? "car";
  const label = entrantLabel(key, choice);
  const name = s?.driver || teams().find((t) => t.n === choice)?.name || "";
  $("who").innerHTML = name ? `${esc(name)}<small>${esc(label)}</small>` : esc(label);

  let notice = "";
  if (!state || state.race_id === null) notice = "No race on track";
  else if (state.mode !== "endurance") notice = "The race on track is not an endurance race: the team view is for endurance races";
  else if (!s?.pit) notice = state.phase === "ready" || state.phase === "starting"
    ? "Waiting for the start" : "Not in this race yet: your first crossing will show here";
  $("notice").textContent = notice;
  $("notice").hidden = !notice;
  const shown = Boolean(s?.pit) && state.mode === "endurance";
  $("panels").hidden = !shown;
  if (!shown) {
    setCall(null);
    return;
  }

  $("pos").textContent = `P${s.position}`;
  $("projected").textContent = s.projected ? `P${s.projected}` : "–";
  $("projected").dataset.trend = !s.projected || s.projected === s.position ? "same"
    : s.projected < s.position ? "up" : "down";
  $("laps").textContent = String(s.laps);
  const st = s.stint ?? {};
  $("stint-no").textContent = st.no ? String(st.no) : "";
  $("stint-driver").textContent = st.driver || "–";
  $("kart").hidden = s.kart === null || s.kart === undefined;
  $("kart").textContent = s.kart !== null && s.kart !== undefined ? `kart ${s.kart}` : "";
  $("stint-laps").textContent = String(st.laps ?? "–");
  $("stint-avg").textContent = lapTime(st.avg_ms) || "–";
  $("stint-best").textContent = lapTime(st.best_ms) || "–";
  const pace = s.pace ?? "unknown";
  $("pace").dataset.pace = pace;
  $("pace").textContent = `pace ${PACE_TEXT[pace] ?? pace}`;

  const pit = s.pit;
  $("stops").textContent = pit.required ? `${pit.stops} / ${pit.required}` : String(pit.stops);
  $("stops").classList.toggle("owed", pit.required > pit.stops);
  $("last-stop").textContent = pit.last_ms !== null ? seconds(pit.last_ms) : "–";
  $("pit-loss").textContent = pit.loss_ms !== null ? `+${seconds(pit.loss_ms)}` : "–";
  $("next-driver").textContent = nextDriver(s) || "–";
  $("good-kart-row").hidden = state.good_kart === null || state.good_kart === undefined;
  if (!$("good-kart-row").hidden) $("good-kart").textContent = `${Math.round(state.good_kart * 100)} %`;
  const r = state.pit_rules;
  $("rules").textContent = r ? rulesText(r) : "";
  tick();
}

function rulesText(r) {
  const parts = [];
  if (r.required_stops) parts.push(`${r.required_stops} stop${r.required_stops === 1 ? "" : "s"} required`);
  if (r.min_pit_ms) parts.push(`stops of ${seconds(r.min_pit_ms)} at least`);
  if (r.min_stint_laps || r.max_stint_laps) parts.push(`stints of ${r.min_stint_laps || 0}–${r.max_stint_laps || "∞"} laps`);
  if (r.min_stint_s || r.max_stint_s) {
    parts.push(`stints of ${clockTime((r.min_stint_s || 0) * 1000)}–${r.max_stint_s ? clockTime(r.max_stint_s * 1000) : "∞"}`);
  }
  if (r.driver_change === "every_stop") parts.push("driver change at every stop");
  return parts.length ? `Rules: ${parts.join(" · ")}.` : "";
}

/** Whatever moves with the clock: stint time, time left, the window, time in the pit. */
function tick() {
  const s = mine();
  const state = link.state;
  if (!s?.pit || state?.mode !== "endurance" || $("mine").hidden) return;
  const now = link.clock.piNowNs();
  const st = s.stint ?? {};
  const until = st.end_ns ?? now;
  setText("stint-time", until !== null && st.start_ns ? clockTime((until - st.start_ns) / 1e6) : "–");
  const w = windowNow(s, now);
  const left = [];
  if (w.closesLaps !== null) left.push(`${Math.max(0, w.closesLaps)} lap${w.closesLaps === 1 ? "" : "s"}`);
  if (w.closesMs !== null) left.push(clockTime(Math.max(0, w.closesMs)));
  setText("stint-left", s.pit.in_pit ? "in the pit" : left.join(" · ") || "no maximum");
  const inPit = s.pit.in_pit; // the window belongs to the next stint: none while stopped
  setText("window-opens", inPit ? "–" : windowText(s.stint?.opens_lap, w.opensLaps, w.opensMs, "open", "any time"));
  setText("window-closes", inPit ? "–" : windowText(s.stint?.closes_lap, w.closesLaps, w.closesMs, "closed", "no limit"));
  let windowState = "";
  const hasRule = w.opensLaps !== null || w.opensMs !== null || w.closesLaps !== null || w.closesMs !== null;
  if (s.pit.in_pit) windowState = "in the pit";
  else if (hasRule) {
    const closed = (w.closesLaps !== null && w.closesLaps <= 0) || (w.closesMs !== null && w.closesMs <= 0);
    const notYet = (w.opensLaps !== null && w.opensLaps > 0) || (w.opensMs !== null && w.opensMs > 0);
    windowState = closed ? "closed" : notYet ? "not open yet" : "open";
  }
  setText("window-state", windowState);
  $("window-state").dataset.state = windowState.replace(/ /g, "-");
  setText("in-pit", s.pit.in_pit && s.pit.since_ns && now !== null
    ? clockTime((now - s.pit.since_ns) / 1e6) : "no");
  setCall(callFor(s, state, now));
}

function windowText(lap, laps, ms, past, none) {
  const parts = [];
  if (lap !== null && lap !== undefined) {
    parts.push(laps > 0 ? `lap ${lap} (in ${laps})` : `lap ${lap} (${past})`);
  }
  if (ms !== null) parts.push(ms > 0 ? `in ${clockTime(ms)}` : past);
  return parts.join(" · ") || none;
}

function setText(id, text) {
  const el = $(id);
  if (el.textContent !== text) el.textContent = text;
}

// --- the driver-change call ------------------------------------------------------------------
function setCall(call) {
  const el = $("call");
  el.hidden = !call;
  if (!call) return;
  el.dataset.kind = call.kind;
  setText("call-title", call.title);
  setText("call-detail", call.detail);
  if (lastCall === call.id) return;
  lastCall = call.id; // announced once; the banner stays while the call holds
  buzz();
  if (sound) speak(call.spoken);
}

function buzz() {
  if (typeof navigator.vibrate !== "function") return;
  try {
    navigator.vibrate([300, 120, 300, 120, 300]);
  } catch {
    // not allowed (no user gesture yet): the banner still shows
  }
}

function speak(text) {
  if (!("speechSynthesis" in window) || typeof SpeechSynthesisUtterance !== "function") return;
  try {
    const utterance = new SpeechSynthesisUtterance(text);
    utterance.rate = 1.05;
    speechSynthesis.cancel(); // the newest call, never a queue of old ones
    speechSynthesis.speak(utterance);
  } catch {
    // no voice available: the banner and the vibration still tell
  }
}

function renderSound() {
  $("sound").textContent = sound ? "Voice" : "Muted";
  $("sound").title = sound ? "Voice on: tap to mute" : "Voice off: tap to speak the calls";
  $("sound").setAttribute("aria-pressed", String(sound));
}
$("sound").addEventListener("click", () => {
  sound = !sound;
  save(SOUND, sound);
  renderSound();
  if (sound) speak("Voice on");
  else if ("speechSynthesis" in window) speechSynthesis.cancel();
});
renderSound();

keepAwakeWhile(() => choice !== null);

// --- live ------------------------------------------------------------------------------------
link.addEventListener("state", () => {
  loadConfig();
  render();
});
setInterval(tick, 250);
if (choice !== null) {
  if (fromHash() !== null) save(KEY, choice);
  showMine();
  keepAwake();
} else {
  showPicker();
}
loadConfig();
