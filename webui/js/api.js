// Small fetch helpers. Errors carry the API's own `detail` text, so every page can show
// the director exactly why something was refused.

import { forget, logIn, signature } from "./director.js";

export class ApiError extends Error {
  constructor(status, detail, retryAfter = null) {
    super(detail);
    this.status = status;
    this.detail = detail;
    this.retryAfter = retryAfter;
  }
}

export async function api(path, { method = "GET", body } = {}) {
  const init = { method, headers: {}, credentials: "same-origin", cache: "no-store" };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  // Logged in as director: every request is signed (js/director.js, docs/security.md).
  const signed = signature(method, path, init.body);
  if (signed) init.headers.Authorization = signed;
  let response;
  try {
    response = await fetch(path, init);
  } catch (err) {
    throw new ApiError(0, "the server is not answering (Wi-Fi?)");
  }
  const text = await response.text();
  let data = null;
  if (text) {
    try {
      data = JSON.parse(text);
    } catch {
      data = text;
    }
  }
  if (!response.ok) {
    let detail = (data && typeof data === "object" && data.detail) || response.statusText;
    if (typeof detail !== "string") detail = JSON.stringify(detail);
    throw new ApiError(response.status, detail || `HTTP ${response.status}`,
      response.headers.get("Retry-After"));
  }
  return data;
}

/** The track's info (lanes, Wi-Fi, name); null when the server cannot be reached. */
export async function info() {
  try {
    return await api("/api/info");
  } catch {
    return null;
  }
}

/** Log in as the race director with the PIN (the challenge login: the PIN never leaves
 * the page). Throws an ApiError as api() does. */
export async function directorLogin(pin) {
  const result = await logIn(pin);
  if (!result.ok) throw new ApiError(result.status, result.detail, result.retryAfter ?? null);
  return { director: true };
}

/** Log out: the box forgets the session, and so does this browser. */
export async function directorLogout() {
  try {
    return await api("/api/auth/logout", { method: "POST" });
  } finally {
    forget();
  }
}
