// @ts-check
// Words and number formats of the central's pages (Vietnamese by default; ?lang=en).
import { duration as clock } from "./format.js";

/** @type {Record<string, Record<string, string>>} */
const WORDS = {
  vi: {
    connecting: "Đang kết nối…", live: "Trực tuyến", offline: "Mất kết nối, đang thử lại…", logout: "Đăng xuất",
    login_title: "Đăng nhập tài khoản tổng hợp", username: "Tên đăng nhập", password: "Mật khẩu", login: "Đăng nhập",
    sites: "Các điểm một cửa", site: "Điểm", waiting: "Đang chờ", longest: "Chờ lâu nhất", open_counters: "Quầy mở",
    served_today: "Đã phục vụ hôm nay", satisfaction_today: "Hài lòng hôm nay", last_heard: "Liên lạc gần nhất",
    reports: "Báo cáo tổng hợp", from: "Từ ngày", to: "Đến ngày", by: "Theo", by_site: "Điểm một cửa", by_day: "Ngày",
    by_service: "Lĩnh vực", by_counter: "Quầy", by_staff: "Cán bộ", by_hour: "Giờ", site_filter: "Điểm",
    all_sites: "Tất cả", show: "Xem", csv: "Tải CSV", xlsx: "Tải Excel", back: "← Tổng hợp",
    read_only: "Chỉ xem (dữ liệu đã đồng bộ)", counters: "Quầy", counter: "Quầy", state: "Trạng thái", staff: "Cán bộ",
    ticket: "Vé đang phục vụ", services: "Lĩnh vực", service: "Lĩnh vực", next: "Số tiếp theo",
    latest_calls: "Số vừa gọi", open: "Đang mở", paused: "Tạm dừng", closed: "Đóng", catching_up: "đang cập nhật",
    issued: "Số phát ra", served: "Đã phục vụ", no_show: "Vắng mặt", closed_unstarted: "Chưa bắt đầu",
    wait_mean: "Chờ TB (phút)",
    wait_median: "Chờ trung vị (phút)", satisfied: "Hài lòng (%)", minutes: "phút", total: "Tổng cộng",
    kind: "Loại", kind_tickets: "Lượt phục vụ", kind_dossiers: "Hồ sơ", kind_satisfaction: "Mức độ hài lòng",
    kind_appointments: "Lịch hẹn", by_month: "Tháng", by_procedure: "Thủ tục", received: "Tiếp nhận",
    on_time: "Đúng hạn", late: "Trễ hạn", pending: "Chưa đến hạn", overdue: "Quá hạn", on_time_rate: "Tỷ lệ đúng hạn",
    rated: "Có đánh giá", satisfied_count: "Hài lòng", satisfaction_rate: "Tỷ lệ hài lòng", booked: "Đã đặt",
    checked_in: "Đã đến", absent: "Vắng mặt", cancelled: "Đã hủy", called: "Được gọi",
    on_time_share: "Gọi trong 10 phút",
  },
  en: {
    connecting: "Connecting…", live: "Live", offline: "Disconnected, retrying…", logout: "Sign out",
    login_title: "Sign in with a central account", username: "Username", password: "Password", login: "Sign in",
    sites: "Service points", site: "Site", waiting: "Waiting", longest: "Longest wait", open_counters: "Open counters",
    served_today: "Served today", satisfaction_today: "Satisfied today", last_heard: "Last heard",
    reports: "Combined reports", from: "From", to: "To", by: "By", by_site: "Site", by_day: "Day",
    by_service: "Service", by_counter: "Counter", by_staff: "Staff", by_hour: "Hour", site_filter: "Site",
    all_sites: "All", show: "Show", csv: "Download CSV", xlsx: "Download Excel", back: "← Overview",
    read_only: "Read only (synchronised data)", counters: "Counters", counter: "Counter", state: "State", staff: "Staff",
    ticket: "Serving", services: "Services", service: "Service", next: "Next numbers",
    latest_calls: "Latest calls", open: "Open", paused: "Paused", closed: "Closed", catching_up: "catching up",
    issued: "Issued", served: "Served", no_show: "No-show", closed_unstarted: "Closed without start",
    wait_mean: "Mean wait (min)",
    wait_median: "Median wait (min)", satisfied: "Satisfied (%)", minutes: "min", total: "Total",
    kind: "Kind", kind_tickets: "Visits", kind_dossiers: "Dossiers", kind_satisfaction: "Satisfaction",
    kind_appointments: "Appointments", by_month: "Month", by_procedure: "Procedure", received: "Received",
    on_time: "On time", late: "Late", pending: "Not yet due", overdue: "Overdue", on_time_rate: "On-time rate",
    rated: "Rated", satisfied_count: "Satisfied", satisfaction_rate: "Satisfaction rate", booked: "Booked",
    checked_in: "Checked in", absent: "Absent", cancelled: "Cancelled", called: "Called",
    on_time_share: "Called within 10 min",
  },
};

export const lang = new URLSearchParams(location.search).get("lang") === "en" ? "en" : "vi";

/**
 * @param {string} key
 * @returns {string}
 */
export function t(key) {
  return WORDS[lang][key] ?? WORDS.vi[key] ?? key;
}

/** @param {ParentNode} [root] */
export function applyWords(root = document) {
  for (const el of root.querySelectorAll("[data-t]")) el.textContent = t(/** @type {HTMLElement} */ (el).dataset.t ?? "");
  document.documentElement.lang = lang;
}

const numberFormat = new Intl.NumberFormat(lang === "en" ? "en-GB" : "vi-VN");

/**
 * @param {number | null | undefined} n
 * @returns {string}
 */
export function num(n) {
  return n == null ? "—" : numberFormat.format(n);
}

/**
 * @param {number | null | undefined} share
 * @returns {string}
 */
export function pct(share) {
  if (share == null) return "—";
  return new Intl.NumberFormat(lang === "en" ? "en-GB" : "vi-VN", { maximumFractionDigits: 2 }).format(share * 100) + "%";
}

/**
 * A wait as "m:ss" (or "h:mm:ss"), the offices' format; "—" for none.
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function duration(seconds) {
  return seconds ? clock(seconds) : "—";
}

/**
 * @param {string} text
 * @param {string} [cls]
 * @returns {HTMLTableCellElement}
 */
export function cell(text, cls) {
  const td = document.createElement("td");
  td.textContent = text;
  if (cls) td.className = cls;
  return td;
}
