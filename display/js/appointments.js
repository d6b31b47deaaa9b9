// Staff appointment list (/appointments): the coming days with their booking counts; one
// day's bookings per service and slot, with names and phone numbers; cancel one (audited, with a reason); an admin closes or reopens a
// slot; an admin sees the appointment report over a date range, with CSV and Excel downloads.
// "Book for a caller" opens /book in staff mode (printable slip). Live: the staff
// stream's appointment_booked / _cancelled / _checked_in pushes refresh the list.

import { Live, getJSON, postJSON, esc } from "./live.js";
import { initI18n, t, errorText, localName, languageToggle, lang, onLangChange } from "./i18n.js";

const $ = (id) => document.getElementById(id);
let me = null;
let data = null;
let refreshTimer = null;

function showError(text) {
  $("error").textContent = text || "";
  $("error").hidden = !text;
}

function stateLabel(a) {
  return t(`appt.state_${a.state}`);
}

function dayLabel(iso) {
  const [y, m, d] = iso.split("-").map(Number);
  const locale = lang() === "en" ? "en-GB" : "vi-VN";
  return new Date(Date.UTC(y, m - 1, d)).toLocaleDateString(locale, { weekday: "short", day: "2-digit", month: "2-digit", timeZone: "UTC" });
}

function renderUpcoming() {
  const days = data.upcoming || [];
  $("upcoming").hidden = days.length === 0;
  $("upcoming-days").innerHTML = days.map((d) => `
    <button type="button" class="small${d.date === data.date ? " picked" : ""}" data-day="${esc(d.date)}">
      ${esc(dayLabel(d.date))} <strong>${d.booked}</strong></button>`).join("");
}

function render() {
  if (!data) return;
  renderUpcoming();
  $("closed-day").hidden = !data.closed_day;
  const admin = me?.role === "admin";
  $("list").innerHTML = data.services.map((s) => {
    const rows = s.slots.map((slot) => {
      const people = slot.appointments.map((a) => `
        <li class="appt ${a.state}" data-code="${esc(a.code)}">
          <strong class="code">${esc(a.code_display)}</strong>
          <span class="name">${esc(a.name || t("appt.deleted"))}</span>
          <span class="phone">${esc(a.phone || "")}</span>
          <span class="state">${esc(stateLabel(a))}${a.created_by ? ` · ${esc(t("appt.by", { user: a.created_by }))}` : ""}</span>
          ${a.state === "booked" ? `<button type="button" class="small danger" data-cancel="${esc(a.code)}">${esc(t("appt.cancel"))}</button>` : ""}
        </li>`).join("");
      const slotButton = admin
        ? `<button type="button" class="small" data-slot="${slot.start}" data-service="${esc(s.code)}" data-closed="${slot.closed ? "0" : "1"}">
             ${esc(t(slot.closed ? "appt.reopen_slot" : "appt.close_slot"))}</button>` : "";
      return `<tr class="${slot.closed ? "closed" : ""}${slot.free === 0 ? " full" : ""}">
        <th scope="row">${slot.start}–${slot.end}</th>
        <td class="num">${slot.booked}/${slot.capacity}${slot.closed ? ` <em>${esc(t("appt.slot_closed"))}</em>` : ""}</td>
        <td><ul>${people}</ul></td>
        <td>${slotButton}</td>
      </tr>`;
    }).join("");
    return `<section class="service" data-service="${esc(s.code)}">
      <h2>${esc(localName(s))} <small>(${esc(s.code)})</small></h2>
      ${s.slots.length ? `<table><thead><tr><th>${esc(t("appt.slot"))}</th><th>${esc(t("appt.booked"))}</th>
        <th>${esc(t("appt.people"))}</th><th></th></tr></thead><tbody>${rows}</tbody></table>`
        : `<p>${esc(t("appt.no_slots"))}</p>`}
    </section>`;
  }).join("") || `<p>${esc(t("appt.none_open"))}</p>`;
}

async function load() {
  // No date picked yet: the server's today (the office's day and time zone, not this PC's).
  const picked = $("date").value;
  const result = await getJSON(`/api/staff/appointments${picked ? `?date=${picked}` : ""}`);
  if (result.status === 401) {
    $("signin").hidden = false;
    $("list").innerHTML = "";
    return;
  }
  if (!result.ok) return showError(errorText(result.body));
  showError("");
  data = result.body;
  $("date").value = data.date;
  render();
}

function loadSoon() {
  clearTimeout(refreshTimer);
  refreshTimer = setTimeout(load, 300);
}

async function onClick(event) {
  const cancel = event.target.closest("[data-cancel]");
  if (cancel) {
    const reason = prompt(t("appt.cancel_reason"));
    if (reason === null) return;
    const result = await postJSON(`/api/staff/appointments/${cancel.dataset.cancel}/cancel`, { reason });
    if (!result.ok) return showError(errorText(result.body));
    return load();
  }
  const slot = event.target.closest("[data-slot]");
  if (slot) {
    const result = await postJSON("/api/staff/appointments/slots", {
      service: slot.dataset.service, date: $("date").value, start: slot.dataset.slot, closed: slot.dataset.closed === "1",
    });
    if (!result.ok) return showError(errorText(result.body));
    return load();
  }
}

// ------------------------------------------------------------------ report (admins)

const REPORT_COLUMNS = ["date", "service", "booked", "checked_in", "absent", "cancelled", "called", "wait", "on_time"];

function reportQuery() {
  return `from=${$("report-from").value}&to=${$("report-to").value}`;
}

function minutes(seconds) {
  return seconds == null ? "–" : (seconds / 60).toLocaleString(lang() === "en" ? "en-GB" : "vi-VN", { maximumFractionDigits: 1 });
}

function reportRow(r, total = false) {
  const date = total ? t("appt.report_total") : r.date.split("-").reverse().join("/");
  const share = r.on_time_share == null ? "–" : `${Math.round(r.on_time_share * 100)}%`;
  const cells = [date, total ? "" : r.label, r.booked, r.checked_in, r.absent, r.cancelled, r.called, minutes(r.wait.mean), share];
  return `<tr>${cells.map((c, i) => `<${total ? "th" : "td"} class="${i > 1 ? "num" : ""}">${esc(String(c))}</${total ? "th" : "td"}>`).join("")}</tr>`;
}

function renderDownloads() {
  $("report-xlsx").href = `/api/reports/appointments/export?${reportQuery()}&format=xlsx`;
  $("report-csv").href = `/api/reports/appointments/export?${reportQuery()}&format=csv`;
}

async function showReport(event) {
  event?.preventDefault();
  renderDownloads();
  const result = await getJSON(`/api/reports/appointments?${reportQuery()}`);
  if (!result.ok) {
    $("report-error").textContent = errorText(result.body);
    $("report-error").hidden = false;
    return;
  }
  $("report-error").hidden = true;
  const report = result.body;
  const table = $("report-table");
  table.tHead.innerHTML = `<tr>${REPORT_COLUMNS.map((c, i) => `<th class="${i > 1 ? "num" : ""}">${esc(t(`appt.report_${c}`))}</th>`).join("")}</tr>`;
  table.tBodies[0].innerHTML = report.rows.map((r) => reportRow(r)).join("")
    || `<tr><td colspan="${REPORT_COLUMNS.length}">${esc(t("appt.report_none"))}</td></tr>`;
  table.tFoot.innerHTML = report.rows.length ? reportRow(report.total, true) : "";
  table.hidden = false;
}

function startReport() {
  if (me?.role !== "admin") return;
  const today = $("date").value;
  if (!$("report-from").value) $("report-from").value = `${today.slice(0, 8)}01`;
  if (!$("report-to").value) $("report-to").value = today;
  renderDownloads();
  $("report").hidden = false;
}

async function main() {
  await initI18n();
  languageToggle($("lang"));
  onLangChange(render);
  $("date").value = new URLSearchParams(location.search).get("date") || "";
  $("date").addEventListener("change", load);
  $("list").addEventListener("click", onClick);
  $("upcoming-days").addEventListener("click", (e) => {
    const b = e.target.closest("[data-day]");
    if (!b) return;
    $("date").value = b.dataset.day;
    load();
  });
  const who = await getJSON("/api/me");
  if (who.ok) {
    me = who.body;
    $("who").textContent = t("appt.signed_in", { user: me.display_name || me.user });
  }
  await load();
  $("report-form").addEventListener("submit", showReport);
  for (const id of ["report-from", "report-to"]) $(id).addEventListener("change", renderDownloads);
  startReport();
  const live = new Live();
  live.addEventListener("push", (e) => {
    if (e.detail.type === "appointment") loadSoon();
  });
  live.start();
  window.motcua = { live };
}

main();
