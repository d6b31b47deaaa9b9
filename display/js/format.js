// @ts-check
// Formats every screen shares: durations and HTML escaping. (Dates and numbers in the
// reports use Vietnamese conventions: see admin-common.js.)

/**
 * Minutes and seconds "m:ss" (or "h:mm:ss").
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function duration(seconds) {
  const total = Math.max(0, Math.round(seconds || 0));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/**
 * A duration in words, Vietnamese: "12 phút 34 giây", "1 giờ 5 phút", "40 giây"; "—" for none.
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function durationWords(seconds) {
  if (seconds === null || seconds === undefined) return "—";
  const total = Math.max(0, Math.round(seconds));
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const r = total % 60;
  if (h) return `${h} giờ ${m} phút`;
  if (m) return `${m} phút${r ? ` ${r} giây` : ""}`;
  return `${r} giây`;
}

/**
 * Escape text for innerHTML.
 * @param {unknown} value
 * @returns {string}
 */
export function esc(value) {
  /** @type {Record<string, string>} */
  const entities = { "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" };
  return String(value ?? "").replace(/[&<>"']/g, (ch) => entities[ch]);
}
