// Small fetch helpers. Errors carry the API's own `detail` text, so every page can show
// the director exactly why something was refused.

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
