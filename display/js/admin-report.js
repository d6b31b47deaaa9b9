// Reports: the figures table, four charts (Chart.js, vendored in /static/vendor/chartjs) and
// the CSV/Excel downloads. The page prints as a report (admin.css @media print).

import { $, api, el, minutes, number, percent, showError, vnDate } from "./admin-common.js";

const charts = {};
const PALETTE = ["#134a9a", "#b3261e", "#1b7f3b", "#a15c00", "#6a3d9a", "#00838f", "#5d4037", "#c2185b"];
// Plain words for the figures, shown when the pointer rests on a column's name.
const HELP = {
  mean: "Trung bình cộng, tính bằng phút.",
  median: "Mức giữa (trung vị): một nửa số người ngắn hơn, một nửa lâu hơn. Ít bị kéo lệch bởi vài trường hợp rất lâu.",
  p90: "9 trên 10 người không lâu hơn thời gian này (phân vị 90).",
  share: "Phần của nhóm này trong tổng số hồ sơ đã phục vụ.",
  satisfied: "Tỷ lệ lượt đánh giá ở hai mức cao nhất.",
  mae: "Chênh lệch trung bình giữa thời gian chờ dự kiến in trên vé và thời gian chờ thực tế.",
};
// Tickets called, never started and closed by Next: their own figure, also counted in served
// or absent as the office's queue.closed_without_start says (docs/reports.md).
const UNSTARTED_HELP = {
  served: "Vé đã gọi, cán bộ không bấm Bắt đầu mà bấm Tiếp theo. Văn phòng tính các vé này là đã phục vụ (thời gian phục vụ tính từ lúc gọi): con số này đã nằm trong cột Phục vụ.",
  absent: "Vé đã gọi, cán bộ không bấm Bắt đầu mà bấm Tiếp theo. Văn phòng tính các vé này là vắng mặt: con số này đã nằm trong cột Vắng.",
};
const GROUP_VI = { day: "Ngày", service: "Lĩnh vực", counter: "Quầy", staff: "Cán bộ", hour: "Giờ" };
const LEVELS_VI = {
  3: ["Không hài lòng", "Hài lòng", "Rất hài lòng"],
  4: ["Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"],
  5: ["Rất không hài lòng", "Không hài lòng", "Bình thường", "Hài lòng", "Rất hài lòng"],
};

function isoDay(d) {
  return `${d.getFullYear()}-${String(d.getMonth() + 1).padStart(2, "0")}-${String(d.getDate()).padStart(2, "0")}`;
}

export function initReports(ctx) {
  $("#report-form").addEventListener("submit", (event) => {
    event.preventDefault();
    runReport();
  });
  $("#report-csv").addEventListener("click", () => download("csv", "excel"));
  $("#report-csv-comma").addEventListener("click", () => download("csv", "comma"));
  $("#report-xlsx").addEventListener("click", () => download("xlsx"));
  $("#report-print").addEventListener("click", () => window.print());
  const today = ctx.monitor ? ctx.monitor.snapshot.office.day : isoDay(new Date());
  $("#report-to").value = vnDate(today);
  $("#report-from").value = vnDate(`${today.slice(0, 8)}01`);
}

/** "5/1/2026" or "05/01/2026" → "2026-01-05"; null if it is not a real date. Dates are always
 *  typed and shown dd/mm/yyyy, whatever the browser's own language. */
export function isoFromVn(text) {
  const m = /^\s*(\d{1,2})\/(\d{1,2})\/(\d{4})\s*$/.exec(text || "");
  if (!m) return null;
  const [d, mo, y] = [Number(m[1]), Number(m[2]), Number(m[3])];
  const date = new Date(Date.UTC(y, mo - 1, d));
  if (date.getUTCFullYear() !== y || date.getUTCMonth() !== mo - 1 || date.getUTCDate() !== d) return null;
  return `${y}-${String(mo).padStart(2, "0")}-${String(d).padStart(2, "0")}`;
}

export function showReports(ctx) {
  if (ctx.monitor && !$("#report-to").dataset.touched) {
    const today = ctx.monitor.snapshot.office.day;
    $("#report-to").value = vnDate(today);
    $("#report-from").value = vnDate(`${today.slice(0, 8)}01`);
  }
}

function query() {
  const from = isoFromVn($("#report-from").value);
  const to = isoFromVn($("#report-to").value);
  if (!from || !to) throw new Error("Ngày phải có dạng dd/mm/yyyy, ví dụ 05/01/2026.");
  return new URLSearchParams({ from, to, by: $("#report-by").value }).toString();
}

function download(format, dialect) {
  let q;
  try {
    q = query();
  } catch (error) {
    showError($("#report-error"), error);
    return;
  }
  location.href = `/api/reports/export?${q}&format=${format}${dialect ? `&dialect=${dialect}` : ""}`;
}

async function runReport() {
  $("#report-to").dataset.touched = "1";
  showError($("#report-error"), null);
  let report;
  try {
    report = await api(`/api/reports?${query()}`);
  } catch (error) {
    showError($("#report-error"), error);
    return;
  }
  $("#report").hidden = false;
  $("#report-office").textContent = report.office;
  $("#report-period").textContent = `Báo cáo từ ${vnDate(report.from)} đến ${vnDate(report.to)}, theo ${GROUP_VI[report.by].toLowerCase()}`;
  renderKpis(report.total, UNSTARTED_HELP[report.closed_without_start] || UNSTARTED_HELP.served);
  renderTable(report);
  renderStaff(report.staff);
  renderCharts(report);
}

function renderKpis(t, unstartedHelp) {
  const kpi = (value, label, help) => el("div", { class: "kpi", title: help }, el("b", {}, value), el("span", {}, label));
  $("#report-kpis").replaceChildren(
    kpi(number(t.issued), "Số đã phát"),
    kpi(number(t.served), "Đã phục vụ"),
    kpi(number(t.no_show), "Vắng mặt"),
    kpi(number(t.closed_unstarted), "Đóng khi chưa bắt đầu", unstartedHelp),
    kpi(`${minutes(t.waiting.median)} phút`, "Thời gian chờ, mức giữa", HELP.median),
    kpi(`${minutes(t.waiting.p90)} phút`, "9/10 người chờ không quá", HELP.p90),
    kpi(`${minutes(t.service.mean)} phút`, "Phục vụ trung bình"),
    kpi(percent(t.satisfied_share), `Hài lòng (${number(t.rated)} lượt)`),
    kpi(`${minutes(t.estimate_mae)} phút`, "Sai số ước tính chờ"),
  );
}

function cells(r, levels) {
  const td = (v, cls = "num") => el("td", { class: cls }, v);
  return [
    td(r.label, ""), td(number(r.issued)), td(number(r.served)), td(number(r.no_show)),
    td(number(r.closed_unstarted)), td(number(r.cancelled)),
    td(number(r.transferred)), td(number(r.expired)),
    td(minutes(r.waiting.mean)), td(minutes(r.waiting.median)), td(minutes(r.waiting.p90)), td(minutes(r.waiting.max)),
    td(minutes(r.service.mean)), td(minutes(r.service.median)), td(minutes(r.service.p90)), td(minutes(r.service.max)),
    td(percent(r.served_share)), ...Array.from({ length: levels }, (_, i) => td(number(r.ratings[i]))),
    td(percent(r.satisfied_share)), td(minutes(r.estimate_mae)),
  ];
}

function renderTable(report) {
  const levels = report.rating_levels;
  const names = LEVELS_VI[levels] || [];
  const unstartedHelp = UNSTARTED_HELP[report.closed_without_start] || UNSTARTED_HELP.served;
  const head = [[GROUP_VI[report.by]], ["Số phát"], ["Phục vụ"], ["Vắng"], ["Chưa bắt đầu", unstartedHelp], ["Hủy"], ["Chuyển"], ["Hết hạn"],
    ["Chờ trung bình", HELP.mean], ["Chờ, mức giữa", HELP.median], ["Chờ: 9/10 không quá", HELP.p90], ["Chờ lâu nhất"],
    ["Phục vụ trung bình", HELP.mean], ["Phục vụ, mức giữa", HELP.median], ["Phục vụ: 9/10 không quá", HELP.p90],
    ["Phục vụ lâu nhất"], ["Tỷ lệ phục vụ", HELP.share],
    ...Array.from({ length: levels }, (_, i) => [`Mức ${i + 1}`, names[i] ? `Số lượt đánh giá “${names[i]}”` : ""]),
    ["Hài lòng", HELP.satisfied], ["Sai số ước tính", HELP.mae]];
  $("#report-table thead").replaceChildren(el("tr", {}, head.map(([h, help], i) =>
    el("th", { class: i ? "num" : "", title: help || undefined }, help ? el("abbr", { title: help }, h) : h))));
  $("#report-table tbody").replaceChildren(...report.rows.map((r) => el("tr", {}, cells(r, levels))));
  if (!report.rows.length) {
    $("#report-table tbody").append(el("tr", {}, el("td", { colspan: head.length, class: "muted" }, "Không có dữ liệu trong khoảng này.")));
  }
  $("#report-table tfoot").replaceChildren(el("tr", {}, cells(report.total, levels)));
}

function renderStaff(staff) {
  $("#report-staff tbody").replaceChildren(...staff.map((s) => el("tr", {},
    el("td", {}, s.name), el("td", { class: "num" }, number(s.served)), el("td", { class: "num" }, percent(s.share)))));
}

function chart(id, config) {
  if (charts[id]) charts[id].destroy();
  const base = { responsive: true, maintainAspectRatio: false, plugins: { legend: { position: "bottom" } } };
  charts[id] = new window.Chart(document.getElementById(id), { ...config, options: { ...base, ...(config.options || {}) } });
}

function renderCharts(report) {
  const c = report.charts;
  const hours = c.arrivals_by_hour.hours;
  const used = hours.filter((h) => c.arrivals_by_hour.series.some((s) => s.counts[h]));
  const first = used.length ? Math.min(...used) : 7;
  const last = used.length ? Math.max(...used) : 17;
  const span = hours.slice(first, last + 1);
  chart("chart-arrivals", {
    type: "bar",
    data: {
      labels: span.map((h) => `${String(h).padStart(2, "0")}h`),
      datasets: c.arrivals_by_hour.series.map((s, i) => ({
        label: s.name, data: span.map((h) => s.counts[h]), backgroundColor: PALETTE[i % PALETTE.length],
      })),
    },
    options: { scales: { x: { stacked: true }, y: { stacked: true, beginAtZero: true, ticks: { precision: 0 } } } },
  });
  chart("chart-wait", {
    type: "bar",
    data: { labels: c.wait_distribution.buckets, datasets: [{ label: "Số người", data: c.wait_distribution.counts, backgroundColor: "#134a9a" }] },
    options: { plugins: { legend: { display: false } }, scales: { y: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  chart("chart-staff", {
    type: "bar",
    data: { labels: c.served_per_staff.map((s) => s.name), datasets: [{ label: "Đã phục vụ", data: c.served_per_staff.map((s) => s.served), backgroundColor: "#1b7f3b" }] },
    options: { indexAxis: "y", plugins: { legend: { display: false } }, scales: { x: { beginAtZero: true, ticks: { precision: 0 } } } },
  });
  const names = LEVELS_VI[report.rating_levels] || c.satisfaction.levels.map((l) => `Mức ${l}`);
  chart("chart-satisfaction", {
    type: "doughnut",
    data: {
      labels: c.satisfaction.levels.map((l, i) => `${l}. ${names[i]}`),
      datasets: [{ data: c.satisfaction.counts, backgroundColor: ["#b3261e", "#e07b39", "#f2c14e", "#7cb342", "#1b7f3b"].slice(-report.rating_levels) }],
    },
  });
}
