// Pitwall's service worker: registered only in secure contexts (see js/pwa.js).
//
// - /api/ (REST, live push, QR code): network only, never cached. A board must never show
//   stale race data as if it were live; when the network is gone, the page says so.
// - The app shell (pages, scripts, styles, icons, vendored libraries): network first, so
//   an updated Pi is picked up at once; the cached copy is used only when offline, so the
//   page still opens and shows "reconnecting…" instead of the browser's error page.

const CACHE = "pitwall-shell-v5";
const SHELL = [
  "/", "/index.html", "/tv.html", "/driver.html", "/control.html", "/results.html",
  "/team.html",
  "/manifest.webmanifest",
  "/css/base.css", "/css/home.css", "/css/tv.css", "/css/driver.css", "/css/control.css",
  "/css/results.css", "/css/team.css",
  "/js/api.js", "/js/banner.js", "/js/board.js", "/js/clock.js", "/js/control.js",
  "/js/driver.js", "/js/format.js", "/js/home.js", "/js/lap_editor.js", "/js/live.js", "/js/pwa.js",
  "/js/pits.js", "/js/race.js", "/js/results.js", "/js/storage.js", "/js/team.js", "/js/tv.js",
  "/js/page.js", "/js/voice.js", "/js/wakelock.js",
  "/maintain.html", "/css/maintain.css", "/js/maintain.js", "/js/health_format.js",
  "/js/health_plots.js",
  "/championship.html", "/records.html", "/history.html", "/css/club.css", "/css/championship.css", "/js/championship.js", "/js/records.js", "/js/history.js",
  "/js/director.js",
  "/vendor/@noble/hashes/sha2.js", "/vendor/@noble/hashes/hmac.js", "/vendor/@noble/hashes/_md.js",
  "/vendor/@noble/hashes/_u64.js", "/vendor/@noble/hashes/utils.js",
  "/vendor/uplot/uPlot.esm.js", "/vendor/uplot/uPlot.min.css",
  "/icons/icon.svg", "/icons/icon-192.png", "/icons/icon-512.png",
];

self.addEventListener("install", (event) => {
  event.waitUntil(caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()));
});

self.addEventListener("activate", (event) => {
  event.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k !== CACHE).map((k) => caches.delete(k))))
    .then(() => self.clients.claim()));
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  const url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== location.origin) return;
  if (url.pathname.startsWith("/api/")) return; // network only: the browser fetches it itself
  event.respondWith(fetch(request).then((response) => {
    if (response.ok) {
      const copy = response.clone();
      caches.open(CACHE).then((cache) => cache.put(request, copy));
    }
    return response;
  }).catch(() => caches.match(request, { ignoreSearch: true })
    .then((hit) => hit || Response.error())));
});
