// The standings table, shared by the home page and the TV board. Rows are rebuilt from
// each state frame (a few dozen cells); the stylesheet fixes column widths and uses
// tabular numerals, so nothing shifts when the numbers change.

import { clockTime, entrantLabel, esc, FLAG_TEXT, gap, lapTime, PACE_TEXT } from "./format.js";
import { raceBest, raceClock } from "./race.js";

// The flag badge: its colour comes from data-flag in the stylesheet.
export function renderFlag(el, state) {
  const flag = state?.flag ?? "none";
  el.dataset.flag = flag;
  el.textContent = FLAG_TEXT[flag] ?? flag;
}

// The race clock (or laps to go) in two lines; written only when the text changes, since
// it is redrawn many times a second.
export function renderClock(mainEl, subEl, state, clock) {
  const { main, sub } = raceClock(state, clock);
  if (mainEl.textContent !== main) mainEl.textContent = main;
  if (subEl.textContent !== sub) subEl.textContent = sub;
}

/**
 * The standings. `columns`: "full" (TV, race control) or "compact" (phones); `marks`:
 * a PB / TR tag before a best lap that is a new personal best or track record (TV).
 */
export function renderStandings(tbody, state, { columns = "full", marks = false } = {}) {
  const standings = state?.standings ?? [];
  // Endurance races get their own columns on the full board (TV, race control).
  const endurance = columns === "full" && state?.mode === "endurance";
  setBoardHead(tbody.closest("table"), endurance);
  if (!state || state.race_id === null || standings.length === 0) {
    const span = endurance ? ENDURANCE_COLUMNS : columns === "full" ? 6 : 5;
    const text = state && state.race_id !== null ? "Waiting for the first crossing" : "No race on track";
    tbody.innerHTML = `<tr class="empty"><td colspan="${span}">${text}</td></tr>`;
    return;
  }
  const best = raceBest(state);
  tbody.innerHTML = standings.map((s) => {
    const label = entrantLabel(state.entrant, s.entrant);
    const driver = s.driver || label;
    const tags = [
      s.finished ? '<span class="tag fin" title="Finished">FIN</span>' : "",
      s.jump_start ? jumpTag(s) : "",
    ].join("");
    const bestClass = best !== null && s.best_ms === best ? "num best race-best" : "num best";
    if (endurance) return enduranceRow(state, s, label, tags, bestClass);
    return `<tr data-entrant="${s.entrant}">
      <td class="num pos">${s.position}</td>
      <td class="who"><span class="driver">${esc(driver)}</span>${tags}
        <span class="entrant">${s.driver ? esc(label) : ""}</span></td>
      <td class="num laps">${s.laps}</td>
      <td class="num last">${lapTime(s.last_ms)}</td>
      <td class="${bestClass}">${marks ? recordTag(s) : ""}${lapTime(s.best_ms)}</td>
      ${columns === "full" ? `<td class="num gap">${gap(s)}</td>` : ""}
    </tr>`;
  }).join("");
}

/** A new track record or personal best on this standing's best lap, as a small tag. */
export function recordTag(s) {
  if (s.record === "track") return '<span class="tag rec" data-record="track" title="New track record">TR</span>';
  if (s.record === "pb") return '<span class="tag rec" data-record="pb" title="New personal best">PB</span>';
  return "";
}

// --- club nights: flag band, heats, records -------------------------------------------
export const RACES = new Set(["laps", "timed", "endurance"]); // modes with a winner

const FLAG_BAND_TEXT = {
  green: "Green flag",
  yellow: "Yellow flag",
  red: "Red flag — race stopped",
  chequered: "Chequered flag",
};

/**
 * The full-width flag band: shown under yellow, red and chequered (and green when asked,
 * on the driver's phone). Sets data-flag on the band (its colour, in the stylesheet).
 */
export function renderFlagBand(el, state, { green = false } = {}) {
  const flag = state && state.race_id !== null ? state.flag ?? "none" : "none";
  const show = ["yellow", "red", "chequered"].includes(flag) || (green && flag === "green");
  let text = FLAG_BAND_TEXT[flag] ?? "";
  const leader = state?.standings?.[0];
  if (flag === "chequered" && leader?.finished && RACES.has(state.mode)) {
    text = `${text} — ${leader.driver || entrantLabel(state.entrant, leader.entrant)} wins`;
  }
  if (el.dataset.flag !== flag) el.dataset.flag = flag;
  const textEl = el.querySelector(".text") ?? el;
  if (textEl.textContent !== text) textEl.textContent = text;
  el.hidden = !show;
}

/** "Heat 2/6" while the race is a heat of an event, else "". */
export function heatLabel(state) {
  const ev = state?.event;
  return ev ? `Heat ${ev.heat}/${ev.heats}` : "";
}

/**
 * The heat to show on the grid panel, or null: this heat before it starts (ready, lights),
 * the next one between heats (with when its lights begin, on the Pi's clock).
 * {heat, heats, grid: [{lane, driver}], sittingOut: [names], startNs: int|null}
 */
export function heatGrid(state) {
  const ev = state?.event;
  if (!ev) return null;
  if (state.phase === "ready" || state.phase === "starting") {
    return { heat: ev.heat, heats: ev.heats, grid: ev.grid, sittingOut: ev.sitting_out,
      startNs: null };
  }
  if (state.phase === "finished" && ev.next_grid && ev.next_start_ns !== null &&
      ev.next_start_ns !== undefined) {
    const racing = new Set(ev.next_grid.map((g) => g.driver));
    const everyone = [...ev.grid.map((g) => g.driver), ...ev.sitting_out];
    return { heat: ev.heat + 1, heats: ev.heats, grid: ev.next_grid,
      sittingOut: everyone.filter((d) => !racing.has(d)), startNs: ev.next_start_ns };
  }
  return null;
}

/** "Lane 1: Ann · Lane 2: Bob" */
export function gridText(grid) {
  return grid.map((g) => `Lane ${g.lane}: ${g.driver}`).join(" · ");
}

/**
 * The track record to show: {driver, lap_ms, fresh} — a standing's new record in this
 * race (fresh), else the one that stood before it; null when there is none.
 */
export function trackRecord(state) {
  const fresh = (state?.standings ?? []).find((s) => s.record === "track" && s.best_ms !== null);
  if (fresh) {
    return { driver: fresh.driver || entrantLabel(state.entrant, fresh.entrant),
      lap_ms: fresh.best_ms, fresh: true };
  }
  const held = state?.track_record;
  return held ? { driver: held.driver, lap_ms: held.lap_ms, fresh: false } : null;
}

/** "Track record 4.812 Ann" (with the car class when the race has one), or "". */
export function trackRecordText(state) {
  const rec = trackRecord(state);
  if (!rec) return "";
  const cls = state.car_class ? ` (${state.car_class})` : "";
  return `Track record${cls} ${lapTime(rec.lap_ms)} ${rec.driver}${rec.fresh ? " · new" : ""}`;
}

// --- endurance ----------------------------------------------------------------------------
const ENDURANCE_HEAD = `<colgroup><col class="pos"><col class="who"><col class="wheel">
    <col class="laps"><col class="stint"><col class="stops"><col class="last"><col class="best">
    <col class="gap"><col class="pace"></colgroup>
  <thead><tr><th class="num">Pos</th><th>Team</th><th class="wheel">Driver</th>
    <th class="num">Laps</th><th class="num stint" title="Laps in this stint">Stint</th>
    <th class="num stops" title="Pit stops made / required">Stops</th>
    <th class="num last">Last</th><th class="num">Best</th><th class="num gap">Gap</th>
    <th class="pace">Pace</th></tr></thead>`;
const ENDURANCE_COLUMNS = 10;
const originalHead = new WeakMap();

/** Swap a board's column heads between the usual ones and the endurance ones. */
function setBoardHead(table, endurance) {
  if (!table) return;
  const shown = table.dataset.columns === "endurance";
  if (shown === endurance) return;
  if (!originalHead.has(table)) {
    originalHead.set(table, [...table.children].filter((el) => el.tagName !== "TBODY")
      .map((el) => el.outerHTML).join(""));
  }
  const tbody = table.querySelector("tbody");
  [...table.children].filter((el) => el.tagName !== "TBODY").forEach((el) => el.remove());
  tbody.insertAdjacentHTML("beforebegin", endurance ? ENDURANCE_HEAD : originalHead.get(table));
  if (endurance) table.dataset.columns = "endurance";
  else delete table.dataset.columns;
}

function enduranceRow(state, s, label, tags, bestClass) {
  const pit = s.pit ?? {};
  const pace = s.pace ?? "unknown";
  const stops = pit.required ? `${pit.stops}/${pit.required}` : String(pit.stops ?? 0);
  const owed = pit.required && pit.stops < pit.required;
  const kart = s.kart !== null && s.kart !== undefined ? `<span class="kart">K${s.kart}</span>` : "";
  const badge = pit.in_pit
    ? `<span class="tag pit" title="In the pit">PIT <span class="pit-time" data-since="${pit.since_ns ?? ""}"></span></span>`
    : "";
  return `<tr data-entrant="${s.entrant}" data-pace="${esc(pace)}" data-in-pit="${Boolean(pit.in_pit)}">
      <td class="num pos">${s.position}</td>
      <td class="who"><div class="who-line"><span class="driver">${esc(s.driver || label)}</span>${badge}${tags}</div></td>
      <td class="wheel">${esc(s.stint?.driver ?? "")}${kart}</td>
      <td class="num laps">${s.laps}</td>
      <td class="num stint">${s.stint?.laps ?? ""}</td>
      <td class="num stops${owed ? " owed" : ""}">${stops}</td>
      <td class="num last">${lapTime(s.last_ms)}</td>
      <td class="${bestClass}">${lapTime(s.best_ms)}</td>
      <td class="num gap">${gap(s)}</td>
      <td class="pace"><span class="pace-dot" aria-hidden="true"></span><span class="pace-text">${esc(PACE_TEXT[pace] ?? pace)}</span></td>
    </tr>`;
}

/** Time in the pit on every PIT badge, from the Pi's clock (called many times a second). */
export function tickPitTimers(tbody, clock) {
  const now = clock.piNowNs();
  tbody.querySelectorAll(".pit-time").forEach((el) => {
    const since = Number(el.dataset.since);
    const text = el.dataset.since && now !== null ? clockTime((now - since) / 1e6) : "";
    if (el.textContent !== text) el.textContent = text;
  });
}

/** The jump-start mark with what it cost (the race's jump_start_penalty setting). */
export function jumpTag(s) {
  const seconds = (ms) => `${Math.round(ms / 100) / 10} s`;
  const [text, title] = {
    // Best-lap sessions (practice, qualifying) add no time: the mark alone.
    time: s.penalty_ms ? [`JS +${seconds(s.penalty_ms)}`, `Jump start: ${seconds(s.penalty_ms)} added`]
      : ["JS", "Jump start"],
    stop_go: s.penalty_open
      ? ["JS stop & go", `Jump start: stop-and-go to serve (else ${seconds(s.penalty_ms)} added)`]
      : ["JS served", "Jump start: stop-and-go served"],
    restart: ["JS", "Jump start: the start was void"],
  }[s.penalty] ?? ["JS", "Jump start: warning"];
  return `<span class="tag jump" data-penalty="${esc(s.penalty ?? "warning")}" title="${esc(title)}">${esc(text)}</span>`;
}

/** Briefly mark the row of an entrant that just completed a lap. */
export function flashRow(tbody, entrant) {
  const row = tbody.querySelector(`tr[data-entrant="${entrant}"]`);
  if (!row) return;
  row.classList.remove("flash");
  void row.offsetWidth; // restart the animation
  row.classList.add("flash");
}

/** The five start lights, as DOM, updated by setLights(). */
export function lightsMarkup() {
  return `<div class="lights" hidden aria-label="Start lights">
    ${'<span class="lamp"></span>'.repeat(5)}</div>`;
}

export function setLights(el, view) {
  // data-reds / data-green change exactly when the lamps do: a hook for tests and styles.
  const reds = String(view.green ? 0 : view.reds);
  const green = String(Boolean(view.green));
  if (el.dataset.reds !== reds) el.dataset.reds = reds;
  if (el.dataset.green !== green) el.dataset.green = green;
  el.hidden = !view.show;
  el.classList.toggle("go", view.green);
  el.querySelectorAll(".lamp").forEach((lamp, i) => {
    lamp.classList.toggle("on", !view.green && i < view.reds);
  });
}
