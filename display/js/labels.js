// @ts-check
// The one place screens get the name of a ticket's or a counter's state, in the page's
// language (from the i18n catalogues: common.ticket_state.*, counter.state.*). The citizen's
// status page words them for the citizen instead (status.state.*).

import { t } from "./i18n.js";

/** Ticket states, as the server sends them. */
export const TICKET_STATES = ["waiting", "called", "serving", "done", "no_show", "cancelled", "expired"];
/** Counter states, as the server sends them. */
export const COUNTER_STATES = ["open", "paused", "closed"];

/**
 * "Đang chờ" / "Waiting" for "waiting"; an unknown state is shown as it came.
 * @param {string} state
 * @returns {string}
 */
export function ticketStateLabel(state) {
  return TICKET_STATES.includes(state) ? t(`common.ticket_state.${state}`) : state;
}

/**
 * "Đang mở" / "Open" for "open"; an unknown state is shown as it came.
 * @param {string} state
 * @returns {string}
 */
export function counterStateLabel(state) {
  return COUNTER_STATES.includes(state) ? t(`counter.state.${state}`) : state;
}

/**
 * An object whose property for each of `states` reads its label at the time it is read
 * (so it follows a language switch): labels(TICKET_STATES, ticketStateLabel).waiting.
 * @param {string[]} states
 * @param {(state: string) => string} label
 * @returns {Record<string, string>}
 */
export function labels(states, label) {
  /** @type {Record<string, string>} */
  const out = {};
  for (const state of states) Object.defineProperty(out, state, { get: () => label(state), enumerable: true });
  return out;
}
