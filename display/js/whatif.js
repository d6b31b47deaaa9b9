// @ts-check
// The what-if screen (/admin/whatif): pick recorded days, edit a counter plan in a grid, run
// the replay (progress from GET /api/whatif/runs/{id}), compare the results side by side,
// export XLSX. Charts are Chart.js, vendored in /static/vendor/chartjs.

import { $, api, bindLogin, el, percent, showError, toast, vnDate } from "./admin-common.js";

const LEVELS = [["", "—"], ["primary", "chính"], ["normal", "thường"], ["backup", "dự phòng"], ["appointment", "chỉ lịch hẹn"]];
const COLOURS = ["#6b7280", "#1f4e8c", "#c0392b", "#2e8b57", "#d4a017", "#7b3fa0", "#0e7c86"];
/** @type {any} */
const state = { info: null, runId: null, charts: [] };

/** @param {number | null | undefined} v */
function minutesText(v) {
  return v === null || v === undefined ? "—" : Number(v).toLocaleString("vi-VN", { maximumFractionDigits: 1 });
}

async function start() {
  let me = null;
  try {
    me = await api("/api/me");
  } catch {
    me = null;
  }
  $("#login").hidden = !!me;
  $("#forbidden").hidden = !me || me.role === "admin";
  $("#app").hidden = !me || me.role !== "admin";
  if (!me) {
    $("#login-username").focus();
    return;
  }
  if (me.role !== "admin") return;
  state.info = await api("/api/whatif/plan");
  fillDays();
  fillPlan(state.info.plan);
}

bindLogin(start);

function fillDays() {
  const days = state.info.days;
  $("#no-days").hidden = days.length > 0;
  $("#run").disabled = days.length === 0;
  for (const id of ["#from", "#to"]) {
    const select = $(id);
    select.replaceChildren(...days.map((/** @type {string} */ d) => el("option", { value: d }, vnDate(d))));
  }
  if (days.length) {
    $("#from").value = days[0];
    $("#to").value = days[0];
  }
}

$("#one-day").addEventListener("click", () => ($("#to").value = $("#from").value));
// The week (Monday to Sunday) of the chosen day: its first and last recorded days.
$("#one-week").addEventListener("click", () => {
  const chosen = new Date(`${$("#from").value}T00:00:00Z`);
  const monday = chosen.getTime() - ((chosen.getUTCDay() + 6) % 7) * 86400000;
  const days = state.info.days.filter((/** @type {string} */ d) => {
    const t = new Date(`${d}T00:00:00Z`).getTime();
    return t >= monday && t < monday + 7 * 86400000;
  }).sort();
  if (!days.length) return;
  $("#from").value = days[0];
  $("#to").value = days[days.length - 1];
});

/** The grid: a row per counter, a column per service (level), opening hours, closed. */
function fillPlan(/** @type {any} */ plan) {
  const services = state.info.services;
  $("#priority-rule").value = plan.priority_rule;
  $("#interleave").value = plan.interleave;
  $("#clerks").value = plan.clerks ?? "";
  $("#grid thead").replaceChildren(
    el("tr", {}, el("th", {}, "Quầy"), ...services.map((/** @type {any} */ s) => el("th", { title: s.name }, s.code)),
      el("th", {}, "Giờ mở (vd 07:30-11:30, 13:30-17:00)"), el("th", {}, "Dời giờ (phút)"), el("th", {}, "Không mở")),
  );
  const rows = plan.counters.map((/** @type {any} */ c) =>
    el("tr", { dataset: { counter: String(c.number) } },
      el("th", {}, `Quầy ${c.number}`),
      ...services.map((/** @type {any} */ s) => el("td", {},
        el("select", { "aria-label": `Quầy ${c.number} – ${s.code}`, dataset: { service: s.code } },
          ...LEVELS.map(([v, t]) => el("option", { value: v, selected: (c.services[s.code] || "") === v }, t))))),
      el("td", { class: "hours" }, el("input", { type: "text", class: "hours", placeholder: "như thực tế",
        value: (c.hours || []).join(", ") })),
      el("td", {}, el("select", { class: "shift" }, ...[-90, -60, -30, 0, 30, 60, 90].map((m) =>
        el("option", { value: String(m), selected: (c.shift_minutes || 0) === m }, m > 0 ? `+${m}` : String(m))))),
      el("td", {}, el("input", { type: "checkbox", class: "closed", checked: !!c.closed })),
    ));
  $("#grid tbody").replaceChildren(...rows);
}

/** The grid as a plan variant (the same shape as a PLAN.toml variant). */
function readVariant() {
  /** @type {any} */
  const variant = { name: $("#variant-name").value.trim() || "Phương án thử", counters: [] };
  variant.priority_rule = $("#priority-rule").value;
  const interleave = $("#interleave").value;
  if (interleave !== "") variant.interleave = Number(interleave);
  const clerks = $("#clerks").value;
  if (clerks !== "") variant.clerks = Number(clerks);
  for (const row of document.querySelectorAll("#grid tbody tr")) {
    /** @type {any} */
    const counter = { number: Number(/** @type {HTMLElement} */ (row).dataset.counter), services: {} };
    for (const select of row.querySelectorAll("select[data-service]")) {
      const s = /** @type {HTMLSelectElement} */ (select);
      if (s.value) counter.services[/** @type {string} */ (s.dataset.service)] = s.value;
    }
    const hours = /** @type {HTMLInputElement} */ (row.querySelector("input.hours")).value.trim();
    if (hours) counter.hours = hours.split(/[,;]\s*/).map((h) => h.replace(/\s+/g, "")).filter(Boolean);
    const shift = Number(/** @type {HTMLSelectElement} */ (row.querySelector("select.shift")).value);
    if (shift) counter.shift_minutes = shift;
    if (/** @type {HTMLInputElement} */ (row.querySelector("input.closed")).checked) counter.closed = true;
    variant.counters.push(counter);
  }
  return variant;
}

/** True when the grid still shows the actual plan: then only the actual plan is replayed. */
function isActual(/** @type {any} */ variant) {
  const plan = state.info.plan;
  if (variant.priority_rule !== plan.priority_rule || (variant.interleave ?? plan.interleave) !== plan.interleave) return false;
  if (variant.clerks !== undefined) return false;
  return variant.counters.every((/** @type {any} */ c) => {
    const base = plan.counters.find((/** @type {any} */ b) => b.number === c.number);
    return base && !c.hours && !c.closed && !c.shift_minutes
      && JSON.stringify(Object.entries(c.services).sort()) === JSON.stringify(Object.entries(base.services).sort());
  });
}

$("#reset").addEventListener("click", () => fillPlan(state.info.plan));

$("#run").addEventListener("click", async () => {
  showError($("#run-error"), null);
  const variant = readVariant();
  const body = {
    from: $("#from").value,
    to: $("#to").value < $("#from").value ? $("#from").value : $("#to").value,
    seeds: Number($("#seeds").value || 20),
    variants: isActual(variant) ? [] : [variant],
    recommend: $("#recommend").checked,
    objective: $("#objective").value,
    weight: Number($("#weight").value || 0.5),
    budget_s: Number($("#budget").value || 20),
  };
  try {
    const started = await api("/api/whatif/runs", { method: "POST", body });
    state.runId = started.id;
    $("#run").disabled = true;
    $("#progress-box").hidden = false;
    poll();
  } catch (error) {
    showError($("#run-error"), error);
  }
});

async function poll() {
  try {
    const run = await api(`/api/whatif/runs/${state.runId}`);
    $("#progress").value = run.progress;
    $("#progress-text").textContent = `${Math.round(run.progress * 100)}%`;
    if (run.state === "running") {
      setTimeout(poll, 400);
      return;
    }
    $("#run").disabled = false;
    $("#progress-box").hidden = true;
    if (run.state === "failed") {
      showError($("#run-error"), new Error(run.error?.message || "Mô phỏng không thành công."));
      return;
    }
    showResult(run);
  } catch (error) {
    $("#run").disabled = false;
    showError($("#run-error"), error);
  }
}

/** @param {any} run */
function showResult(run) {
  const result = run.result;
  $("#results").hidden = false;
  $("#agreement").textContent = run.agreement_text.join("\n");
  $("#export").setAttribute("href", `/api/whatif/runs/${run.id}/export?format=xlsx`);
  const scenarios = [...result.scenarios];
  for (const p of result.recommendation?.plans || []) {
    if (!p.base) scenarios.push({ name: p.name, kind: "recommended", ...p.figures });
  }
  $("#summary tbody").replaceChildren(...scenarios.map((s) => el("tr", { class: s.kind === "actual" ? "actual" : "" },
    el("td", {}, s.name), el("td", { class: "num" }, minutesText(s.overall.mean_min)),
    el("td", { class: "num" }, minutesText(s.overall.median_min)), el("td", { class: "num" }, minutesText(s.overall.p90_min)),
    el("td", { class: "num" }, percent(s.overall.within_15_share)),
    el("td", { class: "num" }, Number(s.longest_queue).toLocaleString("vi-VN")))));
  drawCharts(scenarios);
  const rec = result.recommendation;
  $("#recommendation").hidden = !rec;
  if (rec) {
    $("#rec-table tbody").replaceChildren(...rec.plans.map((/** @type {any} */ p) =>
      el("tr", { class: p.base ? "" : "better" }, el("td", {}, p.name), el("td", {}, p.changes),
        el("td", { class: "num" }, minutesText(p.figures.overall.p90_min)),
        el("td", { class: "num" }, minutesText(p.figures.overall.mean_min)),
        el("td", { class: "num" }, percent(p.figures.overall.within_15_share)))));
  }
  toast("Đã chạy xong mô phỏng.");
}

/** @param {any[]} scenarios */
function drawCharts(scenarios) {
  // @ts-ignore Chart.js is a global from the vendored UMD build
  const Chart = window.Chart;
  for (const chart of state.charts) chart.destroy();
  state.charts = [];
  if (!Chart) return;
  const services = [...new Set(scenarios.flatMap((s) => Object.keys(s.services)))];
  const colour = (/** @type {number} */ i) => COLOURS[i % COLOURS.length];
  const common = { responsive: true, maintainAspectRatio: false, animation: false };
  state.charts.push(new Chart($("#chart-waits"), {
    type: "bar", options: common,
    data: { labels: services, datasets: scenarios.map((s, i) => ({ label: s.name, backgroundColor: colour(i),
      data: services.map((code) => s.services[code]?.mean_min ?? null) })) },
  }));
  const times = [...new Set(scenarios.flatMap((s) => s.queue_over_time.map((/** @type {any} */ p) => p.time)))].sort();
  state.charts.push(new Chart($("#chart-queue"), {
    type: "line", options: common,
    data: { labels: times, datasets: scenarios.map((s, i) => {
      const byTime = Object.fromEntries(s.queue_over_time.map((/** @type {any} */ p) => [p.time, p.waiting]));
      return { label: s.name, borderColor: colour(i), backgroundColor: colour(i), pointRadius: 0,
        data: times.map((t) => byTime[t] ?? null) };
    }) },
  }));
  const counters = [...new Set(scenarios.flatMap((s) => Object.keys(s.utilisation)))].sort((a, b) => Number(a) - Number(b));
  state.charts.push(new Chart($("#chart-util"), {
    type: "bar", options: common,
    data: { labels: counters.map((c) => `Quầy ${c}`), datasets: scenarios.map((s, i) => ({ label: s.name,
      backgroundColor: colour(i), data: counters.map((c) => s.utilisation[c] === null || s.utilisation[c] === undefined
        ? null : Math.round(s.utilisation[c] * 1000) / 10) })) },
  }));
}

start().catch((error) => {
  showError($("#run-error"), error);
  toast("Không tải được dữ liệu mô phỏng: hãy tải lại trang.", true);
});
