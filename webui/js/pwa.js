// The service worker is registered only in secure contexts (https, localhost): browsers
// refuse it on plain http, and everything works without it anyway.

export function registerServiceWorker() {
  if (!window.isSecureContext || !("serviceWorker" in navigator)) return;
  navigator.serviceWorker.register("/sw.js").catch(() => {
    // No offline shell, nothing else lost.
  });
}
