// @ts-check
// The one WebSocket client every screen uses.
//
// The server sends a snapshot first, then numbered events (seq + 1 each); protocol v2 sends
// the events of one action together ({"v": 2, "type": "events", "events": [...]}) and `Live`
// hands them to the screen one by one, as before. `Live` keeps a
// `State` made from the snapshot and brings it up to date with each event, so a screen only
// has to render `live.state`. It:
//   - asks for a fresh snapshot ({"type":"resync"}) when a seq number is missing;
//   - treats an unasked snapshot (config reloaded) as a full reset;
//   - reconnects with a capped, jittered backoff after a server restart, a Wi-Fi drop or a
//     1013 "too slow" close, and shows a small "Mất kết nối / Offline" mark meanwhile;
//   - checks /healthz every so often, because a dead Wi-Fi link can leave a socket "open"
//     for minutes without any error.
//
//   const live = new Live();
//   live.addEventListener("snapshot", () => render(live.state));
//   live.addEventListener("event", (e) => { const msg = e.detail; ...; render(live.state); });
//   live.addEventListener("push", (e) => ...)   // unnumbered messages, e.g. {type: "print_job"}
//   live.addEventListener("online", ...) / ("offline", ...)
//   live.start();

import { t, onLangChange } from "./i18n.js";
import { getJSON } from "./http.js";

// The shared HTTP and format helpers, re-exported for the screens that import them from here.
export { fetchJSON, postJSON, getJSON } from "./http.js";
export { duration, esc } from "./format.js";

const BACKOFF_MS = [500, 1000, 2000, 4000, 8000];
const BACKOFF_CAP_MS = 10000;
const HEALTH_EVERY_MS = 15000;
const HEALTH_TIMEOUT_MS = 5000;

/**
 * A snapshot or an event message as the server sends it (see queue_server/office.py).
 * @typedef {Record<string, any>} Message
 */

/** A screen's copy of the office's state: the last snapshot, brought up to date by events. */
export class State {
  /** @param {Message | null} [snapshot] */
  constructor(snapshot = null) {
    this.reset(snapshot || { office: {}, services: [], counters: [], latest_calls: [], seq: 0 });
  }

  /** @param {Message} snapshot */
  reset(snapshot) {
    this.seq = snapshot.seq;
    this.office = snapshot.office || {};
    this.services = snapshot.services || [];
    this.counters = snapshot.counters || [];
    this.latestCalls = snapshot.latest_calls || [];
    this.latestLimit = Math.max(8, this.latestCalls.length);
    this.waiting = snapshot.waiting || null; // staff only
    this.noShows = snapshot.no_shows || null; // staff only
    // Server time minus this device's time: clocks on TV boxes are often wrong.
    const serverNow = Date.parse(snapshot.now);
    this.clockOffsetMs = Number.isNaN(serverNow) ? 0 : serverNow - Date.now();
  }

  /** Now, as the server's clock has it. */
  now() {
    return new Date(Date.now() + this.clockOffsetMs);
  }

  /**
   * @param {string} code
   * @returns {Message | null}
   */
  service(code) {
    return this.services.find((s) => s.code === code) || null;
  }

  /**
   * @param {number | string} number
   * @returns {Message | null}
   */
  counter(number) {
    return this.counters.find((c) => c.number === Number(number)) || null;
  }

  /**
   * Apply one event message in place. Returns false if a fresh snapshot is needed.
   * @param {Message} msg
   * @returns {boolean}
   */
  apply(msg) {
    this.seq = msg.seq;
    const ticket = msg.ticket;
    if (msg.kind === "day_started") return false;
    if (msg.counter) this.#applyCounter(msg.counter, ticket);
    if (ticket) {
      // A ticket changed without its counter (e.g. rated): refresh it where it is shown.
      for (const c of this.counters) {
        if (c.ticket && c.ticket.id === ticket.id && !msg.counter) c.ticket = ticket;
      }
      this.#applyLatestCalls(msg.kind, ticket);
      this.#applyStaffLists(ticket);
    }
    if (Array.isArray(msg.services)) this.services = msg.services;
    return true;
  }

  /**
   * @param {Message} update the event's counter
   * @param {Message | null} ticket the event's ticket
   */
  #applyCounter(update, ticket) {
    const c = this.counter(update.number);
    if (!c) return;
    c.state = update.state;
    c.pause_reason = update.pause_reason;
    c.since = update.since;
    if ("staff" in update) c.staff = update.staff;
    if (update.ticket_id == null) c.ticket = null;
    else if (ticket && ticket.id === update.ticket_id) c.ticket = ticket;
    // A finished ticket's message carries its counter's figures of the day, as the server
    // counts them (the same as in a snapshot).
    if ("served_today" in update) c.served_today = update.served_today;
    if ("average_service_s" in update) c.average_service_s = update.average_service_s;
  }

  /**
   * @param {string} kind
   * @param {Message} ticket
   */
  #applyLatestCalls(kind, ticket) {
    const index = this.latestCalls.findIndex((call) => call.label === ticket.label);
    if (kind === "ticket_called" || kind === "ticket_recalled") {
      if (index >= 0) this.latestCalls.splice(index, 1);
      this.latestCalls.unshift({
        label: ticket.label, service: ticket.service, counter: ticket.counter,
        at: ticket.called_at, state: ticket.state, booked: Boolean(ticket.booked),
      });
      this.latestCalls.length = Math.min(this.latestCalls.length, this.latestLimit);
    } else if (index >= 0) {
      this.latestCalls[index].state = ticket.state;
    }
  }

  /** @param {Message} ticket */
  #applyStaffLists(ticket) {
    if (this.waiting) {
      this.waiting = this.waiting.filter((w) => w.id !== ticket.id);
      if (ticket.state === "waiting") this.waiting.push(ticket);
    }
    if (this.noShows) {
      this.noShows = this.noShows.filter((w) => w.id !== ticket.id);
      if (ticket.state === "no_show") this.noShows.push(ticket);
    }
  }
}

/**
 * The WebSocket client: keeps `state` current and dispatches "snapshot", "event", "push",
 * "online" and "offline" (see the top of this file).
 */
export class Live extends EventTarget {
  /** @type {WebSocket | null} */
  #socket = null;
  #attempt = 0;
  /** @type {ReturnType<typeof setTimeout> | undefined} */
  #timer = undefined;
  /** @type {ReturnType<typeof setInterval> | undefined} */
  #healthTimer = undefined;
  #awaitingSnapshot = true;
  #stopped = true;
  /** @type {HTMLElement | null} */
  #mark = null;

  /** @param {{path?: string, showMark?: boolean}} [options] */
  constructor({ path = "/ws", showMark = true } = {}) {
    super();
    this.path = path;
    this.state = new State();
    this.online = false;
    this.hasSnapshot = false;
    this.reconnects = 0;
    this.resyncs = 0;
    this.showMark = showMark;
  }

  start() {
    this.#stopped = false;
    this.#setOnline(false, true);
    this.#connect();
    clearInterval(this.#healthTimer);
    this.#healthTimer = setInterval(() => this.#checkHealth(), HEALTH_EVERY_MS);
    return this;
  }

  /** Close and connect again at once (e.g. after signing in, to get the staff stream). */
  restart() {
    this.#closeSocket();
    this.#attempt = 0;
    this.#stopped = false;
    this.#connect();
  }

  stop() {
    this.#stopped = true;
    clearInterval(this.#healthTimer);
    clearTimeout(this.#timer);
    this.#closeSocket();
  }

  /** Ask the server for a fresh snapshot. */
  resync() {
    if (this.#socket && this.#socket.readyState === WebSocket.OPEN) {
      this.resyncs += 1;
      this.#awaitingSnapshot = true;
      this.#socket.send(JSON.stringify({ type: "resync" }));
    }
  }

  #connect() {
    clearTimeout(this.#timer);
    const scheme = location.protocol === "https:" ? "wss:" : "ws:";
    let socket;
    try {
      socket = new WebSocket(`${scheme}//${location.host}${this.path}`);
    } catch (error) {
      console.warn("live: cannot open WebSocket", error);
      this.#scheduleReconnect();
      return;
    }
    this.#socket = socket;
    this.#awaitingSnapshot = true;
    socket.addEventListener("message", (event) => {
      if (socket === this.#socket) this.#receive(event.data);
    });
    socket.addEventListener("close", () => {
      if (socket !== this.#socket) return;
      this.#socket = null;
      this.#setOnline(false);
      this.#scheduleReconnect();
    });
    // "error" is always followed by "close"; nothing to do here.
  }

  #closeSocket() {
    const socket = this.#socket;
    this.#socket = null;
    if (socket) {
      try {
        socket.close();
      } catch {
        // already closed
      }
    }
  }

  #scheduleReconnect() {
    if (this.#stopped) return;
    clearTimeout(this.#timer);
    const base = BACKOFF_MS[Math.min(this.#attempt, BACKOFF_MS.length - 1)];
    // Jitter, so twenty screens do not all knock at the same instant after a restart.
    const delay = Math.min(BACKOFF_CAP_MS, base * (0.8 + Math.random() * 0.4));
    this.#attempt += 1;
    this.#timer = setTimeout(() => this.#connect(), delay);
  }

  #receive(text) {
    let msg;
    try {
      msg = JSON.parse(text);
    } catch {
      return;
    }
    if (msg.type === "snapshot") {
      this.state.reset(msg);
      this.#awaitingSnapshot = false;
      this.#attempt = 0;
      const first = !this.hasSnapshot;
      this.hasSnapshot = true;
      if (!this.online && !first) this.reconnects += 1;
      this.#setOnline(true);
      this.dispatchEvent(new CustomEvent("snapshot", { detail: msg }));
      return;
    }
    if (msg.type === "events") {
      // Protocol v2: one message per action, its events in seq order; the services summary
      // (sent once) belongs with the last, as in v1.
      const events = Array.isArray(msg.events) ? msg.events : [];
      events.forEach((event, i) => {
        if (i === events.length - 1 && msg.services) event.services = msg.services;
        this.#receiveEvent(event);
      });
      return;
    }
    if (msg.type !== "event") {
      // Unnumbered pushes beside the event stream (e.g. "print_job", "printer").
      if (msg.type) this.dispatchEvent(new CustomEvent("push", { detail: msg }));
      return;
    }
    this.#receiveEvent(msg);
  }

  #receiveEvent(msg) {
    if (this.#awaitingSnapshot) return;
    if (msg.seq <= this.state.seq) return; // already included in the snapshot
    if (msg.seq !== this.state.seq + 1) {
      console.info(`live: missed events ${this.state.seq + 1}..${msg.seq - 1}; resyncing`);
      this.resync();
      return;
    }
    if (!this.state.apply(msg)) {
      this.resync();
    }
    this.dispatchEvent(new CustomEvent("event", { detail: msg }));
  }

  async #checkHealth() {
    if (this.#stopped || !this.#socket || this.#socket.readyState !== WebSocket.OPEN) return;
    const answer = await getJSON("/healthz", HEALTH_TIMEOUT_MS);
    if (!answer.ok) {
      // The server does not answer (well): the socket is probably dead too.
      this.#closeSocket();
      this.#setOnline(false);
      this.#scheduleReconnect();
      return;
    }
    const health = answer.body;
    // Still behind after a whole period: an event was lost on the way.
    if (health.seq > this.state.seq && this.#lastHealthSeq === health.seq) this.resync();
    this.#lastHealthSeq = health.seq;
  }

  #lastHealthSeq = null;

  #setOnline(online, initial = false) {
    const changed = online !== this.online;
    this.online = online;
    document.documentElement.dataset.online = String(online);
    if (this.showMark) this.#renderMark(initial);
    if (changed && !initial) this.dispatchEvent(new Event(online ? "online" : "offline"));
  }

  #renderMark(initial) {
    if (!this.#mark) {
      this.#mark = document.createElement("div");
      this.#mark.className = "offline-mark";
      this.#mark.setAttribute("role", "status");
      this.#mark.setAttribute("aria-live", "polite");
      this.#mark.dataset.testid = "offline-mark";
      document.body.append(this.#mark);
      onLangChange(() => this.#renderMark(false));
    }
    // Before the very first snapshot we are "connecting", not "offline".
    const connecting = initial || !this.hasSnapshot;
    this.#mark.textContent = connecting ? t("live.connecting") : t("live.offline");
    this.#mark.hidden = this.online;
    this.#mark.classList.toggle("connecting", connecting);
  }
}

/**
 * "HH:MM" (and a long date) in the office's time zone, from the server's clock.
 * @param {State} state
 * @param {Intl.DateTimeFormatOptions} options
 * @returns {string}
 */
export function officeTime(state, options) {
  const zone = state.office.timezone || "Asia/Ho_Chi_Minh";
  try {
    return new Intl.DateTimeFormat(document.documentElement.lang === "en" ? "en-GB" : "vi-VN",
      { timeZone: zone, ...options }).format(state.now());
  } catch {
    return new Intl.DateTimeFormat(undefined, options).format(state.now());
  }
}
