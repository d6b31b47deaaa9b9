// Translations: one JSON catalogue per language in /static/i18n/<lang>.json.
//
// Vietnamese is the default. `?lang=en` in the address, or a toggle calling setLang(),
// switches; the choice is kept in localStorage so a kiosk stays in the language it was set to.
//
//   import { initI18n, t, applyI18n, lang, setLang, onLangChange } from "/static/js/i18n.js";
//   await initI18n();
//   t("kiosk.people_waiting", { n: 3 })  // → "3 người đang chờ"
//   <span data-i18n="display.waiting"></span> is filled by applyI18n();
//   data-i18n-title / data-i18n-placeholder / data-i18n-aria set those attributes.

export const LANGS = ["vi", "en"];
const STORAGE_KEY = "motcua.lang";

let current = "vi";
let catalogue = {};
let fallback = {};
const listeners = new Set();

async function load(code) {
  const response = await fetch(`/static/i18n/${code}.json`, { cache: "no-cache" });
  if (!response.ok) throw new Error(`i18n: ${code}.json: HTTP ${response.status}`);
  return response.json();
}

function wanted() {
  const fromUrl = new URLSearchParams(location.search).get("lang");
  if (LANGS.includes(fromUrl)) return fromUrl;
  try {
    const saved = localStorage.getItem(STORAGE_KEY);
    if (LANGS.includes(saved)) return saved;
  } catch {
    // storage may be disabled (private mode): Vietnamese then
  }
  return "vi";
}

/** Load the catalogue for the wanted language (and Vietnamese as the fallback). */
export async function initI18n() {
  fallback = await load("vi");
  await switchTo(wanted());
}

async function switchTo(code) {
  current = code;
  catalogue = code === "vi" ? fallback : await load(code).catch(() => fallback);
  document.documentElement.lang = code;
  applyI18n();
  for (const listener of listeners) listener(code);
}

/** The current language code ("vi" or "en"). */
export function lang() {
  return current;
}

/** Switch language now (re-translates the page and calls onLangChange listeners). */
export async function setLang(code) {
  if (!LANGS.includes(code)) return;
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // not kept, but still switched
  }
  await switchTo(code);
}

export function onLangChange(listener) {
  listeners.add(listener);
}

/** The text for `key` with {name} placeholders filled from `params`. */
export function t(key, params = {}) {
  let text = catalogue[key] ?? fallback[key];
  if (text === undefined) {
    console.warn(`i18n: no text for ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/** The server's error message in the current language. */
export function errorText(body, fallbackKey = "common.error") {
  if (body && typeof body === "object") {
    const text = current === "en" ? body.message_en || body.message : body.message || body.message_en;
    if (text) return text;
  }
  return t(fallbackKey);
}

/** A name from the server in the current language (e.g. a service's name / name_en). */
export function localName(item, key = "name") {
  if (!item) return "";
  return (current === "en" && item[`${key}_en`]) || item[key] || "";
}

/** Minutes, rounded up, as words: "khoảng 12 phút" / "about 12 min". */
export function waitText(seconds) {
  if (!seconds || seconds < 30) return t("common.wait_none");
  return t("common.wait_minutes", { n: Math.ceil(seconds / 60) });
}

/** Fill every [data-i18n] element under `root`. */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) el.textContent = t(el.dataset.i18n);
  for (const el of root.querySelectorAll("[data-i18n-title]")) el.title = t(el.dataset.i18nTitle);
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) el.placeholder = t(el.dataset.i18nPlaceholder);
  for (const el of root.querySelectorAll("[data-i18n-aria]")) el.setAttribute("aria-label", t(el.dataset.i18nAria));
}

/** Make `button` a VI/EN toggle. */
export function languageToggle(button) {
  const label = () => {
    button.textContent = current === "vi" ? "English" : "Tiếng Việt";
    button.lang = current === "vi" ? "en" : "vi";
  };
  label();
  onLangChange(label);
  button.addEventListener("click", () => setLang(current === "vi" ? "en" : "vi"));
}
