// @ts-check
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
//
// A screen must survive a failed start (a TV switched on before the server, a Wi-Fi hiccup):
// initI18n() keeps trying until the catalogue loads, with a clear message on the screen
// meanwhile, instead of leaving the page dead.

export const LANGS = ["vi", "en"];
const STORAGE_KEY = "motcua.lang";

// Waits between attempts to load the catalogue at start, then the last one over and over.
const RETRY_MS = [1000, 2000, 4000, 8000];
const LOAD_TIMEOUT_MS = 8000;

let current = "vi";
/** @type {Record<string, string>} */
let catalogue = {};
/** @type {Record<string, string>} */
let fallback = {};
/** @type {Set<(code: string) => void>} */
const listeners = new Set();

/**
 * @param {string} code
 * @returns {Promise<Record<string, string>>}
 */
async function load(code) {
  const controller = new AbortController();
  const timer = setTimeout(() => controller.abort(), LOAD_TIMEOUT_MS);
  try {
    const response = await fetch(`/static/i18n/${code}.json`, { cache: "no-cache", signal: controller.signal });
    if (!response.ok) throw new Error(`i18n: ${code}.json: HTTP ${response.status}`);
    return await response.json();
  } finally {
    clearTimeout(timer);
  }
}

/**
 * Show (or, with null, remove) the start problem notice. Both languages: no catalogue yet.
 * @param {number | null} retryInSeconds
 */
function startProblem(retryInSeconds) {
  let box = document.getElementById("motcua-start-problem");
  if (retryInSeconds === null) {
    box?.remove();
    return;
  }
  if (!box) {
    box = document.createElement("div");
    box.id = "motcua-start-problem";
    box.dataset.testid = "start-problem";
    box.setAttribute("role", "alert");
    box.style.cssText = "position:fixed;inset:auto 0 0 0;z-index:9999;padding:1em;font:600 1.4rem/1.4 sans-serif;"
      + "background:#b3261e;color:#fff;text-align:center";
    (document.body || document.documentElement).append(box);
  }
  box.textContent = `Không tải được màn hình, tự thử lại sau ${retryInSeconds} giây… `
    + `/ Could not load the screen, retrying in ${retryInSeconds} s…`;
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

/**
 * Load the catalogue for the wanted language (and Vietnamese as the fallback). Resolves only
 * once Vietnamese has loaded: until then it retries by itself and says so on the screen.
 * @returns {Promise<void>}
 */
export async function initI18n() {
  for (let attempt = 0; ; attempt += 1) {
    try {
      fallback = await load("vi");
      break;
    } catch (error) {
      const wait = RETRY_MS[Math.min(attempt, RETRY_MS.length - 1)];
      console.warn("i18n: loading the catalogue failed; retrying", error);
      startProblem(Math.round(wait / 1000));
      await new Promise((resolve) => setTimeout(resolve, wait));
    }
  }
  startProblem(null);
  await switchTo(wanted());
}

/** @param {string} code */
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

/**
 * Switch language now (re-translates the page and calls onLangChange listeners).
 * @param {string} code
 */
export async function setLang(code) {
  if (!LANGS.includes(code)) return;
  try {
    localStorage.setItem(STORAGE_KEY, code);
  } catch {
    // not kept, but still switched
  }
  await switchTo(code);
}

/** @param {(code: string) => void} listener */
export function onLangChange(listener) {
  listeners.add(listener);
}

/**
 * Whether a catalogue holds `key` (none does before initI18n, nor on pages that never call it).
 * @param {string} key
 * @returns {boolean}
 */
export function has(key) {
  return key in catalogue || key in fallback;
}

/**
 * The text for `key` with {name} placeholders filled from `params`.
 * @param {string} key
 * @param {Record<string, unknown>} [params]
 * @returns {string}
 */
export function t(key, params = {}) {
  let text = catalogue[key] ?? fallback[key];
  if (text === undefined) {
    console.warn(`i18n: no text for ${key}`);
    return key;
  }
  return text.replace(/\{(\w+)\}/g, (whole, name) => (name in params ? String(params[name]) : whole));
}

/**
 * The server's error message in the current language.
 * @param {any} body
 * @param {string} [fallbackKey]
 * @returns {string}
 */
export function errorText(body, fallbackKey = "common.error") {
  if (body && typeof body === "object") {
    const text = current === "en" ? body.message_en || body.message : body.message || body.message_en;
    if (text) return text;
  }
  return t(fallbackKey);
}

/**
 * A name from the server in the current language (e.g. a service's name / name_en).
 * @param {any} item
 * @param {string} [key]
 * @returns {string}
 */
export function localName(item, key = "name") {
  if (!item) return "";
  return (current === "en" && item[`${key}_en`]) || item[key] || "";
}

/**
 * Minutes, rounded up, as words: "khoảng 12 phút" / "about 12 min".
 * @param {number | null | undefined} seconds
 * @returns {string}
 */
export function waitText(seconds) {
  if (!seconds || seconds < 30) return t("common.wait_none");
  return t("common.wait_minutes", { n: Math.ceil(seconds / 60) });
}

/**
 * Fill every [data-i18n] element under `root`.
 * @param {ParentNode} [root]
 */
export function applyI18n(root = document) {
  for (const el of root.querySelectorAll("[data-i18n]")) {
    if (el instanceof HTMLElement) el.textContent = t(el.dataset.i18n || "");
  }
  for (const el of root.querySelectorAll("[data-i18n-title]")) {
    if (el instanceof HTMLElement) el.title = t(el.dataset.i18nTitle || "");
  }
  for (const el of root.querySelectorAll("[data-i18n-placeholder]")) {
    if (el instanceof HTMLInputElement || el instanceof HTMLTextAreaElement) {
      el.placeholder = t(el.dataset.i18nPlaceholder || "");
    }
  }
  for (const el of root.querySelectorAll("[data-i18n-aria]")) {
    if (el instanceof HTMLElement) el.setAttribute("aria-label", t(el.dataset.i18nAria || ""));
  }
}

/**
 * Make `button` a VI/EN toggle.
 * @param {HTMLElement} button
 */
export function languageToggle(button) {
  const label = () => {
    button.textContent = current === "vi" ? "English" : "Tiếng Việt";
    button.lang = current === "vi" ? "en" : "vi";
  };
  label();
  onLangChange(label);
  button.addEventListener("click", () => setLang(current === "vi" ? "en" : "vi"));
}
