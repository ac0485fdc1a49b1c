// The race director's login without sending the PIN: SRP-6a against the box (the server
// side is services/pitwall/api/director_login.py, with pysrp), then every request signed
// with a key from that exchange. docs/security.md has the threat model.
//
// Byte conventions are pysrp's defaults: numbers as minimal big-endian bytes, no padding,
// SHA-256, RFC 5054's 2048-bit group, x = H(salt | H("director:" | PIN)). SHA-256 and HMAC
// come from @noble/hashes: plain-HTTP pages have no WebCrypto (crypto.subtle needs a
// secure context); crypto.getRandomValues works everywhere.

import { sha256 } from "../vendor/@noble/hashes/sha2.js";
import { hmac } from "../vendor/@noble/hashes/hmac.js";

const N = BigInt("0x" +
  "AC6BDB41324A9A9BF166DE5E1389582FAF72B6651987EE07FC3192943DB56050A37329CBB4A099ED8193E07" +
  "57767A13DD52312AB4B03310DCD7F48A9DA04FD50E8083969EDB767B0CF6095179A163AB3661A05FBD5FAAA" +
  "E82918A9962F0B93B855F97993EC975EEAA80D740ADBF4FF747359D041D5C33EA71D281E446B14773BCA97B4" +
  "3A23FB801676BD207A436C6481F1D2B9078717461A5B9D32E688F87748544523B524B0D57D5EA77A2775D2EC" +
  "FA032CFBDBF52FB3786160279004E57AE6AF874E7303CE53299CCC041C7BC308D82A5698F3A8D0C38271AE35" +
  "F8E9DBFBB694B5C803D89F7AE435DE236D525F54759B65E372FCD68EF20FA7111F9E4AFF73");
const G = 2n;
const USER = "director";
const STORE = "pitwall.director";
const encoder = new TextEncoder();

const hex = (bytes) => Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("");
const fromHex = (text) => {
  const clean = text.length % 2 ? `0${text}` : text;
  return Uint8Array.from(clean.match(/../g) || [], (h) => parseInt(h, 16));
};
const toInt = (bytes) => BigInt(`0x${hex(bytes) || "0"}`);
const toBytes = (n) => fromHex(n.toString(16));
const concat = (...parts) => {
  const out = new Uint8Array(parts.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const p of parts) {
    out.set(p, at);
    at += p.length;
  }
  return out;
};
const H = (...parts) => sha256(concat(...parts));
const randomBytes = (n) => crypto.getRandomValues(new Uint8Array(n));

function modPow(base, exp, mod) {
  let result = 1n;
  base %= mod;
  while (exp > 0n) {
    if (exp & 1n) result = (result * base) % mod;
    base = (base * base) % mod;
    exp >>= 1n;
  }
  return result;
}

/** The client's side of SRP-6a: given the box's challenge, (A, M, K, expected H_AMK). */
export function srpClient(pin, saltHex, BHex, aBytes = randomBytes(32)) {
  const salt = fromHex(saltHex);
  const B = BigInt(`0x${BHex}`);
  if (B % N === 0n) throw new Error("the box sent a bad challenge");
  const a = toInt(aBytes);
  const A = modPow(G, a, N);
  const Ab = toBytes(A);
  const Bb = toBytes(B);
  const k = toInt(H(toBytes(N), toBytes(G)));
  const u = toInt(H(Ab, Bb));
  if (u === 0n) throw new Error("the box sent a bad challenge");
  const x = toInt(H(salt, H(encoder.encode(`${USER}:${pin}`))));
  const base = (((B - k * modPow(G, x, N)) % N) + N) % N;
  const S = modPow(base, a + u * x, N);
  const K = H(toBytes(S));
  const hN = H(toBytes(N));
  const hG = H(toBytes(G));
  const xor = hN.map((byte, i) => byte ^ hG[i]);
  const M = H(xor, H(encoder.encode(USER)), salt, Ab, Bb, K);
  const HAMK = H(Ab, M, K);
  return { A: hex(Ab), M: hex(M), K, HAMK: hex(HAMK) };
}

// --- the session: kept in localStorage (sessionStorage or memory where there is none) ----
let memory = null;

function storage() {
  for (const name of ["localStorage", "sessionStorage"]) {
    try {
      const s = window[name];
      s.setItem(`${STORE}.probe`, "1");
      s.removeItem(`${STORE}.probe`);
      return s;
    } catch { /* not available here (e.g. a captive-portal sheet) */ }
  }
  return null;
}

export function session() {
  const s = storage();
  let data = memory;
  if (s) {
    try {
      data = JSON.parse(s.getItem(STORE) || "null");
    } catch {
      data = null;
    }
  }
  if (!data || !data.sid || !data.key || Date.now() > data.expires) return null;
  return data;
}

function keep(data) {
  memory = data;
  const s = storage();
  if (s) {
    if (data) s.setItem(STORE, JSON.stringify(data));
    else s.removeItem(STORE);
  }
}

export function forget() {
  keep(null);
}

async function postJson(path, body) {
  let response;
  try {
    response = await fetch(path, {
      method: "POST", cache: "no-store", credentials: "same-origin",
      headers: { "Content-Type": "application/json" }, body: JSON.stringify(body),
    });
  } catch {
    return { ok: false, status: 0, data: { detail: "the server is not answering (Wi-Fi?)" }, headers: new Headers() };
  }
  let data = null;
  try {
    data = await response.json();
  } catch { /* not JSON */ }
  return { ok: response.ok, status: response.status, data, headers: response.headers };
}

/** Log in with the PIN (it never leaves this page). Resolves to { ok, status, detail, retryAfter }. */
export async function logIn(pin) {
  const started = await postJson("/api/auth/challenge", {});
  if (!started.ok) return failure(started);
  const c = started.data;
  const proof = srpClient(pin, c.salt, c.B);
  const done = await postJson("/api/auth/verify", { challenge: c.challenge, A: proof.A, M: proof.M });
  if (!done.ok) return failure(done);
  if (done.data.HAMK !== proof.HAMK) {
    return { ok: false, status: 0, detail: "the box did not prove it knows the PIN: not logged in" };
  }
  const key = hmac(sha256, proof.K, encoder.encode("pitwall request signing"));
  keep({
    sid: done.data.session, key: hex(key),
    offset: done.data.server_time - Date.now() / 1000,
    expires: Date.now() + done.data.expires_s * 1000,
  });
  return { ok: true, status: 200 };
}

function failure(r) {
  let detail = (r.data && r.data.detail) || `HTTP ${r.status}`;
  if (typeof detail !== "string") detail = JSON.stringify(detail);
  return { ok: false, status: r.status, detail, retryAfter: r.headers.get("Retry-After") };
}

function bodyBytes(body) {
  if (body === undefined || body === null) return new Uint8Array(0);
  if (typeof body === "string") return encoder.encode(body);
  if (body instanceof ArrayBuffer) return new Uint8Array(body);
  if (ArrayBuffer.isView(body)) return new Uint8Array(body.buffer, body.byteOffset, body.byteLength);
  throw new Error("sign the body as a string or bytes");
}

/** The Authorization header for a request (null when not logged in). ``path`` as fetched. */
export function signature(method, path, body) {
  const s = session();
  if (!s) return null;
  const url = new URL(path, location.href);
  const target = url.pathname + url.search;
  const ts = String(Math.round(Date.now() / 1000 + s.offset));
  const nonce = hex(randomBytes(16));
  const text = [method.toUpperCase(), target, ts, nonce, hex(sha256(bodyBytes(body)))].join("\n");
  const sig = hex(hmac(sha256, fromHex(s.key), encoder.encode(text)));
  return `Pitwall-Sig sid=${s.sid}, ts=${ts}, nonce=${nonce}, sig=${sig}`;
}

/** fetch() with the director's signature added (when logged in). */
export function signedFetch(path, init = {}) {
  const method = init.method || "GET";
  const headers = new Headers(init.headers || {});
  const auth = signature(method, path, init.body);
  if (auth) headers.set("Authorization", auth);
  return fetch(path, { ...init, headers });
}
