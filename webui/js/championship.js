// Championships: the list; `?id=N` one season's standings (points per round, dropped rounds
// struck through, wins), its rounds (links to their results) and the standings CSV. The
// race director (logged in: GET /api/auth/me) also creates championships, adds finished
// races or heat events as rounds and removes them. Refusals show the API's own `detail`.

import { api, ApiError, directorLogin } from "./api.js";
import { reason, showError, status } from "./page.js";
import { registerServiceWorker } from "./pwa.js";
import { esc } from "./format.js";

const $ = (id) => document.getElementById(id);
const DEFAULT_POINTS = "25,18,15,12,10,8,6,4,2,1";
registerServiceWorker();

const params = new URLSearchParams(location.search);
const seasonId = /^\d+$/.test(params.get("id") ?? "") ? Number(params.get("id")) : null;
let director = false;
let season = null;




function roundHref(r) {
  if (r.race_id !== null && r.race_id !== undefined) return `/results.html?race=${r.race_id}`;
  if (r.event_id !== null && r.event_id !== undefined) return `/results.html?event=${r.event_id}`;
  return null;
}

// --- the list ---------------------------------------------------------------------------
async function showList() {
  $("list").hidden = false;
  try {
    const seasons = await api("/api/championships");
    $("seasons").innerHTML = seasons.map((c) => `<tr data-id="${c.id}">
        <td><a href="/championship.html?id=${c.id}">${esc(c.name)}</a></td>
        <td class="num">${c.rounds}</td></tr>`).join("") ||
      '<tr class="empty"><td colspan="2">No championships yet</td></tr>';
  } catch (err) {
    showError(`Could not load the championships: ${reason(err)}`);
  }
}

// --- one championship ---------------------------------------------------------------------
async function loadSeason() {
  try {
    season = await api(`/api/championships/${seasonId}`);
  } catch (err) {
    showError(`Could not load championship ${seasonId}: ${reason(err)}`);
    return false;
  }
  renderSeason();
  return true;
}

function renderSeason() {
  const c = season;
  $("season").hidden = false;
  $("all").hidden = false;
  $("csv").hidden = false;
  $("csv").href = `/api/championships/${c.id}/standings.csv`;
  $("csv").setAttribute("download", `championship-${c.id}.csv`);
  $("title").textContent = c.name;
  document.title = `Pitwall · ${c.name}`;
  const rules = [`Points ${c.points.join(", ")}`];
  if (c.fastest_lap) rules.push(`fastest lap +${c.fastest_lap}`);
  if (c.drop_worst) rules.push(`worst ${c.drop_worst} round${c.drop_worst === 1 ? "" : "s"} dropped`);
  const done = c.rounds.filter((r) => r.finished).length;
  rules.push(`${done} of ${c.rounds.length} round${c.rounds.length === 1 ? "" : "s"} run`);
  $("rules").textContent = rules.join(" · ");

  const roundHead = c.rounds.map((r) => {
    const href = roundHref(r);
    const label = `R${r.no}`;
    return `<th class="num round" title="${esc(r.name)}">${href
      ? `<a href="${href}">${label}</a>` : label}</th>`;
  }).join("");
  $("standings-head").innerHTML = `<tr><th class="num">Pos</th><th>Driver</th>
    <th class="num">Points</th>${roundHead}<th class="num">Wins</th></tr>`;
  const cols = 4 + c.rounds.length;
  $("standings").innerHTML = c.standings.map((s) => {
    const cell = (p, i) => {
      const dropped = s.dropped.includes(i);
      if (p === null || p === undefined) return { text: "–", cls: "none", title: "no points" };
      return dropped ? { text: String(p), cls: "dropped", title: "dropped: not counted" }
        : { text: String(p), cls: "", title: "" };
    };
    const cells = s.rounds.map(cell);
    const perRound = cells.map((x) => `<td class="num round ${x.cls}"${x.title
      ? ` title="${x.title}"` : ""}>${x.cls === "dropped" ? `<s>${x.text}</s>` : x.text}</td>`).join("");
    const chips = cells.map((x, i) => `<span class="chip ${x.cls}"${x.title ? ` title="${x.title}"` : ""}>
      <span class="no">R${i + 1}</span>${x.cls === "dropped" ? `<s>${x.text}</s>` : x.text}</span>`).join("");
    return `<tr data-driver="${esc(s.driver)}">
      <td class="num pos">${s.position}</td>
      <td class="driver"><a href="/history.html?name=${encodeURIComponent(s.driver)}">${esc(s.driver)}</a>
        ${cells.length ? `<span class="chips">${chips}</span>` : ""}</td>
      <td class="num points">${s.points}</td>${perRound}<td class="num wins">${s.wins}</td></tr>`;
  }).join("") || `<tr class="empty"><td colspan="${cols}">${c.rounds.length
    ? "No finished round yet" : "No rounds yet"}</td></tr>`;
  fit();

  $("rounds").innerHTML = c.rounds.map((r) => {
    const href = roundHref(r);
    const kind = r.event_id !== null && r.event_id !== undefined ? "heat event" : "race";
    return `<li data-no="${r.no}"><span class="line">
      ${href ? `<a href="${href}">${esc(r.name)}</a>` : esc(r.name)}
      <span class="state ${r.finished ? "done" : ""}">${kind} · ${r.finished ? "finished" : "not finished yet"}</span>
      ${director ? `<button type="button" class="remove" data-no="${r.no}">Remove</button>` : ""}</span></li>`;
  }).join("") || '<li class="empty">No rounds yet</li>';
}

/** A column per round while the table fits its box; chips under the name when it does not. */
function fit() {
  const table = $("standings-table");
  const box = table.parentElement;
  table.classList.remove("compact");
  if (box.scrollWidth > box.clientWidth + 1) table.classList.add("compact");
}
addEventListener("resize", () => {
  if (season) fit();
});

$("rounds").addEventListener("click", async (event) => {
  const button = event.target.closest("button.remove");
  if (!button) return;
  const no = Number(button.dataset.no);
  const name = season.rounds.find((r) => r.no === no)?.name ?? `round ${no}`;
  button.disabled = true;
  try {
    season = await api(`/api/championships/${season.id}/rounds/${no}`, { method: "DELETE" });
    status("round-status", `Removed round ${no} (${name})`);
    renderSeason();
    await loadChoices();
  } catch (err) {
    button.disabled = false;
    status("round-status", `Could not remove round ${no}: ${reason(err)}`, "error");
  }
});

// --- the director's tools -----------------------------------------------------------------
async function whoAmI() {
  try {
    director = Boolean((await api("/api/auth/me")).director);
  } catch {
    director = false;
  }
}

function showTools() {
  $("login").hidden = director;
  $("create").hidden = !director || seasonId !== null;
  $("manage").hidden = !director || seasonId === null || !season;
  if (season) renderSeason(); // the Remove buttons
  if (director && season) loadChoices();
}

/** "25, 18 15" -> [25, 18, 15]; null when it is not a list of whole numbers. */
function parsePoints(text) {
  const parts = text.split(/[\s,;]+/).filter(Boolean);
  if (!parts.length || !parts.every((p) => /^\d+$/.test(p))) return null;
  return parts.map(Number);
}

$("create-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const f = event.target;
  const points = parsePoints(f.points.value);
  if (!points) {
    status("create-status", "Points: whole numbers separated by commas, e.g. " + DEFAULT_POINTS, "error");
    return;
  }
  const body = {
    name: f.name.value.trim(), points,
    fastest_lap: Number(f.fastest_lap.value || 0), drop_worst: Number(f.drop_worst.value || 0),
  };
  const button = event.submitter ?? f.querySelector("button");
  button.disabled = true;
  try {
    const made = await api("/api/championships", { method: "POST", body });
    status("create-status", `Created ${made.name}`);
    location.assign(`/championship.html?id=${made.id}`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) loggedOut();
    status("create-status", `Could not create the championship: ${reason(err)}`, "error");
  } finally {
    button.disabled = false;
  }
});

/** Finished races and heat events not yet in this championship. */
async function loadChoices() {
  const pick = $("round-pick");
  const taken = new Set(season.rounds.map((r) => (r.event_id != null ? `event:${r.event_id}` : `race:${r.race_id}`)));
  let races = [];
  let events = [];
  try {
    [races, events] = await Promise.all([
      api("/api/races?limit=200"),
      api("/api/events?limit=50").catch(() => []),
    ]);
  } catch (err) {
    status("round-status", `Could not load the races: ${reason(err)}`, "error");
    return;
  }
  // The list gives no finished flag for events: ask each (a club night has a few).
  const details = await Promise.all(events.slice(0, 30).map((e) => api(`/api/events/${e.id}`).catch(() => null)));
  const finishedEvents = details.filter((e) => e && e.finished);
  const date = (t) => (t ? new Date(t * 1000).toLocaleDateString(undefined, { dateStyle: "medium" }) : "");
  const raceOptions = races.filter((r) => r.phase === "finished" && !taken.has(`race:${r.id}`))
    .map((r) => `<option value="race:${r.id}">#${r.id} ${esc(r.name || `Race ${r.id}`)} · ${esc(date(r.created_at))}</option>`);
  const eventOptions = finishedEvents.filter((e) => !taken.has(`event:${e.id}`))
    .map((e) => `<option value="event:${e.id}">${esc(e.name || `Event ${e.id}`)} (${e.drivers.length} drivers)</option>`);
  const keep = pick.value;
  pick.innerHTML = (raceOptions.length || eventOptions.length
    ? '<option value="">Pick one…</option>' : '<option value="">No finished race or event to add</option>') +
    (raceOptions.length ? `<optgroup label="Races">${raceOptions.join("")}</optgroup>` : "") +
    (eventOptions.length ? `<optgroup label="Heat events">${eventOptions.join("")}</optgroup>` : "");
  if ([...pick.options].some((o) => o.value === keep)) pick.value = keep;
}

$("round-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const value = $("round-pick").value;
  if (!value) {
    status("round-status", "Pick a finished race or heat event first", "error");
    return;
  }
  const [kind, id] = value.split(":");
  const body = kind === "event" ? { event_id: Number(id) } : { race_id: Number(id) };
  const button = event.submitter ?? event.target.querySelector("button");
  button.disabled = true;
  try {
    season = await api(`/api/championships/${season.id}/rounds`, { method: "POST", body });
    const added = season.rounds[season.rounds.length - 1];
    status("round-status", `Added round ${added.no}: ${added.name}`);
    renderSeason();
    await loadChoices();
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) loggedOut();
    status("round-status", `Could not add the round: ${reason(err)}`, "error");
  } finally {
    button.disabled = false;
  }
});

$("delete-season").addEventListener("click", async () => {
  if (!confirm(`Delete the championship "${season.name}"? Its races stay.`)) return;
  try {
    await api(`/api/championships/${season.id}`, { method: "DELETE" });
    location.assign("/championship.html");
  } catch (err) {
    status("round-status", `Could not delete the championship: ${reason(err)}`, "error");
  }
});

function loggedOut() {
  director = false;
  showTools();
  $("login").open = true;
  status("login-status", "Your session ended: log in again.", "error");
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  try {
    await directorLogin($("pin").value);
    director = true;
    status("login-status", "Logged in as race director");
    showTools();
  } catch (err) {
    status("login-status", `Login failed: ${reason(err)}`, "error");
  } finally {
    $("pin").value = "";
  }
});

// --- start --------------------------------------------------------------------------------
await whoAmI();
if (seasonId !== null) await loadSeason();
else await showList();
showTools();
