// @ts-check
// Announcer: plays ticket calls on the hall display, one after another, never cutting one off.
//
// The server computes the words (queue_server/speech.py) and sends, with each call, the
// ordered clip names and the sentence. Here we only play them:
//   voice "clips"     – chime, then the word clips joined with Web Audio (offline, always the same);
//   voice "webspeech" – chime, then speechSynthesis with a *local* Vietnamese voice
//                       (e.g. Windows' "Microsoft An"); without one we fall back to clips;
//   voice "off"       – chime only (if chime is on).
//
// Events "announce-start" and "announce-end" (detail {label, counter, clips}) are dispatched
// on the Announcer itself and on window. If the browser blocks autoplay, the AudioContext
// stays "suspended": `needsUnlock` is true until `unlock()` is called from a user gesture,
// and calls wait in the queue meanwhile (none is lost or overlapped).
//
//   import { Announcer } from "./announcer.js";
//   const announcer = new Announcer({ voice: "clips" });
//   announcer.announce({ label: "1023", counter: 2, clips: [...], sentence: "Mời công dân …" });

import { TIMEOUT_MS } from "./http.js";

const CHIME = "chime";
// speechSynthesis sometimes never fires "end" (a known Chrome bug); give up after this long.
const SPEECH_TIMEOUT_MS = 20000;

export class Announcer extends EventTarget {
  #queue = [];
  #current = null;
  #playing = false;
  #buffers = new Map(); // clip name → Promise<AudioBuffer|null>
  #context = null;
  #warnedNoVoice = false;

  constructor({
    baseUrl = "/audio/clips/",
    voice = "clips",
    chime = true,
    crossfadeMs = 20,
    speechVoiceName = null,
  } = {}) {
    super();
    if (!["clips", "webspeech", "off"].includes(voice)) {
      throw new Error(`Announcer voice must be "clips", "webspeech" or "off", not ${voice}`);
    }
    this.baseUrl = baseUrl.endsWith("/") ? baseUrl : baseUrl + "/";
    this.voice = voice;
    this.chime = chime;
    // Words overlap by this much, the one fading out as the next fades in: joined words
    // sound like speech, not like a list read with a pause after each.
    this.crossfadeMs = crossfadeMs;
    this.speechVoiceName = speechVoiceName;
    const AudioContextClass = globalThis.AudioContext || globalThis.webkitAudioContext;
    if (AudioContextClass) {
      this.#context = new AudioContextClass();
      this.#context.addEventListener("statechange", () => {
        this.#emit("audio-state", { state: this.#context.state, needsUnlock: this.needsUnlock });
      });
    } else {
      console.warn("announcer: this browser has no Web Audio; calls will be silent");
    }
  }

  /** Announcements waiting to play (a copy; the one playing is `current`). */
  get queue() {
    return [...this.#queue];
  }

  /** The announcement playing now, or null. */
  get current() {
    return this.#current;
  }

  /** True while the browser blocks sound until a tap (show a "Bật âm thanh" button). */
  get needsUnlock() {
    return this.#context !== null && this.#context.state === "suspended";
  }

  /** Resume audio; call from a click/tap handler. Resolves to true when sound can play. */
  async unlock() {
    if (!this.#context) return false;
    try {
      await this.#context.resume();
    } catch (error) {
      console.warn("announcer: could not resume audio", error);
    }
    return this.#context.state === "running";
  }

  /** Fetch and decode clips ahead of time, so the first call starts without delay. */
  preload(names = []) {
    return Promise.all([CHIME, ...names].map((name) => this.#buffer(name)));
  }

  /**
   * Forget clips already fetched (all, or those named): the next call fetches them again.
   * For a page where clips change (the voice screen, after a clip is recorded again).
   */
  forget(names = null) {
    if (names === null) this.#buffers.clear();
    else for (const name of names) this.#buffers.delete(name);
  }

  /**
   * Queue one call. Resolves when it has finished playing (or failed; it never rejects).
   * `clips` and `sentence` come from the server's call event.
   */
  announce({ label, counter, clips = [], sentence = "" }) {
    return new Promise((resolve) => {
      this.#queue.push({ label, counter, clips: [...clips], sentence, resolve });
      this.#pump();
    });
  }

  async #pump() {
    if (this.#playing) return;
    this.#playing = true;
    while (this.#queue.length) {
      const item = this.#queue.shift();
      const detail = { label: item.label, counter: item.counter, clips: item.clips };
      this.#current = detail;
      this.#emit("announce-start", detail);
      try {
        await this.#play(item);
      } catch (error) {
        console.warn("announcer: call failed", detail, error);
      }
      this.#current = null;
      this.#emit("announce-end", detail);
      item.resolve();
    }
    this.#playing = false;
  }

  async #play({ clips, sentence }) {
    let names = this.chime ? [CHIME] : [];
    let speechVoice = null;
    if (this.voice === "webspeech") {
      speechVoice = sentence ? await findLocalVietnameseVoice(this.speechVoiceName) : null;
      if (!speechVoice && !this.#warnedNoVoice) {
        console.warn("announcer: no local Vietnamese speech voice (or no sentence); using clips");
        this.#warnedNoVoice = true;
      }
    }
    if (this.voice === "clips" || (this.voice === "webspeech" && !speechVoice)) {
      names = names.concat(clips);
    }
    await this.#playClips(names);
    if (speechVoice) await speak(sentence, speechVoice);
  }

  // All buffers are fetched first, then scheduled back to back on the audio clock,
  // so the words join without the jitter of starting each one from a timer.
  async #playClips(names) {
    if (!this.#context || names.length === 0) return;
    const buffers = (await Promise.all(names.map((name) => this.#buffer(name)))).filter(Boolean);
    if (buffers.length === 0) return;
    await this.#running();
    const context = this.#context;
    let at = context.currentTime + 0.05;
    let last = null;
    const fade = Math.max(0, this.crossfadeMs) / 1000;
    this.schedule = [];
    for (const [index, buffer] of buffers.entries()) {
      const isChime = index === 0 && names[0] === CHIME;
      const source = context.createBufferSource();
      source.buffer = buffer;
      const gain = context.createGain();
      const edge = isChime ? 0 : Math.min(fade, buffer.duration / 4);
      if (edge > 0) {
        gain.gain.setValueAtTime(0, at);
        gain.gain.linearRampToValueAtTime(1, at + edge);
        gain.gain.setValueAtTime(1, at + buffer.duration - edge);
        gain.gain.linearRampToValueAtTime(0, at + buffer.duration);
      }
      source.connect(gain).connect(context.destination);
      source.start(at);
      this.schedule.push({ start: at, end: at + buffer.duration });
      // The chime gets a pause after it; the words cross-fade into each other.
      at += isChime ? buffer.duration + 0.25 : buffer.duration - edge;
      last = source;
    }
    const total = at - context.currentTime;
    await new Promise((resolve) => {
      last.onended = resolve;
      // Safety net: "ended" is not fired if the context is closed or suspended mid-call.
      setTimeout(resolve, (total + 2) * 1000);
    });
  }

  // Waits until the AudioContext may play (autoplay policy), without losing the call.
  #running() {
    const context = this.#context;
    if (context.state === "running") return Promise.resolve();
    return new Promise((resolve) => {
      const check = () => {
        if (context.state === "running") {
          context.removeEventListener("statechange", check);
          resolve();
        }
      };
      context.addEventListener("statechange", check);
      context.resume().catch(() => {}); // allowed without a gesture in kiosk mode
    });
  }

  #buffer(name) {
    if (!this.#context) return Promise.resolve(null);
    if (!this.#buffers.has(name)) {
      const url = this.baseUrl + encodeURIComponent(name) + ".wav";
      // A clip that does not come in time is skipped like a missing one (the call goes on).
      const loading = fetch(url, { signal: AbortSignal.timeout(TIMEOUT_MS) })
        .then((response) => {
          if (!response.ok) throw new Error(`HTTP ${response.status}`);
          return response.arrayBuffer();
        })
        .then((bytes) => this.#context.decodeAudioData(bytes))
        .catch((error) => {
          console.warn(`announcer: skipping clip ${name} (${url}): ${error.message || error}`);
          this.#buffers.delete(name); // try again next time, the file may have been added
          return null;
        });
      this.#buffers.set(name, loading);
    }
    return this.#buffers.get(name);
  }

  #emit(type, detail) {
    this.dispatchEvent(new CustomEvent(type, { detail }));
    if (typeof window !== "undefined" && /** @type {EventTarget} */ (window) !== this) {
      window.dispatchEvent(new CustomEvent(type, { detail }));
    }
  }
}

/**
 * The voice to use for webspeech: local (works offline) and Vietnamese, preferring `name`.
 * Chrome lists its voices only after "voiceschanged", so wait for it briefly.
 */
export async function findLocalVietnameseVoice(name = null) {
  if (typeof speechSynthesis === "undefined") return null;
  let voices = speechSynthesis.getVoices();
  if (voices.length === 0) {
    await new Promise((resolve) => {
      speechSynthesis.addEventListener("voiceschanged", resolve, { once: true });
      setTimeout(resolve, 1000);
    });
    voices = speechSynthesis.getVoices();
  }
  const local = voices.filter(
    (voice) => voice.localService && voice.lang.toLowerCase().replace("_", "-").startsWith("vi"),
  );
  return local.find((voice) => voice.name === name) || local[0] || null;
}

function speak(sentence, voice) {
  return new Promise((resolve) => {
    const utterance = new SpeechSynthesisUtterance(sentence);
    utterance.voice = voice;
    utterance.lang = voice.lang;
    utterance.rate = 0.9; // a little slower: many listeners are elderly
    const timer = setTimeout(done, SPEECH_TIMEOUT_MS);
    function done() {
      clearTimeout(timer);
      resolve();
    }
    utterance.onend = done;
    utterance.onerror = (event) => {
      console.warn("announcer: speech failed", event.error);
      done();
    };
    speechSynthesis.speak(utterance);
  });
}
