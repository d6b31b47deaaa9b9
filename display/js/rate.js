// Rating tablet (/rate/<n>): idle until the clerk at counter n presses Done; then the
// ticket's number and the configured satisfaction levels as huge buttons; one rating per
// ticket; thanks; back to idle.
//
// Levels are sent as numbers: the highest is the most satisfied (levels = 4: 4 "Rất hài
// lòng", 3 "Hài lòng", 2 "Bình thường", 1 "Không hài lòng").

import { Live, postJSON, esc } from "./live.js";
import { initI18n, t, errorText, localName, onLangChange } from "./i18n.js";

const DEFAULT_ASK_SECONDS = 60; // until the snapshot says rating.timeout_seconds
const THANKS_SECONDS = 5;
// Label keys for each number of levels, most satisfied first.
const LEVEL_KEYS = {
  3: ["very_satisfied", "satisfied", "unsatisfied"],
  4: ["very_satisfied", "satisfied", "neutral", "unsatisfied"],
  5: ["very_satisfied", "satisfied", "neutral", "unsatisfied", "very_unsatisfied"],
};
// Mouth curve per label: positive smiles, negative frowns.
const MOUTH = { very_satisfied: 6, satisfied: 3, neutral: 0, unsatisfied: -3, very_unsatisfied: -6 };

const $ = (id) => document.getElementById(id);
const number = Number(location.pathname.split("/").filter(Boolean).pop());
const deviceToken = loadToken();
const live = new Live();
let ticket = null; // the ticket being rated
let timer = null;
let sending = false;

// The tablet's device token ([[rating_tablets]] in config.toml): given once as
// /rate/N?token=…, then kept in this browser and removed from the address.
function loadToken() {
  const key = `motcua.rate.${number}`;
  const params = new URLSearchParams(location.search);
  const given = params.get("token");
  try {
    if (given) {
      localStorage.setItem(key, given);
      params.delete("token");
      const query = params.toString();
      history.replaceState(null, "", location.pathname + (query ? `?${query}` : ""));
    }
    return localStorage.getItem(key) || given;
  } catch {
    return given; // no storage: keep it in the address so a reload still works
  }
}

function face(key) {
  const curve = MOUTH[key];
  return `<svg viewBox="0 0 64 64" aria-hidden="true"><circle cx="32" cy="32" r="29" fill="none" stroke="currentColor" stroke-width="4"/>
    <circle cx="22" cy="25" r="4" fill="currentColor"/><circle cx="42" cy="25" r="4" fill="currentColor"/>
    <path d="M19 ${43 - curve / 2} Q32 ${43 + curve * 1.6} 45 ${43 - curve / 2}" fill="none" stroke="currentColor" stroke-width="4" stroke-linecap="round"/></svg>`;
}

function show(mode) {
  document.body.dataset.mode = mode;
  for (const id of ["idle", "ask", "thanks", "problem"]) $(id).hidden = id !== mode;
}

function later(seconds, then) {
  clearTimeout(timer);
  timer = setTimeout(then, seconds * 1000);
}

function idle() {
  ticket = null;
  show("idle");
}

function renderHeader() {
  $("office-name").textContent = localName(live.state.office);
  $("counter-title").textContent = t("rate.counter", { n: number });
}

function renderLevels() {
  const count = live.state.office.rating_levels || 4;
  const keys = LEVEL_KEYS[count] || LEVEL_KEYS[4];
  $("levels").dataset.count = String(keys.length);
  $("levels").innerHTML = keys.map((key, index) => {
    const level = keys.length - index;
    return `<button type="button" class="level ${key}" data-level="${level}" data-testid="level-${level}">
      ${face(key)}<span>${esc(t(`rate.${key}`))}</span></button>`;
  }).join("");
}

function ask(done) {
  ticket = done;
  $("ask-label").textContent = done.label;
  renderLevels();
  show("ask");
  later(askSeconds(), idle);
}

async function rate(level) {
  if (!ticket || sending) return;
  sending = true;
  const result = await postJSON(`/api/counters/${number}/rating`, { ticket_id: ticket.id, level },
    deviceToken ? { Authorization: `Bearer ${deviceToken}` } : {});
  sending = false;
  if (result.ok) {
    show("thanks");
  } else {
    $("problem-text").textContent = errorText(result.body);
    show("problem");
  }
  ticket = null;
  later(THANKS_SECONDS, idle);
}

$("levels").addEventListener("click", (e) => {
  const button = e.target.closest("button.level");
  if (button) rate(Number(button.dataset.level));
});

function askSeconds() {
  return (live.state && live.state.office && live.state.office.rating_timeout_s) || DEFAULT_ASK_SECONDS;
}

// After a reload or reconnect: still ask about the ticket just finished here, if unrated.
function resumePending() {
  const counter = live.state && (live.state.counters || []).find((c) => c.number === number);
  const last = counter && counter.last_done;
  if (!last || last.rated || ticket) return;
  if (Date.now() - Date.parse(last.finished_at) < askSeconds() * 1000) ask(last);
}

live.addEventListener("snapshot", () => {
  renderHeader();
  resumePending();
});
live.addEventListener("event", (e) => {
  const msg = e.detail;
  if (msg.kind === "ticket_done" && msg.ticket && msg.ticket.counter === number) ask(msg.ticket);
});

window.motcua = { live, number };

await initI18n();
onLangChange(() => {
  renderHeader();
  if (ticket) renderLevels();
});
renderHeader();
idle();
live.start();
