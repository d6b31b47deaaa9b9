// Clerk station, the visit's outcome (docs/dossiers.md): keyboard-first and scanner-friendly.
//
//   H  dossier received: the code field has the focus; a USB scanner types the code and Enter,
//      which records it with the procedure shown (the last one used for this service) and
//      its due date. So the common case is H, (scan ⏎), X: three keystrokes.
//   D  guidance only (recorded at once)
//   S  additional papers requested (code optional: Enter on an empty field records without)
//   K  result returned (a code)
// The keys work when no field or dialog has the focus, like the counter's other shortcuts.

import { postJSON, getJSON, esc } from "./live.js";
import { lang, t, onLangChange } from "./i18n.js";

const KEYS = { h: "received", d: "guidance", s: "papers", k: "returned" };
const STORE = "motcua.counter.procedure";

const tr = (key) => t(`dossier.${key}`);
const until = (test) => new Promise((resolve) => {
  const check = () => (test() ? resolve() : setTimeout(check, 50));
  check();
});

await until(() => window.motcua && window.motcua.live);
const { live, number } = window.motcua;
let visit = { ticket: null, dossiers: [], outcomes: [], due_dates: {} };
let procedures = {};
let mode = "received";
let dueEdited = false;
// Bumped by every read and every recorded outcome: a read answered after a newer one (or
// after an outcome's own answer, which carries the whole visit) is stale and dropped, so a
// dossier just recorded never disappears from the list.
let version = 0;

function ticket() {
  return live.state.counter(number)?.ticket || null;
}

function vnDate(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.slice(0, 10).split("-");
  return `${d}/${m}/${y}`;
}

// ------------------------------------------------------------------ the panel

const panel = document.createElement("section");
panel.className = "panel dossier-panel";
panel.dataset.testid = "dossier-panel";
panel.innerHTML = `<h2 class="dossier-title"></h2><ul class="dossier-list" data-testid="dossier-list"></ul>
  <div class="dossier-actions">
    ${Object.entries(KEYS).map(([key, what]) =>
      `<button type="button" class="small" data-outcome="${what}"><span></span> <kbd>${key.toUpperCase()}</kbd></button>`).join("")}
  </div>`;
(document.querySelector(".desk-main") || document.body).appendChild(panel);

const dialog = document.createElement("dialog");
dialog.className = "dialog dossier-dialog";
dialog.innerHTML = `<form method="dialog" class="dossier-form">
    <h2 class="dossier-mode"></h2>
    <label><span class="l-code"></span>
      <input name="code" autocomplete="off" spellcheck="false" autocapitalize="characters" maxlength="64" data-testid="dossier-code"></label>
    <label class="f-procedure"><span class="l-procedure"></span><select name="procedure" data-testid="dossier-procedure"></select></label>
    <label class="f-due"><span class="l-due"></span><input name="due" inputmode="numeric" maxlength="10" data-testid="dossier-due"></label>
    <p class="error dossier-error" role="alert" hidden></p>
    <div class="dialog-buttons"><button type="button" value="cancel" class="secondary l-cancel"></button>
      <button value="ok" class="primary l-save"></button></div>
  </form>`;
document.body.appendChild(dialog);
const form = dialog.querySelector("form");

function render() {
  panel.querySelector(".dossier-title").textContent = tr("title");
  for (const b of panel.querySelectorAll("[data-outcome]")) {
    b.querySelector("span").textContent = tr(b.dataset.outcome);
    b.disabled = !ticket();
  }
  const list = panel.querySelector(".dossier-list");
  if (!ticket()) {
    list.innerHTML = `<li class="empty">${esc(tr("no_ticket"))}</li>`;
    return;
  }
  const items = visit.dossiers.map((d) => `<li data-code="${esc(d.code)}"><b>${esc(d.code)}</b>
      <span>${esc(lang() === "en" ? d.procedure_name_en || d.procedure_name : d.procedure_name)}</span>
      <small>${d.due_date ? `${esc(tr("due_short"))} ${vnDate(d.new_due_date || d.due_date)} · ` : ""}${esc(lang() === "en" ? d.status_text_en : d.status_text)}</small></li>`);
  for (const o of visit.outcomes) {
    if (o.action === "guidance") items.push(`<li class="outcome">${esc(tr("guidance_done"))}</li>`);
    if (o.action === "papers" && !o.code) items.push(`<li class="outcome">${esc(tr("papers_done"))}</li>`);
  }
  list.innerHTML = items.join("") || `<li class="empty">${esc(tr("none"))}</li>`;
}

async function refresh() {
  const held = ticket();
  if (!held) {
    visit = { ticket: null, dossiers: [], outcomes: [], due_dates: {} };
    render();
    return;
  }
  const mine = ++version;
  const result = await getJSON(`/api/counters/${number}/dossiers`);
  panel.dataset.reads = String(Number(panel.dataset.reads || 0) + 1); // answered reads (tests wait on it)
  if (mine !== version) return;
  if (result.ok) visit = result.body;
  const service = visit.ticket?.service;
  if (service && !procedures[service]) {
    const list = await getJSON(`/api/procedures?service=${encodeURIComponent(service)}`);
    if (list.ok) procedures[service] = list.body.procedures;
  }
  render();
}

// ------------------------------------------------------------------ the dialog

function fillDue() {
  const code = form.procedure.value;
  if (!dueEdited) form.due.value = vnDate(visit.due_dates?.[code]);
}

function open(what) {
  if (!ticket()) return;
  mode = what;
  dueEdited = false;
  const service = ticket().service;
  const list = procedures[service] || [];
  let last = null;
  try {
    last = JSON.parse(localStorage.getItem(STORE) || "{}")[service];
  } catch {
    last = null;
  }
  form.procedure.innerHTML = list.map((p) => `<option value="${esc(p.code)}">${esc(p.code)} – ${esc(lang() === "en" ? p.name_en : p.name)}</option>`).join("");
  if (last && list.some((p) => p.code === last)) form.procedure.value = last;
  form.code.value = "";
  fillDue();
  dialog.querySelector(".dossier-mode").textContent = tr(what);
  for (const [cls, key] of [["l-code", "code"], ["l-procedure", "procedure"], ["l-due", "due"], ["l-cancel", "cancel"], ["l-save", "save"]]) {
    dialog.querySelector(`.${cls}`).textContent = tr(key);
  }
  dialog.querySelector(".f-procedure").hidden = what === "returned" || !list.length;
  dialog.querySelector(".f-due").hidden = what !== "received";
  dialog.querySelector(".dossier-error").hidden = true;
  dialog.showModal();
  form.code.focus();
}

async function send(body) {
  const result = await postJSON(`/api/counters/${number}/dossiers`, body);
  if (result.ok) {
    version += 1;
    visit = { ...visit, ...result.body };
    render();
  }
  return result;
}

async function submit() {
  const code = form.code.value.trim();
  if (!code && mode !== "papers") {
    form.code.focus();
    return;
  }
  const body = { outcome: mode };
  if (code) body.code = code;
  if (mode !== "returned" && form.procedure.value && !dialog.querySelector(".f-procedure").hidden) body.procedure = form.procedure.value;
  if (mode === "received" && dueEdited && form.due.value.trim()) body.due_date = form.due.value.trim();
  const result = await send(body);
  if (result.ok) {
    if (body.procedure) {
      try {
        const saved = JSON.parse(localStorage.getItem(STORE) || "{}");
        saved[ticket()?.service || ""] = body.procedure;
        localStorage.setItem(STORE, JSON.stringify(saved));
      } catch {
        // not remembered: the first procedure is offered next time
      }
    }
    dialog.close();
    return;
  }
  const error = dialog.querySelector(".dossier-error");
  error.textContent = lang() === "en" ? result.body?.message_en || result.body?.message : result.body?.message || "?";
  error.hidden = false;
  form.code.select();
}

form.addEventListener("submit", (e) => {
  if (e.submitter?.value === "cancel") return;
  e.preventDefault();
  submit();
});
dialog.querySelector(".l-cancel").addEventListener("click", () => dialog.close());
form.procedure.addEventListener("change", fillDue);
form.due.addEventListener("input", () => (dueEdited = true));

async function run(what) {
  if (!ticket()) return;
  if (what === "guidance") {
    await send({ outcome: "guidance" });
    return;
  }
  if (!procedures[ticket().service]) await refresh();
  open(what);
}

panel.addEventListener("click", (e) => {
  const b = e.target.closest("[data-outcome]");
  if (b) run(b.dataset.outcome);
});

// Captured before the counter page's own keys: while a ticket is held, H and D record the
// visit's outcome only (without a ticket they jump to the day's figures and the no-show list).
document.addEventListener(
  "keydown",
  (e) => {
    if (e.repeat || e.ctrlKey || e.altKey || e.metaKey) return;
    if (e.target.closest("input, textarea, select, dialog") || document.querySelector("dialog[open]")) return;
    if (document.getElementById("desk")?.hidden) return;
    const what = KEYS[e.key.toLowerCase()];
    if (!what || !ticket()) return;
    e.preventDefault();
    e.stopImmediatePropagation();
    run(what);
  },
  { capture: true },
);

// ------------------------------------------------------------------ keeping up

let shown = null;
function onChange() {
  const id = ticket()?.id ?? null;
  if (id !== shown) {
    shown = id;
    refresh();
  } else {
    render();
  }
}
live.addEventListener("snapshot", onChange);
live.addEventListener("event", onChange);
live.addEventListener("push", (e) => {
  const d = e.detail?.dossier;
  if (d && ticket() && (d.ticket_id === ticket().id || d.return_ticket_id === ticket().id)) refresh();
});
onLangChange(render);
onChange();
