// How the maintainer's page writes the box's readings. A reading the box cannot take is
// null: these return null for it (shown as "unknown"), never 0.

/** A reading the box took (null, undefined and NaN are not). */
export const known = (v) => v !== null && v !== undefined && Number.isFinite(v);

export function mib(v) {
  if (!known(v)) return null;
  if (v >= 1024 * 10) return `${(v / 1024).toFixed(0)} GiB`;
  if (v >= 1024) return `${(v / 1024).toFixed(1)} GiB`;
  return `${v.toFixed(0)} MiB`;
}

export function bytes(n) {
  if (n >= 1024 * 1024) return `${(n / 1024 / 1024).toFixed(1)} MiB`;
  if (n >= 1024) return `${(n / 1024).toFixed(0)} KiB`;
  return `${n} bytes`;
}

export function rate(kib) {
  if (!known(kib)) return null;
  if (kib >= 1024) return `${(kib / 1024).toFixed(1)} MiB/s`;
  return `${kib < 10 ? kib.toFixed(1) : kib.toFixed(0)} KiB/s`;
}

export function duration(s) {
  if (!known(s)) return null;
  const d = Math.floor(s / 86400);
  const h = Math.floor((s % 86400) / 3600);
  const m = Math.floor((s % 3600) / 60);
  if (d) return `${d} d ${h} h`;
  if (h) return `${h} h ${m} min`;
  if (m) return `${m} min`;
  return `${Math.floor(s)} s`;
}

export function share(part, total) {
  return known(part) && known(total) && total > 0 ? ` (${Math.round((part / total) * 100)} %)` : "";
}

/** The box's wall clock (a Pi without a real-time clock may be off). */
export function clockText(at) {
  return known(at) ? new Date(at * 1000).toLocaleTimeString() : "";
}
