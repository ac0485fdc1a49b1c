// The standings table, shared by the home page and the TV board. Rows are rebuilt from
// each state frame (a few dozen cells); the stylesheet fixes column widths and uses
// tabular numerals, so nothing shifts when the numbers change.

import { entrantLabel, esc, FLAG_TEXT, gap, lapTime } from "./format.js";
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
      s.jump_start ? jumpTag(s) : "",
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
