// The TV board: standings, race clock or laps to go, flag, start lights, Wi-Fi QR; in
// endurance races the stint, stops, pit and pace columns (board.js).

import { info } from "./api.js";
import { mountBanner } from "./banner.js";
import {
  flashRow, lightsMarkup, renderClock, renderFlag, renderStandings, setLights, tickPitTimers,
} from "./board.js";
import { live } from "./live.js";
import { registerServiceWorker } from "./pwa.js";
import { lightsTimer, startLights } from "./race.js";

const $ = (id) => document.getElementById(id);
const link = live();
mountBanner(link);
registerServiceWorker();

const overlay = $("lights-overlay");
overlay.innerHTML = lightsMarkup();
const lightsEl = overlay.querySelector(".lights");

function renderState() {
  const state = link.state;
  renderStandings($("standings"), state);
  document.body.classList.toggle("endurance", state?.mode === "endurance");
  $("race-name").textContent = state?.name || "";
  renderFlag($("flag"), state);
  tick();
}

// The clock and the lights move between frames: redraw them on animation frames.
function tick() {
  renderClock($("clock-main"), $("clock-sub"), link.state, link.clock);
  tickPitTimers($("standings"), link.clock);
  const view = startLights(link.state, link.lights, link.clock);
  setLights(lightsEl, view);
  overlay.hidden = !view.show;
}

// Besides every animation frame, a timer at each planned light change (frames pause in
// background tabs and are throttled on some TVs).
const lightsOnTime = lightsTimer(tick, link);
link.addEventListener("state", () => { renderState(); lightsOnTime(); });
link.addEventListener("lights", lightsOnTime);
link.addEventListener("lap", (e) => flashRow($("standings"), e.detail.entrant));
renderState();
(function loop() {
  tick();
  requestAnimationFrame(loop);
})();

// Track info (name, Wi-Fi) once the server answers; retried on each reconnect until then.
let trackLoaded = false;
async function loadTrack() {
  const track = await info();
  if (!track || trackLoaded) return;
  trackLoaded = true;
  if (track.track_name) $("track").textContent = track.track_name;
  if (track.wifi) {
    $("wifi-qr").src = track.wifi.qr_svg || "/api/wifi/qr.svg";
    $("wifi-ssid").textContent = track.wifi.ssid;
    $("wifi").hidden = false;
  }
}
link.addEventListener("connection", () => link.connected && !trackLoaded && loadTrack());
loadTrack();
