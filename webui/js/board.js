// The standings table, shared by the home page and the TV board. Rows are rebuilt from
// each state frame (a few dozen cells); the stylesheet fixes column widths and uses
// tabular numerals, so nothing shifts when the numbers change.

import { entrantLabel, esc, gap, lapTime } from "./format.js";
import { raceBest } from "./race.js";

export function renderStandings(tbody, state, { columns = "full" } = {}) {
  const standings = state?.standings ?? [];
  if (!state || state.race_id === null || standings.length === 0) {
    const span = columns === "full" ? 6 : 5;
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
      s.jump_start ? '<span class="tag jump" title="Jump start">JS</span>' : "",
    ].join("");
    const bestClass = best !== null && s.best_ms === best ? "num best race-best" : "num best";
    return `<tr data-entrant="${s.entrant}">
      <td class="num pos">${s.position}</td>
      <td class="who"><span class="driver">${esc(driver)}</span>${tags}
        <span class="entrant">${s.driver ? esc(label) : ""}</span></td>
      <td class="num laps">${s.laps}</td>
      <td class="num last">${lapTime(s.last_ms)}</td>
      <td class="${bestClass}">${lapTime(s.best_ms)}</td>
      ${columns === "full" ? `<td class="num gap">${gap(s)}</td>` : ""}
    </tr>`;
  }).join("");
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
  el.hidden = !view.show;
  el.classList.toggle("go", view.green);
  el.querySelectorAll(".lamp").forEach((lamp, i) => {
    lamp.classList.toggle("on", !view.green && i < view.reds);
  });
}
