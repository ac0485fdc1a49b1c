// Driver view: pick your lane or car once, then your own numbers, huge; each lap is
// spoken and vibrated where the browser allows, and the screen is kept awake. Above them
// the flag as a full-width band, the phase, and laps or time to go; a flash when your
// best lap is a new personal best or track record.

import { api, info } from "./api.js";
import { mountBanner } from "./banner.js";
import { lightsMarkup, renderFlagBand, setLights } from "./board.js";
import { clockTime, entrantLabel, esc, lapTime, PHASE_TEXT } from "./format.js";
import { live } from "./live.js";
import { registerServiceWorker } from "./pwa.js";
import { lightsTimer, raceBest, startLights } from "./race.js";
import { load, persistent, save } from "./storage.js";
import { keepAwake, keepAwakeWhile } from "./wakelock.js";

const KEY = "pitwall.driver.choice"; // {"key": "lane"|"car", "n": 3}
const SOUND = "pitwall.driver.sound";
const $ = (id) => document.getElementById(id);
const link = live();
mountBanner(link);
registerServiceWorker();

let choice = load(KEY);
let sound = load(SOUND, true);
$("lights-box").innerHTML = lightsMarkup();
const lightsEl = $("lights-box").querySelector(".lights");

// --- picking --------------------------------------------------------------------------
async function showPicker() {
  $("picker").hidden = false;
  $("mine").hidden = true;
  $("storage-note").hidden = persistent;
  const [track, cars] = await Promise.all([info(), api("/api/cars").catch(() => [])]);
  const lanes = track?.lanes?.length ? track.lanes : [];
  const carIds = new Set(cars.map((c) => c.car_id).filter((id) => id !== null && id !== undefined));
  const state = link.state;
  if (state?.entrant === "car") for (const s of state.standings ?? []) carIds.add(s.entrant);
  const options = [
    ...lanes.map((n) => ({ key: "lane", n })),
    ...[...carIds].sort((a, b) => a - b).map((n) => ({ key: "car", n })),
  ];
  $("choices").replaceChildren(...options.map((option) => {
    const button = document.createElement("button");
    button.type = "button";
    button.textContent = entrantLabel(option.key, option.n);
    button.dataset.key = option.key;
    button.dataset.n = option.n;
    button.addEventListener("click", () => pick(option));
    return button;
  }));
  $("picker-hint").textContent = options.length
    ? "Pick your lane or your car. This phone remembers it."
    : "Type your car number (or ask the race director for your lane).";
}

$("car-form").addEventListener("submit", (event) => {
  event.preventDefault();
  const n = Number($("car-number").value);
  if (Number.isInteger(n) && n >= 0 && n <= 255) pick({ key: "car", n });
});
$("change").addEventListener("click", showPicker);

function pick(option) {
  choice = { key: option.key, n: option.n };
  save(KEY, choice);
  // This tap is the user gesture browsers want before speaking or vibrating.
  if (sound) speak("");
  keepAwake();
  showMine();
}

// --- my numbers -----------------------------------------------------------------------
function showMine() {
  $("picker").hidden = true;
  $("mine").hidden = false;
  render();
}

function myStanding() {
  const state = link.state;
  if (!choice || !state || state.race_id === null) return null;
  if (state.entrant && state.entrant !== choice.key) return null;
  return (state.standings ?? []).find((s) => s.entrant === choice.n) ?? null;
}

function render() {
  if (!choice) return;
  const state = link.state;
  const mine = myStanding();
  const label = entrantLabel(choice.key, choice.n);
  $("who").innerHTML = mine?.driver ? `${esc(mine.driver)}<small>${esc(label)}</small>` : esc(label);
  let notice = "";
  if (!state || state.race_id === null) notice = "No race on track";
  else if (state.entrant && state.entrant !== choice.key) {
    notice = `This race counts ${state.entrant}s: tap Change to pick your ${state.entrant}`;
  } else if (!mine) notice = "Not in this race yet: your first crossing will show here";
  $("notice").textContent = notice;
  $("notice").hidden = !notice;
  $("pos").textContent = mine ? `P${mine.position}` : "–";
  $("laps").textContent = mine ? String(mine.laps) : "–";
  $("last").textContent = mine && mine.last_ms !== null ? lapTime(mine.last_ms) : "–";
  $("best").textContent = mine && mine.best_ms !== null ? lapTime(mine.best_ms) : "–";
  $("best").classList.toggle("race-best", !!mine && mine.best_ms !== null && mine.best_ms === raceBest(state));
  for (const id of ["last", "best"]) $(id).classList.toggle("long", $(id).textContent.length > 6);
  const on = Boolean(state && state.race_id !== null);
  renderFlagBand($("flag-band"), on && !(state.entrant && state.entrant !== choice.key) ? state : null,
    { green: true });
  $("race-line").hidden = !on;
  $("phase").textContent = on ? PHASE_TEXT[state.phase] ?? state.phase : "";
  recordFlash(state, mine);
  tickToGo();
}

// --- laps or time to go ----------------------------------------------------------------
/** "5 laps to go", "Last lap", "2:31 to go" (timed: on the Pi's clock), or "". */
function toGo(state, mine) {
  if (!state || state.race_id === null) return "";
  const lapRace = state.laps && (state.mode === "laps" || state.mode === "endurance");
  const leader = state.standings?.[0];
  if (state.phase === "finishing") return mine?.finished ? "Flag taken" : "Last lap";
  if (state.phase === "ready" || state.phase === "starting") {
    if (lapRace) return `${state.laps} laps`;
    return state.duration_s ? clockTime(state.duration_s * 1000) : "";
  }
  if (state.phase !== "running" && state.phase !== "stopped") return "";
  if (lapRace) {
    const left = Math.max(0, state.laps - (leader?.laps ?? 0));
    return left === 1 ? "Last lap" : `${left} laps to go`;
  }
  if (state.ends_ns) {
    const ms = link.clock.msUntil(state.ends_ns);
    if (ms === null) return "";
    return ms > 0 ? `${clockTime(ms + 999)} to go` : "Last lap";
  }
  return "";
}

function tickToGo() {
  if (!choice) return;
  const text = toGo(link.state, myStanding());
  const el = $("togo");
  if (el.textContent !== text) el.textContent = text;
}

// --- a new personal best or track record on my best lap --------------------------------
const FLASH_MS = 8000;
let flashSeen = null; // {race, keys}: the record laps already seen in this race
let flashTimer = null;
function recordFlash(state, mine) {
  if (!state || state.race_id === null) return;
  const first = flashSeen?.race !== state.race_id;
  if (first) flashSeen = { race: state.race_id, keys: new Set() };
  if (!mine || !mine.record || mine.best_ms === null) return;
  const key = `${mine.entrant}:${mine.best_ms}`;
  if (flashSeen.keys.has(key)) return;
  flashSeen.keys.add(key);
  if (first) return; // already so when this phone opened: no flash for old news
  const el = $("record-flash");
  el.dataset.record = mine.record;
  el.textContent = mine.record === "track" ? "Track record!" : "PB!";
  el.hidden = false;
  const box = $("best-box");
  box.classList.remove("flash-record");
  void box.offsetWidth; // restart the animation
  box.classList.add("flash-record");
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => {
    el.hidden = true;
    box.classList.remove("flash-record");
  }, FLASH_MS);
}

// --- each lap: voice and vibration ------------------------------------------------------
function onLap(event) {
  const lap = event.detail;
  const state = link.state;
  if (!choice || lap.suspect || lap.entrant !== choice.n) return;
  if (state?.entrant && state.entrant !== choice.key) return;
  if (sound) speak(`Lap ${lap.lap}. ${lapTime(lap.lap_ms)}`);
  if (navigator.vibrate) {
    try {
      navigator.vibrate(150);
    } catch {
      // not allowed (no user gesture yet): silent
    }
  }
}

function speak(text) {
  if (!("speechSynthesis" in window)) return;
  const utterance = new SpeechSynthesisUtterance(text);
  utterance.rate = 1.1;
  speechSynthesis.cancel(); // never queue up behind an old lap
  speechSynthesis.speak(utterance);
}

function renderSound() {
  $("sound").textContent = sound ? "Voice on" : "Voice off";
  $("sound").setAttribute("aria-pressed", String(sound));
}
$("sound").addEventListener("click", () => {
  sound = !sound;
  save(SOUND, sound);
  renderSound();
  if (sound) speak("Sound on");
});
renderSound();

keepAwakeWhile(() => choice);

// --- live ---------------------------------------------------------------------------------
link.addEventListener("state", render);
link.addEventListener("lap", onLap);
const showLights = () => setLights(lightsEl, startLights(link.state, link.lights, link.clock));
const lightsOnTime = lightsTimer(showLights, link); // each lamp on its planned moment
link.addEventListener("state", lightsOnTime);
link.addEventListener("lights", lightsOnTime);
setInterval(() => { showLights(); tickToGo(); }, 100);
if (choice) {
  showMine();
  keepAwake();
} else {
  showPicker();
}
