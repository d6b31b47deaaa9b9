// Start page (/): links to every screen of this office.

import { getJSON, esc } from "./live.js";
import { initI18n, t, localName, languageToggle, onLangChange } from "./i18n.js";

const $ = (id) => document.getElementById(id);
let state = null;

function render() {
  if (!state) return;
  $("office-name").textContent = localName(state.office);
  const stateText = (c) => t(`counter.state.${c.state}`);
  $("counters").innerHTML = state.counters.map((c) => `<li><a href="/counter/${c.number}">
    <b>${esc(t("counter.title", { n: c.number }))}</b><span>${esc(localName(c))}</span>
    <em class="state ${esc(c.state)}">${esc(stateText(c))}</em></a></li>`).join("");
  $("tablets").innerHTML = state.counters.map((c) => `<li><a href="/rate/${c.number}">
    <b>${esc(t("counter.title", { n: c.number }))}</b><span>${esc(t("home.rating_text"))}</span></a></li>`).join("");
}

await initI18n();
languageToggle($("lang"));
onLangChange(render);
const result = await getJSON("/api/state");
if (result.ok) state = result.body;
render();
