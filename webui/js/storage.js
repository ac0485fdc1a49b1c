// localStorage with a fallback: some browsers (private mode, the captive-portal sheet)
// throw on any access. Then values live in memory for this page's life only.

const memory = new Map();

function store() {
  try {
    const s = window.localStorage;
    const probe = "__pitwall__";
    s.setItem(probe, probe);
    s.removeItem(probe);
    return s;
  } catch {
    return null;
  }
}

export const persistent = store() !== null;

export function load(key, fallback = null) {
  const s = store();
  try {
    const text = s ? s.getItem(key) : memory.get(key);
    return text == null ? fallback : JSON.parse(text);
  } catch {
    return fallback;
  }
}

export function save(key, value) {
  const text = JSON.stringify(value);
  const s = store();
  if (s) {
    try {
      s.setItem(key, text);
      return;
    } catch {
      // quota or disabled mid-way: keep it in memory
    }
  }
  memory.set(key, text);
}

export function forget(key) {
  const s = store();
  if (s) s.removeItem(key);
  memory.delete(key);
}
