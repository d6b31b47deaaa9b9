// @ts-check
// Small helpers shared by the admin screen's modules: JSON calls, elements, formats.

import { duration as clock, durationWords } from "./format.js";
import { fetchJSON, getJSON } from "./http.js";
import { counterStateLabel, ticketStateLabel, labels, COUNTER_STATES, TICKET_STATES } from "./labels.js";

/** An API error with the server's Vietnamese message and its key. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.key = body && body.error;
  }
}

/**
 * Call the API with the shared helper (timeout included); the answer's body, or an ApiError
 * for a refusal or no answer (status 0: the network).
 * @param {string} path
 * @param {{method?: string, body?: object}} [options]
 * @returns {Promise<any>}
 */
export async function api(path, { method = "GET", body } = {}) {
  // Every change is sent as JSON, also without a body: the server refuses anything else (415).
  const answer = method === "GET" ? await getJSON(path) : await fetchJSON(path, {
    method,
    headers: { "Content-Type": "application/json" },
    body: JSON.stringify(body ?? {}),
    cache: "no-store",
  });
  if (!answer.ok) throw new ApiError(answer.status, answer.body);
  return answer.body;
}

/**
 * The sign-in form (#login-form) of an admin page: sends the name and password, then runs
 * `start` again; a refusal is shown in #login-error. `call` is the page's API helper.
 */
export function bindLogin(start, call = api) {
  $("#login-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    showError($("#login-error"), null);
    try {
      await call("/api/login", {
        method: "POST",
        body: { username: $("#login-username").value.trim(), password: $("#login-password").value },
      });
      $("#login-password").value = "";
      await start();
    } catch (error) {
      showError($("#login-error"), error);
    }
  });
}

/** el("td", {class: "num", dataset: {code: "CT"}}, "text", child…) */
export function el(tag, attrs = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v === undefined || v === null || v === false) continue;
    if (k === "class") node.className = v;
    else if (k === "dataset") Object.assign(node.dataset, v);
    else if (k.startsWith("on")) node.addEventListener(k.slice(2), v);
    else node.setAttribute(k, v === true ? "" : v);
  }
  for (const child of children.flat()) {
    if (child === undefined || child === null || child === false) continue;
    node.append(child instanceof Node ? child : document.createTextNode(String(child)));
  }
  return node;
}

export function $(selector) {
  return document.querySelector(selector);
}

let toastTimer = null;
/** A short message at the bottom right; `bad` for errors. */
export function toast(text, bad = false) {
  const box = $("#toast");
  box.textContent = text;
  box.classList.toggle("bad", bad);
  box.hidden = false;
  clearTimeout(toastTimer);
  toastTimer = setTimeout(() => (box.hidden = true), bad ? 8000 : 3500);
}

export function showError(node, error) {
  node.textContent = error ? error.message || String(error) : "";
  node.hidden = !error;
}

/** 754 → "12 phút 34 giây"; short form "12:34". */
export function duration(seconds, short = false) {
  if (seconds === null || seconds === undefined) return "—";
  return short ? clock(seconds) : durationWords(seconds);
}

/** Seconds → minutes with one decimal (reports), "—" for none. */
export function minutes(seconds) {
  return seconds === null || seconds === undefined ? "—" : (seconds / 60).toLocaleString("vi-VN", { maximumFractionDigits: 1 });
}

export function percent(share) {
  return share === null || share === undefined ? "—" : `${(share * 100).toLocaleString("vi-VN", { maximumFractionDigits: 1 })}%`;
}

export function number(n) {
  return n === null || n === undefined ? "—" : Number(n).toLocaleString("vi-VN");
}

/** ISO time → "dd/mm/yyyy HH:MM:SS" (or only the time) in the office's time zone. */
export function localTime(iso, timeZone, withDate = true) {
  if (!iso) return "—";
  const d = new Date(iso);
  /** @type {Intl.DateTimeFormatOptions} */
  const opts = { timeZone, hour: "2-digit", minute: "2-digit", second: "2-digit", hour12: false };
  if (withDate) Object.assign(opts, { day: "2-digit", month: "2-digit", year: "numeric" });
  try {
    return new Intl.DateTimeFormat("vi-VN", opts).format(d);
  } catch {
    return d.toLocaleString("vi-VN");
  }
}

/** "2026-11-23" → "23/11/2026" */
export function vnDate(isoDay) {
  const [y, m, d] = String(isoDay).split("-");
  return `${d}/${m}/${y}`;
}

// The state names, from the one place they are kept (labels.js, in the page's language).
export const STATE_VI = labels(TICKET_STATES, ticketStateLabel);
export const COUNTER_VI = labels(COUNTER_STATES, counterStateLabel);

export function pill(state, text) {
  return el("span", { class: `pill ${state}` }, text || state);
}
