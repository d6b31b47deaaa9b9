// The central's overview: one line per site, pushed over /ws; and the combined reports.
import { applyWords, cell, duration, lang, num, pct, t } from "./central-i18n.js";
import { fetchJSON, postJSON } from "./http.js";

const $ = (id) => document.getElementById(id);
const rows = new Map();
let socket = null;
let retry = 1000;

// The body of a 2xx answer; otherwise throws an Error with the server's message (or the
// network one: the shared helper gives up after its timeout) and the status (0: no answer).
async function api(path, post = null) {
  const answer = post === null ? await fetchJSON(path, { cache: "no-store" }) : await postJSON(path, post);
  if (!answer.ok) {
    const body = answer.body;
    const error = new Error(body.message ? (lang === "en" ? body.message_en : body.message) : `HTTP ${answer.status}`);
    error.status = answer.status;
    throw error;
  }
  return answer.body;
}

function siteStatus(site) {
  if (site.silent) return site.status_en && lang === "en" ? site.status_en : site.status;
  return site.last_heard_local ?? "—";
}

function renderSite(site) {
  let tr = rows.get(site.id);
  if (!tr) {
    tr = document.createElement("tr");
    tr.dataset.site = site.id;
    rows.set(site.id, tr);
    $("sites").tBodies[0].append(tr);
  }
  tr.replaceChildren();
  const name = document.createElement("td");
  const link = document.createElement("a");
  link.href = `/site/${encodeURIComponent(site.id)}${lang === "en" ? "?lang=en" : ""}`;
  link.textContent = site.name;
  name.append(link);
  if (site.behind > 0) name.append(` (${t("catching_up")}: ${num(site.behind)})`);
  tr.append(name, cell(num(site.waiting), "num waiting"), cell(duration(site.longest_wait_s), "num longest"),
    cell(`${num(site.open_counters)}/${num(site.counters)}`, "num open"), cell(num(site.served_today), "num served"),
    cell(pct(site.satisfied_today), "num satisfied"));
  const heard = cell(siteStatus(site), site.silent ? "heard silent-note" : "heard");
  if (site.last_error) {
    // "vi / en", as the central recorded it
    const [vi, en] = site.last_error.split(" / ");
    const why = document.createElement("div");
    why.className = "error last-error";
    why.textContent = lang === "en" && en ? en : vi;
    heard.append(why);
  }
  tr.append(heard);
  tr.classList.toggle("silent", site.silent);
}

function renderOverview(snap) {
  $("central-name").textContent = snap.name;
  document.title = snap.name;
  const select = document.querySelector("#report select[name=site]");
  for (const site of snap.sites) {
    renderSite(site);
    if (![...select.options].some((o) => o.value === site.id)) select.append(new Option(site.name, site.id));
  }
}

function connect() {
  const scheme = location.protocol === "https:" ? "wss" : "ws";
  socket = new WebSocket(`${scheme}://${location.host}/ws`);
  socket.onopen = () => { retry = 1000; $("live").textContent = t("live"); $("live").classList.remove("off"); };
  socket.onmessage = (e) => {
    const msg = JSON.parse(e.data);
    if (msg.type === "overview") renderOverview(msg);
    else if (msg.type === "site") renderSite(msg.site);
  };
  socket.onclose = () => {
    $("live").textContent = t("offline");
    $("live").classList.add("off");
    setTimeout(connect, retry);
    retry = Math.min(retry * 2, 15000);
  };
}

// Each report kind: its groupings and its table's columns (key of the words, value of a row).
const KINDS = {
  tickets: {
    by: ["site", "day", "service", "counter", "staff", "hour"],
    columns: [["issued", (r) => num(r.issued)], ["served", (r) => num(r.served)], ["no_show", (r) => num(r.no_show)],
      ["closed_unstarted", (r) => num(r.closed_unstarted)],
      ["wait_mean", (r) => minutes(r.waiting.mean)], ["wait_median", (r) => minutes(r.waiting.median)],
      ["satisfied", (r) => pct(r.satisfied_share)]],
  },
  dossiers: {
    by: ["site", "month", "service", "procedure", "staff"],
    columns: [["received", (r) => num(r.received)], ["on_time", (r) => num(r.on_time)], ["late", (r) => num(r.late)],
      ["pending", (r) => num(r.pending)], ["overdue", (r) => num(r.overdue)],
      ["on_time_rate", (r) => pct(r.on_time_rate)]],
  },
  satisfaction: {
    by: ["site", "month", "service", "staff", "counter"],
    columns: [["served", (r) => num(r.served)], ["rated", (r) => num(r.rated)],
      ["satisfied_count", (r) => num(r.satisfied)], ["satisfaction_rate", (r) => pct(r.satisfaction_rate)]],
  },
  appointments: {
    by: ["site", "day", "service"],
    columns: [["booked", (r) => num(r.booked)], ["checked_in", (r) => num(r.checked_in)],
      ["absent", (r) => num(r.absent)], ["cancelled", (r) => num(r.cancelled)], ["called", (r) => num(r.called)],
      ["on_time_share", (r) => pct(r.on_time_share)]],
  },
};

function kindChanged() {
  const form = $("report");
  const kind = KINDS[form.elements.kind.value];
  for (const option of form.elements.by.options) option.hidden = !kind.by.includes(option.value);
  if (!kind.by.includes(form.elements.by.value)) form.elements.by.value = "site";
}

function reportQuery() {
  const form = new FormData($("report"));
  const q = new URLSearchParams();
  for (const key of ["kind", "from", "to", "by", "site"]) if (form.get(key)) q.set(key, form.get(key));
  return q;
}

function minutes(s) { return s == null ? "—" : num(Math.round(s / 6) / 10); }

function rowLabel(r) {
  // An appointment row per day and service: the day (dd/mm/yyyy), then the service.
  return r.date ? `${r.date.split("-").reverse().join("/")} · ${r.label}` : r.label;
}

async function showReport(event) {
  event.preventDefault();
  $("report-error").textContent = "";
  try {
    const report = await api(`/api/central/reports?${reportQuery()}`);
    const kind = KINDS[report.kind || "tickets"];
    const table = $("report-table");
    table.replaceChildren();
    const head = table.createTHead().insertRow();
    for (const key of [`by_${report.by}`, ...kind.columns.map(([word]) => word)]) {
      const th = document.createElement("th");
      th.textContent = t(key);
      head.append(th);
    }
    const body = table.createTBody();
    for (const r of [...report.rows, report.total]) {
      const tr = body.insertRow();
      tr.append(cell(rowLabel(r)), ...kind.columns.map(([, value]) => cell(value(r), "num")));
    }
  } catch (error) {
    $("report-error").textContent = error.message;
  }
}

function download(format) {
  if (!$("report").reportValidity()) return;
  location.href = `/api/central/reports/export?${reportQuery()}&format=${format}`;
}

async function start() {
  applyWords();
  $("lang").textContent = lang === "en" ? "Tiếng Việt" : "English";
  $("lang").href = lang === "en" ? "?lang=vi" : "?lang=en";
  try {
    const me = await api("/api/me");
    $("who").textContent = me.user.display_name;
    $("logout").hidden = false;
    $("main").hidden = false;
    connect();
  } catch (error) {
    if (error.status !== 401) throw error;
    $("login").hidden = false;
  }
}

$("login").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = new FormData($("login"));
  try {
    await api("/api/login", { username: form.get("username"), password: form.get("password") });
    location.reload();
  } catch (error) {
    $("login-error").textContent = error.message;
  }
});
$("logout").addEventListener("click", async () => {
  await api("/api/logout", {});
  location.reload();
});
$("report").addEventListener("submit", showReport);
$("report").elements.kind.addEventListener("change", kindChanged);
$("csv").addEventListener("click", () => download("csv"));
$("xlsx").addEventListener("click", () => download("xlsx"));
start();
