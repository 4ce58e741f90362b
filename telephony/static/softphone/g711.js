// G.711 μ-law, bit-for-bit the codec in telephony/audio.py (the 8 kHz audio Twilio carries).

const BIAS = 0x84;
const CLIP = 32635;

const DECODE = new Float32Array(256);
for (let c = 0; c < 256; c++) {
  const code = ~c & 0xff;
  const exponent = (code >> 4) & 0x07;
  const magnitude = ((((code & 0x0f) << 3) + BIAS) << exponent) - BIAS;
  DECODE[c] = ((code & 0x80) ? -magnitude : magnitude) / 32768;
}

/** One int16 sample to a μ-law byte. */
export function encodeInt16(pcm) {
  // audio.py keeps 14 bits (sample >> 2) before encoding; do the same so both sides agree exactly.
  const q = (pcm >> 2) << 2;
  const sign = q < 0 ? 0x80 : 0;
  const magnitude = Math.min(Math.abs(q), CLIP) + BIAS;
  const exponent = Math.max(0, Math.min(7, 31 - Math.clz32(magnitude) - 7));
  const mantissa = (magnitude >> (exponent + 3)) & 0x0f;
  return ~(sign | (exponent << 4) | mantissa) & 0xff;
}

/** One float sample in [-1, 1] to a μ-law byte. */
export function encodeSample(value) {
  return encodeInt16(Math.round(Math.max(-1, Math.min(1, value)) * 32767));
}

/** Float samples to μ-law bytes. */
export function mulawEncode(samples) {
  const out = new Uint8Array(samples.length);
  for (let i = 0; i < samples.length; i++) out[i] = encodeSample(samples[i]);
  return out;
}

/** μ-law bytes to float samples in [-1, 1]. */
export function mulawDecode(bytes) {
  const out = new Float32Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) out[i] = DECODE[bytes[i]];
  return out;
}
