// @ts-nocheck (DOM helpers written loosely)
// /admin/dossiers: alerts (overdue, due today, due within 2 working days), the dossier list
// with "ready" one by one or in bulk, the apology (new date + reason, A4 slip or the
// counter's printer), the province's CSV import and the dossier / satisfaction reports.
// Staff see the lists; the import and the reports are for admins (the server enforces it).

import { api, ApiError } from "./admin-common.js";
import { fetchJSON } from "./http.js";
import { esc } from "./format.js";

const $ = (id) => document.getElementById(id);
let me = null;
let extending = null;

// A dossier's status as the import's answer names it, in the words of the list above.
const STATUS_VI = {
  received: "Đang giải quyết",
  ready: "Đã có kết quả",
  returned: "Đã trả",
  withdrawn: "Đã rút",
  papers: "Chờ bổ sung giấy tờ",
};

function vnDate(iso) {
  if (!iso) return "";
  const [y, m, d] = iso.slice(0, 10).split("-");
  return `${d}/${m}/${y}`;
}

function toast(text) {
  $("toast").textContent = text;
  $("toast").hidden = false;
  setTimeout(() => ($("toast").hidden = true), 6000);
}

function fail(error) {
  toast(error instanceof ApiError ? error.message : String(error));
}

function alertItem(d) {
  return `<li><b>${esc(d.code)}</b> ${esc(d.procedure_name)} — ${vnDate(d.new_due_date || d.due_date)}</li>`;
}

async function loadAlerts() {
  const a = await api("/api/dossiers/alerts");
  for (const [key, list] of [["overdue", a.overdue], ["today", a.due_today], ["soon", a.due_soon]]) {
    $(`n-${key}`).textContent = String(list.length);
    $(`a-${key}`).innerHTML = list.slice(0, 50).map(alertItem).join("");
  }
  return a;
}

async function loadRows() {
  const params = new URLSearchParams();
  if ($("q").value.trim()) params.set("q", $("q").value.trim());
  if ($("status").value) params.set("status", $("status").value);
  const { dossiers } = await api(`/api/dossiers?${params}`);
  $("rows").innerHTML = dossiers.map((d) => {
    const open = d.status === "received" || d.status === "papers";
    return `<tr data-code="${esc(d.code)}" class="${d.late ? "late" : ""}">
      <td><input type="checkbox" class="pick" ${open ? "" : "disabled"} aria-label="${esc(d.code)}"></td>
      <td>${esc(d.code)}</td><td>${esc(d.procedure_name)}</td><td>${vnDate(d.received_on)}</td>
      <td>${vnDate(d.due_date)}${d.new_due_date ? ` → ${vnDate(d.new_due_date)}` : ""}</td>
      <td>${esc(d.status_text)}</td><td>${esc(d.staff || "")}</td>
      <td>${open ? `<button type="button" data-act="ready">Có kết quả</button>
        <button type="button" data-act="extend">Hẹn lại</button>
        <button type="button" data-act="withdraw">Rút</button>` : ""}
        ${d.new_due_date ? `<a href="/dossiers/${encodeURIComponent(d.code)}/apology" target="_blank">Phiếu xin lỗi</a>` : ""}</td></tr>`;
  }).join("");
}

async function refresh() {
  try {
    await Promise.all([loadAlerts(), loadRows()]);
  } catch (error) {
    fail(error);
  }
}

$("filter").addEventListener("submit", (e) => {
  e.preventDefault();
  loadRows().catch(fail);
});
$("all").addEventListener("change", () => {
  for (const box of document.querySelectorAll(".pick:not(:disabled)")) box.checked = $("all").checked;
});
$("bulk-ready").addEventListener("click", async () => {
  const codes = [...document.querySelectorAll(".pick:checked")].map((b) => b.closest("tr").dataset.code);
  if (!codes.length) return toast("Chưa chọn hồ sơ nào.");
  try {
    const r = await api("/api/dossiers/ready", { method: "POST", body: { codes } });
    toast(`Đã đánh dấu ${r.changed} hồ sơ có kết quả.`);
    refresh();
  } catch (error) {
    fail(error);
  }
});
$("rows").addEventListener("click", async (e) => {
  const b = e.target.closest("button[data-act]");
  if (!b) return;
  const code = b.closest("tr").dataset.code;
  try {
    if (b.dataset.act === "extend") {
      extending = code;
      $("extend-code").textContent = code;
      $("extend-box").hidden = false;
      $("extend-date").focus();
      return;
    }
    if (b.dataset.act === "withdraw" && !confirm(`Ghi nhận công dân rút hồ sơ ${code}?`)) return;
    await api(`/api/dossiers/${encodeURIComponent(code)}/${b.dataset.act}`, { method: "POST", body: {} });
    refresh();
  } catch (error) {
    fail(error);
  }
});
$("extend").addEventListener("submit", async (e) => {
  e.preventDefault();
  try {
    const r = await api(`/api/dossiers/${encodeURIComponent(extending)}/extend`, {
      method: "POST", body: { due_date: $("extend-date").value.trim(), reason: $("extend-reason").value.trim() },
    });
    $("extend-box").hidden = true;
    window.open(r.apology_url, "_blank");
    refresh();
  } catch (error) {
    fail(error);
  }
});
$("extend-cancel").addEventListener("click", () => ($("extend-box").hidden = true));

$("import").addEventListener("submit", async (e) => {
  e.preventDefault();
  const file = $("import-file").files[0];
  if (!file) return;
  const answer = await fetchJSON("/api/dossiers/import", {
    method: "POST", headers: { "Content-Type": "text/csv" }, body: await file.text(), cache: "no-store",
  });
  const out = $("import-result");
  out.hidden = false;
  if (!answer.ok) {
    out.textContent = answer.body?.message || `HTTP ${answer.status}`;
    return;
  }
  const r = answer.body;
  out.textContent = [`${r.rows} dòng: ${r.changed.length} thay đổi, ${r.unchanged} không đổi, ${r.unknown.length} mã không có.`,
    ...r.changed.map((c) => `${c.code}: ${STATUS_VI[c.from] || c.from} → ${STATUS_VI[c.to] || c.to} (${vnDate(c.ready_on)})`),
    ...(r.unknown.length ? [`Không có: ${r.unknown.join(", ")}`] : [])].join("\n");
  refresh();
});

// ------------------------------------------------------------------ reports

function reportQuery(format) {
  const params = new URLSearchParams({ from: $("r-from").value, to: $("r-to").value, by: $("r-by").value });
  if (format) params.set("format", format);
  return params;
}

function updateLinks() {
  const kind = $("r-kind").value;
  $("r-csv").href = `/api/reports/${kind}/export?${reportQuery("csv")}`;
  $("r-xlsx").href = `/api/reports/${kind}/export?${reportQuery("xlsx")}`;
}

async function loadReport() {
  const kind = $("r-kind").value;
  if (kind === "satisfaction" && $("r-by").value === "procedure") $("r-by").value = "month";
  if (kind === "dossiers" && $("r-by").value === "counter") $("r-by").value = "month";
  updateLinks();
  const r = await api(`/api/reports/${kind}?${reportQuery()}`);
  const pct = (v) => (v === null || v === undefined ? "—" : `${(v * 100).toFixed(2).replace(".", ",")}%`);
  if (kind === "dossiers") {
    $("r-summary").textContent = r.summary;
    $("r-head").innerHTML = "<tr><th></th><th>Tiếp nhận</th><th>Đúng hạn</th><th>Trễ hạn</th><th>Chưa đến hạn</th><th>Quá hạn</th><th>Đã rút</th><th>Tỷ lệ đúng hạn</th></tr>";
    $("r-body").innerHTML = [...r.rows, r.total].map((x) => `<tr><td>${esc(x.label)}</td><td>${x.received}</td>
      <td>${x.on_time}</td><td>${x.late}</td><td>${x.pending}</td><td>${x.overdue}</td><td>${x.withdrawn}</td>
      <td>${x.on_time_rate_text}</td></tr>`).join("");
    $("r-late-title").hidden = !r.late.length;
    $("r-late").innerHTML = r.late.slice(0, 200).map((d) => `<tr><td>${esc(d.code)}</td><td>${esc(d.procedure_name)}</td>
      <td>${vnDate(d.due_date)}</td><td>${vnDate(d.ready_on) || "chưa có"}</td><td>${esc(d.reason)}</td></tr>`).join("");
  } else {
    $("r-summary").textContent = `Tỷ lệ hài lòng: ${pct(r.total.satisfaction_rate)} (${r.total.rated} đánh giá; ${r.total.no_rating} lượt không đánh giá)`;
    $("r-head").innerHTML = "<tr><th></th><th>Đã phục vụ</th><th>Có đánh giá</th><th>Không đánh giá</th><th>Hài lòng</th><th>Tỷ lệ hài lòng</th></tr>";
    $("r-body").innerHTML = [...r.rows, r.total].map((x) => `<tr><td>${esc(x.label)}</td><td>${x.served}</td>
      <td>${x.rated}</td><td>${x.no_rating}</td><td>${x.satisfied}</td><td>${x.satisfaction_rate_text}</td></tr>`).join("");
    $("r-late-title").hidden = true;
    $("r-late").innerHTML = "";
  }
}

$("report").addEventListener("submit", (e) => {
  e.preventDefault();
  loadReport().catch(fail);
});
for (const id of ["r-kind", "r-from", "r-to", "r-by"]) {
  $(id).addEventListener("change", updateLinks);
  $(id).addEventListener("input", updateLinks);
}

// ------------------------------------------------------------------ start

try {
  me = await api("/api/me");
} catch {
  me = null;
}
if (!me) {
  $("signin").hidden = false;
} else {
  $("who").textContent = me.display_name || me.user;
  $("page").hidden = false;
  for (const part of document.querySelectorAll(".admin-only")) part.hidden = me.role !== "admin";
  // The report's dates are typed and shown dd/mm/yyyy whatever the browser's language (as on
  // /admin); by default from 1 January to today, the office's day as the server counts it.
  const { today } = await loadAlerts().catch(() => ({ today: new Date().toISOString().slice(0, 10) }));
  $("r-from").value = `01/01/${today.slice(0, 4)}`;
  $("r-to").value = vnDate(today);
  updateLinks();
  await refresh();
  if (me.role === "admin") loadReport().catch(fail);
  setInterval(loadAlerts, 60_000);
}
