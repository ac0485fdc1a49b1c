// Race control's pit panel (endurance): a row per team with Pit in / Pit out (and the
// kart it takes, in a kart pool) and a driver-change picker from the team's drivers; the
// race's penalties with Confirm / Waive. Rows are built once per race and updated in
// place, so a kart typed or a driver picked survives the state frames that keep coming.

import { api } from "./api.js";
import { clockTime, esc, seconds } from "./format.js";

const UNDER_WAY = new Set(["running", "finishing", "stopped"]); // what the lap service accepts
const RULE_TEXT = {
  short_stop: "Short stop", short_stint: "Short stint", long_stint: "Long stint",
  no_driver_change: "No driver change", missing_stop: "Missing stop",
};
const $ = (id) => document.getElementById(id);

let act = null; // control.js's act(label, call, options): runs and reports a command
let shownRows = ""; // the race and teams the rows were built for
let shownPenalties = "";
let teamsOf = { race_id: null, drivers: new Map() }; // entrant -> the team's drivers
let loading = null;
let shownPool = ""; // the teams in the pit when the kart pool was last read
let lastState = null; // re-rendered once a command is done (its buttons were busy)

/** Render the panel from a race state; ``runner`` reports each command's outcome. */
export function renderPits(state, runner) {
  act = runner;
  lastState = state;
  loadTeams(state);
  const standings = [...(state.standings ?? [])].sort((a, b) => a.entrant - b.entrant);
  const rowsKey = `${state.race_id}:${standings.map((s) => s.entrant).join(",")}`;
  if (rowsKey !== shownRows) {
    shownRows = rowsKey;
    $("pit-rows").innerHTML = standings.map(rowMarkup).join("") ||
      '<tr><td colspan="7" class="muted">The teams show here from their first crossing</td></tr>';
  }
  const underWay = UNDER_WAY.has(state.phase);
  const pool = standings.some((s) => s.kart !== null && s.kart !== undefined);
  for (const s of standings) updateRow(s, underWay, pool);
  if (pool) loadPool(state, standings);
  renderPenalties(state);
}

/** Time in the pit, between frames. */
export function tickPits(clock) {
  const now = clock.piNowNs();
  document.querySelectorAll("#pit-rows .in-pit-time").forEach((el) => {
    const since = Number(el.dataset.since);
    const text = el.dataset.since && now !== null ? clockTime((now - since) / 1e6) : "";
    if (el.textContent !== text) el.textContent = text;
  });
}

// --- the teams' drivers, from the race's set-up ----------------------------------------
async function loadTeams(state) {
  const id = state.race_id;
  if (teamsOf.race_id === id || loading === id) return;
  loading = id;
  try {
    const detail = await api(`/api/races/${id}`);
    const key = detail.config.entrant;
    teamsOf = { race_id: id, drivers: new Map(detail.config.entrants.map((e) => [e[key], e.drivers ?? []])) };
    shownRows = ""; // rebuild the pickers with the names
    if (lastState?.race_id === id) renderPits(lastState, act);
  } catch {
    return; // tried again on the next frame
  } finally {
    loading = null;
  }
}

/** The karts waiting in the pool, with their pace, as the kart inputs' suggestions; read
 * again whenever a team enters or leaves the pit. */
async function loadPool(state, standings) {
  const key = `${state.race_id}:${standings.filter((s) => s.pit?.in_pit).map((s) => s.entrant)}`;
  if (key === shownPool) return;
  shownPool = key;
  try {
    const pool = await api(`/api/races/${state.race_id}/karts`);
    const waiting = pool.karts.filter((k) => k.team === null);
    $("pool-karts").innerHTML = waiting.map((k) => `<option value="${k.kart}">kart ${k.kart}: pace ${esc(k.pace)}</option>`).join("");
  } catch {
    shownPool = ""; // tried again on the next frame
  }
}

function rowMarkup(s) {
  const drivers = teamsOf.drivers.get(s.entrant) ?? [];
  const options = drivers.map((d) => `<option value="${esc(d)}">${esc(d)}</option>`).join("");
  return `<tr data-entrant="${s.entrant}">
    <td class="num pos"></td>
    <td class="team"><span class="name"></span> <span class="muted kart"></span></td>
    <td class="wheel"></td>
    <td class="num stint"></td>
    <td class="num stops"></td>
    <td class="pit"><span class="pit-state"></span>
      <span class="pit-buttons">
        <button type="button" data-pit="pit_in">Pit in</button>
        <input class="pit-kart" type="number" min="0" max="255" inputmode="numeric" list="pool-karts"
          aria-label="Kart taken out (kart pool)" placeholder="kart" hidden>
        <button type="button" data-pit="pit_out">Pit out</button></span></td>
    <td class="driver-change"><select class="next-driver" aria-label="Driver">${options}
        <option value="">other…</option></select>
      <input class="other-driver" maxlength="60" aria-label="Driver's name" placeholder="name" hidden>
      <button type="button" data-pit="driver">Driver</button></td>
  </tr>`;
}

function updateRow(s, underWay, pool) {
  const row = $("pit-rows").querySelector(`tr[data-entrant="${s.entrant}"]`);
  if (!row) return;
  const pit = s.pit ?? {};
  const set = (sel, text) => {
    const el = row.querySelector(sel);
    if (el.textContent !== text) el.textContent = text;
  };
  set(".pos", String(s.position));
  set(".name", s.driver || `#${s.entrant}`);
  set(".kart", s.kart !== null && s.kart !== undefined ? `kart ${s.kart}` : "");
  set(".wheel", s.stint?.driver ?? "");
  set(".stint", s.stint ? `${s.stint.no}: ${s.stint.laps} laps` : "");
  set(".stops", pit.required ? `${pit.stops}/${pit.required}` : String(pit.stops ?? 0));
  row.dataset.inPit = String(Boolean(pit.in_pit));
  const state = row.querySelector(".pit-state");
  const since = pit.in_pit ? String(pit.since_ns ?? "") : "";
  if (state.dataset.since !== since) {
    state.dataset.since = since;
    state.innerHTML = pit.in_pit ? 'IN PIT <span class="in-pit-time"></span>'
      : pit.last_ms !== null && pit.last_ms !== undefined ? `last ${esc(seconds(pit.last_ms))}` : "";
    const timer = state.querySelector(".in-pit-time");
    if (timer) timer.dataset.since = since;
  }
  const open = underWay && !s.finished;
  const busy = (b) => b.classList.contains("busy");
  const pitIn = row.querySelector('[data-pit="pit_in"]');
  const pitOut = row.querySelector('[data-pit="pit_out"]');
  if (!busy(pitIn)) pitIn.disabled = !open || Boolean(pit.in_pit);
  if (!busy(pitOut)) pitOut.disabled = !open || !pit.in_pit;
  const kart = row.querySelector(".pit-kart");
  kart.hidden = !pool;
  kart.disabled = !open || !pit.in_pit;
  const driverButton = row.querySelector('[data-pit="driver"]');
  if (!busy(driverButton)) driverButton.disabled = !open;
}

// --- commands ----------------------------------------------------------------------------
$("pit-rows").addEventListener("change", (event) => {
  if (!event.target.classList.contains("next-driver")) return;
  const other = event.target.closest("td").querySelector(".other-driver");
  other.hidden = event.target.value !== "";
  if (!other.hidden) other.focus();
});

$("pit-rows").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-pit]");
  if (!button || !act) return;
  const row = button.closest("tr");
  const entrant = row.dataset.entrant;
  const team = row.querySelector(".name").textContent;
  const path = `/api/races/current/teams/${entrant}/${button.dataset.pit}`;
  if (button.dataset.pit === "pit_in") {
    await act(`Pit in ${team}`, () => api(path, { method: "POST" }), { control: button });
  } else if (button.dataset.pit === "pit_out") {
    const input = row.querySelector(".pit-kart");
    const kart = !input.hidden && input.value !== "" ? Number(input.value) : null;
    const label = `Pit out ${team}${kart !== null ? ` in kart ${kart}` : ""}`;
    const done = await act(label, () => api(path, {
      method: "POST", body: kart !== null ? { kart } : undefined,
    }), { control: button });
    if (done) input.value = "";
  } else {
    const picked = row.querySelector(".next-driver").value;
    const driver = (picked || row.querySelector(".other-driver").value).trim();
    if (!driver) return;
    await act(`${team}: ${driver} drives`, () => api(path, { method: "POST", body: { driver } }),
      { control: button });
  }
  // The state that answered the command may have come while its button was busy.
  if (lastState) renderPits(lastState, act);
});

// --- penalties ---------------------------------------------------------------------------
function renderPenalties(state) {
  const penalties = state.penalties ?? [];
  const key = JSON.stringify(penalties);
  if (key === shownPenalties) return;
  shownPenalties = key;
  const pending = penalties.filter((p) => p.status === "pending").length;
  $("penalty-count").textContent = penalties.length ? `${pending} to decide` : "";
  $("penalties").innerHTML = penalties.map((p) => `<li data-penalty="${esc(p.id)}" data-status="${esc(p.status)}">
      <span class="grow"><strong>${esc(p.team)}</strong> · ${esc(RULE_TEXT[p.rule] ?? p.rule)}:
        ${esc(p.detail)} <span class="muted">(+${esc(seconds(p.penalty_ms))})</span></span>
      <span class="status">${esc(p.status)}</span>
      <button type="button" data-decide="confirm" ${p.status === "confirmed" ? "disabled" : ""}>Confirm</button>
      <button type="button" data-decide="waive" ${p.status === "waived" ? "disabled" : ""}>Waive</button>
    </li>`).join("") || '<li class="muted">No pit-rule violations</li>';
}

$("penalties").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-decide]");
  if (!button || !act) return;
  const id = button.closest("li").dataset.penalty;
  const decision = button.dataset.decide;
  await act(`${decision === "confirm" ? "Confirm" : "Waive"} penalty ${id}`,
    () => api(`/api/races/current/penalties/${encodeURIComponent(id)}/${decision}`, { method: "POST" }),
    { control: button });
});
