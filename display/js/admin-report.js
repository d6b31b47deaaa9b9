// Reports: the figures table, four charts (Chart.js, vendored in /static/vendor/chartjs) and
// the CSV/Excel downloads. The page prints as a report (admin.css @media print).

import { $, api, el, minutes, number, percent, showError, vnDate } from "./admin-common.js";

const charts = {};
const PALETTE = ["#134a9a", "#b3261e", "#1b7f3b", "#a15c00", "#6a3d9a", "#00838f", "#5d4037", "#c2185b"];
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
  $("#report-csv").addEventListener("click", () => download("csv"));
  $("#report-xlsx").addEventListener("click", () => download("xlsx"));
  $("#report-print").addEventListener("click", () => window.print());
  const today = ctx.monitor ? ctx.monitor.snapshot.office.day : isoDay(new Date());
  $("#report-to").value = today;
  $("#report-from").value = `${today.slice(0, 8)}01`;
}

export function showReports(ctx) {
  if (ctx.monitor && !$("#report-to").dataset.touched) {
    const today = ctx.monitor.snapshot.office.day;
    $("#report-to").value = today;
    $("#report-from").value = `${today.slice(0, 8)}01`;
  }
}

function query() {
  const params = new URLSearchParams({ from: $("#report-from").value, to: $("#report-to").value, by: $("#report-by").value });
  return params.toString();
}

function download(format) {
  location.href = `/api/reports/export?${query()}&format=${format}`;
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
  renderKpis(report.total);
  renderTable(report);
  renderStaff(report.staff);
  renderCharts(report);
}

function renderKpis(t) {
  const kpi = (value, label) => el("div", { class: "kpi" }, el("b", {}, value), el("span", {}, label));
  $("#report-kpis").replaceChildren(
    kpi(number(t.issued), "Số đã phát"),
    kpi(number(t.served), "Đã phục vụ"),
    kpi(number(t.no_show), "Vắng mặt"),
    kpi(`${minutes(t.waiting.median)} phút`, "Thời gian chờ (trung vị)"),
    kpi(`${minutes(t.waiting.p90)} phút`, "Chờ P90"),
    kpi(`${minutes(t.service.mean)} phút`, "Phục vụ trung bình"),
    kpi(percent(t.satisfied_share), `Hài lòng (${number(t.rated)} lượt)`),
    kpi(`${minutes(t.estimate_mae)} phút`, "Sai số ước tính chờ"),
  );
}

function cells(r, levels) {
  const td = (v, cls = "num") => el("td", { class: cls }, v);
  return [
    td(r.label, ""), td(number(r.issued)), td(number(r.served)), td(number(r.no_show)), td(number(r.cancelled)),
    td(number(r.transferred)), td(number(r.expired)),
    td(minutes(r.waiting.mean)), td(minutes(r.waiting.median)), td(minutes(r.waiting.p90)), td(minutes(r.waiting.max)),
    td(minutes(r.service.mean)), td(minutes(r.service.median)), td(minutes(r.service.p90)), td(minutes(r.service.max)),
    td(percent(r.served_share)), ...Array.from({ length: levels }, (_, i) => td(number(r.ratings[i]))),
    td(percent(r.satisfied_share)), td(minutes(r.estimate_mae)),
  ];
}

function renderTable(report) {
  const levels = report.rating_levels;
  const head = [GROUP_VI[report.by], "Số phát", "Phục vụ", "Vắng", "Hủy", "Chuyển", "Hết hạn",
    "Chờ TB", "Chờ trung vị", "Chờ P90", "Chờ tối đa", "Phục vụ TB", "PV trung vị", "PV P90", "PV tối đa",
    "Tỷ lệ phục vụ", ...Array.from({ length: levels }, (_, i) => `Mức ${i + 1}`), "Hài lòng", "Sai số ước tính"];
  $("#report-table thead").replaceChildren(el("tr", {}, head.map((h, i) => el("th", { class: i ? "num" : "" }, h))));
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
