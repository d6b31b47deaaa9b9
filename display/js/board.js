// Counter-top board (/display/counter/<n>): the small screen above one counter, in place of
// an LED board. It shows the counter's name and the number called there, as large as the
// screen allows; a new call flashes. A cheap TV stick with a browser is enough. Silent: the
// hall display says the calls. Address options: ?lang=en.

import { Live } from "./live.js";
import { initI18n, t, localName, onLangChange } from "./i18n.js";
import { withoutTitle } from "./names.js";

const FLASH_MS = 6000;
const $ = (id) => document.getElementById(id);
const number = Number(location.pathname.split("/").filter(Boolean).pop());
const live = new Live();
let flashTimer = null;

function render() {
  const c = live.state.counter(number);
  $("board-title").textContent = t("display.counter_n", { n: number });
  document.title = `${t("display.counter_n", { n: number })} – motcua`;
  if (!live.hasSnapshot) return;
  if (!c) {
    document.body.dataset.state = "missing";
    $("board-name").textContent = "";
    $("board-caption").textContent = t("board.no_counter");
    $("board-number").textContent = "";
    return;
  }
  $("board-name").textContent = withoutTitle(localName(c), t("display.counter_n", { n: number }));
  let state = c.state;
  let caption;
  if (c.state === "closed") caption = t("display.closed");
  else if (c.state === "paused") caption = t("display.paused");
  else if (c.ticket) {
    state = c.ticket.state; // called or serving
    caption = t(state === "called" ? "display.invite" : "board.serving");
  } else caption = t("display.free");
  document.body.dataset.state = state;
  $("board-caption").textContent = caption;
  $("board-number").textContent = c.ticket && c.state !== "closed" ? c.ticket.label : "";
}

function flash() {
  document.body.classList.remove("flash");
  void document.body.offsetWidth;
  document.body.classList.add("flash");
  clearTimeout(flashTimer);
  flashTimer = setTimeout(() => document.body.classList.remove("flash"), FLASH_MS);
}

live.addEventListener("snapshot", render);
live.addEventListener("event", (e) => {
  const msg = e.detail;
  render();
  if ((msg.kind === "ticket_called" || msg.kind === "ticket_recalled") && msg.ticket?.counter === number) flash();
});

window.motcua = { live, number };

await initI18n();
onLangChange(render);
render();
live.start();
