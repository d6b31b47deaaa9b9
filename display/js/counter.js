// Clerk station (/counter/<n>): sign on, then call, recall, serve, finish, transfer, pause.
// Small enough for a 420×640 window beside the province's one-stop software; every
// button has a keyboard shortcut printed on it.
//
// A double click never calls two tickets: every Next/Call sends `current` (the ticket this
// screen shows; the server refuses with 409 stale_screen if it changed), the buttons are
// locked while a request is in flight, and the second click of a double click is ignored.

import { Live, postJSON, getJSON, duration, esc } from "./live.js";
import { initI18n, t, errorText, localName, languageToggle, onLangChange } from "./i18n.js";
import { withoutTitle } from "./names.js";

const NEXT_COOLDOWN_MS = 600;
const ERROR_SECONDS = 8;
const KEYS = { n: "next", r: "recall", b: "start", x: "done", v: "no-show", c: "transfer", g: "call", p: "pause" };
// One key to what lies below the fold in a 420×640 window (also the bar at the bottom).
const JUMPS = { d: "noshows", h: "stats", q: "logout" };
// Digits typed on the keypad wait this long for the key that calls them.
const KEYPAD_BUFFER_MS = 8000;

const $ = (id) => document.getElementById(id);
const number = Number(location.pathname.split("/").filter(Boolean).pop());
const live = new Live();
let me = null;
let busy = false;
// The action whose answer is awaited, and one pressed meanwhile (see act).
let inflight = null;
let pending = null;
let cooldownUntil = 0;
let errorTimer = null;
let queueEmpty = false; // the last Next found nobody waiting
let keypadDigits = "";
let keypadTimer = null;

// ------------------------------------------------------------------ helpers

function counter() {
  return live.state.counter(number);
}

function currentTicket() {
  return counter()?.ticket || null;
}

function showError(text) {
  $("error").textContent = text;
  $("error").hidden = false;
  clearTimeout(errorTimer);
  errorTimer = setTimeout(() => ($("error").hidden = true), ERROR_SECONDS * 1000);
}

function clearError() {
  $("error").hidden = true;
}

function serviceName(code) {
  return localName(live.state.service(code)) || code;
}

// ------------------------------------------------------------------ render

function render() {
  const c = counter();
  $("counter-title").textContent = t("counter.title", { n: number });
  // "Quầy 1" is the title already: the name adds only what follows it ("Chứng thực").
  $("counter-name").textContent = c ? withoutTitle(localName(c), t("counter.title", { n: number })) : "";
  document.title = `${t("counter.title", { n: number })} – motcua`;
  const pill = $("counter-state");
  const state = c?.state || "closed";
  pill.className = `state-pill ${state}`;
  pill.textContent = state === "paused" && c.pause_reason
    ? `${t("counter.state.paused")}: ${c.pause_reason}`
    : t(`counter.state.${state}`);
  if (!me) return;
  renderCurrent();
  renderButtons();
  renderQueue();
  renderStats();
}

function renderCurrent() {
  const ticket = currentTicket();
  $("current").classList.toggle("empty", !ticket);
  $("current").classList.toggle("serving", ticket?.state === "serving");
  $("current-label").textContent = ticket ? ticket.label : "—";
  $("current-priority").hidden = !ticket?.priority;
  $("current-booked").hidden = !ticket?.booked;
  if (ticket?.booked) $("current-booked").textContent = t("counter.booked", { time: (ticket.slot_start || "").slice(11, 16) });
  $("current-state").textContent = ticket ? t(`counter.ticket.${ticket.state}`) : "";
  if (ticket || waitingHere() > 0) queueEmpty = false;
  $("current-service").textContent = ticket ? serviceName(ticket.service) : t(queueEmpty ? "counter.queue_empty" : "counter.no_ticket");
  $("current").classList.toggle("queue-empty", !ticket && queueEmpty);
  renderTimes();
}

function renderTimes() {
  const ticket = currentTicket();
  if (!ticket) {
    $("current-times").textContent = "";
    return;
  }
  const now = live.state.now();
  const calledAt = Date.parse(ticket.called_at);
  const queuedAt = Date.parse(ticket.issued_at);
  const parts = [t("counter.waited", { time: duration((calledAt - queuedAt) / 1000) })];
  const since = Date.parse(ticket.started_at || ticket.called_at);
  parts.push(t(ticket.state === "serving" ? "counter.serving_for" : "counter.called_for",
    { time: duration((now - since) / 1000) }));
  parts.push(t("counter.recalls", { n: ticket.recalls || 0, max: live.state.office.max_recalls ?? "–" }));
  if (ticket.transfers) parts.push(t("counter.transferred", { n: ticket.transfers }));
  $("current-times").textContent = parts.join(" · ");
}

function renderButtons() {
  const c = counter();
  const ticket = currentTicket();
  const open = c?.state === "open";
  const called = ticket?.state === "called";
  const held = ticket && (ticket.state === "called" || ticket.state === "serving");
  const enabled = {
    next: open,
    recall: open && called,
    start: open && called,
    done: held,
    "no-show": called,
    transfer: held,
    call: open,
    pause: c?.state === "paused" || (open && !ticket),
  };
  for (const button of document.querySelectorAll(".action")) {
    button.disabled = busy || !enabled[button.dataset.action];
  }
  $("pause-label").textContent = c?.state === "paused" ? t("counter.resume") : t("counter.pause");
}

function renderQueue() {
  const c = counter();
  if (!c) return;
  const codes = Object.keys(c.services || {});
  const waiting = live.state.waiting || [];
  const toMe = waiting.filter((w) => w.target_counter === number);
  let html = "";
  if (toMe.length) {
    html += `<li class="to-me"><span class="name">${esc(t("counter.sent_here"))}</span>
      <span class="count"><b>${toMe.length}</b></span>
      <span class="next">${toMe.map((w) => esc(w.label)).join(", ")}</span></li>`;
  }
  html += codes.map((code) => {
    const s = live.state.service(code);
    if (!s) return "";
    const level = c.services[code] === "backup" ? ` <small>(${esc(t("counter.backup"))})</small>` : "";
    return `<li data-service="${esc(code)}"><span class="name">${esc(localName(s))}${level}</span>
      <span class="count"><b>${s.waiting}</b> ${esc(t("counter.waiting"))}</span>
      <span class="next">${s.next.length ? `${esc(t("counter.next_numbers"))} ${s.next.map(esc).join(", ")}` : ""}</span></li>`;
  }).join("");
  $("queue").innerHTML = html;

  const noShows = (live.state.noShows || [])
    .filter((w) => w.counter === number || codes.includes(w.service))
    .sort((a, b) => Date.parse(b.finished_at) - Date.parse(a.finished_at));
  $("noshows").innerHTML = noShows.length
    ? noShows.map((w) => `<li><span class="label">${esc(w.label)}</span>
        <span class="svc">${esc(serviceName(w.service))}</span>
        <button type="button" class="small" data-requeue="${w.id}">${esc(t("counter.requeue"))}</button></li>`).join("")
    : `<li class="empty">${esc(t("counter.no_no_shows"))}</li>`;
}

/** People waiting for this counter: its services' queues and tickets sent to it. */
function waitingHere() {
  const c = counter();
  if (!c) return 0;
  const codes = Object.keys(c.services || {});
  const sent = (live.state.waiting || []).filter((w) => w.target_counter === number && !codes.includes(w.service)).length;
  return codes.reduce((sum, code) => sum + (live.state.service(code)?.waiting || 0), 0) + sent;
}

function renderStats() {
  const c = counter();
  $("served").textContent = String(c?.served_today || 0);
  $("average").textContent = c?.average_service_s ? duration(c.average_service_s) : "—";
  $("quick-served").textContent = $("served").textContent;
  $("quick-average").textContent = $("average").textContent;
  $("noshow-count").textContent = String(document.querySelectorAll("#noshows [data-requeue]").length);
  $("clerk").textContent = me ? t("counter.signed_in_as", { name: me.display_name || me.user }) : "";
}

// ------------------------------------------------------------------ actions

async function act(action, body = {}) {
  if (busy) {
    // A key pressed while the last action's answer is still on its way (its events may
    // already be on screen, e.g. "Đang phục vụ" before Start's answer): done next, once,
    // if it is still allowed then. The same action again is not a new press.
    if (action !== inflight) pending = action;
    return null;
  }
  busy = true;
  inflight = action;
  renderButtons();
  const result = await postJSON(`/api/counters/${number}/${action}`, body);
  busy = false;
  inflight = null;
  if (result.ok) {
    clearError();
    adopt(result.body);
    // Next (or a call) that found nobody: say so, instead of showing nothing.
    if (action === "next") queueEmpty = !result.body?.ticket;
  } else if (result.status === 401) {
    signedOut();
    showSignonError(errorText(result.body));
  } else {
    showError(errorText(result.body));
    if (result.body?.error === "stale_screen") live.resync();
  }
  render();
  const queued = pending;
  pending = null;
  if (queued && result.ok) run(queued, null);
  return result;
}

// The answer carries the counter as it is now; the same change also comes as events.
function adopt(view) {
  if (!view || !view.counter || view.seq < live.state.seq) return;
  const c = counter();
  if (!c) return;
  Object.assign(c, { state: view.counter.state, pause_reason: view.counter.pause_reason, since: view.counter.since });
  c.ticket = view.ticket;
}

function callNext(event) {
  // The second click of a double click, or a click right after a call, is not a new Next.
  if ((event && event.detail > 1) || Date.now() < cooldownUntil) return;
  cooldownUntil = Date.now() + NEXT_COOLDOWN_MS;
  act("next", { current: currentTicket()?.id ?? null });
}

function run(action, event) {
  const button = document.querySelector(`.action[data-action="${action}"]`);
  if (!button || button.disabled) return;
  // The lock is against pressing Next twice; Next right after another button is meant.
  if (action !== "next") cooldownUntil = 0;
  switch (action) {
    case "next":
      return callNext(event);
    case "transfer":
      return openTransfer();
    case "call":
      $("call-number").value = "";
      $("dlg-call").showModal();
      $("call-number").focus();
      return;
    case "pause":
      if (counter()?.state === "paused") return act("resume");
      $("pause-reason").value = "";
      $("dlg-pause").showModal();
      return;
    default:
      return act(action);
  }
}

function openTransfer() {
  const ticket = currentTicket();
  $("transfer-services").innerHTML = live.state.services
    .map((s) => `<button type="button" data-service="${esc(s.code)}" ${ticket && s.code === ticket.service ? "disabled" : ""}>${esc(localName(s))}</button>`)
    .join("");
  $("transfer-counters").innerHTML = live.state.counters
    .filter((c) => c.number !== number)
    .map((c) => `<button type="button" data-counter="${c.number}" class="${c.state}">${esc(t("counter.title", { n: c.number }))}${c.state === "closed" ? ` <small>(${esc(t("counter.state.closed"))})</small>` : ""}</button>`)
    .join("");
  $("dlg-transfer").showModal();
}

$("transfer-services").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-service]");
  if (!b) return;
  $("dlg-transfer").close();
  act("transfer", { service: b.dataset.service });
});
$("transfer-counters").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-counter]");
  if (!b) return;
  $("dlg-transfer").close();
  act("transfer", { counter: Number(b.dataset.counter) });
});

$("pause-reasons").addEventListener("click", (e) => {
  const b = e.target.closest("button[data-reason]");
  if (!b) return;
  $("dlg-pause").close();
  act("pause", { reason: b.dataset.reason });
});
$("pause-form").addEventListener("submit", (e) => {
  const reason = $("pause-reason").value.trim();
  if (e.submitter?.value !== "ok") return;
  if (!reason) {
    e.preventDefault();
    $("pause-reason").focus();
    return;
  }
  act("pause", { reason });
});

$("call-form").addEventListener("submit", (e) => {
  if (e.submitter?.value === "cancel") return;
  const value = $("call-number").value.trim().toUpperCase();
  if (!value) {
    e.preventDefault();
    return;
  }
  act("call", { number: /^\d+$/.test(value) ? Number(value) : value, current: currentTicket()?.id ?? null });
});

$("noshows").addEventListener("click", async (e) => {
  const b = e.target.closest("button[data-requeue]");
  if (!b) return;
  b.disabled = true;
  cooldownUntil = 0;
  const result = await postJSON(`/api/tickets/${b.dataset.requeue}/requeue`);
  if (!result.ok) showError(errorText(result.body));
  render();
});

document.querySelector(".actions").addEventListener("click", (e) => {
  const button = e.target.closest(".action");
  if (button) run(button.dataset.action, e);
});

document.addEventListener("keydown", (e) => {
  if (!me || e.repeat || e.ctrlKey || e.altKey || e.metaKey) return;
  if (e.target.closest("input, textarea, select, dialog")) return;
  if (keypadKey(e)) {
    e.preventDefault();
    return;
  }
  const key = e.key.toLowerCase();
  if (JUMPS[key]) {
    e.preventDefault();
    jump(JUMPS[key]);
    return;
  }
  const action = KEYS[key];
  if (!action) return;
  e.preventDefault();
  run(action, null);
});

// A USB numeric keypad as the call keypad (config.toml [keypad]): its keys are told apart
// from the main keyboard's by KeyboardEvent.code ("NumpadEnter", "Numpad1"), which does not
// change with NumLock. Digits then the "next" key call that number.
function keypadKey(e) {
  const keypad = live.state.office.keypad || {};
  const keys = keypad.keys || {};
  if (keypad.digits_call !== false && /^Numpad[0-9]$/.test(e.code)) {
    setKeypadDigits((keypadDigits + e.code.slice(6)).slice(-8));
    return true;
  }
  if (keypadDigits && (e.code === "Escape" || e.code === "Backspace")) {
    setKeypadDigits(e.code === "Backspace" ? keypadDigits.slice(0, -1) : "");
    return true;
  }
  const action = keys[e.code];
  if (!action) return false;
  if (action === "next" && keypadDigits) {
    const digits = keypadDigits;
    setKeypadDigits("");
    if (counter()?.state === "open") act("call", { number: Number(digits), current: currentTicket()?.id ?? null });
    return true;
  }
  run(action, null);
  return true;
}

function setKeypadDigits(digits) {
  keypadDigits = digits;
  $("keypad-buffer").hidden = !digits;
  $("keypad-buffer").textContent = digits ? t("counter.keypad_number", { n: digits }) : "";
  clearTimeout(keypadTimer);
  if (digits) keypadTimer = setTimeout(() => setKeypadDigits(""), KEYPAD_BUFFER_MS);
}

function jump(where) {
  if (where === "logout") {
    $("dlg-logout").returnValue = "";
    $("dlg-logout").showModal();
    $("logout-ok").focus();
    return;
  }
  const target = where === "noshows" ? $("noshows-title") : $("stats");
  target.scrollIntoView({ block: "start" });
  // The first "Xếp lại" button, if any, so Enter requeues; else the panel itself.
  const first = where === "noshows" ? document.querySelector("#noshows [data-requeue]") : null;
  (first || target).focus({ preventScroll: true });
  target.closest(".panel")?.classList.add("jumped");
  setTimeout(() => target.closest(".panel")?.classList.remove("jumped"), 1500);
}

$("goto-noshows").addEventListener("click", () => jump("noshows"));
$("goto-stats").addEventListener("click", () => jump("stats"));
$("quick-logout").addEventListener("click", () => jump("logout"));
$("dlg-logout").addEventListener("close", () => {
  if ($("dlg-logout").returnValue === "ok") signOut();
});

// ------------------------------------------------------------------ sign on / off

function fillPauseReasons() {
  $("pause-reasons").innerHTML = ["counter.reason.break", "counter.reason.meeting", "counter.reason.files", "counter.reason.guidance"]
    .map((key) => `<button type="button" data-reason="${esc(t(key))}">${esc(t(key))}</button>`).join("");
}

function showSignonError(text) {
  $("signon-error").textContent = text;
  $("signon-error").hidden = !text;
}

function signedOut() {
  me = null;
  $("quickbar").hidden = true;
  setKeypadDigits("");
  $("desk").hidden = true;
  $("signon").hidden = false;
  $("password").value = "";
  $("username").focus();
}

function signedIn(user) {
  me = user;
  $("signon").hidden = true;
  $("desk").hidden = false;
  $("quickbar").hidden = false;
  showSignonError("");
  render();
}

$("signon-form").addEventListener("submit", async (e) => {
  e.preventDefault();
  $("signon-button").disabled = true;
  const result = await postJSON("/api/login", {
    username: $("username").value.trim(), password: $("password").value, counter: number,
  });
  $("signon-button").disabled = false;
  if (!result.ok) {
    showSignonError(errorText(result.body));
    return;
  }
  signedIn(result.body);
  live.restart(); // the staff stream: waiting list, no-shows
});

$("logout").addEventListener("click", signOut);

async function signOut() {
  const result = await postJSON("/api/logout");
  if (!result.ok) {
    // e.g. a ticket is still held: the counter stays open and the clerk signed in.
    showError(errorText(result.body));
    return;
  }
  signedOut();
  live.restart();
}

// ------------------------------------------------------------------ start

window.motcua = { live, number };

await initI18n();
languageToggle($("lang"));
fillPauseReasons();
onLangChange(() => {
  fillPauseReasons();
  render();
});
live.addEventListener("snapshot", render);
live.addEventListener("event", render);
render();

const who = await getJSON("/api/me");
if (who.ok && who.body.counter === number) {
  signedIn(who.body);
} else {
  if (who.ok) $("username").value = who.body.user;
  signedOut();
}
live.start();
setInterval(() => me && renderTimes(), 1000);
