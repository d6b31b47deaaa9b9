// Small helpers shared by the admin screen's modules: JSON calls, elements, formats.

/** An API error with the server's Vietnamese message and its key. */
export class ApiError extends Error {
  constructor(status, body) {
    super((body && body.message) || `HTTP ${status}`);
    this.status = status;
    this.key = body && body.error;
  }
}

/** fetch JSON; throws ApiError on a non-2xx answer. */
export async function api(path, { method = "GET", body } = {}) {
  // Every change is sent as JSON, also without a body: the server refuses anything else (415).
  const sends = method !== "GET";
  const response = await fetch(path, {
    method,
    headers: sends ? { "Content-Type": "application/json" } : {},
    body: sends ? JSON.stringify(body ?? {}) : undefined,
    credentials: "same-origin",
    cache: "no-store",
  });
  let data = {};
  try {
    data = await response.json();
  } catch {
    data = {};
  }
  if (!response.ok) throw new ApiError(response.status, data);
  return data;
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
  const s = Math.max(0, Math.round(seconds));
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const r = s % 60;
  if (short) return h ? `${h}:${String(m).padStart(2, "0")}:${String(r).padStart(2, "0")}` : `${m}:${String(r).padStart(2, "0")}`;
  if (h) return `${h} giờ ${m} phút`;
  if (m) return `${m} phút${r ? ` ${r} giây` : ""}`;
  return `${r} giây`;
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

export const STATE_VI = {
  waiting: "Đang chờ",
  called: "Đã gọi",
  serving: "Đang phục vụ",
  done: "Đã xong",
  no_show: "Vắng mặt",
  cancelled: "Đã hủy",
  expired: "Hết hạn",
};

export const COUNTER_VI = { open: "Đang mở", paused: "Tạm dừng", closed: "Đóng" };

export function pill(state, text) {
  return el("span", { class: `pill ${state}` }, text || state);
}
