// Read-only monitor of one site, built by the central from the events it pulled.
import { applyWords, cell, duration, lang, num, t } from "./central-i18n.js";
import { getJSON } from "./http.js";

const $ = (id) => document.getElementById(id);
const siteId = decodeURIComponent(location.pathname.split("/").pop());

async function load() {
  const answer = await getJSON(`/api/central/sites/${encodeURIComponent(siteId)}/monitor`);
  if (answer.status === 401) { location.href = "/"; return; }
  if (!answer.ok) { $("error").textContent = lang === "en" ? answer.body.message_en : answer.body.message; return; }
  $("error").textContent = "";
  render(answer.body);
}

function render(m) {
  $("site-name").textContent = m.site.name;
  document.title = m.site.name;
  $("site-status").textContent = m.site.silent ? m.site.status : (m.site.last_heard_local ?? "");
  $("site-status").classList.toggle("off", m.site.silent);
  const counters = $("counters").tBodies[0];
  counters.replaceChildren();
  for (const c of m.counters) {
    const tr = counters.insertRow();
    tr.dataset.counter = c.number;
    tr.append(cell(c.name), cell(t(c.state) + (c.pause_reason ? ` (${c.pause_reason})` : "")), cell(c.staff_name ?? "—"),
      cell(c.ticket ? c.ticket.label : "—", "ticket"), cell(num(c.served_today), "num"));
  }
  const services = $("services").tBodies[0];
  services.replaceChildren();
  for (const s of m.services) {
    const tr = services.insertRow();
    tr.dataset.service = s.code;
    tr.append(cell(s.name), cell(num(s.waiting), "num waiting"), cell(duration(s.longest_wait_s), "num"),
      cell(s.next.join(", ")));
  }
  $("calls").replaceChildren(...m.latest_calls.map((c) => {
    const li = document.createElement("li");
    li.textContent = `${c.label} → ${t("counter")} ${c.counter}`;
    return li;
  }));
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  const socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if ((msg.type === "site" && msg.site.id === siteId) || msg.type === "overview") load();
  };
  socket.onclose = () => setTimeout(connect, 3000);
}

applyWords();
load();
connect();
