// The error line and status lines of the read-mostly pages (results, club pages, the
// maintainer's page): one way to show a problem, with the API's own reason.

import { ApiError } from "./api.js";

const $ = (id) => document.getElementById(id);

/** The page's #error line: shows `text`, hides itself when there is none. */
export function showError(text) {
  $("error").textContent = text;
  $("error").hidden = !text;
}

/** A status line (`kind`: ok, error, busy, muted: its colour). */
export function status(id, text, kind = "ok") {
  $(id).textContent = text;
  $(id).className = `status ${kind}`;
}

/** The API's reason, with its status code. */
export function reason(err) {
  const code = err instanceof ApiError && err.status ? ` (${err.status})` : "";
  return `${err.detail ?? err.message}${code}`;
}
