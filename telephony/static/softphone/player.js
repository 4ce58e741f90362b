// Plays the agent's 8 kHz μ-law audio: decode, resample to the AudioContext rate, schedule the
// buffers back to back. Marks are echoed once the audio queued before them has played; `clear`
// flushes everything queued and echoes pending marks at once, as Twilio does.
import { mulawDecode } from "./g711.js";
import { StreamResampler } from "./resampler.js";

const LEAD_SECONDS = 0.06; // head start after an underrun, so bursty frames still play smoothly

export class Player {
  constructor(ctx, destination) {
    this.ctx = ctx;
    this.destination = destination;
    this.resampler = new StreamResampler(8000, ctx.sampleRate);
    this.sources = new Set();
    this.endTime = 0;
    this.marks = [];
    this.receivedSeconds = 0;
    this.timer = setInterval(() => this.checkMarks(), 20);
  }

  /** Queue one chunk of μ-law audio. */
  enqueue(mulaw) {
    this.receivedSeconds += mulaw.length / 8000;
    this.schedule(this.resampler.process(mulawDecode(mulaw)));
  }

  schedule(samples) {
    if (!samples.length) return;
    const buffer = this.ctx.createBuffer(1, samples.length, this.ctx.sampleRate);
    buffer.copyToChannel(samples, 0);
    const source = this.ctx.createBufferSource();
    source.buffer = buffer;
    source.connect(this.destination);
    const now = this.ctx.currentTime;
    if (this.endTime < now + 0.005) this.endTime = now + LEAD_SECONDS;
    source.start(this.endTime);
    this.endTime += buffer.duration;
    this.sources.add(source);
    source.onended = () => this.sources.delete(source);
  }

  /** Call `played(name)` when everything queued so far has been heard. */
  mark(name, played) {
    this.schedule(this.resampler.flush()); // the tail the resampler held back belongs before the mark
    this.marks.push({ name, at: this.endTime, played });
    this.checkMarks();
  }

  checkMarks() {
    const now = this.ctx.currentTime;
    while (this.marks.length && this.marks[0].at <= now) {
      const mark = this.marks.shift();
      mark.played(mark.name);
    }
  }

  /** Drop everything queued (the caller barged in) and release the pending marks. */
  clear() {
    for (const source of this.sources) {
      try {
        source.stop();
      } catch (_) {
        // already stopped
      }
    }
    this.sources.clear();
    this.endTime = 0;
    this.resampler.reset();
    const pending = this.marks;
    this.marks = [];
    for (const mark of pending) mark.played(mark.name);
  }

  /** True while agent audio is still queued or playing. */
  get speaking() {
    return this.endTime > this.ctx.currentTime;
  }

  close() {
    clearInterval(this.timer);
    this.marks = [];
  }
}
