// The captive-portal page. It runs inside the phone's portal sheet, where iOS allows no
// WebSockets and no localStorage: live data comes from the Server-Sent Events stream
// (/api/live/events), or from polling /api/races/current where even that fails. The
// "Go to the lap board" button is a plain form post, so it works without this script;
// the server answers with a redirect back here, and that page load makes the OS check
// again and find the network "online".

import { api } from "./api.js";
import { renderFlag, renderStandings } from "./board.js";
import { PiClock } from "./clock.js";
import { esc } from "./format.js";
import { raceClock } from "./race.js";

const $ = (id) => document.getElementById(id);
const POLL_MS = 2000;
const SSE_FAILURES_BEFORE_POLLING = 3;
const clock = new PiClock();
let state = null;

// ---------------------------------------------------------------- captive or online
function showOnline(online) {
  $("captive").hidden = online;
  $("online").hidden = !online;
}

function showBoard(url) {
  $("board-link").href = url;
  const address = url.replace(/^https?:\/\//, "").replace(/\/$/, "");
  $("board-url").textContent = address;
  $("board-address").textContent = address;
  $("howto").innerHTML = howto(url.replace(/\/$/, ""));
}

/** How to open the board in the phone's real browser, for this phone's OS. */
function howto(address) {
  const ua = navigator.userAgent;
  const ios = /iPhone|iPad|iPod/.test(ua) || (/Macintosh/.test(ua) && navigator.maxTouchPoints > 1);
  const a = `<strong>${esc(address.replace(/^https?:\/\//, ""))}</strong>`;
  if (ios) {
    return `<ol><li>Tap <strong>Done</strong> at the top right: this window closes and you stay on the Wi-Fi.</li>
      <li>Open <strong>Safari</strong> and type ${a} in the address bar.</li>
      <li>Tip: Share → <strong>Add to Home Screen</strong> keeps the board one tap away.</li></ol>`;
  }
  if (/Android/.test(ua)) {
    return `<ol><li>Tap <strong>⋮</strong> (top right) → <strong>Open in browser</strong>, or open
      <strong>Chrome</strong> and type ${a}.</li>
      <li>If Android asks whether to stay on a network without internet, choose
      <strong>Keep Wi-Fi connection</strong> / <strong>Yes</strong>.</li></ol>`;
  }
  if (/Macintosh/.test(ua)) {
    return `<ol><li>Click <strong>Done</strong>, then open Safari or any browser at ${a}.</li></ol>`;
  }
  return `<ol><li>Open your browser at ${a}, or use the link above.</li></ol>`;
}

async function checkCaptive() {
  if (new URLSearchParams(location.search).has("online")) showOnline(true);
  try {
    const captive = await api("/api/captive");
    showOnline(!captive.captive);
    showBoard(captive["venue-info-url"]);
  } catch {
    showBoard(`${location.protocol}//${location.host}/`);
  }
  const track = await api("/api/info").catch(() => null);
  if (track?.track_name) {
    $("track").textContent = track.track_name;
    document.title = `${track.track_name}: race Wi-Fi`;
  }
}

// ---------------------------------------------------------------- live standings
function setLive(live, text) {
  document.documentElement.dataset.live = live ? "live" : "reconnecting";
  $("link-state").textContent = text;
}

function render() {
  renderStandings($("standings"), state, { columns: "compact" });
  $("race-name").textContent = state?.name || "";
  $("race-sub").textContent = raceClock(state, clock).sub;
  renderFlag($("flag"), state);
}

function follow() {
  if (typeof EventSource !== "function") {
    poll();
    return;
  }
  const source = new EventSource("/api/live/events");
  let failures = 0;
  source.addEventListener("state", (event) => {
    const frame = JSON.parse(event.data);
    clock.sync(frame.now_ns);
    state = frame.data;
    failures = 0;
    render();
  });
  source.addEventListener("status", (event) => {
    const { laps, mqtt } = JSON.parse(event.data).data;
    setLive(laps && mqtt, laps && mqtt ? "Live" : "Timing is offline: these are the last known times");
  });
  source.onerror = () => {
    setLive(false, "Reconnecting…");
    failures += 1;
    if (failures >= SSE_FAILURES_BEFORE_POLLING) { // the stream never gets through here
      source.close();
      poll();
    }
  };
}

async function poll() {
  try {
    state = await api("/api/races/current");
    setLive(true, "Live (updated every few seconds)");
    render();
  } catch {
    setLive(false, "Reconnecting…");
  }
  setTimeout(poll, POLL_MS);
}

render();
checkCaptive();
follow();
