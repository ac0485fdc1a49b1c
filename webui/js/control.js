// Race control: PIN login, drivers and cars, race set-up (endurance teams and pit rules
// too), start lights and flags, the endurance pit panel (pit in/out, driver changes,
// penalties), lap editing. Every action reports back in the feedback strip, with the API's own `detail`
// when something is refused.

import { api, ApiError, info, directorLogin, directorLogout } from "./api.js";
import { mountBanner } from "./banner.js";
import { renderClock, renderFlag, renderStandings, tickPitTimers } from "./board.js";
import { esc, PHASE_TEXT } from "./format.js";
import { renderPits, tickPits } from "./pits.js";
import { live } from "./live.js";
import { registerServiceWorker } from "./pwa.js";
import { initLapEditor, loadRaces } from "./lap_editor.js";

const $ = (id) => document.getElementById(id);
const link = live();
mountBanner(link);
registerServiceWorker();

let track = null;
let drivers = [];
let cars = [];

// --- feedback -------------------------------------------------------------------------------
function say(text, kind = "ok") {
  const msg = document.createElement("div");
  msg.className = `msg ${kind}`;
  msg.textContent = text;
  const box = $("feedback");
  box.prepend(msg);
  while (box.children.length > 2) box.lastElementChild.remove();
  msg.addEventListener("click", () => msg.remove());
  setTimeout(() => msg.remove(), kind === "ok" ? 5000 : 15000);
}

/** Run an API call for a button or form: disable it meanwhile, report the outcome. */
async function act(label, call, { control = null, done = null } = {}) {
  if (control) {
    control.disabled = true;
    control.classList.add("busy");
  }
  try {
    const result = await call();
    say(done ? done(result) : `${label}: done`, "ok");
    return result;
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) showLogin("Your session ended: log in again.");
    const code = err instanceof ApiError && err.status ? ` (${err.status})` : "";
    say(`${label} failed${code}: ${err.detail ?? err.message}`, "error");
    return undefined;
  } finally {
    if (control) {
      control.disabled = false;
      control.classList.remove("busy");
    }
  }
}

initLapEditor({ link, act, say });

// --- login ----------------------------------------------------------------------------------
function showLogin(note = "") {
  $("login").hidden = false;
  $("director").hidden = true;
  $("sections").hidden = true;
  $("logout").hidden = true;
  $("login-note").textContent = note;
  $("pin").focus();
}

async function showDirector() {
  $("login").hidden = true;
  $("director").hidden = false;
  $("sections").hidden = false;
  $("logout").hidden = false;
  await Promise.all([loadPeople(), loadRaces()]);
  if (!$("entrant-rows").children.length) fillEntrants();
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = event.submitter;
  const result = await act("Login", () => directorLogin($("pin").value),
    { control: button, done: () => "Logged in as race director" });
  $("pin").value = "";
  if (result) showDirector();
});

$("logout").addEventListener("click", async () => {
  await act("Log out", () => directorLogout(),
    { done: () => "Logged out" });
  showLogin();
});

// --- the current race -------------------------------------------------------------------------
function renderRace() {
  const state = link.state;
  renderStandings($("standings"), state);
  const has = state && state.race_id !== null;
  $("race-title").textContent = has ? `#${state.race_id} ${state.name || ""}` : "";
  $("phase").textContent = PHASE_TEXT[state?.phase ?? "idle"] ?? state?.phase;
  renderFlag($("flag"), state);
  const endurance = has && state.mode === "endurance";
  $("pits").hidden = !endurance;
  $("pits-link").hidden = !endurance;
  if (endurance) renderPits(state, act);
  renderActions(state);
  renderRefused(state);
  tick();
}

// Passes the lap service refused for this race (race/state's `refused` counts them; the
// list is read again only when that count or the race changes).
let refusedShown = null;
async function renderRefused(state) {
  const count = state && state.race_id !== null ? state.refused ?? 0 : 0;
  $("refused").hidden = count === 0;
  if (count === 0) {
    refusedShown = null;
    return;
  }
  const key = `${state.race_id}:${count}`;
  if (key === refusedShown) return;
  refusedShown = key;
  $("refused-count").textContent = `(${count})`;
  const rows = await api(`/api/races/${state.race_id}/refused?limit=20`).catch(() => null);
  if (!rows) {
    refusedShown = null; // try again with the next state
    return;
  }
  // Stamps as race time when they are near the race's green; else as sent (a wild stamp).
  const stamp = (t) => state.start_ns && Math.abs(t - state.start_ns) < 1e15
    ? `${((t - state.start_ns) / 1e9).toFixed(3)} s` : `${t}`;
  $("refused-rows").innerHTML = rows.map((r) => `<tr data-refused="${r.id}">
    <td class="num">${r.lane}</td><td class="num">${r.car ?? "–"}</td>
    <td class="num">${esc(stamp(r.t_ns))}</td><td>${esc(r.source)}</td>
    <td>${esc(r.reason)}</td></tr>`).join("");
}

/**
 * The commands the lap service would accept now (core/race.py's checks), so the page
 * never offers Start during a race or Green without a flag out.
 */
function allowedActions(state) {
  if (!state || state.race_id === null) return [];
  if (state.restart_by) return ["start", "abort"]; // a void start: the lights again
  const caution = state.flag === "yellow" || state.flag === "red";
  switch (state.phase) {
    case "ready": return ["start", "abort"];
    case "starting": return ["abort"];
    case "running": case "finishing": case "stopped":
      if (!caution) return ["yellow", "red", "finish", "abort"];
      return [state.resume_ns ? "yellow" : "green", ...(state.flag === "yellow" ? ["red"] : []),
        "finish", "abort"];
    default: return []; // finished, aborted: set up the next race
  }
}

const ACTIONS_HINT = {
  none: "No race is set up: set one up below.",
  finished: "The race is finished: set up the next one below.",
  aborted: "The race was aborted: set up the next one below.",
  starting: "The lights are running.",
};

function renderActions(state) {
  const allowed = allowedActions(state);
  for (const button of $("actions").querySelectorAll("button[data-action]")) {
    button.hidden = !allowed.includes(button.dataset.action);
  }
  const phase = state && state.race_id !== null ? state.phase : "none";
  const hint = ACTIONS_HINT[phase] ?? "";
  $("actions-hint").textContent = hint;
  $("actions-hint").hidden = !hint;
}

function tick() {
  renderClock($("clock-main"), $("clock-sub"), link.state, link.clock);
  tickPitTimers($("standings"), link.clock);
  if (!$("pits").hidden) tickPits(link.clock);
}

const ACTION_TEXT = {
  start: "Start lights", yellow: "Yellow flag", green: "Green flag", red: "Red flag",
  finish: "Finish", abort: "Abort",
};
$("actions").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const action = button.dataset.action;
  if (action === "abort" && !confirm("Abort this race? Its results are discarded.")) return;
  await act(ACTION_TEXT[action], () => api(`/api/races/current/${action}`, { method: "POST" }),
    { control: button, done: (r) => `${ACTION_TEXT[action]}: done (race #${r?.race_id})` });
});

// --- setup ----------------------------------------------------------------------------------
const form = $("setup-form");

function showModeFields() {
  const mode = form.elements.mode.value;
  const shown = [mode, mode === "endurance" ? `endurance-${form.elements.ends_by.value}` : ""];
  form.querySelectorAll("[data-for-mode]").forEach((el) => {
    el.hidden = !el.dataset.forMode.split(" ").some((m) => shown.includes(m));
  });
  form.classList.toggle("is-endurance", mode === "endurance");
  $("entrant-name-head").textContent = mode === "endurance" ? "Team" : "Driver";
}
form.elements.mode.addEventListener("change", showModeFields);
form.elements.ends_by.addEventListener("change", showModeFields);
form.elements.entrant.addEventListener("change", () => fillEntrants());
showModeFields();

function entrantRow(number = "", driver = "") {
  const row = document.createElement("tr");
  row.innerHTML = `<td><input type="number" min="0" max="255" class="entrant-n" required
      aria-label="Lane or car number" value="${esc(number)}"></td>
    <td><input class="entrant-driver" list="driver-names" maxlength="60"
      aria-label="Driver or team" value="${esc(driver)}"></td>
    <td class="endurance-only"><input class="entrant-drivers" maxlength="500"
      aria-label="The team's drivers, in driving order, separated by commas" placeholder="Ann, Bob"></td>
    <td class="endurance-only"><input class="entrant-kart" type="number" min="0" max="255"
      aria-label="Starting kart (kart pool)" placeholder="–"></td>
    <td><button type="button" class="remove" aria-label="Remove entrant">✕</button></td>`;
  row.querySelector(".remove").addEventListener("click", () => row.remove());
  return row;
}

$("add-entrant").addEventListener("click", () => $("entrant-rows").append(entrantRow()));
$("fill-entrants").addEventListener("click", () => fillEntrants());

/** One row per lane (analog) or per registered car (digital), with their usual drivers. */
let fillGeneration = 0;
async function fillEntrants() {
  const generation = ++fillGeneration;
  const key = form.elements.entrant.value;
  $("entrant-key-head").textContent = key === "lane" ? "Lane" : "Car ID";
  $("entrant-rows").setAttribute("aria-busy", "true");
  const assignments = await api("/api/assignments").catch(() => []);
  if (generation !== fillGeneration) return; // a newer fill (the key changed again) wins
  const driverName = (id) => drivers.find((d) => d.id === id)?.name ?? "";
  const usual = (n) => driverName(assignments.find((a) => a[key] === n)?.driver_id);
  let rows;
  if (key === "lane") {
    rows = (track?.lanes ?? []).map((lane) => entrantRow(lane, usual(lane)));
  } else {
    rows = cars.filter((c) => c.car_id !== null && c.car_id !== undefined)
      .map((c) => entrantRow(c.car_id, usual(c.car_id) || driverName(c.driver_id)));
  }
  let note = "";
  if (!rows.length) {
    // Nothing registered: offer what the sensors saw crossing in the last minutes.
    const seen = await api("/api/track/seen").catch(() => null);
    if (generation !== fillGeneration) return;
    const numbers = (key === "lane" ? seen?.lanes : seen?.cars) ?? [];
    rows = numbers.map((n) => entrantRow(n, usual(n)));
    note = rows.length
      ? `${rows.length} ${key === "lane" ? "lane" : "car"}${rows.length === 1 ? "" : "s"} seen crossing: add the drivers' names`
      : key === "lane"
        ? "No lanes configured and none seen crossing: add the entrants by hand"
        : "No cars registered and none seen crossing in the last ten minutes: add the entrants by hand, or drive each car over the line and fill again";
  }
  $("entrant-rows").replaceChildren(...rows);
  $("entrant-rows").setAttribute("aria-busy", "false");
  $("fill-note").textContent = note;
  $("fill-note").hidden = !note;
}

form.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = form.elements;
  const key = f.entrant.value;
  const body = {
    mode: f.mode.value,
    entrant: key,
    first_crossing: f.first_crossing.value,
    min_lap_ms: Math.round(Number(f.min_lap_s.value) * 1000),
    name: f.name.value.trim(),
    entrants: [...$("entrant-rows").children].map((row) => entrantSpec(row, key, f.mode.value)),
  };
  const byLaps = body.mode === "laps" || (body.mode === "endurance" && f.ends_by.value === "laps");
  if (byLaps) body.laps = Number(f.laps.value);
  else if (body.mode !== "practice") body.duration_s = Math.round(Number(f.minutes.value) * 60);
  if (body.mode === "endurance") Object.assign(body, enduranceSetup(f));
  await act("Set up race", () => api("/api/races", { method: "POST", body }),
    { control: event.submitter, done: (r) => `Race #${r.race_id} is set up: start the lights when ready` });
  loadRaces();
});

/** One entrant of the set-up; in endurance a team with its drivers and starting kart. */
function entrantSpec(row, key, mode) {
  const spec = {
    [key]: Number(row.querySelector(".entrant-n").value),
    driver: row.querySelector(".entrant-driver").value.trim(),
  };
  if (mode !== "endurance") return spec;
  spec.drivers = row.querySelector(".entrant-drivers").value.split(",")
    .map((d) => d.trim()).filter(Boolean);
  const kart = row.querySelector(".entrant-kart").value;
  if (kart !== "") spec.kart = Number(kart);
  return spec;
}

/** The pit rules and spare karts; an empty field is left out (the track's setting). */
function enduranceSetup(f) {
  const number = (name, scale = 1) => (f[name].value === "" ? undefined
    : Math.round(Number(f[name].value) * scale));
  const pit = {
    required_stops: number("required_stops"),
    min_pit_s: f.min_pit_s.value === "" ? undefined : Number(f.min_pit_s.value),
    min_stint_laps: number("min_stint_laps"),
    max_stint_laps: number("max_stint_laps"),
    min_stint_s: number("min_stint_min", 60),
    max_stint_s: number("max_stint_min", 60),
    driver_change: f.driver_change.value || undefined,
    penalty_s: f.penalty_s.value === "" ? undefined : Number(f.penalty_s.value),
  };
  const spare = f.spare_karts.value.split(/[\s,]+/).filter(Boolean).map(Number);
  return { pit, spare_karts: spare };
}

let shownRace = null;
link.addEventListener("state", () => {
  renderRace();
  // A new race, or a new phase of this one: refresh the race list (its labels show phases).
  const id = `${link.state?.race_id ?? ""}:${link.state?.phase ?? ""}`;
  if (id !== shownRace) {
    shownRace = id;
    if (!$("director").hidden) loadRaces();
  }
});

// --- heat rotation ---------------------------------------------------------------------------
const heatsForm = $("heats-form");

function renderHeatLanes() {
  const lanes = track?.lanes ?? [];
  $("heat-lanes").innerHTML = lanes.map((n) => `<label class="inline"><input type="checkbox"
      name="lane" value="${n}" checked> ${n}</label>`).join(" ") ||
    '<span class="muted">the track\'s lanes</span>';
}

function heatDrivers() {
  return heatsForm.elements.drivers.value.split("\n").map((d) => d.trim()).filter(Boolean);
}

/** "6 drivers on 2 lanes: 6 heats, 2 sit out each": before the director submits. */
function heatsPlanText() {
  const drivers = heatDrivers().length;
  const lanes = [...heatsForm.querySelectorAll("input[name=lane]:checked")].length ||
    (track?.lanes ?? []).length;
  if (drivers < 2) return "Enter at least two drivers.";
  if (lanes < 2) return "Choose at least two lanes.";
  const heats = Math.max(drivers, lanes);
  const out = Math.max(0, drivers - lanes);
  return `${drivers} drivers on ${lanes} lanes: ${heats} heats` +
    (out ? `, ${out} sit${out === 1 ? "s" : ""} out each` : "");
}
heatsForm.addEventListener("input", () => { $("heats-plan").textContent = heatsPlanText(); });

heatsForm.addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = heatsForm.elements;
  const lanes = [...heatsForm.querySelectorAll("input[name=lane]:checked")].map((x) => Number(x.value));
  const body = {
    name: f.name.value.trim(),
    drivers: heatDrivers(),
    duration_s: Math.round(Number(f.minutes.value) * 60),
    pause_s: Number(f.pause_s.value),
    min_lap_ms: Math.round(Number(f.min_lap_s.value) * 1000),
    car_class: f.car_class.value.trim(),
  };
  if (lanes.length) body.lanes = lanes;
  await act("Set up the heats", () => api("/api/events", { method: "POST", body }),
    { control: event.submitter, done: (r) => `Heat 1 is set up (race #${r.race_id}): start the lights when the drivers are ready` });
});

// --- drivers and cars ----------------------------------------------------------------------------
async function loadPeople() {
  try {
    [drivers, cars] = await Promise.all([api("/api/drivers"), api("/api/cars")]);
  } catch (err) {
    say(`Loading drivers and cars failed: ${err.detail ?? err.message}`, "error");
    return;
  }
  $("driver-names").innerHTML = drivers.map((d) => `<option value="${esc(d.name)}">`).join("");
  $("car-driver").innerHTML = '<option value="">(no driver)</option>' +
    drivers.map((d) => `<option value="${d.id}">${esc(d.name)}</option>`).join("");
  $("drivers").innerHTML = drivers.map((d) => `<li data-id="${d.id}">
      <span class="swatch" style="background:${esc(d.color || "transparent")}"></span>
      <span class="grow">${esc(d.name)}</span>
      <button type="button" data-delete="drivers">Delete</button></li>`).join("") ||
    '<li class="muted">No drivers yet</li>';
  const nameOf = (id) => drivers.find((d) => d.id === id)?.name ?? "";
  $("cars").innerHTML = cars.map((c) => `<li data-id="${c.id}">
      <span class="grow">${esc(c.name)} <span class="muted">${c.car_id !== null ? `ID ${c.car_id}` : "no ID"}
      ${c.driver_id ? `· ${esc(nameOf(c.driver_id))}` : ""}</span></span>
      <button type="button" data-delete="cars">Delete</button></li>`).join("") ||
    '<li class="muted">No cars yet</li>';
}

$("people").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-delete]");
  if (!button) return;
  const kind = button.dataset.delete;
  const id = button.closest("li").dataset.id;
  const name = button.closest("li").querySelector(".grow").textContent.trim().split("\n")[0];
  await act(`Delete ${name}`, () => api(`/api/${kind}/${id}`, { method: "DELETE" }),
    { control: button, done: () => `Deleted ${name}` });
  loadPeople();
});

$("driver-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = event.target.elements;
  const name = f.name.value.trim();
  const ok = await act(`Add driver ${name}`, () => api("/api/drivers", {
    method: "POST", body: { name, color: f.color.value },
  }), { control: event.submitter, done: () => `Added driver ${name}` });
  if (ok) event.target.reset();
  loadPeople();
});

$("car-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = event.target.elements;
  const name = f.name.value.trim();
  const body = {
    name,
    car_id: f.car_id.value === "" ? null : Number(f.car_id.value),
    driver_id: f.driver_id.value === "" ? null : Number(f.driver_id.value),
  };
  const ok = await act(`Add car ${name}`, () => api("/api/cars", { method: "POST", body }),
    { control: event.submitter, done: () => `Added car ${name}` });
  if (ok) event.target.reset();
  loadPeople();
});

// --- start --------------------------------------------------------------------------------------
renderRace();
setInterval(tick, 250);
(async () => {
  track = await info();
  // Key the set-up as the sensors report (decoder or IR lanes: cars; break-beam: lanes).
  if (track?.entrant_default && form.elements.entrant.querySelector(`option[value="${track.entrant_default}"]`)) {
    form.elements.entrant.value = track.entrant_default;
  }
  $("demo-note").hidden = !track?.demo_director;
  renderHeatLanes();
  if (track && track.director_pin_set === false) {
    showLogin("No director PIN is set on this track: set director_pin in the settings.");
    return;
  }
  const me = await api("/api/auth/me").catch(() => null);
  if (me?.director) showDirector();
  else showLogin(track ? "" : "The server is not answering: check the Wi-Fi.");
})();
