// Kiosk appointment check-in: the "Tôi đã đặt lịch hẹn" button opens a large on-screen
// keypad for the 6-character booking code. A USB barcode scanner reading the booking's QR
// code types it like a keyboard followed by Enter: that works on the start screen as well as
// in the keypad. The ticket (marked as booked) is shown by kiosk.js ("motcua:ticket").
//
// Checking in twice returns the same ticket. Too early: the time check-in opens. Too late
// (or cancelled): a button to take a regular ticket for the same service instead.

import { postJSON, getJSON, esc } from "./live.js";
import { t, errorText, onLangChange } from "./i18n.js";

// The booking alphabet: no 0/O, 1/I/L (queue_server/appointments.py).
const ALPHABET = "23456789ABCDEFGHJKMNPQRSTUVWXYZ";
const CODE_IN_TEXT = new RegExp(`([${ALPHABET}]{3})-?([${ALPHABET}]{3})`, "g");
const CLOSE_AFTER_S = 60;
const SCANNER_GAP_MS = 120; // a scanner types faster than this between keys

const $ = (id) => document.getElementById(id);
let typed = "";
let walkInService = null;
let busy = false;
let idleTimer = null;
let scan = { text: "", at: 0 };

function device() {
  return window.motcua?.device || null;
}

function parseCode(text) {
  const matches = [...String(text).toUpperCase().replace(/\s/g, "").matchAll(CODE_IN_TEXT)];
  if (!matches.length) return null;
  const last = matches[matches.length - 1];
  return last[1] + last[2];
}

function renderCode() {
  const shown = typed.length > 3 ? `${typed.slice(0, 3)}-${typed.slice(3)}` : typed;
  $("checkin-code").textContent = shown.padEnd(7, "·").replace(/^(.{3})·/, "$1-");
  $("checkin-go").disabled = typed.length !== 6 || busy;
}

function renderKeys() {
  const keys = [...ALPHABET].map((ch) => `<button type="button" class="key" data-key="${ch}">${ch}</button>`);
  keys.push(`<button type="button" class="key wide" data-key="back" aria-label="${esc(t("kiosk.checkin_delete"))}">⌫</button>`);
  keys.push(`<button type="button" class="key wide" data-key="clear">${esc(t("kiosk.checkin_clear"))}</button>`);
  $("checkin-keys").innerHTML = keys.join("");
}

function setError(text, walkIn = null) {
  $("checkin-error").textContent = text || "";
  $("checkin-error").hidden = !text;
  walkInService = walkIn;
  $("checkin-walkin").hidden = !walkIn;
}

function open() {
  typed = "";
  setError("");
  renderKeys();
  renderCode();
  $("checkin").hidden = false;
  $("start").hidden = true;
  keepAlive();
}

function close() {
  clearTimeout(idleTimer);
  $("checkin").hidden = true;
  $("start").hidden = false;
  typed = "";
  setError("");
}

function keepAlive() {
  clearTimeout(idleTimer);
  idleTimer = setTimeout(close, CLOSE_AFTER_S * 1000);
}

function press(key) {
  keepAlive();
  setError("");
  if (key === "back") typed = typed.slice(0, -1);
  else if (key === "clear") typed = "";
  else if (ALPHABET.includes(key) && typed.length < 6) typed += key;
  renderCode();
}

async function checkIn(code) {
  const dev = device();
  if (busy || !dev) return;
  busy = true;
  renderCode();
  const result = await postJSON(`/api/appointments/${code}/check-in`, {}, { Authorization: `Bearer ${dev.token}` }, 6000);
  busy = false;
  renderCode();
  if (result.ok) {
    close();
    window.dispatchEvent(new CustomEvent("motcua:ticket", { detail: result.body }));
    return;
  }
  if ($("checkin").hidden) open();
  typed = code;
  renderCode();
  const body = result.body || {};
  if (result.status === 401) setError(t("kiosk.bad_token"));
  else if (body.error === "too_early") setError(errorText(body));
  else if (body.details?.walk_in) setError(errorText(body), body.details.service);
  else setError(errorText(body));
}

async function walkIn() {
  const dev = device();
  if (!walkInService || !dev || busy) return;
  busy = true;
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  const requestId = `${dev.device || "kiosk"}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
  const result = await postJSON("/api/tickets", { service: walkInService, request_id: requestId },
    { Authorization: `Bearer ${dev.token}` }, 6000);
  busy = false;
  if (result.ok) {
    close();
    window.dispatchEvent(new CustomEvent("motcua:ticket", { detail: result.body }));
  } else {
    setError(errorText(result.body));
  }
}

// A scanner (or a keyboard) types the code; Enter submits. On the start screen only a fast
// burst counts as a scan, so a stray key press does nothing.
function onKey(event) {
  if (event.ctrlKey || event.altKey || event.metaKey) return;
  const now = performance.now();
  const inKeypad = !$("checkin").hidden;
  if (event.key === "Enter") {
    const code = parseCode(scan.text) || (inKeypad && typed.length === 6 ? typed : null);
    scan = { text: "", at: now };
    if (code) {
      event.preventDefault();
      checkIn(code);
    }
    return;
  }
  if (event.key.length !== 1) {
    if (inKeypad && event.key === "Backspace") press("back");
    return;
  }
  if (now - scan.at > SCANNER_GAP_MS * (inKeypad ? 20 : 1)) scan.text = "";
  scan = { text: scan.text + event.key, at: now };
  if (inKeypad) {
    const ch = event.key.toUpperCase();
    if (ALPHABET.includes(ch)) press(ch);
  }
}

async function start() {
  const result = await getJSON("/api/appointments/services");
  $("checkin-open").hidden = !(result.ok && result.body.services.length);
}

$("checkin-open").addEventListener("click", open);
$("checkin-back").addEventListener("click", close);
$("checkin-go").addEventListener("click", () => typed.length === 6 && checkIn(typed));
$("checkin-walkin").addEventListener("click", walkIn);
$("checkin-keys").addEventListener("click", (e) => {
  const key = e.target.closest("[data-key]");
  if (key) press(key.dataset.key);
});
document.addEventListener("keydown", onKey);
onLangChange(() => {
  if (!$("checkin").hidden) renderKeys();
});
start();
