// The softphone page: start a call, stream the microphone, play the agent, show the transcript.
import { Player } from "./player.js";
import { TwilioStreamAdapter } from "./twilio-adapter.js";

const POLL_MS = 500;
const FINAL_POLL_GRACE_MS = 15000; // after the stream closes, keep polling this long for the end reason
const LIVE_DETAIL = "Talk now: the agent hears your microphone.";
const CLOSE_REASONS = {
  4401: "the stream token was refused",
  4404: "the server does not know this call",
  4409: "the call had already ended",
  4500: "the server failed",
};

const root = document.getElementById("softphone");
const $ = (id) => document.getElementById(id);
const form = $("call-form");
let call = null;

function setStatus(kind, text, detail = "") {
  $("status-dot").className = `dot ${kind}`;
  $("status-text").textContent = text;
  $("status-detail").textContent = detail;
  root.dataset.status = kind;
}

function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = !text;
}

function humanize(code) {
  return (code || "").replace(/[_-]+/g, " ");
}

function endpoint(template, sid) {
  return template.replace("SID", encodeURIComponent(sid));
}

function updateModeFields() {
  const mode = $("mode").value;
  for (const el of document.querySelectorAll(".for-funnel")) el.classList.toggle("is-hidden", mode !== "funnel");
  for (const el of document.querySelectorAll(".for-scripted")) el.classList.toggle("is-hidden", mode !== "scripted");
  for (const el of document.querySelectorAll(".for-interactive")) {
    el.classList.toggle("is-hidden", mode !== "interactive");
  }
}

function setFormEnabled(enabled) {
  for (const el of form.querySelectorAll("select, input, textarea")) el.disabled = !enabled;
  $("call-button").disabled = !enabled;
}

function callFields() {
  const mode = $("mode").value;
  const body = { mode, direction: $("direction").value, display_name: $("display-name").value };
  if (mode === "funnel") body.script_id = $("script").value;
  if (mode === "scripted") body.message = $("message").value;
  if (mode === "interactive") {
    body.greeting = $("greeting").value;
    body.objective = $("objective").value;
  }
  return body;
}

function describeError(body, status) {
  if (body && body.fields) {
    return Object.entries(body.fields).map(([field, why]) => `${humanize(field)} ${why}`).join("; ");
  }
  return (body && body.error) || `the server answered ${status}`;
}

async function postJson(url, body) {
  const response = await fetch(url, {
    method: "POST",
    credentials: "same-origin",
    headers: { "Content-Type": "application/json", "X-CSRFToken": root.dataset.csrfToken },
    body: JSON.stringify(body || {}),
  });
  const data = await response.json().catch(() => ({}));
  if (!response.ok) throw new Error(describeError(data, response.status));
  return data;
}

function streamUrl(url) {
  // Behind a TLS proxy the server may see plain HTTP; a secure page can only open wss://.
  return location.protocol === "https:" ? url.replace(/^ws:/, "wss:") : url;
}

async function openMicrophone() {
  const ctx = new AudioContext({ latencyHint: "interactive" });
  try {
    await ctx.resume();
    const stream = await navigator.mediaDevices.getUserMedia({
      audio: { echoCancellation: true, noiseSuppression: true, autoGainControl: true, channelCount: 1 },
    });
    await ctx.audioWorklet.addModule(root.dataset.workletUrl);
    return { ctx, stream };
  } catch (err) {
    ctx.close();
    throw err;
  }
}

async function startCall(event) {
  event.preventDefault();
  if (call) return;
  showError("");
  if (!window.isSecureContext || !navigator.mediaDevices) {
    setStatus("failed", "Cannot call", "The microphone needs HTTPS (or localhost).");
    return;
  }
  setFormEnabled(false);
  setStatus("connecting", "Starting…", "Asking for the microphone");
  let media;
  try {
    media = await openMicrophone();
  } catch (err) {
    setStatus("failed", "Cannot call", `Microphone unavailable: ${err.message || err.name}`);
    setFormEnabled(true);
    return;
  }
  setStatus("connecting", "Connecting…", "Creating the call");
  let created;
  try {
    created = await postJson(root.dataset.createUrl, callFields());
  } catch (err) {
    media.stream.getTracks().forEach((track) => track.stop());
    media.ctx.close();
    setStatus("failed", "Call not started", err.message);
    setFormEnabled(true);
    return;
  }
  beginStream(media, created);
}

function beginStream({ ctx, stream }, created) {
  const player = new Player(ctx, ctx.destination);
  const source = ctx.createMediaStreamSource(stream);
  const capture = new AudioWorkletNode(ctx, "mulaw-capture", {
    numberOfInputs: 1,
    numberOfOutputs: 1,
    channelCount: 1,
    channelCountMode: "explicit",
  });
  // The worklet must be pulled by the graph to run; a muted sink keeps it out of the speakers.
  const sink = ctx.createGain();
  sink.gain.value = 0;
  source.connect(capture);
  capture.connect(sink);
  sink.connect(ctx.destination);

  call = {
    sid: created.call_sid,
    ctx,
    stream,
    source,
    capture,
    player,
    answeredAt: null,
    closedAt: null,
    final: false,
    lastTranscript: "",
  };
  call.adapter = new TwilioStreamAdapter({
    url: streamUrl(created.stream_url),
    start: created.start,
    player,
    onEvent: (name, detail) => onStreamEvent(call, name, detail),
  });
  capture.port.onmessage = (message) => {
    if (message.data.frame) call.adapter.sendFrame(new Uint8Array(message.data.frame));
    else if (message.data.level !== undefined) showLevel(message.data.level);
  };
  root.dataset.callSid = call.sid;
  $("call-sid").textContent = call.sid;
  $("state-badge").textContent = "—";
  renderTranscript(call, []);
  call.ticker = setInterval(() => tick(call), 100);
  call.poller = setInterval(() => poll(call), POLL_MS);
  setStatus("connecting", "Connecting…", "Opening the media stream");
  call.adapter.open();
}

function onStreamEvent(current, name, detail) {
  if (current !== call) return;
  if (name === "started") {
    current.answeredAt = performance.now();
    $("hangup-button").disabled = false;
    $("mute-button").disabled = false;
    setStatus("live", "In call", LIVE_DETAIL);
  } else if (name === "cleared") {
    $("status-detail").textContent = "You interrupted the agent.";
    clearTimeout(current.clearedNote);
    current.clearedNote = setTimeout(() => {
      if (call === current && !current.closedAt) $("status-detail").textContent = LIVE_DETAIL;
    }, 2500);
  } else if (name === "closed") {
    streamClosed(current, detail);
  }
}

function stopMicrophone(current) {
  current.stream.getTracks().forEach((track) => track.stop());
  current.source.disconnect();
  current.capture.port.onmessage = null;
  current.capture.disconnect();
  showLevel(0);
}

async function streamClosed(current, detail) {
  if (current.closedAt) return;
  current.closedAt = performance.now();
  stopMicrophone(current);
  $("hangup-button").disabled = true;
  $("mute-button").disabled = true;
  const refused = CLOSE_REASONS[detail.code];
  if (refused) {
    setStatus("failed", "Call failed", `The stream closed: ${refused}.`);
  } else if (!current.answeredAt && detail.byUs) {
    setStatus("ended", "Ended", "You hung up before the call connected.");
  } else if (!current.answeredAt) {
    setStatus("failed", "Call failed", "Could not open the media stream.");
  } else {
    setStatus("ended", "Ended", detail.byUs ? "You hung up." : "The agent ended the call.");
  }
  try {
    // The browser is the phone network here: it reports the end as Twilio's status callback would.
    const data = await postJson(endpoint(root.dataset.endUrl, current.sid), {});
    showCall(current, data.call);
  } catch (err) {
    showError(`Could not report the end of the call: ${err.message}`);
  }
  poll(current);
}

function finish(current) {
  if (current.final) return;
  current.final = true;
  clearInterval(current.poller);
  clearInterval(current.ticker);
  current.player.close();
  // Let the agent's last words play out before the audio context goes away.
  const remaining = Math.max(0, current.player.endTime - current.ctx.currentTime);
  setTimeout(() => current.ctx.close(), remaining * 1000 + 200);
  $("speaking").classList.remove("on");
  if (call === current) call = null;
  setFormEnabled(true);
  $("mute-button").setAttribute("aria-pressed", "false");
  $("mute-button").textContent = "Mute";
}

function hangUp() {
  if (!call || call.closedAt) return;
  call.player.clear();
  setStatus("connecting", "Hanging up…", "");
  call.adapter.hangUp();
}

function toggleMute() {
  if (!call) return;
  call.adapter.muted = !call.adapter.muted;
  $("mute-button").setAttribute("aria-pressed", String(call.adapter.muted));
  $("mute-button").textContent = call.adapter.muted ? "Unmute" : "Mute";
}

function showLevel(level) {
  // Speech sits around 0.02–0.3 RMS; a square root spreads that across the bar.
  $("meter-fill").style.width = `${Math.min(100, Math.sqrt(level) * 180)}%`;
}

function tick(current) {
  $("speaking").classList.toggle("on", !current.closedAt && current.player.speaking);
  const sent = current.adapter.sentFrames * 0.02;
  const heard = current.player.receivedSeconds;
  $("audio-stats").textContent = `mic ${sent.toFixed(1)} s sent · agent ${heard.toFixed(1)} s received`;
  Object.assign(root.dataset, {
    framesSent: current.adapter.sentFrames,
    agentSeconds: heard.toFixed(2),
    marksEchoed: current.adapter.marksEchoed,
  });
  if (current.answeredAt) {
    const end = current.closedAt || performance.now();
    const seconds = Math.floor((end - current.answeredAt) / 1000);
    $("call-timer").textContent = `${Math.floor(seconds / 60)}:${String(seconds % 60).padStart(2, "0")}`;
  }
}

async function poll(current) {
  if (current.polling || current.final) return;
  current.polling = true;
  try {
    const response = await fetch(endpoint(root.dataset.transcriptUrl, current.sid), { credentials: "same-origin" });
    if (!response.ok) return;
    const data = await response.json();
    renderTranscript(current, data.messages);
    showCall(current, data.call);
    const settled = data.call.is_terminal && current.closedAt;
    const givenUp = current.closedAt && performance.now() - current.closedAt > FINAL_POLL_GRACE_MS;
    if (settled || givenUp) finish(current);
  } catch (_) {
    // A missed poll is retried on the next tick.
  } finally {
    current.polling = false;
  }
}

function showCall(current, info) {
  if (!info) return;
  const badge = $("state-badge");
  badge.textContent = info.funnel_state || info.mode;
  badge.className = `badge ${info.funnel_state || ""}`;
  root.dataset.callStatus = info.status;
  if (current.closedAt && info.is_terminal && root.dataset.status !== "failed") {
    const reason = info.end_reason ? humanize(info.end_reason) : "hung up";
    const length = info.duration_seconds !== null ? ` · ${info.duration_seconds} s` : "";
    setStatus("ended", "Ended", `${reason} (${info.status})${length}`);
    root.dataset.endReason = info.end_reason;
  }
}

function timings(message) {
  const parts = [
    ["STT", message.stt_ms],
    ["LLM", message.llm_ms],
    ["TTS 1st byte", message.tts_first_byte_ms],
    ["turn", message.turn_ms],
  ];
  return parts
    .filter(([, ms]) => ms !== null && ms !== undefined)
    .map(([label, ms]) => `${label} ${ms} ms`)
    .join(" · ");
}

function cell(text, className) {
  const td = document.createElement("td");
  if (className) td.className = className;
  td.textContent = text;
  return td;
}

function renderTranscript(current, messages) {
  const key = JSON.stringify(messages);
  if (key === current.lastTranscript) return;
  current.lastTranscript = key;
  const body = $("transcript-body");
  const turns = messages.filter((m) => m.role === "user" || m.role === "assistant");
  if (!turns.length) {
    const row = document.createElement("tr");
    row.className = "empty";
    const td = cell("No turns yet.");
    td.colSpan = 6;
    row.append(td);
    body.replaceChildren(row);
    return;
  }
  const t0 = Date.parse(turns[0].created_at);
  body.replaceChildren(
    ...turns.map((m) => {
      const row = document.createElement("tr");
      row.className = m.role;
      row.dataset.seq = m.seq;
      const said = cell(m.text, "said");
      if (!m.text && m.role === "assistant") {
        const none = document.createElement("span");
        none.className = "unheard";
        none.textContent = "(cut off before a word was heard)";
        said.append(none);
      }
      if (m.interrupted) {
        const tag = document.createElement("span");
        tag.className = "tag";
        tag.textContent = "interrupted";
        said.append(tag);
      }
      row.append(
        cell(`+${((Date.parse(m.created_at) - t0) / 1000).toFixed(1)} s`, "at"),
        cell(m.role === "user" ? "Caller" : "Agent", "who"),
        said,
        cell(humanize(m.intent), "intent"),
        cell(m.funnel_state, "state"),
        cell(timings(m), "timings"),
      );
      return row;
    }),
  );
}

window.addEventListener("pagehide", () => {
  if (!call || call.closedAt) return;
  call.adapter.hangUp();
  const data = new FormData();
  data.append("csrfmiddlewaretoken", root.dataset.csrfToken);
  navigator.sendBeacon(endpoint(root.dataset.endUrl, call.sid), data);
});

form.addEventListener("submit", startCall);
$("mode").addEventListener("change", updateModeFields);
$("hangup-button").addEventListener("click", hangUp);
$("mute-button").addEventListener("click", toggleMute);
updateModeFields();
