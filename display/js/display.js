// Hall display (/display): the newest call very large, every counter's current number,
// recent calls, people waiting per service, the ticker; chime + voice for each call.
//
// Address options: ?services=CT,HT  ?counters=1,2  (a second screen for part of the hall),
// ?lang=en, ?sound=off (a screen without speakers).

import { Announcer } from "./announcer.js";
import { Live, officeTime, esc } from "./live.js";
import { initI18n, t, localName, onLangChange } from "./i18n.js";

const FLASH_MS = 6000;
const RECENT_ROWS = 6;

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
let hero = null; // {label, counter}

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
  if (!hero && calls.length) hero = { label: calls[0].label, counter: calls[0].counter };
  renderHero();

  const recent = calls.filter((c) => !hero || c.label !== hero.label).slice(0, RECENT_ROWS);
  $("recent").innerHTML = recent.length
    ? recent.map((c) => `<li><span class="num">${esc(c.label)}</span><span class="to">➜ ${esc(counterLabel(c.counter))}</span></li>`).join("")
    : `<li class="empty">${esc(t("display.no_calls"))}</li>`;
  trimOverflow($("recent"));

  const counters = state.counters.filter((c) => showsCounter(c.number));
  const list = $("counters");
  // A district centre has dozens of counters: more columns (or a filtered second screen).
  list.dataset.columns = String(counters.length > 16 ? 3 : counters.length > 8 ? 2 : 1);
  list.innerHTML = counters.map((c) => {
    let value;
    let cls = c.state;
    if (c.state === "closed") value = `<span class="status">${esc(t("display.closed"))}</span>`;
    else if (c.state === "paused") value = `<span class="status">${esc(t("display.paused"))}</span>`;
    else if (c.ticket) value = `<span class="num">${esc(c.ticket.label)}</span>`;
    else value = `<span class="status">${esc(t("display.free"))}</span>`;
    if (hero && c.ticket && c.ticket.label === hero.label && c.number === hero.counter) cls += " current";
    return `<li class="${cls}" data-counter="${c.number}"><span class="label">${esc(counterLabel(c.number))}</span>${value}</li>`;
  }).join("");

  const services = state.services.filter((s) => showsService(s.code));
  $("waiting").innerHTML = services.map((s) => `
    <li class="${s.available ? "" : "unavailable"}" data-service="${esc(s.code)}">
      <span class="name">${esc(localName(s))}</span>
      <span class="count"><b>${s.waiting}</b> ${esc(t("display.people"))}</span>
    </li>`).join("");
  renderClock();
}

// Hide rows that would be cut off at the bottom: a half row is unreadable from afar.
function trimOverflow(list) {
  const bottom = list.parentElement.getBoundingClientRect().bottom;
  for (const li of list.children) li.hidden = li.getBoundingClientRect().bottom > bottom + 1;
}

function renderHero() {
  const counter = hero ? live.state.counter(hero.counter) : null;
  $("hero-number").textContent = hero ? hero.label : "—";
  $("hero-counter").textContent = hero ? counterLabel(hero.counter) : "";
  $("hero-counter-name").textContent = counter ? localName(counter) : "";
  $("hero").classList.toggle("empty", !hero);
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
    announcer.preload(["moi_cong_dan_co_so_thu_tu", "den_quay_so"]);
    // The context starts "suspended" for a moment even where autoplay is allowed.
    setTimeout(showUnlock, 1500);
  } else {
    announcer.voice = voice;
    announcer.chime = chime;
  }
}

function showUnlock() {
  $("unlock").hidden = !(announcer && announcer.needsUnlock);
}

live.addEventListener("snapshot", () => {
  hero = null; // the snapshot's newest call is the truth now
  setupAnnouncer(live.state.office);
  render();
});

live.addEventListener("event", (e) => {
  const msg = e.detail;
  if ((msg.kind === "ticket_called" || msg.kind === "ticket_recalled") && msg.ticket) {
    const call = { label: msg.ticket.label, counter: msg.ticket.counter, service: msg.ticket.service };
    if (showsCall(call)) {
      hero = { label: call.label, counter: call.counter };
      render();
      flash();
      if (announcer && msg.announce) announcer.announce(msg.announce);
      return;
    }
  }
  render();
});

$("unlock-button").addEventListener("click", async () => {
  if (announcer) await announcer.unlock();
  showUnlock();
});

window.motcua = { live, announcer: null, filters: { services: onlyServices, counters: onlyCounters } };

await initI18n();
onLangChange(render);
render();
live.start();
setInterval(renderClock, 1000);
// Row fitting (trimOverflow) needs the final font metrics and window size.
document.fonts.ready.then(render);
addEventListener("resize", render);
