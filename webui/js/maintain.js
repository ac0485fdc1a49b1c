// The maintainer's page (director only): the box's health every 5 s (tiles, warnings, the
// last hour as small uPlot plots, the services), the Wi-Fi clients, the diagnostics and
// backup downloads, and a restore from a backup file. A reading the box cannot take is
// null and shows as "unknown", never as 0. Refusals show the API's own `detail`.

import { api, ApiError, info, directorLogin, directorLogout } from "./api.js";
import { signature, signedFetch } from "./director.js";
import { reason, showError, status } from "./page.js";
import { registerServiceWorker } from "./pwa.js";
import { esc } from "./format.js";
import { bytes, clockText, duration, known, mib, rate, share } from "./health_format.js";
import { renderPlots } from "./health_plots.js";

const $ = (id) => document.getElementById(id);
const REFRESH_MS = 5000;
registerServiceWorker();

let track = null; // /api/info
let polling = null; // the refresh timer while logged in
let lastAt = null; // the newest reading's `at`, and when this page saw it change
let lastChange = 0;



// --- tiles --------------------------------------------------------------------------------
const FLAGS = [
  ["under_voltage", "Under-voltage"], ["freq_capped", "Frequency capped"],
  ["throttled", "Throttled"], ["soft_temp_limit", "Soft temperature limit"],
];

/** One tile: its value ("unknown" when null), a line under it, and a warning level. */
function tile(name, value, sub = "", level = "") {
  const el = document.querySelector(`.tile[data-tile="${name}"]`);
  const v = $(`t-${name}`);
  v.textContent = value ?? "unknown";
  v.classList.toggle("unknown", value === null || value === undefined);
  $(`t-${name}-sub`).textContent = sub;
  el.dataset.level = level;
}

function renderTiles(now) {
  const level = (...checks) => {
    const hits = (now?.warnings ?? []).filter((w) => checks.includes(w.check));
    return hits.some((w) => w.level === "critical") ? "critical" : hits.length ? "warning" : "";
  };
  const version = now?.version ?? track?.version ?? null;
  const apiVersion = track?.version;
  tile("version", version, apiVersion && now && apiVersion !== now.version
    ? `the API runs ${apiVersion}` : "");
  if (!now) {
    for (const name of ["temp", "power", "boot", "cpu", "load", "memory", "disk", "write", "uptime"]) {
      tile(name, null, "no reading yet");
    }
    return;
  }
  tile("temp", known(now.cpu_temp_c) ? `${now.cpu_temp_c.toFixed(1)} °C` : null,
    known(now.cpu_temp_c) ? "the Pi slows down at 80 °C" : "no sensor on this machine",
    level("temperature"));

  const t = now.throttle;
  if (!t) {
    tile("power", null, "not a Raspberry Pi, or the firmware cannot tell");
    tile("boot", null, "not a Raspberry Pi, or the firmware cannot tell");
  } else {
    const on = FLAGS.filter(([key]) => t[key]).map(([, text]) => text);
    const was = FLAGS.filter(([key]) => t[`${key}_occurred`]).map(([, text]) => text);
    tile("power", on.length ? on.join(", ") : "OK",
      on.length ? "happening now" : "no under-voltage or throttling",
      t.under_voltage ? "critical" : on.length ? "warning" : "");
    tile("boot", was.length ? was.join(", ") : "OK",
      `${was.length ? "has happened since boot" : "nothing since boot"} · 0x${(t.raw >>> 0).toString(16)}`,
      was.length ? "warning" : "");
  }
  tile("cpu", known(now.cpu_percent) ? `${now.cpu_percent.toFixed(0)} %` : null,
    known(now.cpu_percent) ? "of all cores" : "needs a second reading");
  const load = Array.isArray(now.load) ? now.load : null;
  tile("load", load ? load.map((x) => (known(x) ? x.toFixed(2) : "?")).join(" · ") : null,
    load ? "processes waiting for a CPU" : "");
  tile("memory", mib(now.mem_available_mib),
    known(now.mem_total_mib) ? `of ${mib(now.mem_total_mib)}${share(now.mem_available_mib, now.mem_total_mib)}` : "",
    level("memory"));
  tile("disk", mib(now.disk_free_mib),
    known(now.disk_total_mib) ? `of ${mib(now.disk_total_mib)}${share(now.disk_free_mib, now.disk_total_mib)}` : "",
    level("disk"));
  tile("write", rate(now.disk_write_kib_s), known(now.disk_write_kib_s) ? "to the data partition" : "");
  tile("uptime", duration(now.uptime_s), known(now.uptime_s) ? "since the box started" : "");
}

function renderWarnings(now) {
  const el = $("warnings");
  if (!now) {
    el.innerHTML = '<li class="empty">No health reading yet</li>';
    return;
  }
  const order = { critical: 0, warning: 1 };
  const list = [...now.warnings].sort((a, b) => (order[a.level] ?? 2) - (order[b.level] ?? 2));
  el.innerHTML = list.map((w) => `<li class="${w.level === "critical" ? "critical" : "warning"}"
      data-check="${esc(w.check)}"><span class="level">${w.level === "critical" ? "Critical" : "Warning"}</span>
      <span class="message">${esc(w.message)}</span></li>`).join("") ||
    '<li class="empty ok">No warnings: everything within its limits</li>';
}

/** "No reading" and "no new reading for a while" (the health service stopped?). */
function renderStale(now, history) {
  const note = $("stale");
  if (!now) {
    note.textContent = "No health reading from the box: is the health service (pitwall health) running?";
    note.hidden = false;
    $("updated").textContent = "";
    return;
  }
  if (now.at !== lastAt) {
    lastAt = now.at;
    lastChange = performance.now();
  }
  // Expect a reading about as often as the history has them (5 s by default).
  const gaps = history.slice(-6).map((h, i, a) => (i ? h.at - a[i - 1].at : null)).filter((g) => g > 0);
  const every = gaps.length ? Math.max(...gaps) : REFRESH_MS / 1000;
  const quiet = (performance.now() - lastChange) / 1000;
  $("updated").textContent = `· reading of ${clockText(now.at)}, the box's clock`;
  if (quiet > Math.max(30, 3 * every)) {
    note.textContent = `No new reading for ${duration(quiet)}: is the health service (pitwall health) still running?`;
    note.hidden = false;
  } else {
    note.hidden = true;
  }
}

// --- tables -------------------------------------------------------------------------------
function setRows(id, html) {
  const el = $(id);
  if (el.dataset.html !== html) { // only on change: a selection survives the refresh
    el.innerHTML = html;
    el.dataset.html = html;
  }
}

const unknown = '<span class="unknown">unknown</span>';

function renderServices(now) {
  if (!now) {
    setRows("services", '<tr class="empty"><td colspan="5">No health reading yet</td></tr>');
    return;
  }
  const mqttCell = (m) => (m === "online" ? '<span class="state good">online</span>'
    : m === "degraded" ? '<span class="state meh">degraded</span>'
    : m === "offline" ? '<span class="state bad">offline</span>'
      : '<span class="unknown">never seen</span>');
  const systemdCell = (s) => {
    if (s === null || s === undefined) return '<span class="unknown">unknown</span>';
    const cls = s === "active" ? "good" : s === "failed" ? "bad" : "meh";
    return `<span class="state ${cls}">${esc(s)}</span>`;
  };
  const since = (s) => (s ? esc(s) : unknown);
  const rows = [...now.services].sort((a, b) => a.name.localeCompare(b.name)).map((s) => `
    <tr data-service="${esc(s.name)}">
      <td class="name">${esc(s.name)}</td>
      <td class="mqtt">${mqttCell(s.mqtt)}</td>
      <td class="systemd">${systemdCell(s.systemd)}<span class="sub narrow-only">since ${since(s.since)}</span></td>
      <td class="num restarts">${known(s.restarts) ? s.restarts : unknown}</td>
      <td class="since wide-only">${since(s.since)}</td></tr>`);
  setRows("services", rows.join("") ||
    '<tr class="empty"><td colspan="5">No services seen on the broker</td></tr>');
}

function leaseEnd(expires) {
  if (expires === null || expires === undefined || expires === "") return unknown;
  if (typeof expires === "number") {
    if (expires === 0) return "never"; // dnsmasq: an infinite lease
    const when = new Date(expires * 1000);
    const today = when.toDateString() === new Date().toDateString();
    return esc(today ? when.toLocaleTimeString() : when.toLocaleString());
  }
  const parsed = Date.parse(expires);
  return esc(Number.isNaN(parsed) ? String(expires) : new Date(parsed).toLocaleString());
}

function renderClients(clients) {
  $("clients-count").textContent = clients.length ? `· ${clients.length}` : "";
  const sorted = [...clients].sort((a, b) => String(a.ip).localeCompare(String(b.ip), undefined,
    { numeric: true }));
  setRows("clients", sorted.map((c) => `<tr data-mac="${esc(c.mac ?? "")}">
      <td class="host">${c.hostname ? esc(c.hostname) : '<span class="unknown">no name</span>'}
        <span class="sub narrow-only mac">${esc(c.mac ?? "")}</span></td>
      <td class="mac wide-only">${esc(c.mac ?? "")}</td>
      <td class="ip">${esc(c.ip ?? "")}</td>
      <td class="lease">${leaseEnd(c.expires_at)}</td></tr>`).join("") ||
    '<tr class="empty"><td colspan="4">No Wi-Fi clients (or no hotspot on this box)</td></tr>');
}

// --- the refresh loop -----------------------------------------------------------------------
async function refresh() {
  if (document.hidden) return;
  const [health, clients] = await Promise.allSettled([
    api("/api/maintenance/health"), api("/api/maintenance/clients"),
  ]);
  const failed = [health, clients].find((r) => r.status === "rejected");
  if (failed && failed.reason instanceof ApiError && failed.reason.status === 401) {
    loggedOut();
    return;
  }
  const problems = [];
  if (health.status === "fulfilled") {
    const now = health.value?.now ?? null;
    const history = Array.isArray(health.value?.history) ? health.value.history : [];
    renderTiles(now);
    renderWarnings(now);
    renderStale(now, history);
    renderPlots(now, history);
    renderServices(now);
  } else {
    problems.push(`Could not read the health: ${reason(health.reason)}`);
  }
  if (clients.status === "fulfilled") renderClients(Array.isArray(clients.value) ? clients.value : []);
  else problems.push(`Could not read the Wi-Fi clients: ${reason(clients.reason)}`);
  showError(problems.join(" · "));
}

function startPolling() {
  stopPolling();
  const tick = async () => {
    try {
      await refresh();
    } finally {
      if (polling !== null) polling = setTimeout(tick, REFRESH_MS);
    }
  };
  polling = 0; // running
  tick();
}

function stopPolling() {
  if (polling) clearTimeout(polling);
  polling = null;
}

document.addEventListener("visibilitychange", () => {
  if (!document.hidden && polling !== null) startPolling();
});

// --- backup and restore -------------------------------------------------------------------
/** The file name from Content-Disposition (`filename="…"` or `filename*=UTF-8''…`). */
function fileName(disposition, fallback) {
  const star = /filename\*\s*=\s*[^']*''([^;]+)/i.exec(disposition ?? "");
  if (star) {
    try {
      return decodeURIComponent(star[1].trim().replace(/^"|"$/g, ""));
    } catch { /* fall through */ }
  }
  const plain = /filename\s*=\s*"?([^";]+)"?/i.exec(disposition ?? "");
  return plain ? plain[1].trim() : fallback;
}

async function errorDetail(response) {
  try {
    const data = await response.json();
    if (data && typeof data.detail === "string") return data.detail;
    if (data && data.detail) return JSON.stringify(data.detail);
  } catch { /* not JSON */ }
  return response.statusText || `HTTP ${response.status}`;
}

$("backup").addEventListener("click", async () => {
  const button = $("backup");
  button.disabled = true;
  status("backup-status", "Making the backup…", "busy");
  try {
    let response;
    try {
      response = await signedFetch("/api/maintenance/backup", { method: "POST", credentials: "same-origin", cache: "no-store" });
    } catch {
      throw new ApiError(0, "the server is not answering (Wi-Fi?)");
    }
    if (!response.ok) throw new ApiError(response.status, await errorDetail(response));
    const blob = await response.blob();
    const name = fileName(response.headers.get("Content-Disposition"),
      `pitwall-backup-${new Date().toISOString().slice(0, 19).replace(/[-:T]/g, "")}.tar.gz`);
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = name;
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
    status("backup-status", `Backup downloaded: ${name} (${bytes(blob.size)}). Keep it off the box.`);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) loggedOut();
    status("backup-status", `Could not make the backup: ${reason(err)}`, "error");
  } finally {
    button.disabled = false;
  }
});

// The diagnostics are the director's: a plain link would carry no signature, so fetch
// them signed and hand the browser the file.
$("diagnostics").addEventListener("click", async (event) => {
  event.preventDefault();
  try {
    const response = await signedFetch("/api/maintenance/diagnostics.tar.gz", { cache: "no-store" });
    if (!response.ok) throw new ApiError(response.status, await errorDetail(response));
    const blob = await response.blob();
    const url = URL.createObjectURL(blob);
    const a = document.createElement("a");
    a.href = url;
    a.download = fileName(response.headers.get("Content-Disposition"), "pitwall-diagnostics.tar.gz");
    a.hidden = true;
    document.body.append(a);
    a.click();
    a.remove();
    setTimeout(() => URL.revokeObjectURL(url), 60_000);
  } catch (err) {
    if (err instanceof ApiError && err.status === 401) loggedOut();
    showError(`Could not download the diagnostics: ${reason(err)}`);
  }
});

$("restore-file").addEventListener("change", () => {
  $("restore").disabled = !$("restore-file").files.length;
  $("restore-error").hidden = true;
  status("restore-status", "");
});

/** POST the file as the raw body, with upload progress (XMLHttpRequest: fetch has none),
 * signed over its bytes like every director request. */
async function upload(file, onProgress, onSent) {
  const body = new Uint8Array(await file.arrayBuffer());
  const auth = signature("POST", "/api/maintenance/restore", body);
  return new Promise((resolve) => {
    const xhr = new XMLHttpRequest();
    xhr.open("POST", "/api/maintenance/restore");
    xhr.withCredentials = true;
    xhr.setRequestHeader("Content-Type", "application/gzip");
    if (auth) xhr.setRequestHeader("Authorization", auth);
    xhr.upload.addEventListener("progress", (e) => e.lengthComputable && onProgress(e.loaded / e.total));
    xhr.upload.addEventListener("load", onSent);
    xhr.addEventListener("load", () => {
      let data = null;
      try {
        data = JSON.parse(xhr.responseText);
      } catch { /* not JSON */ }
      resolve({ status: xhr.status, data, statusText: xhr.statusText });
    });
    xhr.addEventListener("error", () => resolve({ status: 0, data: null, statusText: "" }));
    xhr.send(body);
  });
}

$("restore-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const file = $("restore-file").files[0];
  if (!file) return;
  if (!confirm(`Restore ${file.name} (${bytes(file.size)})?\n\nThe race database on the box ` +
    "(races, laps, drivers, championships) is replaced by the backup's. The archive is " +
    "checked first, and the database replaced is kept on the box.")) {
    status("restore-status", "Restore cancelled: nothing changed.", "muted");
    return;
  }
  const button = $("restore");
  const bar = $("restore-progress");
  button.disabled = true;
  $("restore-file").disabled = true;
  $("restore-error").hidden = true;
  bar.hidden = false;
  bar.value = 0;
  status("restore-status", "Uploading… 0 %", "busy");
  const result = await upload(file, (part) => {
    bar.value = Math.round(part * 100);
    status("restore-status", `Uploading… ${Math.round(part * 100)} %`, "busy");
  }, () => {
    bar.removeAttribute("value"); // indeterminate while the box checks the archive
    status("restore-status", "Verifying the archive…", "busy");
  });
  bar.hidden = true;
  $("restore-file").disabled = false;
  if (result.status === 200 && result.data?.restored) {
    const { races, passes } = result.data;
    status("restore-status", `Restored ${file.name}: ${races} race${races === 1 ? "" : "s"}, ` +
      `${passes} pass${passes === 1 ? "" : "es"}.`);
    $("restore-form").reset();
    button.disabled = true;
    return;
  }
  button.disabled = false;
  if (result.status === 401) loggedOut();
  const detail = typeof result.data?.detail === "string" ? result.data.detail
    : result.data?.detail ? JSON.stringify(result.data.detail)
      : result.status === 0 ? "the server is not answering (Wi-Fi?)" : result.statusText || `HTTP ${result.status}`;
  // The API's refusals say so themselves; anything else in 4xx never reached the data.
  const unchanged = result.status >= 400 && result.status < 500 && !/nothing was changed/i.test(detail)
    ? " Nothing was changed." : "";
  status("restore-status", "");
  $("restore-error").textContent = `Restore refused: ${detail}${result.status ? ` (${result.status})` : ""}.${unchanged}`;
  $("restore-error").hidden = false;
});

// --- login ----------------------------------------------------------------------------------
function showLogin(note = "", kind = "error") {
  stopPolling();
  $("maintain").hidden = true;
  $("logout").hidden = true;
  $("login").hidden = false;
  status("login-status", note, kind);
  $("pin").focus();
}

function showMaintain() {
  $("login").hidden = true;
  $("maintain").hidden = false;
  $("logout").hidden = false;
  startPolling();
}

function loggedOut() {
  showLogin("Your session ended: log in again.");
}

$("login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const button = event.submitter ?? event.target.querySelector("button");
  button.disabled = true;
  try {
    await directorLogin($("pin").value);
    status("login-status", "Logged in as race director");
    showMaintain();
  } catch (err) {
    status("login-status", `Login failed: ${reason(err)}`, "error");
  } finally {
    button.disabled = false;
    $("pin").value = "";
  }
});

$("logout").addEventListener("click", async () => {
  try {
    await directorLogout();
    showLogin("Logged out", "ok");
  } catch (err) {
    showError(`Could not log out: ${reason(err)}`);
  }
});

// --- start --------------------------------------------------------------------------------
track = await info();
if (track && track.director_pin_set === false) {
  showLogin("No director PIN is set on this track: set director_pin in the settings.");
} else {
  const me = await api("/api/auth/me").catch(() => null);
  if (me?.director) showMaintain();
  else showLogin(track ? "" : "The server is not answering: check the Wi-Fi.");
}
