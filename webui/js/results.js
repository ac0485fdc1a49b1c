// Results and history: past races; one race's classification, lap-time plot (uPlot),
// every lap, CSV download and a print view. Reads only; works for anyone on the Wi-Fi.

import uPlot from "/vendor/uplot/uPlot.esm.js";
import { api } from "./api.js";
import { showError } from "./page.js";
import { registerServiceWorker } from "./pwa.js";
import { entrantLabel, esc, gap, lapTime, PHASE_TEXT } from "./format.js";
import { modeText } from "./race.js";

const $ = (id) => document.getElementById(id);
const PAGE = 50;
// Distinct on black and in print; drivers' own colours take precedence.
const PALETTE = ["#ffd400", "#5ac8fa", "#ff6b6b", "#7ee787", "#d09bff", "#ff9f43",
  "#f78fb3", "#c8d6e5", "#1dd1a1", "#feca57"];
registerServiceWorker();


/** The race's set-up time, from the director's phone clock; a Pi without RTC may be off. */
function dateText(createdAt) {
  if (!createdAt) return "";
  return new Date(createdAt * 1000).toLocaleString(undefined,
    { dateStyle: "medium", timeStyle: "short" });
}

/** A driver's name, linked to their history page. */
function historyLink(name) {
  return `<a href="/history.html?name=${encodeURIComponent(name)}">${esc(name)}</a>`;
}

// --- the list of races ---------------------------------------------------------------------
let offset = 0;
async function showList() {
  $("list").hidden = false;
  try {
    const races = await api(`/api/races?limit=${PAGE}&offset=${offset}`);
    const rows = races.map((r) => `<tr>
      <td class="num">${r.id}</td>
      <td><a href="/results.html?race=${r.id}">${esc(r.name || `Race ${r.id}`)}</a></td>
      <td>${esc(modeText(r))}</td><td>${esc(PHASE_TEXT[r.phase] ?? r.phase)}</td>
      <td>${esc(dateText(r.created_at))}</td><td class="num">${r.entrants}</td></tr>`).join("");
    if (offset === 0) $("races").innerHTML = rows || '<tr><td colspan="6" class="muted">No races yet</td></tr>';
    else $("races").insertAdjacentHTML("beforeend", rows);
    $("more").hidden = races.length < PAGE;
  } catch (err) {
    showError(`Could not load the races: ${err.detail ?? err.message}`);
  }
}
$("more").addEventListener("click", () => {
  offset += PAGE;
  showList();
});

// --- one race -------------------------------------------------------------------------------
async function showRace(id) {
  $("race").hidden = false;
  $("all-races").hidden = false;
  $("print").hidden = false;
  $("csv").hidden = false;
  $("csv").href = `/api/races/${id}/results.csv`;
  $("csv").setAttribute("download", `race-${id}.csv`);
  $("laps-csv").hidden = false;
  $("laps-csv").href = `/api/races/${id}/laps.csv`;
  $("laps-csv").setAttribute("download", `race-${id}-laps.csv`);
  let detail;
  let laps;
  let drivers;
  try {
    [detail, laps, drivers] = await Promise.all([
      api(`/api/races/${id}`), api(`/api/races/${id}/laps`), api("/api/drivers").catch(() => []),
    ]);
  } catch (err) {
    showError(`Could not load race ${id}: ${err.detail ?? err.message}`);
    return;
  }
  const { race, config, standings } = detail;
  const key = config.entrant;
  const title = race.name || `Race ${race.id}`;
  $("title").textContent = title;
  document.title = `Pitwall · ${title}`;
  $("meta").textContent = [`#${race.id}`, modeText(race), PHASE_TEXT[race.phase] ?? race.phase,
    dateText(race.created_at), `minimum lap ${lapTime(config.min_lap_ms)} s`].filter(Boolean).join(" · ");

  const bestOverall = Math.min(...standings.map((s) => s.best_ms ?? Infinity));
  $("standings").innerHTML = standings.map((s) => `<tr>
      <td class="num pos">${s.position}</td>
      <td class="who"><span class="driver">${s.driver ? historyLink(s.driver) : esc(entrantLabel(key, s.entrant))}</span>
        <span class="entrant">${s.driver ? esc(entrantLabel(key, s.entrant)) : ""}</span>
        ${s.jump_start ? '<span class="tag jump">JS</span>' : ""}</td>
      <td class="num">${s.laps}</td>
      <td class="num ${s.best_ms === bestOverall ? "race-best" : ""}">${lapTime(s.best_ms)}</td>
      <td class="num">${gap(s)}</td></tr>`).join("") ||
    '<tr class="empty"><td colspan="5">Nobody crossed the line</td></tr>';

  // Entrants in classification order; each one's laps by lap number.
  const order = standings.map((s) => s.entrant);
  for (const lap of laps) if (!order.includes(lap.entrant)) order.push(lap.entrant);
  const nameOf = (n) => standings.find((s) => s.entrant === n)?.driver ||
    laps.find((l) => l.entrant === n)?.driver || entrantLabel(key, n);
  const byEntrant = new Map(order.map((n) => [n, new Map()]));
  for (const lap of laps) byEntrant.get(lap.entrant).set(lap.lap, lap);
  const maxLap = Math.max(0, ...laps.map((l) => l.lap));
  const colorOf = (n, i) => drivers.find((d) => d.name === nameOf(n) && d.color)?.color ||
    PALETTE[i % PALETTE.length];

  plot(order, byEntrant, maxLap, nameOf, colorOf);
  lapsGrid(order, byEntrant, maxLap, nameOf);
}

function plot(order, byEntrant, maxLap, nameOf, colorOf) {
  const el = $("plot");
  if (maxLap === 0) {
    el.textContent = "No laps to plot";
    return;
  }
  const xs = Array.from({ length: maxLap }, (_, i) => i + 1);
  const data = [xs, ...order.map((n) => xs.map((x) => {
    const lap = byEntrant.get(n).get(x);
    return lap ? lap.lap_ms / 1000 : null;
  }))];
  const axis = { stroke: "#ddd", grid: { stroke: "#333" }, ticks: { stroke: "#555" } };
  const width = () => Math.max(280, el.clientWidth - 10);
  const chart = new uPlot({
    width: width(),
    height: 340,
    scales: { x: { time: false } },
    axes: [
      { ...axis, label: "Lap", values: (u, ticks) => ticks.map((t) => (Number.isInteger(t) ? t : "")) },
      { ...axis, label: "Lap time (s)", size: 70, values: (u, ticks) => ticks.map((t) => t.toFixed(1)) },
    ],
    series: [
      { label: "Lap" },
      ...order.map((n, i) => ({
        label: nameOf(n),
        stroke: colorOf(n, i),
        width: 2,
        points: { show: true, size: 6 },
        value: (u, v) => (v === null || v === undefined ? "–" : lapTime(v * 1000)),
      })),
    ],
  }, data, el);
  addEventListener("resize", () => chart.setSize({ width: width(), height: 340 }));
}

function lapsGrid(order, byEntrant, maxLap, nameOf) {
  const best = new Map(order.map((n) => [n, Math.min(...[...byEntrant.get(n).values()]
    .map((l) => l.lap_ms))]));
  const head = `<thead><tr><th>Lap</th>${order.map((n) => `<th>${esc(nameOf(n))}</th>`).join("")}</tr></thead>`;
  const rows = [];
  for (let x = 1; x <= maxLap; x++) {
    rows.push(`<tr><th>${x}</th>${order.map((n) => {
      const lap = byEntrant.get(n).get(x);
      if (!lap) return "<td></td>";
      const cls = lap.neutralised ? "neutralised" : lap.lap_ms === best.get(n) ? "best" : "";
      const title = lap.neutralised ? ' title="under yellow"' : "";
      return `<td class="${cls}"${title}>${lapTime(lap.lap_ms)}</td>`;
    }).join("")}</tr>`);
  }
  $("laps-grid").innerHTML = head + `<tbody>${rows.join("")}</tbody>`;
}

// --- a heat-rotation event ---------------------------------------------------------------
const score = (x) => (x === null || x === undefined ? "–" : x.toFixed(2));

async function showEvent(id) {
  $("event").hidden = false;
  $("all-races").hidden = false;
  $("print").hidden = false;
  $("csv").hidden = false;
  $("csv").href = `/api/events/${id}/results.csv`;
  $("csv").setAttribute("download", `event-${id}.csv`);
  let ev;
  try {
    ev = await api(`/api/events/${id}`);
  } catch (err) {
    showError(`Could not load event ${id}: ${err.detail ?? err.message}`);
    return;
  }
  const title = ev.name || `Heats ${ev.id}`;
  $("title").textContent = title;
  document.title = `Pitwall · ${title}`;
  const run = ev.heats.filter((h) => h.race_id !== null).length;
  $("event-meta").textContent = [`${ev.drivers.length} drivers`, `lanes ${ev.lanes.join(", ")}`,
    `${ev.heats.length} heats of ${Math.round(ev.duration_s / 60 * 10) / 10} min`,
    ev.finished ? "finished" : `${run} of ${ev.heats.length} heats run`].join(" · ");
  const best = Math.min(...ev.standings.map((s) => s.best_ms ?? Infinity));
  $("event-standings").innerHTML = ev.standings.map((s) => `<tr>
      <td class="num pos">${s.position}</td>
      <td class="who"><span class="driver">${historyLink(s.driver)}</span></td>
      <td class="num">${score(s.total)}</td>
      <td class="num ${s.best_ms === best ? "race-best" : ""}">${lapTime(s.best_ms)}</td></tr>`).join("") ||
    '<tr class="empty"><td colspan="4">No heat run yet</td></tr>';
  $("heats").innerHTML = ev.heats.map((h) => {
    const grid = h.grid.map((g) => `Lane ${g.lane}: ${esc(g.driver)}`).join(" · ");
    const out = h.sitting_out.length ? `<span class="sub">sitting out: ${h.sitting_out.map(esc).join(", ")}</span>` : "";
    const state = h.race_id !== null
      ? `<a href="/results.html?race=${h.race_id}">${esc(PHASE_TEXT[h.phase] ?? h.phase)}</a>` : "planned";
    const scores = Object.entries(h.scores).map(([d, x]) => `${esc(d)} ${score(x)}`).join(" · ");
    return `<tr data-heat="${h.heat}"><td class="num">${h.heat}</td><td>${grid}${out}</td>
      <td>${state}</td><td>${scores}</td></tr>`;
  }).join("");
}

$("print").addEventListener("click", () => print());

const params = new URLSearchParams(location.search);
const raceId = params.get("race");
const eventId = params.get("event");
if (raceId && /^\d+$/.test(raceId)) showRace(Number(raceId));
else if (eventId && /^\d+$/.test(eventId)) showEvent(Number(eventId));
else showList();
