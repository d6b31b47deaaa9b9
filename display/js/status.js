// Phone status page (/t/<token>, the kiosk QR target): the citizen's number, state, people
// ahead and estimated wait, live; when called, a large "Mời đến quầy N" with vibration and
// a tone (phones allow sound only after a tap: the "Bật âm báo" button).

import { Live, getJSON } from "./live.js";
import { initI18n, t, waitText, languageToggle, lang, onLangChange, localName } from "./i18n.js";

const REFRESH_DEBOUNCE_MS = 400;

const $ = (id) => document.getElementById(id);
const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const live = new Live();
let ticket = null;
let refreshTimer = null;
let audio = null;
let lastAlert = null; // "<state>/<recalls>" we last alerted for

async function refresh() {
  const result = await getJSON(`/api/tickets/${encodeURIComponent(token)}`);
  if (result.ok) {
    const before = ticket;
    ticket = result.body;
    render();
    alertIfCalled(before);
  } else if (result.status === 404) {
    ticket = null;
    document.body.dataset.state = "missing";
    $("card").hidden = true;
    $("missing").hidden = false;
    renderMissing();
  }
}

// An unknown ticket still gets the office's name in the header (from the live snapshot).
function renderMissing() {
  if (ticket) return;
  $("office-name").textContent = localName(live.state.office) || "";
  document.title = `${t("status.not_found")} – ${t("status.title")}`;
}

function refreshSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(refresh, REFRESH_DEBOUNCE_MS);
}

function render() {
  if (!ticket) return;
  document.body.dataset.state = ticket.state;
  $("missing").hidden = true;
  $("card").hidden = false;
  $("office-name").textContent = lang() === "en" ? ticket.office_name_en || ticket.office_name : ticket.office_name;
  $("label").textContent = ticket.label;
  $("priority").hidden = !ticket.priority;
  $("booked").hidden = !ticket.booked;
  if (ticket.booked) $("booked").textContent = t("status.booked", { time: (ticket.slot_start || "").slice(11, 16) });
  $("service").textContent = lang() === "en" ? ticket.service_name_en || ticket.service_name : ticket.service_name;
  document.title = `${ticket.label} – ${t("status.title")}`;

  const state = ticket.state;
  const called = state === "called";
  $("called").hidden = !called;
  if (called) {
    $("called-text").textContent = t("status.go_to_counter", { n: ticket.counter });
    $("called-hint").textContent = ticket.recalls ? t("status.recalled", { n: ticket.recalls }) : t("status.called_hint");
  }
  $("state").hidden = called;
  let title = t(`status.state.${state}`);
  let text = t(`status.text.${state}`, { n: ticket.counter ?? "" });
  if (state === "waiting") {
    if (ticket.transfers) title = t("status.state.transferred");
    if (ticket.people_ahead === 0) text = t("status.text.next");
  }
  $("state-title").textContent = title;
  $("state-text").textContent = text;
  $("facts").hidden = state !== "waiting";
  $("ahead").textContent = String(ticket.people_ahead ?? 0);
  $("wait").textContent = waitText(ticket.estimated_wait_s);
  document.querySelector(".note").hidden = !["waiting", "called", "serving"].includes(state);
  $("sound").hidden = !["waiting", "called"].includes(state) || (audio && audio.state === "running");
}

function alertIfCalled(before) {
  if (!ticket || ticket.state !== "called") return;
  const key = `${ticket.id}/${ticket.counter}/${ticket.recalls}`;
  if (key === lastAlert) return;
  const first = lastAlert === null && before === null; // page opened on an already-called ticket
  lastAlert = key;
  if (first) return;
  if (navigator.vibrate) navigator.vibrate([400, 200, 400, 200, 800]);
  tone();
}

// Two-note chime with an oscillator: no file to download, works offline.
function tone() {
  if (!audio || audio.state !== "running") return;
  const start = audio.currentTime + 0.05;
  [[880, 0], [660, 0.45], [880, 1.2], [660, 1.65]].forEach(([freq, at]) => {
    const osc = audio.createOscillator();
    const gain = audio.createGain();
    osc.frequency.value = freq;
    gain.gain.setValueAtTime(0.0001, start + at);
    gain.gain.exponentialRampToValueAtTime(0.4, start + at + 0.03);
    gain.gain.exponentialRampToValueAtTime(0.0001, start + at + 0.4);
    osc.connect(gain).connect(audio.destination);
    osc.start(start + at);
    osc.stop(start + at + 0.42);
  });
}

$("sound").addEventListener("click", async () => {
  const AudioContextClass = globalThis.AudioContext || globalThis.webkitAudioContext;
  if (!AudioContextClass) return;
  audio = audio || new AudioContextClass();
  await audio.resume().catch(() => {});
  tone(); // so the citizen hears what to listen for
  render();
});

// Follow the events instead of asking the server after every action: our own ticket's
// event carries its new state; the position is fetched again only when an event can move it.
const MOVES_THE_QUEUE = new Set(["ticket_called", "ticket_cancelled", "ticket_transferred", "ticket_expired",
  "ticket_done", "counter_opened", "counter_closed", "counter_paused", "counter_resumed"]);

function movesMyPosition(msg) {
  if (msg.kind === "day_started") return true;
  if (msg.ticket) {
    if (msg.ticket.service !== ticket.service) return false;
    // A new ticket goes behind ours, unless it is a priority one.
    return MOVES_THE_QUEUE.has(msg.kind) || (msg.kind === "ticket_issued" && msg.ticket.priority);
  }
  return MOVES_THE_QUEUE.has(msg.kind); // a counter opened or closed: the estimate changes
}

live.addEventListener("snapshot", () => {
  renderMissing();
  refresh();
});
live.addEventListener("event", (e) => {
  const msg = e.detail;
  if (!ticket) return;
  if (msg.ticket && msg.ticket.id === ticket.id) {
    const before = ticket;
    // The event's ticket has no token and its people_ahead is the figure at issue time.
    ticket = { ...ticket, ...msg.ticket, people_ahead: ticket.people_ahead, estimated_wait_s: ticket.estimated_wait_s };
    render();
    alertIfCalled(before);
    if (ticket.state === "waiting") refreshSoon(); // transferred or requeued: a new position
  } else if (ticket.state === "waiting" && movesMyPosition(msg)) {
    refreshSoon();
  }
});

window.motcua = { live };

await initI18n();
languageToggle($("lang"));
onLangChange(() => {
  render();
  renderMissing();
});
await refresh();
live.start();
