// @ts-check
// Counter names as the screens show them.

/**
 * A counter's own name without its number when a title already says it: under "Quầy 2",
 * "Quầy 2 – Chứng thực" reads "Chứng thực" (a name that does not start with the title is kept).
 * @param {string | null | undefined} name
 * @param {string} title
 * @returns {string}
 */
export function withoutTitle(name, title) {
  if (!name || !name.startsWith(title)) return name || "";
  return name.slice(title.length).replace(/^\s*[–:-]\s*/, "");
}
