// Phone status page (/t/<token>): the dossiers this visit handed in, each with its due date
// and status in the citizen's words ("Đang giải quyết", "Đã có kết quả – mời đến nhận",
// "Đã trả", "Trễ hẹn – hẹn lại ngày …"). Refreshed every minute and when the page comes back.

import { getJSON, esc } from "./live.js";
import { lang, t, onLangChange } from "./i18n.js";

const REFRESH_SECONDS = 60;
const token = decodeURIComponent(location.pathname.split("/").filter(Boolean).pop() || "");
const section = document.createElement("section");
section.className = "card status-dossiers";
section.dataset.testid = "status-dossiers";
section.hidden = true;
(document.querySelector("main") || document.body).appendChild(section);
let dossiers = [];

function vnDate(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.split("-");
  return `${d}/${m}/${y}`;
}

function render() {
  section.hidden = !dossiers.length;
  section.innerHTML = `<h2>${esc(t("dossier.visit_title"))}</h2><ul>${dossiers.map((d) => {
    const cls = d.late ? "late" : d.status === "ready" ? "ready" : "";
    const name = lang() === "en" ? d.procedure_name_en || d.procedure_name : d.procedure_name;
    return `<li data-code="${esc(d.code)}"><b>${esc(d.code)}</b><br>${esc(name)}<br>
      <small>${esc(t("dossier.received_on"))} ${vnDate(d.received_on)} · ${esc(t("dossier.due_date"))} ${vnDate(d.due_date)}</small><br>
      <strong class="${cls}">${esc(lang() === "en" ? d.status_text_en : d.status_text)}</strong></li>`;
  }).join("")}</ul>`;
}

async function load() {
  const result = await getJSON(`/api/tickets/${encodeURIComponent(token)}/dossiers`);
  if (result.ok) {
    dossiers = result.body.dossiers || [];
    render();
  }
}

onLangChange(render);
document.addEventListener("visibilitychange", () => document.visibilityState === "visible" && load());
setInterval(load, REFRESH_SECONDS * 1000);
load();
