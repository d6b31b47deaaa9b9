// @ts-check
// The one way screens talk HTTP to the server: JSON in and out, always with a timeout.
//
// A dead Wi-Fi link can otherwise hang a request for minutes, leaving a kiosk or a clerk's
// button stuck. Every helper resolves (never rejects) to {ok, status, body}; no answer in
// time or a network failure gives status 0 and a translated "network" error body, so a
// screen can show errorText(body) like any refusal from the server.

import { has, t } from "./i18n.js";

/** Milliseconds a request may take before it counts as a network failure. */
export const TIMEOUT_MS = 8000;
const NETWORK_ERROR = "Không kết nối được máy chủ / Cannot reach the server";

/**
 * @typedef {object} Answer
 * @property {boolean} ok       true for a 2xx answer
 * @property {number} status    the HTTP status, 0 when no answer came
 * @property {any} body         the JSON body ({} when empty or not JSON)
 */

/**
 * fetch() JSON, resolving to an Answer.
 * @param {string} url
 * @param {RequestInit} [init]
 * @param {number} [timeoutMs]
 * @returns {Promise<Answer>}
 */
export async function fetchJSON(url, init = {}, timeoutMs = TIMEOUT_MS) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), timeoutMs);
  try {
    const response = await fetch(url, { credentials: "same-origin", ...init, signal: controller.signal });
    let data = {};
    try {
      data = await response.json();
    } catch {
      // empty or not JSON
    }
    return { ok: response.ok, status: response.status, body: data };
  } catch {
    // (Pages with words of their own, such as the central's, load no catalogue.)
    const message = has("common.network_error") ? t("common.network_error") : NETWORK_ERROR;
    return { ok: false, status: 0, body: { error: "network", message, message_en: message } };
  } finally {
    clearTimeout(timer);
  }
}

/**
 * POST a JSON body (the server takes changes only as JSON, also without a body).
 * @param {string} url
 * @param {object} [body]
 * @param {Record<string, string>} [headers]
 * @param {number} [timeoutMs]
 * @returns {Promise<Answer>}
 */
export function postJSON(url, body = {}, headers = {}, timeoutMs = TIMEOUT_MS) {
  return fetchJSON(url, {
    method: "POST",
    headers: { "Content-Type": "application/json", ...headers },
    body: JSON.stringify(body),
  }, timeoutMs);
}

/**
 * GET JSON without caching.
 * @param {string} url
 * @param {number} [timeoutMs]
 * @returns {Promise<Answer>}
 */
export function getJSON(url, timeoutMs = TIMEOUT_MS) {
  return fetchJSON(url, { cache: "no-store" }, timeoutMs);
}
