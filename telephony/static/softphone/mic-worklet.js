// Microphone capture in the audio thread: resample to 8 kHz, encode μ-law, post 20 ms frames
// (160 bytes) to the page, plus a level reading every 100 ms for the meter.
import { encodeSample } from "./g711.js";
import { StreamResampler } from "./resampler.js";

const FRAME_BYTES = 160;
const LEVEL_EVERY = 800; // samples at 8 kHz = 100 ms

class MulawCapture extends AudioWorkletProcessor {
  constructor() {
    super();
    this.resampler = new StreamResampler(sampleRate, 8000);
    this.frame = new Uint8Array(FRAME_BYTES);
    this.fill = 0;
    this.sumSquares = 0;
    this.counted = 0;
  }

  process(inputs) {
    const channel = inputs[0] && inputs[0][0];
    if (!channel) return true;
    const samples = this.resampler.process(channel);
    for (let i = 0; i < samples.length; i++) {
      const s = samples[i];
      this.sumSquares += s * s;
      if (++this.counted === LEVEL_EVERY) {
        this.port.postMessage({ level: Math.sqrt(this.sumSquares / this.counted) });
        this.sumSquares = 0;
        this.counted = 0;
      }
      this.frame[this.fill++] = encodeSample(s);
      if (this.fill === FRAME_BYTES) {
        const full = this.frame;
        this.port.postMessage({ frame: full.buffer }, [full.buffer]);
        this.frame = new Uint8Array(FRAME_BYTES);
        this.fill = 0;
      }
    }
    return true;
  }
}

registerProcessor("mulaw-capture", MulawCapture);
