// The connection banner: "Reconnecting…" while the live link is down, "Lap service
// offline" while the server is up but the timing is not. It also sets
// <html data-live="live|reconnecting|laps-offline|laps-degraded">, which the stylesheet
// uses to grey out every board, so stale numbers are never shown as live. Degraded: the
// lap service cannot store passes (storage full); they wait and none is lost, so the
// board stays live, with a warning.

export function mountBanner(live, parent = document.body) {
  const banner = document.createElement("div");
  banner.className = "live-banner";
  banner.setAttribute("role", "status");
  banner.setAttribute("aria-live", "polite");
  parent.prepend(banner);

  const render = () => {
    let mode;
    let text;
    if (!live.connected) {
      mode = "reconnecting";
      text = live.lastDropReason ? "Reconnecting…" : "Connecting…";
    } else if (!live.lapsOnline) {
      mode = "laps-offline";
      text = "Lap service offline: times are not live";
    } else if (live.lapsDegraded) {
      mode = "laps-degraded";
      text = "Timing storage full: laps may lag until space is freed (Maintain page)";
    } else {
      mode = "live";
      text = "";
    }
    document.documentElement.dataset.live = mode;
    document.documentElement.dataset.transport = live.transport ?? "";
    banner.textContent = text;
    banner.hidden = mode === "live";
  };
  live.addEventListener("connection", render);
  render();
  return banner;
}
