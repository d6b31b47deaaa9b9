// Kiosk: "Tra cứu hồ sơ" (look a dossier up) and "Nhận kết quả" (collect a result).
//
// The citizen scans the receipt's barcode (a USB scanner types the code and Enter into the
// focused field) or types it on the large on-screen keys. The lookup shows only the code,
// procedure, dates and status: no names. Collecting gives a ticket in the result-return
// service when the result is ready (shown by kiosk.js like any ticket, "motcua:ticket");
// when it is not, the kiosk says so with the due date, so nobody queues for nothing.

import { postJSON, getJSON, esc } from "./live.js";
import { lang, t, onLangChange } from "./i18n.js";

const CLOSE_AFTER_S = 60;
const KEYS = "1234567890QWERTYUIOPASDFGHJKLZXCVBNM.-";
const tr = (key) => t(`dossier.${key}`);
let mode = "lookup";
let closeTimer = null;

function vnDate(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.split("-");
  return `${d}/${m}/${y}`;
}

const buttons = document.createElement("div");
buttons.className = "kiosk-dossier-buttons";
buttons.innerHTML = `<button type="button" data-testid="kiosk-lookup" data-mode="lookup"></button>
  <button type="button" data-testid="kiosk-collect" data-mode="collect"></button>`;
(document.getElementById("start") || document.body).appendChild(buttons);

const overlay = document.createElement("section");
overlay.className = "kiosk-dossier";
overlay.hidden = true;
overlay.setAttribute("role", "dialog");
overlay.innerHTML = `<h2></h2><p class="prompt"></p>
  <form class="kiosk-dossier-form"><input name="code" autocomplete="off" spellcheck="false" maxlength="64" data-testid="kiosk-dossier-code"></form>
  <div class="keys" data-testid="kiosk-dossier-keys">${[...KEYS].map((k) => `<button type="button" data-key="${k}">${k}</button>`).join("")}
    <button type="button" data-key="del" class="del"></button></div>
  <div class="row"><button type="button" class="back" data-testid="kiosk-dossier-close"></button>
    <button type="button" class="go primary" data-testid="kiosk-dossier-ok"></button></div>
  <div class="answer" data-testid="kiosk-dossier-answer" aria-live="assertive"></div>`;
document.body.appendChild(overlay);
const input = overlay.querySelector("input");
const answer = overlay.querySelector(".answer");

function label() {
  buttons.querySelector("[data-mode=lookup]").textContent = tr("lookup");
  buttons.querySelector("[data-mode=collect]").textContent = tr("collect");
  overlay.querySelector("h2").textContent = tr(mode);
  overlay.querySelector(".prompt").textContent = tr("prompt");
  overlay.querySelector(".back").textContent = tr("back");
  overlay.querySelector(".go").textContent = tr(mode === "collect" ? "collect_ok" : "look");
  overlay.querySelector(".del").textContent = tr("delete");
}

function keepOpen() {
  clearTimeout(closeTimer);
  closeTimer = setTimeout(close, CLOSE_AFTER_S * 1000);
}

function open(what) {
  mode = what;
  label();
  input.value = "";
  answer.innerHTML = "";
  overlay.hidden = false;
  input.focus();
  keepOpen();
}

function close() {
  clearTimeout(closeTimer);
  overlay.hidden = true;
  answer.innerHTML = "";
}

function message(body) {
  return lang() === "en" ? body?.message_en || body?.message : body?.message || body?.message_en;
}

function show(d) {
  const name = lang() === "en" ? d.procedure_name_en || d.procedure_name : d.procedure_name;
  answer.innerHTML = `<dl>
    <dt>${esc(tr("code_label"))}</dt><dd>${esc(d.code)}</dd>
    <dt>${esc(tr("procedure"))}</dt><dd>${esc(name)}</dd>
    <dt>${esc(tr("received_on"))}</dt><dd>${vnDate(d.received_on)}</dd>
    <dt>${esc(tr("due_date"))}</dt><dd>${vnDate(d.due_date)}</dd>
    ${d.new_due_date ? `<dt>${esc(tr("new_due"))}</dt><dd>${vnDate(d.new_due_date)}</dd>` : ""}
    <dt>${esc(tr("status"))}</dt><dd>${esc(lang() === "en" ? d.status_text_en : d.status_text)}</dd></dl>`;
}

async function go() {
  const code = input.value.trim();
  if (!code) {
    input.focus();
    return;
  }
  keepOpen();
  if (mode === "lookup") {
    const result = await getJSON(`/api/dossiers/${encodeURIComponent(code)}`);
    if (result.ok) show(result.body);
    else answer.textContent = message(result.body) || "?";
    input.select();
    return;
  }
  const device = window.motcua?.device;
  if (!device?.token) {
    answer.textContent = tr("bad_token");
    return;
  }
  const result = await postJSON(`/api/dossiers/${encodeURIComponent(code)}/check-in`, {},
    { Authorization: `Bearer ${device.token}` });
  if (result.ok) {
    close();
    window.dispatchEvent(new CustomEvent("motcua:ticket", { detail: result.body }));
  } else if (result.body?.error === "not_ready" && result.body.status !== "papers") {
    answer.textContent = t("dossier.not_ready", { date: vnDate(result.body.new_due_date || result.body.due_date) });
  } else {
    answer.textContent = message(result.body) || "?";
  }
}

buttons.addEventListener("click", (e) => {
  const b = e.target.closest("[data-mode]");
  if (b) open(b.dataset.mode);
});
overlay.querySelector("form").addEventListener("submit", (e) => {
  e.preventDefault();
  go();
});
overlay.querySelector(".go").addEventListener("click", go);
overlay.querySelector(".back").addEventListener("click", close);
overlay.querySelector(".keys").addEventListener("click", (e) => {
  const b = e.target.closest("[data-key]");
  if (!b) return;
  keepOpen();
  input.value = b.dataset.key === "del" ? input.value.slice(0, -1) : input.value + b.dataset.key;
});
onLangChange(label);
label();
