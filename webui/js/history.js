// A driver's history (`?name=Ann`): every race they drove (date, race, position of how
// many, laps, best and average lap), their best lap ever, and a trend plot (uPlot) of best
// and average lap per race, oldest first. Zero races or one race are answers too.

import uPlot from "/vendor/uplot/uPlot.esm.js";
import { api } from "./api.js";
import { showError } from "./page.js";
import { registerServiceWorker } from "./pwa.js";
import { esc, lapTime } from "./format.js";

const $ = (id) => document.getElementById(id);
const HEIGHT = 300;
registerServiceWorker();


const dateText = (t) => (t ? new Date(t * 1000).toLocaleDateString(undefined, { dateStyle: "medium" }) : "");
const raceName = (r) => r.name || `Race ${r.race_id}`;

async function names() {
  try {
    const drivers = await api("/api/drivers");
    $("driver-names").innerHTML = drivers.map((d) => `<option value="${esc(d.name)}">`).join("");
  } catch {
    // only the suggestions are lost
  }
}

async function show(name) {
  $("name").value = name;
  $("title").textContent = name;
  document.title = `Pitwall · ${name}`;
  let h;
  try {
    h = await api(`/api/drivers/history?name=${encodeURIComponent(name)}`);
  } catch (err) {
    showError(`Could not load ${name}'s races: ${err.detail ?? err.message}`);
    return;
  }
  $("driver").hidden = false;
  const races = h.races;
  $("best").textContent = lapTime(h.best_ms) || "–";
  $("count").textContent = races.length;
  $("wins").textContent = races.filter((r) => r.position === 1).length;
  $("podiums").textContent = races.filter((r) => r.position <= 3).length;

  // Newest first in the table; the plot runs oldest to newest.
  $("races").innerHTML = races.map((r, i) => ({ r, i })).reverse().map(({ r, i }) => {
    const pb = r.best_ms !== null && r.best_ms === h.best_ms;
    const heat = r.event_id !== null && r.event_id !== undefined
      ? ` <a class="sub" href="/results.html?event=${r.event_id}">heat of event ${r.event_id}</a>` : "";
    return `<tr data-race="${r.race_id}" data-index="${i + 1}">
      <td class="date wide-only">${esc(dateText(r.created_at))}</td>
      <td class="race"><a href="/results.html?race=${r.race_id}">${esc(raceName(r))}</a>${
        r.car_class ? ` <span class="class-tag">${esc(r.car_class)}</span>` : ""}${heat}
        <span class="sub narrow-only">${esc(dateText(r.created_at))}</span></td>
      <td class="num pos">${r.position}/${r.entrants}</td>
      <td class="num laps">${r.laps}</td>
      <td class="num lap${pb ? " best" : ""}"${pb ? ' title="best lap ever"' : ""}>${lapTime(r.best_ms) || "–"}</td>
      <td class="num avg">${lapTime(r.avg_ms) || "–"}</td></tr>`;
  }).join("") || '<tr class="empty"><td colspan="6">No races yet</td></tr>';
  plot(races);
}

let chart = null;
function plot(races) {
  const el = $("plot");
  chart?.destroy();
  chart = null;
  el.textContent = "";
  const secs = (ms) => (ms === null || ms === undefined ? null : ms / 1000);
  const best = races.map((r) => secs(r.best_ms));
  const avg = races.map((r) => secs(r.avg_ms));
  if (![...best, ...avg].some((v) => v !== null)) {
    el.classList.add("none");
    el.textContent = races.length ? "No lap times to plot" : "No races to plot";
    return;
  }
  el.classList.remove("none");
  const xs = races.map((_, i) => i + 1);
  const label = (i) => {
    const r = races[i - 1];
    return r ? `${i} · ${dateText(r.created_at)}` : "";
  };
  const axis = { stroke: "#ddd", grid: { stroke: "#333" }, ticks: { stroke: "#555" } };
  const width = () => Math.max(240, el.clientWidth - 10);
  const lap = (u, v) => (v === null || v === undefined ? "–" : lapTime(v * 1000));
  chart = new uPlot({
    width: width(),
    height: HEIGHT,
    // Half a race either side, so one race is a point in the middle, not a degenerate range.
    scales: { x: { time: false, range: (u, min, max) => [min - 0.5, max + 0.5] } },
    axes: [
      // Whole races only: one tick (and grid line) per race, fewer when they crowd.
      { ...axis, label: "Race", incrs: [1, 2, 5, 10, 20, 50, 100, 200] },
      { ...axis, label: "Lap (s)", size: 60 },
    ],
    series: [
      { label: "Race", value: (u, v) => (v === null || v === undefined ? "–" : label(v)) },
      { label: "Best", stroke: "#d09bff", width: 2, points: { show: true, size: 7 }, value: lap },
      { label: "Average", stroke: "#5ac8fa", width: 2, dash: [6, 4], points: { show: true, size: 6 }, value: lap },
    ],
  }, [xs, best, avg], el);
}
addEventListener("resize", () => chart?.setSize({ width: Math.max(240, $("plot").clientWidth - 10), height: HEIGHT }));

names();
const name = (new URLSearchParams(location.search).get("name") ?? "").trim();
if (name) show(name);
else $("name").focus();
