// @ts-nocheck (DOM helpers written loosely, like the other admin screens)
// The voice screen (/admin/voice): record the office's own voice clip by clip, hear a whole
// sample call with the current clips, export and import a voice pack (docs/voice.md).
//
// Recording: MediaRecorder (getUserMedia) records a take in the browser's own format
// (WebM/Opus in Chrome and Edge); the browser decodes it (decodeAudioData, resampled to
// 22 050 Hz) and sends it as a mono 16-bit PCM WAV, so the server needs no audio decoder.
// The server trims the silence, levels the loudness and saves it (POST /api/voice/clips/{name}).
// Playback uses the hall display's own Announcer, so a sample call sounds as in the hall.

import { $, bindLogin, el, showError, toast } from "./admin-common.js";
import { Announcer } from "./announcer.js";
import { fetchJSON } from "./http.js";
import { errorText, initI18n, languageToggle, localName, onLangChange, t } from "./i18n.js";

const RATE = 22050;
const UPLOAD_TIMEOUT_MS = 60000;
const state = { info: null, take: null, busy: null };
const clipPlayer = new Announcer({ voice: "clips", chime: false });
const callPlayer = new Announcer({ voice: "clips", chime: true });
window.motcua = { clipPlayer, callPlayer, state };

async function call(path, { method = "GET", body, timeout } = {}) {
  const init = { method, cache: "no-store" };
  if (method !== "GET") {
    init.headers = { "Content-Type": "application/json" };
    init.body = JSON.stringify(body ?? {});
  }
  const answer = await fetchJSON(path, init, timeout);
  if (!answer.ok) throw Object.assign(new Error(errorText(answer.body)), { status: answer.status });
  return answer.body;
}

function canRecord() {
  return Boolean(navigator.mediaDevices && navigator.mediaDevices.getUserMedia && window.MediaRecorder);
}

// ---------------------------------------------------------------- sign-in

async function start() {
  let me = null;
  try {
    me = await call("/api/me");
  } catch {
    me = null;
  }
  $("#login").hidden = !!me;
  $("#forbidden").hidden = !me || me.role === "admin";
  $("#app").hidden = !me || me.role !== "admin";
  $("#who").textContent = me ? me.display_name || me.user : "";
  if (!me) {
    $("#login-username").focus();
    return;
  }
  if (me.role !== "admin") return;
  await load();
  $("#sample-label").value = state.info.sample.label;
  $("#sample-counter").value = state.info.sample.counter;
}

bindLogin(start, call);

// ---------------------------------------------------------------- the list of clips

async function load() {
  state.info = await call("/api/voice/clips");
  render();
}

function voiceText(clip) {
  if (clip.own) return t("voice.own", { s: (clip.own_seconds ?? 0).toLocaleString(document.documentElement.lang) });
  return clip.bundled ? t("voice.bundled") : t("voice.missing");
}

function render() {
  if (!state.info) return;
  $("#office-name").textContent = localName(state.info.office);
  const mic = canRecord();
  $("#mic-off").hidden = mic;
  $("#mic-off").textContent = mic ? "" : t("voice.mic_insecure", { url: `http://localhost:${location.port || 80}/admin/voice` });
  const words = state.info.clips.filter((c) => c.name !== "chime");
  $("#progress").textContent = t("voice.progress", { n: words.filter((c) => c.own).length, total: words.length });
  $("#clips tbody").replaceChildren(...state.info.clips.map((clip) => row(clip, mic)));
}

function row(clip, mic) {
  const recording = state.take && state.take.name === clip.name;
  const busy = state.busy === clip.name;
  const isChime = clip.name === "chime";
  const pill = clip.own ? "ok" : clip.bundled ? "" : "bad";
  return el(
    "tr",
    { dataset: { clip: clip.name }, class: recording ? "recording" : "" },
    el("td", { class: "says" }, isChime ? t("voice.chime") : clip.says),
    el("td", {}, el("code", {}, `${clip.name}.wav`)),
    el("td", {}, el("span", { class: `pill ${pill}`, "data-testid": "voice-status" }, voiceText(clip))),
    el(
      "td",
      { class: "actions-cell" },
      recording ? el("meter", { min: 0, max: 1, value: 0, "data-testid": "voice-meter", title: t("voice.meter") }) : null,
      el("button", { type: "button", class: "small", "data-action": "play", disabled: !clip.own && !clip.bundled }, t("voice.play")),
      isChime
        ? el("span", { class: "muted" }, t("voice.chime_note"))
        : el(
            "button",
            {
              type: "button",
              class: recording ? "small stop" : "small record",
              "data-action": recording ? "stop" : "record",
              disabled: !mic || busy || (state.take && !recording),
            },
            recording ? t("voice.stop", { s: state.take.elapsed }) : busy ? t("voice.saving") : t("voice.record"),
          ),
      clip.own && !isChime
        ? el("button", { type: "button", class: "small danger", "data-action": "remove", disabled: busy || recording }, t("voice.remove"))
        : null,
    ),
  );
}

$("#clips").addEventListener("click", async (event) => {
  const button = event.target.closest("button[data-action]");
  if (!button) return;
  const name = button.closest("tr").dataset.clip;
  const action = button.dataset.action;
  if (action === "play") {
    clipPlayer.forget([name]);
    await clipPlayer.unlock();
    clipPlayer.announce({ label: name, counter: 0, clips: [name] });
  } else if (action === "record") {
    await record(name);
  } else if (action === "stop") {
    state.take?.recorder.stop();
  } else if (action === "remove") {
    await remove(name);
  }
});

function focusAction(name, action) {
  const button = document.querySelector(`#clips tr[data-clip="${CSS.escape(name)}"] button[data-action="${action}"]`);
  button?.focus();
}

// ---------------------------------------------------------------- recording

async function record(name) {
  if (state.take) return;
  let stream;
  try {
    stream = await navigator.mediaDevices.getUserMedia({
      audio: { channelCount: 1, echoCancellation: false, autoGainControl: false, noiseSuppression: true },
    });
  } catch (error) {
    toast(error && error.name === "NotFoundError" ? t("voice.mic_none") : t("voice.mic_denied"), true);
    return;
  }
  let recorder;
  try {
    recorder = new MediaRecorder(stream);
  } catch {
    for (const track of stream.getTracks()) track.stop();
    toast(t("voice.take_failed"), true);
    return;
  }
  const chunks = [];
  const take = { name, recorder, elapsed: 0, timer: null };
  recorder.addEventListener("dataavailable", (e) => e.data.size && chunks.push(e.data));
  recorder.addEventListener("stop", async () => {
    clearInterval(take.timer);
    take.meter?.close().catch(() => {});
    for (const track of stream.getTracks()) track.stop();
    state.take = null;
    state.busy = name;
    render();
    try {
      const blob = new Blob(chunks, { type: recorder.mimeType });
      const wav = await toWav(await blob.arrayBuffer()).catch(() => {
        throw new Error(t("voice.take_failed"));
      });
      const saved = await call(`/api/voice/clips/${encodeURIComponent(name)}`, {
        method: "POST",
        body: { wav: base64(wav) },
        timeout: UPLOAD_TIMEOUT_MS,
      });
      Object.assign(state.info.clips.find((c) => c.name === name), saved);
      toast(t("voice.saved", { name }));
      state.busy = null;
      render();
      clipPlayer.forget([name]);
      clipPlayer.announce({ label: name, counter: 0, clips: [name] });
      focusNext(name);
    } catch (error) {
      state.busy = null;
      render();
      toast(error.message || String(error), true);
      focusAction(name, "record");
    }
  });
  state.take = take;
  recorder.start();
  showLevel(take, stream);
  // The server refuses takes longer than max_seconds: stop a little before.
  const limit = Math.max(1, state.info.max_seconds - 1);
  take.timer = setInterval(() => {
    take.elapsed += 1;
    if (take.elapsed >= limit && recorder.state === "recording") recorder.stop();
    const button = document.querySelector(`#clips tr[data-clip="${CSS.escape(name)}"] button[data-action="stop"]`);
    if (button) button.textContent = t("voice.stop", { s: take.elapsed });
  }, 1000);
  render();
  focusAction(name, "stop");
}

/** The microphone's level while a take records (the row's meter): is anything heard? */
function showLevel(take, stream) {
  try {
    take.meter = new AudioContext();
  } catch {
    return; // no meter, the take still records
  }
  const analyser = take.meter.createAnalyser();
  analyser.fftSize = 2048;
  take.meter.createMediaStreamSource(stream).connect(analyser);
  const samples = new Float32Array(analyser.fftSize);
  const tick = () => {
    if (state.take !== take) return;
    analyser.getFloatTimeDomainData(samples);
    const peak = samples.reduce((top, v) => Math.max(top, Math.abs(v)), 0);
    const meter = document.querySelector(`#clips tr[data-clip="${CSS.escape(take.name)}"] meter`);
    if (meter) meter.value = peak;
    requestAnimationFrame(tick);
  };
  tick();
}

/** After a save, the next clip's Record button: Enter, speak, Enter, and so on down the list. */
function focusNext(name) {
  const names = state.info.clips.filter((c) => c.name !== "chime").map((c) => c.name);
  const next = names[names.indexOf(name) + 1];
  focusAction(next || name, "record");
}

/** A recorded take (any format the browser can decode) as mono 16-bit PCM WAV at RATE. */
async function toWav(bytes) {
  const decoder = new OfflineAudioContext(1, 1, RATE); // decodeAudioData resamples to RATE
  const audio = await decoder.decodeAudioData(bytes);
  const mono = new Float32Array(audio.length);
  for (let c = 0; c < audio.numberOfChannels; c += 1) {
    const data = audio.getChannelData(c);
    for (let i = 0; i < data.length; i += 1) mono[i] += data[i] / audio.numberOfChannels;
  }
  return encodeWav(mono, audio.sampleRate);
}

function encodeWav(samples, rate) {
  const out = new DataView(new ArrayBuffer(44 + samples.length * 2));
  const text = (at, s) => [...s].forEach((ch, i) => out.setUint8(at + i, ch.charCodeAt(0)));
  text(0, "RIFF");
  out.setUint32(4, 36 + samples.length * 2, true);
  text(8, "WAVE");
  text(12, "fmt ");
  out.setUint32(16, 16, true);
  out.setUint16(20, 1, true); // PCM
  out.setUint16(22, 1, true); // mono
  out.setUint32(24, rate, true);
  out.setUint32(28, rate * 2, true);
  out.setUint16(32, 2, true);
  out.setUint16(34, 16, true);
  text(36, "data");
  out.setUint32(40, samples.length * 2, true);
  samples.forEach((s, i) => out.setInt16(44 + i * 2, Math.max(-32768, Math.min(32767, Math.round(s * 32767))), true));
  return out.buffer;
}

function base64(buffer) {
  const bytes = new Uint8Array(buffer);
  let binary = "";
  for (let i = 0; i < bytes.length; i += 0x8000) binary += String.fromCharCode(...bytes.subarray(i, i + 0x8000));
  return btoa(binary);
}

async function remove(name) {
  try {
    const saved = await call(`/api/voice/clips/${encodeURIComponent(name)}`, { method: "DELETE" });
    Object.assign(state.info.clips.find((c) => c.name === name), saved);
    clipPlayer.forget([name]);
    toast(t("voice.removed", { name }));
    render();
  } catch (error) {
    toast(error.message || String(error), true);
  }
}

// ---------------------------------------------------------------- sample call

$("#sample-form").addEventListener("submit", async (event) => {
  event.preventDefault();
  showError($("#sample-error"), null);
  const query = new URLSearchParams({
    label: $("#sample-label").value.trim(),
    counter: $("#sample-counter").value.trim(),
    recall: $("#sample-recall").checked ? "true" : "false",
  });
  try {
    const said = await call(`/api/voice/sample?${query}`);
    $("#sample-sentence").textContent = `“${said.sentence}”`;
    callPlayer.forget();
    await callPlayer.unlock();
    await callPlayer.announce(said);
  } catch (error) {
    showError($("#sample-error"), error);
  }
});

// ---------------------------------------------------------------- voice pack

$("#pack-import").addEventListener("click", async () => {
  const file = $("#pack-file").files[0];
  const box = $("#pack-result");
  if (!file) {
    toast(t("voice.pack_choose"), true);
    return;
  }
  try {
    const result = await call("/api/voice/pack", {
      method: "POST",
      body: { pack: base64(await file.arrayBuffer()) },
      timeout: UPLOAD_TIMEOUT_MS,
    });
    const skipped = Object.entries(result.skipped).map(([name, why]) => `${name} (${why})`);
    box.textContent = t("voice.pack_done", { n: result.imported.length, names: result.imported.join(", ") || "—" })
      + (skipped.length ? ` ${t("voice.pack_skipped", { names: skipped.join(", ") })}` : "");
    box.className = "";
    clipPlayer.forget();
    callPlayer.forget();
    await load();
  } catch (error) {
    box.textContent = error.message || String(error);
    box.className = "error";
  }
  box.hidden = false;
});

await initI18n();
languageToggle($("#lang"));
onLangChange(render);
start();
