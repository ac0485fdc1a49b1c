// Race control's lap editor: a race's pass log with each crossing's meaning and driver,
// reinstate or delete a crossing, add one the sensor missed, correct one's time; every
// edit re-scores the race from its log (the lap service does). It follows the current
// race unless the director chose an older one.

import { api } from "./api.js";
import { entrantLabel, esc, lapTime } from "./format.js";

const $ = (id) => document.getElementById(id);
let link = null; // race control's live link, and its act() and say() for feedback
let act = null;
let say = null;

let editRace = null; // the race whose pass log is shown
const KIND_TEXT = {
  lap: "lap", suspect: "suspect", start: "start", jump: "jump start", pre_start: "before start",
  yellow: "under yellow", stopped: "stopped", after_finish: "after finish", unknown: "unknown",
  deleted: "deleted",
};

let followedRace = null; // the current race when the race list was last loaded
export async function loadRaces() {
  const races = await api("/api/races?limit=50").catch(() => []);
  const select = $("edit-race");
  const keep = select.value;
  select.replaceChildren(...races.map((r) => {
    const option = document.createElement("option");
    option.value = r.id;
    option.textContent = `#${r.id} ${r.name || r.mode} (${r.phase})`;
    return option;
  }));
  const current = link.state?.race_id;
  // Follow the current race: a new race takes over the editor unless the director chose
  // an older one to edit.
  const following = !keep || keep === String(followedRace ?? "");
  select.value = !following && races.some((r) => String(r.id) === keep) ? keep
    : current ? String(current) : (races[0] ? String(races[0].id) : "");
  followedRace = current ?? null;
  loadPasses();
}

async function loadPasses() {
  editRace = $("edit-race").value ? Number($("edit-race").value) : null;
  if (!editRace) {
    $("passes").innerHTML = '<tr><td colspan="9" class="muted">No races yet</td></tr>';
    return;
  }
  let passes;
  let detail;
  try {
    [passes, detail] = await Promise.all([
      api(`/api/races/${editRace}/passes`), api(`/api/races/${editRace}`),
    ]);
  } catch (err) {
    say(`Loading the pass log failed: ${err.detail ?? err.message}`, "error");
    return;
  }
  const startNs = detail?.start_ns ?? null;
  const key = detail?.config?.entrant ?? link.state?.entrant ?? "car";
  const names = new Map((detail?.standings ?? []).map((st) => [st.entrant, st.driver]));
  const who = (entrant) => {
    const label = entrantLabel(key, entrant);
    const name = names.get(entrant);
    return name ? `${esc(name)} <span class="muted">${esc(label)}</span>` : esc(label);
  };
  const onlyOdd = $("only-questionable").checked;
  const shown = onlyOdd ? passes.filter((p) => p.kind === "suspect" || p.kind === "deleted") : passes;
  $("passes").innerHTML = shown.map((p) => {
    const t = startNs !== null ? ((p.t_ns - startNs) / 1e9).toFixed(3) : "";
    const canReinstate = p.kind === "suspect" || p.kind === "deleted";
    const canDelete = p.kind !== "deleted";
    return `<tr data-pass="${p.pass_id}" data-kind="${esc(p.kind)}">
      <td class="num">${p.pass_id}</td><td class="num">${t}</td>
      <td class="num">${p.lane ?? ""}</td><td class="num">${p.car ?? ""}</td>
      <td class="kind">${esc(KIND_TEXT[p.kind] ?? p.kind)}${p.override ? ` <span class="muted">(${esc(p.override)})</span>` : ""}${p.source === "manual" ? ' <span class="tag manual">manual</span>' : ""}${p.sensor_t_ns !== null && p.sensor_t_ns !== undefined ? ' <span class="tag moved" title="time corrected; the sensor said otherwise">corrected</span>' : ""}</td>
      <td class="who">${p.entrant !== null && p.entrant !== undefined ? who(p.entrant) : ""}</td>
      <td class="num">${p.lap ?? ""}</td><td class="num">${lapTime(p.lap_ms)}</td>
      <td class="edit">${canReinstate ? `<button type="button" data-edit="reinstate">Reinstate</button>` : ""}
        ${canDelete ? `<button type="button" data-edit="delete">Delete</button>` : ""}
        ${startNs !== null ? `<button type="button" data-time="${t}">Time…</button>` : ""}</td></tr>`;
  }).join("") || '<tr><td colspan="9" class="muted">No crossings</td></tr>';
}

/** Race time in seconds from a form field -> {race_ms} (to the microsecond). */
const raceMs = (value) => ({ race_ms: Math.round(Number(value) * 1000 * 1000) / 1000 });

/** Wire the editor to race control's live link and feedback (once, at start). */
export function initLapEditor(deps) {
  ({ link, act, say } = deps);
  $("edit-race").addEventListener("change", loadPasses);
  $("reload-passes").addEventListener("click", loadPasses);
  $("only-questionable").addEventListener("change", loadPasses);
  $("passes").addEventListener("click", async (event) => {
    const timeButton = event.target.closest("button[data-time]");
    if (timeButton) { // fill the correction form with this crossing
      const form = $("move-pass-form");
      form.elements.pass_id.value = timeButton.closest("tr").dataset.pass;
      form.elements.race_s.value = timeButton.dataset.time;
      form.elements.race_s.focus();
      form.elements.race_s.select();
      return;
    }
    const button = event.target.closest("button[data-edit]");
    if (!button) return;
    const id = button.closest("tr").dataset.pass;
    const edit = button.dataset.edit;
    const label = `${edit === "delete" ? "Delete" : "Reinstate"} crossing #${id}`;
    const ok = await act(label, () => api(`/api/passes/${id}/${edit}`, { method: "POST" }),
      { control: button, done: () => `${label}: done, race re-scored` });
    if (ok) loadPasses();
  });

  $("add-pass-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = event.target.elements;
    if (!editRace) return say("Choose a race first", "error");
    const body = { lane: Number(f.lane.value), ...raceMs(f.race_s.value) };
    if (f.car.value !== "") body.car = Number(f.car.value);
    const label = `Add a crossing on lane ${body.lane} at ${Number(f.race_s.value).toFixed(3)} s`;
    const ok = await act(label, () => api(`/api/races/${editRace}/passes`, { method: "POST", body }),
      { control: event.submitter, done: () => `${label}: done, race re-scored` });
    if (ok) {
      event.target.reset();
      loadPasses();
    }
  });

  $("move-pass-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    const f = event.target.elements;
    const id = Number(f.pass_id.value);
    const label = `Set crossing #${id} to ${Number(f.race_s.value).toFixed(3)} s`;
    const ok = await act(label, () => api(`/api/passes/${id}/time`, { method: "POST", body: raceMs(f.race_s.value) }),
      { control: event.submitter, done: () => `${label}: done, race re-scored` });
    if (ok) {
      event.target.reset();
      loadPasses();
    }
  });

  // The current race's log grows with each lap: refresh it, at most once a second.
  let passTimer = null;
  link.addEventListener("lap", (event) => {
    if (event.detail.race_id !== editRace || passTimer) return;
    passTimer = setTimeout(() => { passTimer = null; loadPasses(); }, 1000);
  });
}
