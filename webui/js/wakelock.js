// Keep a phone's screen on while its page follows a car (Wake Lock where the browser has
// it). The lock goes when the page is hidden; it is asked for again when it shows, if
// ``wanted()`` still says so.

let lock = null;

export async function keepAwake() {
  if (!("wakeLock" in navigator) || lock || document.visibilityState !== "visible") return;
  try {
    lock = await navigator.wakeLock.request("screen");
    lock.addEventListener("release", () => { lock = null; });
  } catch {
    lock = null; // refused (battery saver, no user gesture): the screen may sleep
  }
}

export function keepAwakeWhile(wanted) {
  document.addEventListener("visibilitychange", () => wanted() && keepAwake());
}
