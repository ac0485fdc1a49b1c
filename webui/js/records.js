// Records: the track record per car class and every driver's personal best, each with its
// race (linked to the results) and date; filter by car class (kept in the address as
// ?car_class=…, so a link opens the same view). Driver names open their history.

import { api } from "./api.js";
import { showError } from "./page.js";
import { registerServiceWorker } from "./pwa.js";
import { esc, lapTime } from "./format.js";

const $ = (id) => document.getElementById(id);
const ALL = "*";
registerServiceWorker();


function dateText(t) {
  return t ? new Date(t * 1000).toLocaleDateString(undefined, { dateStyle: "medium" }) : "";
}

/** "" is the one class of a club that keeps none. */
const classText = (c) => (c ? esc(c) : '<span class="muted">no class</span>');
const who = (name) => `<a class="driver" href="/history.html?name=${encodeURIComponent(name)}">${esc(name)}</a>`;
const race = (r) => `<a href="/results.html?race=${r.race_id}">${esc(r.race_name || `Race ${r.race_id}`)}</a>
  <span class="sub narrow-only">${esc(dateText(r.set_at))}</span>`;

function rows(list, first, holders) {
  return list.map((r) => {
    const record = holders.has(`${r.car_class}\n${r.driver}\n${r.lap_ms}`);
    const cells = first === "class"
      ? `<td><span class="class-tag">${classText(r.car_class)}</span></td><td>${who(r.driver)}</td>`
      : `<td>${who(r.driver)} <span class="class-tag narrow-only">${classText(r.car_class)}</span></td>
        <td class="wide-only"><span class="class-tag">${classText(r.car_class)}</span></td>`;
    return `<tr data-driver="${esc(r.driver)}" data-class="${esc(r.car_class)}">${cells}
      <td class="num lap${record ? " best" : ""}"${record ? ' title="track record"' : ""}>${lapTime(r.lap_ms)}</td>
      <td class="race">${race(r)}</td><td class="date wide-only">${esc(dateText(r.set_at))}</td></tr>`;
  }).join("");
}

function wanted() {
  const p = new URLSearchParams(location.search);
  return p.has("car_class") ? p.get("car_class") : ALL;
}

async function load() {
  const cls = wanted();
  const query = cls === ALL ? "" : `?car_class=${encodeURIComponent(cls)}`;
  let records;
  let all;
  try {
    [records, all] = await Promise.all([api(`/api/records${query}`),
      query ? api("/api/records") : null]);
  } catch (err) {
    showError(`Could not load the records: ${err.detail ?? err.message}`);
    return;
  }
  showError("");
  // The classes to pick from come from every record, whichever is shown.
  const classes = (all ?? records).track.map((r) => r.car_class);
  if (cls !== ALL && !classes.includes(cls)) classes.push(cls);
  const select = $("car-class");
  select.innerHTML = `<option value="${ALL}">All classes</option>` + classes.map((c) =>
    `<option value="=${esc(c)}">${c ? esc(c) : "No class"}</option>`).join("");
  select.value = cls === ALL ? ALL : `=${cls}`;

  const holders = new Set(records.track.map((r) => `${r.car_class}\n${r.driver}\n${r.lap_ms}`));
  $("track").innerHTML = rows(records.track, "class", holders) ||
    '<tr class="empty"><td colspan="5">No records yet: they come with the first finished race</td></tr>';
  $("personal").innerHTML = rows(records.personal, "driver", holders) ||
    '<tr class="empty"><td colspan="5">No personal bests yet</td></tr>';
  $("title").textContent = cls === ALL ? "Records" : `Records · ${cls || "no class"}`;
}

$("car-class").addEventListener("change", () => {
  const v = $("car-class").value;
  const url = new URL(location.href);
  if (v === ALL) url.searchParams.delete("car_class");
  else url.searchParams.set("car_class", v.slice(1));
  history.pushState(null, "", url);
  load();
});
addEventListener("popstate", load);
$("filter").addEventListener("submit", (e) => e.preventDefault());

load();
