// Office setup: today's service switches and caps, and the config.toml editor (a form for
// services, counters, kiosks, printers and the ticker; or the whole file as text).
// The server keeps the file's comments (tomlkit), validates before writing and reloads live.

import { $, api, el, showError, toast } from "./admin-common.js";

let original = null; // the editable config as last loaded: fields the form does not show are kept

const COLUMNS = {
  services: [
    ["code", "text"], ["name", "text"], ["name_en", "text"], ["first", "number"], ["last", "number"],
    ["prefix", "text"], ["daily_cap", "number"], ["service_minutes", "number"],
  ],
  counters: [["number", "number"], ["name", "text"], ["name_en", "text"], ["services", "levels"]],
  kiosks: [["id", "text"], ["name", "text"], ["token", "text"], ["printer", "text"]],
  printers: [["id", "text"], ["url", "text"], ["width", "number"]],
};
const KEYS = { services: "code", counters: "number", kiosks: "id", printers: "id" };

export function initSetup(ctx) {
  $("#config-form").addEventListener("submit", (event) => {
    event.preventDefault();
    saveForm(ctx);
  });
  for (const button of document.querySelectorAll("#config-form [data-add]")) {
    button.addEventListener("click", () => addRow(button.dataset.add, {}));
  }
  $("#config-text-save").addEventListener("click", () => saveText(ctx));
}

export async function loadSetup(ctx) {
  renderToday(ctx);
  try {
    const data = await api("/api/admin/config");
    fillForm(data.editable);
    $("#config-text").value = data.text;
  } catch (error) {
    showError($("#config-error"), error);
  }
}

// ---------------------------------------------------------------- today

function renderToday(ctx) {
  const services = ctx.monitor ? ctx.monitor.snapshot.services : [];
  $("#today-services tbody").replaceChildren(...services.map((s) => {
    const cap = el("input", { type: "number", min: 0, value: s.cap ?? "", placeholder: "không giới hạn", "aria-label": `Giới hạn ${s.code}` });
    const send = async (body, text) => {
      try {
        const { services: fresh } = await api(`/api/services/${encodeURIComponent(s.code)}`, { method: "POST", body });
        if (ctx.monitor) ctx.monitor.snapshot.services = fresh;
        toast(`${s.name}: ${text}`);
        renderToday(ctx);
      } catch (error) {
        toast(error.message, true);
      }
    };
    return el("tr", { dataset: { code: s.code } },
      el("td", {}, el("b", {}, s.code), " ", s.name),
      el("td", {}, s.open ? "Đang nhận hồ sơ" : "Tạm ngừng hôm nay"),
      el("td", {}, cap, el("button", {
        type: "button", class: "small", onclick: () => send({ cap: cap.value === "" ? null : Number(cap.value) }, "đã đổi giới hạn"),
      }, "Lưu")),
      el("td", {}, el("button", {
        type: "button", class: `small${s.open ? " danger" : ""}`, onclick: () => send({ open: !s.open }, s.open ? "tạm ngừng hôm nay" : "mở lại"),
      }, s.open ? "Tạm ngừng hôm nay" : "Mở lại")));
  }));
}

// ---------------------------------------------------------------- the form

function fillForm(editable) {
  original = editable;
  $("#cfg-ticker").value = editable.office.ticker || "";
  $("#cfg-ticker-en").value = editable.office.ticker_en || "";
  for (const name of Object.keys(COLUMNS)) {
    $(`#cfg-${name} tbody`).replaceChildren();
    for (const entry of editable[name]) addRow(name, entry);
  }
}

function levelsText(services) {
  return Object.entries(services || {}).map(([code, level]) => `${code}=${LEVEL_VI[level] || level}`).join(", ");
}

function addRow(name, entry) {
  const cells = COLUMNS[name].map(([field, type]) => {
    let value = entry[field];
    if (name === "services" && field === "first") value = entry.range ? entry.range[0] : "";
    if (name === "services" && field === "last") value = entry.range ? entry.range[1] : "";
    if (type === "levels") value = levelsText(entry.services);
    const input = el("input", {
      type: type === "number" ? "number" : "text", name: field, value: value ?? "", step: field === "service_minutes" ? "any" : undefined,
      "aria-label": field,
    });
    return el("td", {}, input);
  });
  const row = el("tr", { dataset: { key: entry[KEYS[name]] ?? "" } }, ...cells,
    el("td", {}, el("button", { type: "button", class: "small danger", onclick: () => row.remove() }, "Xóa")));
  $(`#cfg-${name} tbody`).append(row);
}

// A counter's services as the form shows them: "CT=chính, TKQ=dự phòng". The English level
// names of config.toml (primary, normal, backup) are accepted too.
const LEVEL_VI = { primary: "chính", normal: "thường", backup: "dự phòng" };
const LEVEL_FROM_VI = { "chính": "primary", "thường": "normal", "dự phòng": "backup", "du phong": "backup" };

function parseLevels(text) {
  const out = {};
  for (const part of text.split(",")) {
    const [code, level] = part.split("=").map((s) => s && s.trim());
    const word = (level || "").toLowerCase();
    if (code) out[code.toUpperCase()] = LEVEL_FROM_VI[word] || word || "primary";
  }
  return out;
}

function readRows(name) {
  const rows = [];
  for (const tr of document.querySelectorAll(`#cfg-${name} tbody tr`)) {
    const get = (f) => tr.querySelector(`input[name="${f}"]`).value.trim();
    const previous = (original[name] || []).find((e) => String(e[KEYS[name]]) === tr.dataset.key) || {};
    const entry = { ...previous };
    for (const [field, type] of COLUMNS[name]) {
      if (field === "first" || field === "last") continue;
      const raw = get(field);
      if (type === "levels") entry.services = parseLevels(raw);
      else if (type === "number") entry[field] = raw === "" ? null : Number(raw);
      else entry[field] = raw;
    }
    if (name === "services") entry.range = [Number(get("first")), Number(get("last"))];
    rows.push(entry);
  }
  return rows;
}

async function saveForm(ctx) {
  showError($("#config-error"), null);
  const changes = { office: { ticker: $("#cfg-ticker").value, ticker_en: $("#cfg-ticker-en").value } };
  for (const name of Object.keys(COLUMNS)) changes[name] = readRows(name);
  try {
    const { editable } = await api("/api/admin/config", { method: "POST", body: changes });
    fillForm(editable);
    toast("Đã lưu config.toml và áp dụng cho mọi màn hình.");
    loadSetup(ctx);
  } catch (error) {
    showError($("#config-error"), error);
  }
}

async function saveText(ctx) {
  showError($("#config-text-error"), null);
  try {
    await api("/api/admin/config/text", { method: "POST", body: { text: $("#config-text").value } });
    toast("Đã lưu config.toml và áp dụng cho mọi màn hình.");
    loadSetup(ctx);
  } catch (error) {
    showError($("#config-text-error"), error);
  }
}
