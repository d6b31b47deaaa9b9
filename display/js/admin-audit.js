// The audit log's details in words: "Vé 1002", "Lĩnh vực CT: đóng", "Tài khoản lan (quản trị)"
// instead of the stored keys ("ticket_id: 6 · label: 1002").

import { vnDate } from "./admin-common.js";

const ROLE_VI = { clerk: "cán bộ", admin: "quản trị" };
// Keys that only repeat another one in a form no one reads (the ticket's row id beside its number).
const HIDDEN = new Set(["ticket_id", "id", "bytes"]);

function part(key, value, details) {
  if (HIDDEN.has(key) && !(key === "ticket_id" && !details.label)) return null;
  if (value === null || value === undefined || value === "") return null;
  switch (key) {
    case "changes":
      return Array.isArray(value) && value.length ? value.join("; ") : "không có gì thay đổi";
    case "label":
      return `Vé ${value}`;
    case "ticket_id":
      return `Vé mã ${value}`;
    case "service":
      return `Lĩnh vực ${value}`;
    case "open":
      return value ? "mở nhận hồ sơ" : "tạm ngừng nhận hồ sơ";
    case "cap":
      return `giới hạn hôm nay: ${value} số`;
    case "username":
      return `Tài khoản ${value}${details.role ? ` (${ROLE_VI[details.role] || details.role})` : ""}`;
    case "role":
      return details.username ? null : `vai trò ${ROLE_VI[value] || value}`;
    case "counter":
      return `Quầy ${value}`;
    case "staff":
      return `cán bộ ${value}`;
    case "reason":
      return `lý do: ${value}`;
    case "code":
      return `Mã ${value}`;
    case "codes":
      return `Mã ${Array.isArray(value) ? value.join(", ") : value}`;
    case "date":
    case "due_date":
      return `ngày ${/^\d{4}-\d{2}-\d{2}$/.test(value) ? vnDate(value) : value}`;
    case "printer":
      return `máy in ${value}`;
    case "clip":
      return `đoạn ${value}.wav`;
    case "clips":
      return `${Array.isArray(value) ? value.length : value} đoạn`;
    case "seconds":
      return `${Number(value).toLocaleString("vi-VN")} giây`;
    case "sections":
      return `phần: ${Array.isArray(value) ? value.join(", ") : value}`;
    default:
      return Array.isArray(value) ? value.join(", ") : String(value);
  }
}

/** One audit row's details as a sentence. */
export function auditText(details) {
  const d = details || {};
  return Object.entries(d).map(([k, v]) => part(k, v, d)).filter(Boolean).join(" · ");
}
