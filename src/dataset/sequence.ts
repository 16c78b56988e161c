/**
 * The paper's per-packet input series for the LSTM models (001, section "Preprocessing"), from a flow's SPLT
 * columns taken with `--splt 2048` (signed lengths in bytes, inter-arrival times in ns).
 *
 * Per packet t: < sqrt(delay_t), s_t, sqrt(p_t) > where
 * - s_t = +1 client to server, -1 server to client (0 for padding);
 * - p_t = min(length, SIZE_THRESHOLD) / SIZE_THRESHOLD, a linear map of sizes up to 2048 bytes into (0, 1];
 * - delay_t = min(iat, DELAY_THRESHOLD) / DELAY_THRESHOLD. The paper maps delays "using a threshold" without
 *   giving it; we use 1 s, the silence that splits bursts for labeling (`--burst-gap`), so every gap inside a
 *   burst keeps its resolution and longer ones saturate at 1.
 * The square roots spread the many small values, as the paper argues.
 *
 * Every stream is clipped or zero-padded to SERIES_PACKETS (2048) packets and pooled with an exponential step into
 * SERIES_STEPS (128) steps: packets 0-31 one step each, then 16 steps over each of the next 32, 64, 128, 256, 512
 * and 1024 packets (pool widths 2, 4, 8, 16, 32, 64). A pooled step holds the max and the mean of its packets' 3
 * features (6 inputs); an unpooled step holds the packet and the previous packet (zeros before the first), so every
 * step has 6 inputs.
 */

export const SIZE_THRESHOLD = 2048;
export const DELAY_THRESHOLD_NS = 1e9;
export const SERIES_PACKETS = 2048;
export const SERIES_STEPS = 128;
export const STEP_INPUTS = 6;
/** Unpooled head, then (packets, width) for each pooled band of 16 steps. */
export const HEAD_PACKETS = 32;
export const BANDS: ReadonlyArray<readonly [number, number]> = [
  [32, 2],
  [64, 4],
  [128, 8],
  [256, 16],
  [512, 32],
  [1024, 64],
];

/** The 3 features of each of the 2048 packets, zero-padded. */
export function packetFeatures(signedLens: ArrayLike<number>, iatsNs: ArrayLike<number>): Float32Array {
  const out = new Float32Array(SERIES_PACKETS * 3);
  const n = Math.min(signedLens.length, iatsNs.length, SERIES_PACKETS);
  for (let t = 0; t < n; t++) {
    const len = signedLens[t];
    const size = Math.min(Math.abs(len), SIZE_THRESHOLD) / SIZE_THRESHOLD;
    const delay = Math.min(Math.max(iatsNs[t], 0), DELAY_THRESHOLD_NS) / DELAY_THRESHOLD_NS;
    out[3 * t] = Math.sqrt(delay);
    out[3 * t + 1] = len >= 0 ? 1 : -1;
    out[3 * t + 2] = Math.sqrt(size);
  }
  return out;
}

/** 128 steps x 6 inputs, row-major, from the per-packet features. */
export function pooledSeries(features: Float32Array): Float32Array {
  const out = new Float32Array(SERIES_STEPS * STEP_INPUTS);
  for (let t = 0; t < HEAD_PACKETS; t++) {
    for (let f = 0; f < 3; f++) {
      out[t * 6 + f] = features[t * 3 + f];
      out[t * 6 + 3 + f] = t > 0 ? features[(t - 1) * 3 + f] : 0;
    }
  }
  let step = HEAD_PACKETS;
  let packet = HEAD_PACKETS;
  for (const [count, width] of BANDS) {
    for (let k = 0; k < count / width; k++, step++) {
      for (let f = 0; f < 3; f++) {
        let mx = -Infinity;
        let sum = 0;
        for (let j = 0; j < width; j++) {
          const v = features[(packet + k * width + j) * 3 + f];
          if (v > mx) mx = v;
          sum += v;
        }
        out[step * 6 + f] = mx;
        out[step * 6 + 3 + f] = sum / width;
      }
    }
    packet += count;
  }
  return out;
}

export function paperSeries(signedLens: ArrayLike<number>, iatsNs: ArrayLike<number>): Float32Array {
  return pooledSeries(packetFeatures(signedLens, iatsNs));
}
