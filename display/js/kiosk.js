// Kiosk (/kiosk?device=<id>&token=<token>): one huge button per service; a tap issues a
// ticket, shows it ~10 s with a QR code for the phone status page, then the start screen.
//
// Every tap gets its own request_id and a retry re-sends the same one, so a double tap,
// a slow network or a retried request never issues two tickets (the server answers the
// first ticket again for a repeated request_id).

import { Live, fetchJSON, postJSON, officeTime, esc } from "./live.js";
import { initI18n, t, errorText, localName, waitText, languageToggle, lang, onLangChange } from "./i18n.js";
import qrcode from "../vendor/qrcode.mjs";

const TICKET_SECONDS = 10;
const PRIORITY_SECONDS = 30;
const MESSAGE_SECONDS = 8;
const RETRIES = 3;
const REFRESH_SECONDS = 60;
const CHECK_RETRY_SECONDS = 5;
const STORAGE_KEY = "motcua.kiosk";
// Print states in which a paper ticket is on its way; anything else means "note your number".
const PRINTING_OK = new Set(["queued", "printing", "printed"]);

const $ = (id) => document.getElementById(id);
const live = new Live();
let device = null;
let busy = false;
let priorityMode = false;
let priorityTimer = null;
let ticketTimer = null;
let messageTimer = null;
let shownTicket = null;
let badToken = false;

function loadDevice() {
  const params = new URLSearchParams(location.search);
  let saved = null;
  try {
    saved = JSON.parse(localStorage.getItem(STORAGE_KEY) || "null");
  } catch {
    saved = null;
  }
  const token = params.get("token");
  const id = params.get("device") || saved?.device || "";
  if (token) {
    const value = { device: id, token };
    try {
      localStorage.setItem(STORAGE_KEY, JSON.stringify(value));
      // Keep the token out of sight on screen and in the history once it is saved.
      params.delete("token");
      const query = params.toString();
      history.replaceState(null, "", location.pathname + (query ? `?${query}` : ""));
    } catch {
      // no storage: keep it in the address so a reload still works
    }
    return value;
  }
  return saved && saved.token ? saved : null;
}

function newRequestId() {
  // crypto.randomUUID needs a secure context; a LAN kiosk on plain http has none.
  const bytes = new Uint8Array(12);
  crypto.getRandomValues(bytes);
  return `${device?.device || "kiosk"}-${Array.from(bytes, (b) => b.toString(16).padStart(2, "0")).join("")}`;
}

function render() {
  const state = live.state;
  const office = state.office;
  $("office-name").textContent = localName(office);
  const priorityOn = office.priority_enabled === true;
  if (!priorityOn && priorityMode) setPriorityMode(false);
  $("priority").hidden = !priorityOn || priorityMode;
  $("priority-banner").hidden = !priorityMode;
  document.body.classList.toggle("priority-mode", priorityMode);

  const other = lang() === "vi" ? "en" : "vi";
  $("services").innerHTML = state.services.map((s) => {
    const secondName = other === "en" ? s.name_en : s.name;
    // In priority mode the figures are those a priority ticket meets: priority tickets
    // waiting, and the wait a priority ticket would have.
    const waiting = priorityMode ? s.waiting_priority ?? 0 : s.waiting;
    const wait = priorityMode ? s.estimated_wait_priority_s ?? s.estimated_wait_s : s.estimated_wait_s;
    const meta = s.available
      ? `<span class="meta"><b>${waiting}</b> ${esc(t(priorityMode ? "kiosk.priority_waiting" : "kiosk.people_waiting"))} · <span class="nowrap">${esc(waitText(wait))}</span></span>`
      : `<span class="reason">${esc(t(`kiosk.reason.${s.reason || "service_closed"}`))}</span>`;
    const counters = s.counters?.length ? `<span class="counters" data-testid="service-counters">${esc(countersText(s.counters))}</span>` : "";
    return `<button type="button" class="service" data-service="${esc(s.code)}" ${s.available ? "" : "disabled aria-disabled=\"true\""}>
      <span class="name">${esc(localName(s))}</span>
      ${secondName && secondName !== localName(s) ? `<span class="name-other" lang="${other}">${esc(secondName)}</span>` : ""}
      ${counters}
      ${meta}
    </button>`;
  }).join("");
  const anyOpen = state.services.some((s) => s.available);
  $("closed-note").hidden = anyOpen || !live.hasSnapshot;
  $("closed-note").textContent = office.open_now === false ? t("kiosk.closed_hours") : t("kiosk.closed_all");
  renderClock();
}

/** [1, 2] → "Quầy 1, 2" (as printed on the ticket). */
function countersText(numbers) {
  return t("kiosk.counters", { list: numbers.join(", ") });
}

// The token is checked as soon as the page opens: a wrong one shows the installer what to
// fix, instead of normal buttons that fail when a citizen taps. No answer (server down):
// the offline mark shows; check again shortly.
async function checkDevice() {
  if (!device) return;
  const { status } = await fetchJSON("/api/kiosk", {
    headers: { Authorization: `Bearer ${device.token}` }, cache: "no-store",
  }, 5000);
  if (status === 401 || status === 403) showBadToken();
  else if (status !== 200) setTimeout(checkDevice, CHECK_RETRY_SECONDS * 1000);
  else if (badToken) location.reload();
}

function showBadToken() {
  badToken = true;
  $("setup-title").textContent = t("kiosk.bad_token_title");
  $("setup-text").textContent = t("kiosk.bad_token_text");
  $("setup-device").textContent = device?.device || "sanh";
  $("setup-citizen").hidden = false;
  $("setup").hidden = false;
  $("setup").classList.add("bad-token");
  $("start").hidden = true;
  $("ticket").hidden = true;
}

function renderClock() {
  if (live.hasSnapshot) $("clock").textContent = officeTime(live.state, { hour: "2-digit", minute: "2-digit", hour12: false });
}

function setPriorityMode(on) {
  priorityMode = on;
  clearTimeout(priorityTimer);
  if (on) priorityTimer = setTimeout(() => setPriorityMode(false), PRIORITY_SECONDS * 1000);
  render();
}

async function take(code, button) {
  if (busy || !device) return;
  busy = true;
  button.classList.add("pressed");
  document.body.classList.add("busy");
  const body = { service: code, request_id: newRequestId() };
  if (priorityMode) body.priority = true;
  let result;
  for (let attempt = 0; attempt < RETRIES; attempt += 1) {
    result = await postJSON("/api/tickets", body, { Authorization: `Bearer ${device.token}` }, 4000);
    // Retry only when the request may not have been handled: no answer, or the server busy.
    if (result.status !== 0 && result.status < 500) break;
    await new Promise((resolve) => setTimeout(resolve, 700 * (attempt + 1)));
  }
  busy = false;
  button.classList.remove("pressed");
  document.body.classList.remove("busy");
  if (result.ok) {
    setPriorityMode(false);
    showTicket(result.body);
  } else if (result.status === 401) {
    showBadToken();
  } else {
    showMessage(errorText(result.body));
  }
}

function showTicket(ticket) {
  fillTicket(ticket);
  $("ticket").hidden = false;
  $("start").hidden = true;
  countdown(TICKET_SECONDS);
}

function fillTicket(ticket) {
  shownTicket = ticket;
  $("ticket-label").textContent = ticket.label;
  $("ticket-priority").hidden = !ticket.priority;
  $("ticket-booked").hidden = !ticket.booked;
  if (ticket.booked) $("ticket-booked").textContent = t("kiosk.booked_ticket", { time: (ticket.slot_start || "").slice(11, 16) });
  $("ticket-service").textContent = lang() === "en" ? ticket.service_name_en || ticket.service_name : ticket.service_name;
  const numbers = live.state.service(ticket.service)?.counters || [];
  $("ticket-counters").textContent = numbers.length ? countersText(numbers) : "";
  $("ticket-ahead").textContent = String(ticket.people_ahead);
  $("ticket-wait").textContent = waitText(ticket.estimated_wait_s);
  renderPrint(ticket.print || { state: "none" });
  const qr = qrcode(0, "M");
  qr.addData(ticket.status_url);
  qr.make();
  $("ticket-qr").innerHTML = qr.createSvgTag({ cellSize: 8, margin: 2, scalable: true });
}

// `print` is the server's {state, error}: queued, printing, printed, failed, stale, or none
// (no printer for this kiosk). A queued job with an error waits on a printer in trouble
// (paper out, offline) and may never print: the citizen is told to note the number.
function renderPrint(print) {
  const state = print.state || "none";
  const ok = PRINTING_OK.has(state) && !(state === "queued" && print.error);
  const el = $("ticket-print");
  el.textContent = ok ? t("kiosk.printing") : t("kiosk.print_failed");
  el.classList.toggle("warn", !ok);
  el.dataset.state = state;
  if (shownTicket) shownTicket.print = print;
}

function countdown(seconds) {
  clearInterval(ticketTimer);
  let left = seconds;
  const bar = $("ticket-progress");
  bar.style.transition = "none";
  bar.style.transform = "scaleX(1)";
  void bar.offsetWidth;
  bar.style.transition = `transform ${seconds}s linear`;
  bar.style.transform = "scaleX(0)";
  $("ticket-countdown").textContent = `(${left})`;
  ticketTimer = setInterval(() => {
    left -= 1;
    $("ticket-countdown").textContent = `(${left})`;
    if (left <= 0) hideTicket();
  }, 1000);
}

function hideTicket() {
  clearInterval(ticketTimer);
  shownTicket = null;
  $("ticket").hidden = true;
  $("start").hidden = false;
}

function showMessage(text) {
  $("message-text").textContent = text;
  $("message").hidden = false;
  clearTimeout(messageTimer);
  messageTimer = setTimeout(hideMessage, MESSAGE_SECONDS * 1000);
}

function hideMessage() {
  $("message").hidden = true;
}

$("services").addEventListener("click", (event) => {
  const button = event.target.closest("button.service");
  if (button && !button.disabled) take(button.dataset.service, button);
});
$("priority").addEventListener("click", () => setPriorityMode(true));
$("priority-cancel").addEventListener("click", () => setPriorityMode(false));
$("ticket-done").addEventListener("click", hideTicket);
$("message-ok").addEventListener("click", hideMessage);
// No text selection, context menu or pinch zoom on a public touch screen.
document.addEventListener("contextmenu", (event) => event.preventDefault());

live.addEventListener("snapshot", render);
live.addEventListener("event", (e) => {
  if (e.detail.services) render();
});
// The print service reports each job's progress: a ticket may fail to print after it is shown.
live.addEventListener("push", (e) => {
  const msg = e.detail;
  if (msg.type === "print_job" && shownTicket && msg.ticket_id === shownTicket.id && msg.print) {
    renderPrint(msg.print);
  }
});

window.motcua = { live, get device() { return device; } };
// Appointment check-in (kiosk-checkin.js) shows its ticket and messages through these.
window.addEventListener("motcua:ticket", (e) => showTicket(e.detail));
window.addEventListener("motcua:message", (e) => showMessage(e.detail));

await initI18n();
languageToggle($("lang"));
onLangChange(() => {
  render();
  if (shownTicket) fillTicket(shownTicket);
  if (badToken) showBadToken();
});
device = loadDevice();
if (!device) {
  $("setup").hidden = false;
  $("start").hidden = true;
}
checkDevice();
// After a restart the server may have a new config.toml (a changed token): check again.
live.addEventListener("online", checkDevice);
render();
live.start();
setInterval(renderClock, 1000);
// Opening and closing hours pass without any event from the server: refresh the services'
// availability every minute so the buttons unlock at opening time.
setInterval(() => live.resync(), REFRESH_SECONDS * 1000);
