// Home: the live board sized for a phone, and links to the other views.

import { info } from "./api.js";
import { mountBanner } from "./banner.js";
import {
  flashRow, lightsMarkup, renderClock, renderFlag, renderStandings, setLights,
} from "./board.js";
import { live } from "./live.js";
import { registerServiceWorker } from "./pwa.js";
import { lightsTimer, startLights } from "./race.js";

const $ = (id) => document.getElementById(id);
const link = live();
mountBanner(link);
registerServiceWorker();

$("lights-box").innerHTML = lightsMarkup();
const lightsEl = $("lights-box").querySelector(".lights");

function renderState() {
  const state = link.state;
  renderStandings($("standings"), state, { columns: "compact" });
  $("race-name").textContent = state?.name || "";
  renderFlag($("flag"), state);
  tick();
}

function tick() {
  renderClock($("clock-main"), $("clock-sub"), link.state, link.clock);
  setLights(lightsEl, startLights(link.state, link.lights, link.clock));
}

const lightsOnTime = lightsTimer(tick, link); // each lamp on its planned moment
link.addEventListener("state", () => { renderState(); lightsOnTime(); });
link.addEventListener("lights", lightsOnTime);
link.addEventListener("lap", (e) => flashRow($("standings"), e.detail.entrant));
renderState();
setInterval(tick, 100);

info().then((track) => {
  if (track?.track_name) $("track").textContent = track.track_name;
});
