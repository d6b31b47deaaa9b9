// Booking page (/book, mobile-first): service -> day -> free slot -> name and phone ->
// confirmation with the code, its QR code, papers to bring and an .ics download.
// /book/<code> shows one booking; with the phone's last 4 digits it can be moved or cancelled.
// /book?staff=1 is the same form for a signed-in clerk booking for a caller (no per-phone
// limit, name and phone on the confirmation, a printable slip).

import { postJSON, getJSON, esc } from "./live.js";
import { initI18n, t, errorText, localName, languageToggle, lang, onLangChange } from "./i18n.js";
import qrcode from "../vendor/qrcode.mjs";

const $ = (id) => document.getElementById(id);
const params = new URLSearchParams(location.search);
const staffMode = params.get("staff") === "1";
const WEEKDAYS = {
  vi: ["Chủ nhật", "Thứ Hai", "Thứ Ba", "Thứ Tư", "Thứ Năm", "Thứ Sáu", "Thứ Bảy"],
  en: ["Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat"],
};

let info = null; // GET /api/appointments/services
let chosen = { service: null, date: null, start: null, end: null };
let booking = null; // the booking shown on the confirmation
let moveTo = null; // {date, start} picked to move to

function show(view) {
  document.body.dataset.view = view;
  for (const id of ["booking", "find", "confirm", "missing"]) $(id).hidden = id !== view;
  window.scrollTo(0, 0);
}

function dayText(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  const weekday = WEEKDAYS[lang()][new Date(Date.UTC(y, m - 1, d)).getUTCDay()];
  return `${weekday}, ${String(d).padStart(2, "0")}/${String(m).padStart(2, "0")}/${y}`;
}

function service(code) {
  return info?.services.find((s) => s.code === code);
}

function codeFromPath() {
  const parts = location.pathname.split("/").filter(Boolean);
  return parts.length === 2 ? decodeURIComponent(parts[1]) : null;
}

function setError(id, text) {
  $(id).textContent = text || "";
  $(id).hidden = !text;
}

// ------------------------------------------------------------------ booking

function renderServices() {
  $("office-name").textContent = localName(info, "office_name");
  $("purpose").textContent = t("book.purpose", { n: info.keep_days });
  const box = $("services");
  if (!info.services.length) {
    box.innerHTML = `<p>${esc(t("book.none_open"))}</p>`;
    return;
  }
  box.innerHTML = info.services.map((s) =>
    `<button type="button" class="choice${chosen.service === s.code ? " picked" : ""}" data-service="${esc(s.code)}">
       ${esc(localName(s))}</button>`).join("");
  if (chosen.service) renderDays();
}

function renderDays(target = "days", svc = service(chosen.service), picked = chosen.date) {
  const box = $(target);
  if (target === "days") $("day-step").hidden = false;
  if (!svc.days.length) {
    box.innerHTML = `<p>${esc(t("book.no_days"))}</p>`;
    return;
  }
  box.innerHTML = svc.days.map((d) =>
    `<button type="button" class="choice${picked === d ? " picked" : ""}" data-date="${d}">${esc(dayText(d))}</button>`).join("");
}

async function loadSlots(target, code, date, picked) {
  const box = $(target);
  box.innerHTML = `<p class="muted">${esc(t("book.loading"))}</p>`;
  const result = await getJSON(`/api/appointments/slots?service=${encodeURIComponent(code)}&date=${date}`);
  if (!result.ok) {
    box.innerHTML = `<p class="error">${esc(errorText(result.body))}</p>`;
    return;
  }
  const slots = result.body.slots;
  if (!slots.length) {
    box.innerHTML = `<p>${esc(t("book.no_slots"))}</p>`;
    return;
  }
  box.innerHTML = slots.map((s) => {
    const full = s.free <= 0;
    const note = full ? t(s.closed ? "book.slot_closed" : "book.slot_full") : t("book.slot_free", { n: s.free });
    return `<button type="button" class="slot${full ? " full" : ""}${picked === s.start ? " picked" : ""}"
              data-start="${s.start}" data-end="${s.end}" ${full ? "disabled aria-disabled=\"true\"" : ""}>
              <strong>${s.start}–${s.end}</strong><small>${esc(note)}</small></button>`;
  }).join("");
}

function pickService(code) {
  chosen = { service: code, date: null, start: null, end: null };
  $("slot-step").hidden = true;
  $("form").hidden = true;
  renderServices();
  $("day-step").scrollIntoView({ behavior: "smooth", block: "start" });
}

async function pickDay(date) {
  chosen = { ...chosen, date, start: null, end: null };
  renderDays();
  $("form").hidden = true;
  $("slot-step").hidden = false;
  await loadSlots("slots", chosen.service, date, null);
  $("slot-step").scrollIntoView({ behavior: "smooth", block: "start" });
}

function pickSlot(start, end) {
  chosen = { ...chosen, start, end };
  for (const b of $("slots").querySelectorAll(".slot")) b.classList.toggle("picked", b.dataset.start === start);
  renderChosen();
  setError("form-error", "");
  $("alternatives").hidden = true;
  $("form").hidden = false;
  $("form").scrollIntoView({ behavior: "smooth", block: "start" });
  $("name").focus({ preventScroll: true });
}

function renderChosen() {
  if (!chosen.start) return;
  $("chosen").textContent = `${localName(service(chosen.service))} · ${dayText(chosen.date)} · ${chosen.start}–${chosen.end}`;
}

async function submit(event) {
  event.preventDefault();
  const name = $("name").value.trim();
  const phone = $("phone").value.trim();
  if (name.length < 2) return setError("form-error", t("book.need_name"));
  if (phone.replace(/\D/g, "").length < 9) return setError("form-error", t("book.need_phone"));
  $("submit").disabled = true;
  const url = staffMode ? "/api/staff/appointments" : "/api/appointments";
  const result = await postJSON(url, { service: chosen.service, date: chosen.date, start: chosen.start, name, phone });
  $("submit").disabled = false;
  if (result.ok) {
    booking = result.body;
    history.pushState(null, "", `/book/${booking.code_display}${staffMode ? "?staff=1" : ""}`);
    renderConfirm(true);
    return;
  }
  setError("form-error", errorText(result.body));
  const next = result.body?.details?.next_free;
  if (result.body?.error === "slot_full") {
    await loadSlots("slots", chosen.service, chosen.date, null);
    if (next?.length) {
      $("alternatives").hidden = false;
      $("alternatives").innerHTML = `<p>${esc(t("book.next_free"))}</p>` + next.map((s) =>
        `<button type="button" class="choice" data-alt-date="${s.date}" data-alt-start="${s.start}" data-alt-end="${s.end}">
           ${esc(dayText(s.date))} · ${s.start}–${s.end}</button>`).join("");
    }
  }
}

// ------------------------------------------------------------------ one booking

function stateText(b) {
  if (b.state === "cancelled") return t("book.state_cancelled");
  if (b.state === "checked_in") return t("book.state_checked_in");
  return t("book.state_booked");
}

function renderConfirm(fresh = false) {
  const b = booking;
  show("confirm");
  $("office-name").textContent = localName(b, "office_name");
  document.body.dataset.state = b.state;
  $("confirm-title").textContent = fresh ? t("book.done_title") : t("book.status_title");
  $("code").textContent = b.code_display;
  const qr = qrcode(0, "M");
  qr.addData(b.code_display);
  qr.make();
  $("qr").innerHTML = qr.createSvgTag({ cellSize: 6, margin: 2, scalable: true });
  $("state").textContent = stateText(b);
  $("c-service").textContent = localName(b, "service_name");
  $("c-date").textContent = dayText(b.date);
  $("c-time").textContent = `${b.start}–${b.end}`;
  $("c-counters").textContent = b.counters.map((c) => localName(c)).join(", ");
  $("c-name-row").hidden = !b.name;
  $("c-name").textContent = b.name || "";
  $("c-phone-row").hidden = !b.phone;
  $("c-phone").textContent = b.phone || "";
  const papers = lang() === "en" ? b.papers_en || b.papers : b.papers;
  $("papers-box").hidden = !papers;
  $("papers").textContent = papers || "";
  const from = b.check_in_from ? b.check_in_from.slice(11, 16) : "";
  const until = b.check_in_until ? b.check_in_until.slice(11, 16) : "";
  $("checkin-hint").textContent = b.state === "booked" ? t("book.checkin_hint", { from, until }) : "";
  $("ticket-box").hidden = !b.ticket;
  if (b.ticket) {
    $("ticket-link").textContent = t("book.ticket_link", { label: b.ticket.label });
    $("ticket-link").href = b.ticket.status_url;
  }
  $("ics").href = `/api/appointments/${b.code}/ics`;
  $("ics").hidden = b.state !== "booked";
  $("print").hidden = !staffMode;
  $("manage").hidden = b.state !== "booked" || staffMode;
  $("move-step").hidden = true;
  $("move").textContent = t("book.move");
  $("cancel").textContent = t("book.cancel");
  $("cancel").dataset.armed = "";
  moveTo = null;
  setError("manage-error", "");
}

async function loadBooking(code) {
  const result = await getJSON(`/api/appointments/${encodeURIComponent(code)}`);
  if (!result.ok) {
    show("missing");
    return;
  }
  booking = result.body;
  renderConfirm(false);
}

function last4() {
  const value = $("last4").value.trim();
  if (!/^\d{4}$/.test(value)) {
    setError("manage-error", t("book.need_last4"));
    return null;
  }
  return value;
}

async function cancelBooking() {
  const digits = last4();
  if (!digits) return;
  // Two taps, no dialog: the first arms the button, the second cancels.
  if ($("cancel").dataset.armed !== "1") {
    $("cancel").dataset.armed = "1";
    $("cancel").textContent = t("book.cancel_confirm");
    return;
  }
  const result = await postJSON(`/api/appointments/${booking.code}/cancel`, { phone_last4: digits });
  if (!result.ok) return setError("manage-error", errorText(result.body));
  booking = { ...booking, ...result.body };
  renderConfirm(false);
}

async function startMove() {
  if (!$("move-step").hidden && moveTo) {
    const digits = last4();
    if (!digits) return;
    const result = await postJSON(`/api/appointments/${booking.code}/move`,
      { phone_last4: digits, date: moveTo.date, start: moveTo.start });
    if (!result.ok) return setError("manage-error", errorText(result.body));
    booking = result.body;
    renderConfirm(false);
    $("state").textContent = t("book.moved");
    return;
  }
  if (!info) info = (await getJSON("/api/appointments/services")).body;
  const svc = service(booking.service);
  if (!svc) return setError("manage-error", t("book.none_open"));
  $("move-step").hidden = false;
  $("move").textContent = t("book.move_confirm");
  renderDays("move-days", svc, null);
}

// ------------------------------------------------------------------ start

function wire() {
  $("services").addEventListener("click", (e) => {
    const b = e.target.closest("[data-service]");
    if (b) pickService(b.dataset.service);
  });
  $("days").addEventListener("click", (e) => {
    const b = e.target.closest("[data-date]");
    if (b) pickDay(b.dataset.date);
  });
  $("slots").addEventListener("click", (e) => {
    const b = e.target.closest(".slot:not(.full)");
    if (b) pickSlot(b.dataset.start, b.dataset.end);
  });
  $("alternatives").addEventListener("click", async (e) => {
    const b = e.target.closest("[data-alt-date]");
    if (!b) return;
    chosen = { ...chosen, date: b.dataset.altDate };
    renderDays();
    await loadSlots("slots", chosen.service, chosen.date, b.dataset.altStart);
    pickSlot(b.dataset.altStart, b.dataset.altEnd);
  });
  $("form").addEventListener("submit", submit);
  $("open-manage").addEventListener("click", (e) => {
    e.preventDefault();
    show("find");
  });
  $("find-go").addEventListener("click", () => {
    const code = $("find-code").value.toUpperCase().replace(/[^0-9A-Z]/g, "");
    if (code.length !== 6) return setError("find-error", t("book.need_code"));
    location.href = `/book/${code.slice(0, 3)}-${code.slice(3)}`;
  });
  $("cancel").addEventListener("click", cancelBooking);
  $("move").addEventListener("click", startMove);
  $("move-days").addEventListener("click", async (e) => {
    const b = e.target.closest("[data-date]");
    if (!b) return;
    moveTo = null;
    renderDays("move-days", service(booking.service), b.dataset.date);
    await loadSlots("move-slots", booking.service, b.dataset.date, null);
  });
  $("move-slots").addEventListener("click", (e) => {
    const b = e.target.closest(".slot:not(.full)");
    if (!b) return;
    const date = $("move-days").querySelector(".picked")?.dataset.date;
    moveTo = { date, start: b.dataset.start };
    for (const s of $("move-slots").querySelectorAll(".slot")) s.classList.toggle("picked", s === b);
  });
  $("print").addEventListener("click", () => window.print());
  window.addEventListener("popstate", () => location.reload());
}

async function main() {
  await initI18n();
  languageToggle($("lang"));
  wire();
  $("staff-note").hidden = !staffMode;
  document.body.classList.toggle("staff", staffMode);
  onLangChange(() => {
    if (document.body.dataset.view === "confirm" && booking) renderConfirm(false);
    else if (info) {
      renderServices();
      renderChosen();
      if (chosen.date) loadSlots("slots", chosen.service, chosen.date, chosen.start);
    }
  });
  const code = codeFromPath();
  if (code) {
    await loadBooking(code);
    return;
  }
  const result = await getJSON("/api/appointments/services");
  if (!result.ok) {
    show("missing");
    return;
  }
  info = result.body;
  show("booking");
  renderServices();
}

main();
