// Hall display (/display): the call being invited very large, every counter's current
// number, recent calls, people waiting and the estimated wait per service, the ticker;
// chime + voice for each call.
//
// Address options: ?services=CT,HT  ?counters=1,2  (a second screen for part of the hall),
// ?lang=en, ?sound=off (a screen without speakers).

import { Announcer } from "./announcer.js";
import { Live, officeTime, esc } from "./live.js";
import { initI18n, t, localName, onLangChange, waitText } from "./i18n.js";
import { withoutTitle } from "./names.js";

const FLASH_MS = 6000;

const params = new URLSearchParams(location.search);
const listParam = (name) => {
  const value = params.get(name);
  return value ? value.split(",").map((s) => s.trim()).filter(Boolean) : null;
};
const onlyServices = listParam("services")?.map((s) => s.toUpperCase()) || null;
const onlyCounters = listParam("counters")?.map(Number) || null;
const sound = params.get("sound") !== "off";

const $ = (id) => document.getElementById(id);
let flashTimer = null;

const live = new Live();
let announcer = null;

function showsCounter(number) {
  return !onlyCounters || onlyCounters.includes(Number(number));
}

function showsService(code) {
  return !onlyServices || onlyServices.includes(code);
}

function showsCall(call) {
  return showsCounter(call.counter) && showsService(call.service);
}

function counterLabel(number) {
  return t("display.counter_n", { n: number });
}

// A call is still an invitation while its counter holds that ticket in the "called" state;
// once the citizen is served, absent, or the counter closed, the call is past.
function invitedNow(call) {
  const c = live.state.counter(call.counter);
  return Boolean(c && c.state !== "closed" && c.ticket && c.ticket.label === call.label && c.ticket.state === "called");
}

// The big box: the newest call still inviting someone; else the newest call, shown as past.
function pickHero(calls) {
  const active = calls.find(invitedNow);
  if (active) return { call: active, active: true };
  return calls.length ? { call: calls[0], active: false } : null;
}

function render() {
  const state = live.state;
  const office = state.office;
  $("office-name").textContent = localName(office) || "";
  const ticker = localName(office, "ticker");
  if ($("ticker").textContent !== ticker) {
    $("ticker").textContent = ticker;
    $("ticker").parentElement.hidden = !ticker;
    // Slow enough to read: about 120 px per second whatever the length.
    $("ticker").style.animationDuration = `${Math.max(20, ticker.length * 0.25)}s`;
  }

  const calls = state.latestCalls.filter(showsCall);
  const hero = pickHero(calls);
  renderHero(hero);

  const recent = calls.filter((c) => !hero || c !== hero.call);
  // With no other call yet (the day's first), the list is left out rather than saying "none".
  $("recent-box").hidden = recent.length === 0;
  $("recent").innerHTML = recent
    .map((c) => `<li data-state="${esc(c.state)}"><span class="num">${esc(c.label)}</span>${c.booked ? `<span class="booked-mark">${esc(t("display.booked"))}</span>` : ""}<span class="to">➜ ${esc(counterLabel(c.counter))}</span></li>`)
    .join("");
  trimOverflow($("recent"));

  const counters = state.counters.filter((c) => showsCounter(c.number));
  const list = $("counters");
  // A district centre has dozens of counters: more columns (or a filtered second screen).
  const columns = counters.length > 16 ? 3 : counters.length > 8 ? 2 : 1;
  list.dataset.columns = String(columns);
  $("board").dataset.columns = String(columns);
  // Rows as tall as they may be, packed at the top: two counters sit together, not far apart.
  list.style.setProperty("--rows", String(Math.max(1, Math.ceil(counters.length / columns))));
  list.innerHTML = counters.map((c) => {
    let value;
    let cls = c.state;
    if (c.state === "closed") value = `<span class="status">${esc(t("display.closed"))}</span>`;
    else if (c.state === "paused") value = `<span class="status">${esc(t("display.paused"))}</span>`;
    else if (c.ticket) value = `<span class="num">${esc(c.ticket.label)}</span>`;
    else value = `<span class="status">${esc(t("display.free"))}</span>`;
    if (c.ticket && c.state !== "closed") cls += ` ticket-${c.ticket.state}`;
    if (hero && hero.active && c.ticket && c.ticket.label === hero.call.label && c.number === hero.call.counter) cls += " current";
    return `<li class="${esc(cls)}" data-counter="${c.number}"><span class="label">${esc(counterLabel(c.number))}</span>${value}</li>`;
  }).join("");

  const services = state.services.filter((s) => showsService(s.code));
  $("waiting").dataset.count = String(services.length);
  $("waiting").innerHTML = services.map((s) => {
    const wait = s.available
      ? `<span class="wait">${esc(waitText(s.estimated_wait_s))}</span>`
      : `<span class="wait reason">${esc(t(`kiosk.reason.${s.reason || "service_closed"}`))}</span>`;
    return `<li class="${s.available ? "" : "unavailable"}" data-service="${esc(s.code)}">
      <span class="name">${esc(localName(s))}</span>
      <span class="figures"><span class="count"><b>${s.waiting}</b> ${esc(t("display.people"))}</span>${wait}</span>
    </li>`;
  }).join("");
  renderClock();
}

// Hide rows that would be cut off at the bottom: a half row is unreadable from afar.
function trimOverflow(list) {
  const bottom = list.parentElement.getBoundingClientRect().bottom;
  for (const li of list.children) li.hidden = false;
  for (const li of list.children) li.hidden = li.getBoundingClientRect().bottom > bottom + 1;
}

function renderHero(hero) {
  const box = $("hero");
  const counter = hero ? live.state.counter(hero.call.counter) : null;
  const state = hero ? (hero.active ? "active" : "past") : "empty";
  box.dataset.state = state;
  box.classList.toggle("empty", !hero);
  box.classList.toggle("past", state === "past");
  $("hero-invite").textContent = t(state === "active" ? "display.invite" : state === "past" ? "display.called" : "display.no_calls");
  $("hero-number").textContent = hero ? hero.call.label : "";
  $("hero-counter").textContent = hero ? counterLabel(hero.call.counter) : "";
  $("hero-counter-name").textContent = counter ? withoutTitle(localName(counter), counterLabel(counter.number)) : "";
  // A checked-in appointment is marked as booked here too, as in the latest calls below.
  $("hero-booked").hidden = !hero?.call.booked;
  $("hero-booked").textContent = t("display.booked");
  if (state !== "active") box.classList.remove("flash");
}

function renderClock() {
  if (!live.hasSnapshot) return;
  $("time").textContent = officeTime(live.state, { hour: "2-digit", minute: "2-digit", hour12: false });
  const date = officeTime(live.state, { weekday: "long", day: "2-digit", month: "2-digit", year: "numeric" });
  $("date").textContent = date.charAt(0).toUpperCase() + date.slice(1);
}

function flash() {
  const el = $("hero");
  el.classList.remove("flash");
  void el.offsetWidth; // restart the animation
  el.classList.add("flash");
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => el.classList.remove("flash"), FLASH_MS);
}

function setupAnnouncer(office) {
  if (!sound) return;
  const voice = ["clips", "webspeech", "off"].includes(office.voice) ? office.voice : "clips";
  const chime = office.chime !== false;
  if (!announcer) {
    announcer = new Announcer({ voice, chime, speechVoiceName: office.speech_voice || null });
    window.motcua.announcer = announcer;
    announcer.addEventListener("audio-state", showUnlock);
    announcer.preload(["moi_cong_dan_co_so_thu_tu", "xin_moi_lai_cong_dan_co_so_thu_tu", "den_quay_so"]);
    // The context starts "suspended" for a moment even where autoplay is allowed.
    setTimeout(showUnlock, 1500);
  } else {
    announcer.voice = voice;
    announcer.chime = chime;
  }
}

// A small corner notice, never a curtain: the calls stay readable on a TV nobody can tap.
function showUnlock() {
  $("unlock").hidden = !(announcer && announcer.needsUnlock);
}

async function unlock() {
  if (announcer) await announcer.unlock();
  showUnlock();
}

live.addEventListener("snapshot", () => {
  setupAnnouncer(live.state.office);
  render();
});

live.addEventListener("event", (e) => {
  const msg = e.detail;
  render();
  if ((msg.kind === "ticket_called" || msg.kind === "ticket_recalled") && msg.ticket) {
    const call = { label: msg.ticket.label, counter: msg.ticket.counter, service: msg.ticket.service };
    if (showsCall(call)) {
      flash();
      if (announcer && msg.announce) announcer.announce(msg.announce);
    }
  }
});

// A clip recorded again on /admin/voice (or imported with a pack): fetched anew at the next call.
live.addEventListener("push", (e) => {
  if (e.detail.type === "voice_clips" && announcer && Array.isArray(e.detail.clips)) announcer.forget(e.detail.clips);
});

$("unlock").addEventListener("click", unlock);
// A TV remote's OK key, or any key on a keyboard, also turns the sound on.
addEventListener("keydown", () => announcer && announcer.needsUnlock && unlock());

window.motcua = { live, announcer: null, filters: { services: onlyServices, counters: onlyCounters } };

await initI18n();
onLangChange(render);
render();
live.start();
setInterval(renderClock, 1000);
// Row fitting (trimOverflow) needs the final font metrics and window size.
document.fonts.ready.then(render);
addEventListener("resize", render);
