// The admin screen: sign-in, the live monitor, staff, ticket tools and the audit log.
// Office setup is in admin-setup.js, reports and charts in admin-report.js.
//
// Data comes from /api/admin/*; actions on the queue (counters, tickets, reprints) use the
// core endpoints the clerks' screens use, which write the audit row themselves. The shared WebSocket client (live.js) only tells us that
// something changed: the monitor is then fetched again (debounced), and every 15 s anyway so
// the waiting times keep counting.

import { $, api, COUNTER_VI, duration, el, localTime, pill, showError, STATE_VI, toast } from "./admin-common.js";
import { auditText } from "./admin-audit.js";
import { initSetup, loadSetup } from "./admin-setup.js";
import { initReports, showReports } from "./admin-report.js";
import { initI18n } from "./i18n.js";
import { Live } from "./live.js";

const REFRESH_MS = 15000;
const ACTIONS_VI = {
  service_changed: "Đổi trạng thái lĩnh vực",
  counter_open: "Mở quầy",
  counter_pause: "Tạm dừng quầy",
  counter_resume: "Tiếp tục quầy",
  counter_close: "Đóng quầy",
  config_edited: "Sửa cấu hình",
  config_replaced: "Sửa tệp cấu hình",
  user_added: "Thêm tài khoản",
  user_disabled: "Khóa tài khoản",
  user_enabled: "Mở khóa tài khoản",
  password_reset: "Đặt lại mật khẩu",
  ticket_cancel: "Hủy vé",
  ticket_requeue: "Xếp lại vé vắng mặt",
  ticket_reprint: "In lại vé",
  voice_clip_recorded: "Ghi âm giọng đọc",
  voice_clip_removed: "Xóa bản ghi giọng đọc",
  voice_pack_imported: "Nhập gói giọng đọc",
};

const ctx = { user: null, timeZone: "Asia/Ho_Chi_Minh", monitor: null, live: null };
let refreshTimer = null;

// ---------------------------------------------------------------- sign-in

async function start() {
  try {
    await initI18n();
  } catch {
    // the admin screen is Vietnamese only; the catalogue is for live.js' offline mark
  }
  let me = null;
  try {
    me = await api("/api/me");
  } catch {
    me = null;
  }
  show(me);
}

function show(me) {
  ctx.user = me;
  $("#login").hidden = !!me;
  $("#forbidden").hidden = !me || me.role === "admin";
  $("#app").hidden = !me || me.role !== "admin";
  $("#tabs").hidden = !me || me.role !== "admin";
  $("#logout").hidden = !me;
  $("#who").textContent = me ? `${me.display_name || me.user}` : "";
  if (!me) {
    $("#login-username").focus();
    return;
  }
  if (me.role !== "admin") {
    $("#forbidden-user").textContent = me.user;
    return;
  }
  startApp();
}

$("#login-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError($("#login-error"), null);
  try {
    const me = await api("/api/login", {
      method: "POST",
      body: { username: $("#login-username").value.trim(), password: $("#login-password").value },
    });
    $("#login-password").value = "";
    show(me);
  } catch (error) {
    showError($("#login-error"), error);
  }
});

$("#logout").addEventListener("click", async () => {
  try {
    await api("/api/logout", { method: "POST" });
  } catch {
    // signed out anyway
  }
  if (ctx.live) ctx.live.stop?.();
  ctx.live = null;
  clearInterval(refreshTimer);
  show(null);
});

// ---------------------------------------------------------------- tabs

function selectTab(name) {
  for (const b of document.querySelectorAll("#tabs button")) b.classList.toggle("active", b.dataset.tab === name);
  for (const s of document.querySelectorAll("main .tab")) s.hidden = s.id !== `tab-${name}`;
  if (name === "setup") loadSetup(ctx);
  if (name === "staff") loadUsers();
  if (name === "tickets") loadTickets();
  if (name === "audit") loadAudit();
  if (name === "reports") showReports(ctx);
  history.replaceState(null, "", `#${name}`);
}

for (const b of document.querySelectorAll("#tabs button")) b.addEventListener("click", () => selectTab(b.dataset.tab));

let started = false;
function startApp() {
  if (!started) {
    started = true;
    initSetup(ctx);
    initReports(ctx);
  }
  refreshMonitor();
  if (!ctx.live) {
    ctx.live = new Live();
    ctx.live.addEventListener("snapshot", scheduleRefresh);
    ctx.live.addEventListener("event", scheduleRefresh);
    ctx.live.start();
  }
  clearInterval(refreshTimer);
  refreshTimer = setInterval(refreshMonitor, REFRESH_MS);
  const wanted = location.hash.slice(1);
  selectTab(document.querySelector(`#tabs button[data-tab="${wanted}"]`) ? wanted : "monitor");
}

// ---------------------------------------------------------------- monitor

// Open dossiers overdue, due today and due within 2 working days (docs/dossiers.md), with
// the codes of the first two groups; the list itself is on /admin/dossiers.
const DOSSIER_GROUPS = [
  ["overdue", "quá hạn"],
  ["due_today", "đến hạn hôm nay"],
  ["due_soon", "đến hạn trong 2 ngày làm việc"],
];
function renderDossierAlerts(a) {
  const box = $("#dossier-alerts");
  const groups = a ? DOSSIER_GROUPS.filter(([key]) => a[key].length) : [];
  box.replaceChildren();
  if (groups.length) {
    box.append(el("strong", {}, "⚠ Hồ sơ: ", groups.map(([key, words]) => `${a[key].length} ${words}`).join(" · ")));
    const urgent = [...a.overdue, ...a.due_today].map((d) => d.code);
    if (urgent.length) box.append(el("span", {}, urgent.join(" · "), " "));
    box.append(el("a", { href: "/admin/dossiers", target: "_blank" }, "Xem danh sách hồ sơ"));
  }
  box.hidden = !groups.length;
}

let pending = null;
function scheduleRefresh() {
  clearTimeout(pending);
  pending = setTimeout(refreshMonitor, 500);
}

async function refreshMonitor() {
  try {
    ctx.monitor = await api("/api/admin/monitor");
  } catch (error) {
    if (error.status === 401) return show(null);
    $("#monitor-updated").textContent = `Không tải được dữ liệu: ${error.message}`;
    return;
  }
  const snap = ctx.monitor.snapshot;
  ctx.timeZone = snap.office.timezone || ctx.timeZone;
  $("#office-name").textContent = snap.office.name;
  document.title = `Quản trị – ${snap.office.name}`;
  renderMonitor(ctx.monitor);
}

export function renderMonitor(m) {
  const snap = m.snapshot;
  const alerts = $("#alerts");
  alerts.replaceChildren();
  if (m.alerts.length) {
    alerts.append(el("strong", {}, `⚠ ${m.alerts.length} người đã chờ quá ${m.long_wait_minutes} phút`));
    alerts.append(el("span", {}, m.alerts.map((a) => `số ${a.label} (${a.service}): ${duration(a.waited_s)}`).join(" · ")));
  }
  alerts.hidden = !m.alerts.length;
  renderDossierAlerts(m.dossier_alerts);

  const limit = m.long_wait_minutes * 60;
  $("#monitor-services tbody").replaceChildren(...snap.services.map((s) => el("tr", { dataset: { code: s.code } },
    el("td", {}, el("b", {}, s.code), " ", s.name),
    el("td", {}, s.available ? pill("ok", "Đang nhận") : pill("bad", s.open ? reasonVi(s.reason) : "Tạm ngừng")),
    el("td", { class: "num waiting" }, String(s.waiting)),
    el("td", { class: `num${s.longest_wait_s > limit ? " late" : ""}` }, s.waiting ? duration(s.longest_wait_s, true) : "—"),
    el("td", { class: "num" }, s.waiting ? `~${duration(s.estimated_wait_s)}` : "—"),
    el("td", { class: "num" }, s.cap ? `${s.issued}/${s.cap}` : String(s.issued)),
  )));

  $("#monitor-counters tbody").replaceChildren(...snap.counters.map((c) => el("tr", { dataset: { number: c.number } },
    el("td", {}, el("b", {}, String(c.number)), " ", c.name),
    el("td", {}, pill(c.state, COUNTER_VI[c.state] || c.state), c.pause_reason ? ` ${c.pause_reason}` : ""),
    el("td", { class: "staff" }, c.staff || "—"),
    el("td", {}, c.ticket ? `${c.ticket.label} · ${STATE_VI[c.ticket.state] || c.ticket.state}` : "—"),
    el("td", { class: "num" }, String(c.served_today)),
    el("td", {}, counterButtons(c)),
  )));

  const printers = snap.printers || [];
  $("#printers-card").hidden = !printers.length;
  $("#monitor-printers tbody").replaceChildren(...printers.map((p) => el("tr", { dataset: { printer: p.id } },
    el("td", {}, el("b", {}, p.id), p.url ? el("div", { class: "muted" }, p.url) : null),
    el("td", {}, printerPill(p)),
    el("td", {}, [p.error, p.paper && p.paper !== "unknown" ? `giấy: ${p.paper}` : null,
      p.queued ? `${p.queued} lệnh chờ in` : null, p.failed ? `${p.failed} lệnh lỗi` : null].filter(Boolean).join(" · ") || "—"),
  )));
  $("#monitor-updated").textContent = `Cập nhật lúc ${localTime(snap.now, ctx.timeZone, false)} · ngày làm việc ${snap.office.day}`;
}

function reasonVi(reason) {
  return { outside_hours: "Ngoài giờ", cap_reached: "Hết số", range_exhausted: "Hết dải số", service_closed: "Tạm ngừng", closed_day: "Ngày nghỉ" }[reason] || reason;
}

function printerPill(p) {
  if (p.agent_connected === false) return pill("offline", "Mất kết nối");
  if (p.paper === "out") return pill("error", "Hết giấy");
  if (p.online === false) return pill("error", "Lỗi");
  if (p.online === null) return pill("waiting", "Chưa rõ");
  return pill("ok", "Sẵn sàng");
}

function counterButtons(c) {
  const act = (action, label, body) => el("button", {
    type: "button", class: "small", onclick: async () => {
      let payload = body;
      if (action === "open") {
        const staff = prompt(`Mở quầy ${c.number} cho cán bộ (tên đăng nhập):`, "");
        if (!staff) return;
        payload = { staff: staff.trim() };
      }
      if (action === "pause") {
        const reason = prompt(`Lý do tạm dừng quầy ${c.number}:`, "Họp");
        if (!reason) return;
        payload = { reason };
      }
      try {
        await api(`/api/counters/${c.number}/${action}`, { method: "POST", body: payload || {} });
        toast(`Quầy ${c.number}: ${label}`);
        refreshMonitor();
      } catch (error) {
        toast(error.message, true);
      }
    },
  }, label);
  if (c.state === "open") return [act("pause", "Tạm dừng"), act("close", "Đóng")];
  if (c.state === "paused") return [act("resume", "Tiếp tục"), act("close", "Đóng")];
  return [act("open", "Mở")];
}

// ---------------------------------------------------------------- staff

async function loadUsers() {
  const { users } = await api("/api/admin/users");
  $("#users tbody").replaceChildren(...users.map((u) => el("tr", { dataset: { user: u.username } },
    el("td", {}, u.username),
    el("td", {}, u.display_name),
    el("td", {}, u.role === "admin" ? "Quản trị" : "Cán bộ"),
    el("td", {}, u.disabled ? pill("bad", "Đã khóa") : pill("ok", "Hoạt động")),
    el("td", {},
      el("button", {
        type: "button", class: `small${u.disabled ? "" : " danger"}`, onclick: () => userAction(
          `/api/admin/users/${encodeURIComponent(u.username)}/disabled`, { disabled: !u.disabled },
          u.disabled ? `Đã mở khóa ${u.username}` : `Đã khóa ${u.username}`),
      }, u.disabled ? "Mở khóa" : "Khóa"),
      el("button", {
        type: "button", class: "small", onclick: () => {
          const password = prompt(`Mật khẩu mới cho ${u.username} (ít nhất 8 ký tự):`);
          if (password) userAction(`/api/admin/users/${encodeURIComponent(u.username)}/password`, { password },
            `Đã đặt lại mật khẩu cho ${u.username}`);
        },
      }, "Đặt lại mật khẩu")),
  )));
}

async function userAction(path, body, done) {
  try {
    await api(path, { method: "POST", body });
    toast(done);
    loadUsers();
  } catch (error) {
    toast(error.message, true);
  }
}

$("#user-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  const form = event.target;
  const body = Object.fromEntries(new FormData(form).entries());
  try {
    await api("/api/admin/users", { method: "POST", body });
    showError($("#user-error"), null);
    toast(`Đã thêm tài khoản ${body.username}`);
    form.reset();
    loadUsers();
  } catch (error) {
    showError($("#user-error"), error);
  }
});

// ---------------------------------------------------------------- ticket tools

async function loadTickets() {
  const q = $("#ticket-q").value.trim();
  const { tickets } = await api(`/api/admin/tickets?q=${encodeURIComponent(q)}`);
  $("#tickets tbody").replaceChildren(...tickets.map((t) => el("tr", { dataset: { ticket: t.id } },
    el("td", {}, el("b", {}, t.label), t.priority ? " (ưu tiên)" : ""),
    el("td", {}, t.service),
    el("td", {}, pill(t.state, STATE_VI[t.state])),
    el("td", {}, localTime(t.issued_at, ctx.timeZone, false)),
    el("td", {}, t.counter ?? "—"),
    el("td", {}, t.staff || "—"),
    el("td", {}, ticketButtons(t)),
  )));
  if (!tickets.length) $("#tickets tbody").append(el("tr", {}, el("td", { colspan: 7, class: "muted" }, "Không có vé nào.")));
}

function ticketButtons(t) {
  const buttons = [];
  const run = async (action, label) => {
    try {
      await api(`/api/tickets/${t.id}/${action}`, { method: "POST" });
      toast(`Số ${t.label}: ${label}`);
      loadTickets();
    } catch (error) {
      toast(error.message, true);
    }
  };
  if (t.state === "waiting") {
    buttons.push(el("button", {
      type: "button", class: "small danger", onclick: () => confirm(`Hủy số ${t.label}?`) && run("cancel", "đã hủy"),
    }, "Hủy"));
  }
  if (t.state === "no_show") buttons.push(el("button", { type: "button", class: "small", onclick: () => run("requeue", "đã xếp lại") }, "Xếp lại"));
  buttons.push(el("button", { type: "button", class: "small", onclick: () => reprint(t) }, "In lại"));
  return buttons;
}

async function reprint(t) {
  try {
    await api(`/api/print-jobs/${t.id}/reprint`, { method: "POST" });
    toast(`Đã gửi lệnh in lại số ${t.label}`);
  } catch (error) {
    toast(`Không in lại được số ${t.label}: ${error.message}`, true);
  }
}

$("#ticket-search").addEventListener("submit", (event) => {
  event.preventDefault();
  loadTickets();
});

// ---------------------------------------------------------------- audit log

async function loadAudit() {
  const { audit } = await api("/api/admin/audit");
  $("#audit tbody").replaceChildren(...audit.map((a) => el("tr", {},
    el("td", {}, localTime(a.at, ctx.timeZone)),
    el("td", {}, a.username || "—"),
    el("td", {}, ACTIONS_VI[a.action] || a.action),
    el("td", { class: "audit-details", "data-testid": "audit-details" }, auditText(a.details)),
  )));
  if (!audit.length) $("#audit tbody").append(el("tr", {}, el("td", { colspan: 4, class: "muted" }, "Chưa có thao tác nào.")));
}

start();
