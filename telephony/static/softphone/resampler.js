// Streaming band-limited resampler (windowed sinc), used both ways: microphone rate -> 8 kHz in
// the capture worklet, 8 kHz -> the AudioContext rate in the player. The low-pass sits a little
// under the lower rate's Nyquist, so downsampling does not alias and upsampling does not image.

const ZERO_CROSSINGS = 12; // per side: enough stop-band for telephone audio at a small cost
const TABLE_STEPS = 64; // kernel table points per input sample (linearly interpolated)

export class StreamResampler {
  constructor(inRate, outRate) {
    this.inRate = inRate;
    this.outRate = outRate;
    this.step = inRate / outRate; // input samples per output sample
    const cutoff = 0.45 * Math.min(inRate, outRate);
    const k = (2 * cutoff) / inRate; // cutoff as a fraction of the input rate's Nyquist
    this.half = Math.ceil(ZERO_CROSSINGS / k); // kernel half-width in input samples
    const points = this.half * TABLE_STEPS + 2;
    this.table = new Float32Array(points);
    for (let i = 0; i < points; i++) {
      const x = i / TABLE_STEPS;
      if (x >= this.half) break;
      const arg = Math.PI * k * x;
      const sinc = x === 0 ? 1 : Math.sin(arg) / arg;
      const r = x / this.half; // Blackman window, centred
      const window = 0.42 + 0.5 * Math.cos(Math.PI * r) + 0.08 * Math.cos(2 * Math.PI * r);
      this.table[i] = k * sinc * window;
    }
    this.reset();
  }

  /** Forget all history (after a `clear`, so stale audio never leaks into the next line). */
  reset() {
    this.buf = new Float32Array(this.half * 4 + 4096);
    this.len = this.half; // `half` zeros of history before the first real sample
    this.pos = this.half; // position of the next output sample, in input samples
  }

  /** Feed input samples, get every output sample they complete. */
  process(input) {
    if (this.len + input.length > this.buf.length) {
      const grown = new Float32Array(Math.max(this.buf.length * 2, this.len + input.length));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
    }
    this.buf.set(input, this.len);
    this.len += input.length;

    const { buf, table, half, step } = this;
    const last = table.length - 1;
    const out = new Float32Array(Math.max(0, Math.ceil((this.len - half - this.pos) / step) + 1));
    let n = 0;
    let pos = this.pos;
    for (;;) {
      const i0 = Math.floor(pos);
      if (i0 + half >= this.len) break;
      const frac = pos - i0;
      let acc = 0;
      for (let j = 1 - half; j <= half; j++) {
        const d = Math.abs(j - frac) * TABLE_STEPS;
        const di = d | 0;
        if (di >= last) continue;
        acc += buf[i0 + j] * (table[di] + (table[di + 1] - table[di]) * (d - di));
      }
      out[n++] = acc;
      pos += step;
    }
    // Drop input no future output sample can reach.
    const keepFrom = Math.floor(pos) - half + 1;
    if (keepFrom > 0) {
      buf.copyWithin(0, keepFrom, this.len);
      this.len -= keepFrom;
      pos -= keepFrom;
    }
    this.pos = pos;
    return out.subarray(0, n);
  }

  /** Push the samples held back for the kernel's look-ahead out (end of a line). */
  flush() {
    return this.process(new Float32Array(this.half + 1));
  }
}
