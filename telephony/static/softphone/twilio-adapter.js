// Plays Twilio's part of a Media Stream for the browser: the same JSON messages Twilio sends
// (`connected`, `start` with customParameters, `media`, `mark` echoes, `stop`), and the handling of
// what the server sends back (`media` to the player, `mark` after playback, `clear` flushes).

function randomHex(bytes) {
  const values = crypto.getRandomValues(new Uint8Array(bytes));
  return Array.from(values, (v) => v.toString(16).padStart(2, "0")).join("");
}

function toBase64(bytes) {
  let text = "";
  for (let i = 0; i < bytes.length; i++) text += String.fromCharCode(bytes[i]);
  return btoa(text);
}

function fromBase64(text) {
  const raw = atob(text);
  const out = new Uint8Array(raw.length);
  for (let i = 0; i < raw.length; i++) out[i] = raw.charCodeAt(i);
  return out;
}

const SILENT_FRAME = new Uint8Array(160).fill(0xff);

export class TwilioStreamAdapter {
  /**
   * @param {object} options
   * @param {string} options.url        the /twilio/stream WebSocket URL
   * @param {object} options.start      {callSid, accountSid, customParameters}
   * @param {Player} options.player     plays the agent's audio
   * @param {(event: string, detail?: object) => void} options.onEvent
   */
  constructor({ url, start, player, onEvent }) {
    this.url = url;
    this.startInfo = start;
    this.player = player;
    this.onEvent = onEvent;
    this.streamSid = "MZ" + randomHex(16);
    this.sequence = 0;
    this.chunk = 0;
    this.started = false;
    this.stopped = false;
    this.muted = false;
    this.sentFrames = 0;
    this.marksEchoed = 0;
  }

  open() {
    this.socket = new WebSocket(this.url);
    this.socket.onopen = () => {
      this.send({ event: "connected", protocol: "Call", version: "1.0.0" });
      this.send({
        event: "start",
        sequenceNumber: this.nextSequence(),
        start: {
          accountSid: this.startInfo.accountSid,
          streamSid: this.streamSid,
          callSid: this.startInfo.callSid,
          tracks: ["inbound"],
          mediaFormat: { encoding: "audio/x-mulaw", sampleRate: 8000, channels: 1 },
          customParameters: this.startInfo.customParameters,
        },
        streamSid: this.streamSid,
      });
      this.started = true;
      this.onEvent("started");
    };
    this.socket.onmessage = (message) => this.receive(message.data);
    this.socket.onerror = () => this.onEvent("error");
    this.socket.onclose = (event) => {
      this.started = false;
      this.onEvent("closed", { code: event.code, reason: event.reason, byUs: this.stopped });
    };
  }

  nextSequence() {
    this.sequence += 1;
    return String(this.sequence);
  }

  send(payload) {
    if (this.socket && this.socket.readyState === WebSocket.OPEN) this.socket.send(JSON.stringify(payload));
  }

  /** One 20 ms μ-law frame from the microphone (silence while muted, as a muted phone sends). */
  sendFrame(frame) {
    if (!this.started) return;
    this.chunk += 1;
    this.sentFrames += 1;
    this.send({
      event: "media",
      sequenceNumber: this.nextSequence(),
      media: {
        track: "inbound",
        chunk: String(this.chunk),
        timestamp: String((this.chunk - 1) * 20),
        payload: toBase64(this.muted ? SILENT_FRAME : frame),
      },
      streamSid: this.streamSid,
    });
  }

  receive(data) {
    let message;
    try {
      message = JSON.parse(data);
    } catch (_) {
      return; // Twilio ignores what it cannot parse; so do we
    }
    if (message.event === "media" && message.media && message.media.payload) {
      this.player.enqueue(fromBase64(message.media.payload));
      this.onEvent("agent-audio");
    } else if (message.event === "mark" && message.mark) {
      this.player.mark(message.mark.name, (name) => {
        this.marksEchoed += 1;
        this.send({ event: "mark", sequenceNumber: this.nextSequence(), streamSid: this.streamSid, mark: { name } });
      });
    } else if (message.event === "clear") {
      this.player.clear();
      this.onEvent("cleared");
    }
  }

  /** The caller hangs up: `stop`, then close the socket. */
  hangUp() {
    if (this.stopped) return;
    this.stopped = true;
    this.send({
      event: "stop",
      sequenceNumber: this.nextSequence(),
      streamSid: this.streamSid,
      stop: { accountSid: this.startInfo.accountSid, callSid: this.startInfo.callSid },
    });
    if (this.socket && this.socket.readyState <= WebSocket.OPEN) this.socket.close(1000, "caller hung up");
  }
}
