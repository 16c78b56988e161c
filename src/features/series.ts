import type { DecodedPacket } from '../decode/packet.js';
import type { Direction, Flow, FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';

/**
 * The paper's per-packet input series for the LSTM models (001, section "Preprocessing"): from a flow's SPLT
 * columns taken with `--splt 2048` (signed lengths in bytes, inter-arrival times in ns) by paperSeries(), or as the
 * flow runs by the `series` feature plugin.
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

/** For each of the 2048 packet positions, its step; for each of the 128 steps, its pool width (1 in the head). */
const STEP_OF_PACKET = new Int32Array(SERIES_PACKETS);
const STEP_WIDTH = new Int32Array(SERIES_STEPS);
{
  for (let t = 0; t < HEAD_PACKETS; t++) {
    STEP_OF_PACKET[t] = t;
    STEP_WIDTH[t] = 1;
  }
  let step = HEAD_PACKETS;
  let packet = HEAD_PACKETS;
  for (const [count, width] of BANDS) {
    for (let k = 0; k < count; k++) STEP_OF_PACKET[packet + k] = step + Math.floor(k / width);
    STEP_WIDTH.fill(width, step, step + count / width);
    step += count / width;
    packet += count;
  }
}

class SeriesState {
  /** Per step: max (0..2) and sum (3..5) of the 3 features, then finished into the series at write. */
  readonly acc = new Float32Array(SERIES_STEPS * STEP_INPUTS);
  readonly seen = new Uint8Array(SERIES_STEPS);
  packets = 0;
  lastT = NaN;
  prev0 = 0;
  prev1 = 0;
  prev2 = 0;
}

/**
 * The pooled series of each flow, computed as packets arrive (6 KB of state per flow, not 2048 packets), equal to
 * paperSeries() over the flow's first 2048 packets (test/features/series.test.ts). Packet lengths follow --length;
 * delays are from the previous packet of the flow. Not in the default groups: 768 numbers a record.
 */
export function seriesPlugin(): FlowPlugin<SeriesState> {
  const columns: ColumnDef[] = [
    {
      name: 'series_pooled',
      type: 'float[]',
      unit: '',
      description:
        "The paper's LSTM input: 128 steps x 6 inputs, row-major. Per packet <sqrt(delay), sign, sqrt(size)> (delay clipped at 1 s, size at 2048 bytes, both mapped to [0, 1]); packets 0-31 as they are with the previous packet; then 16 steps each over 32, 64, ..., 1024 packets with the max and the mean of each feature (zero padding to 2048 packets included).",
    },
  ];
  return {
    name: 'series',
    // Measured (docs/memory.md): the step accumulators of 128 steps.
    flowBytes: 3700,
    columns,
    init: () => new SeriesState(),
    update(s: SeriesState, _flow: Flow, p: DecodedPacket, dir: Direction, len: number): boolean {
      const t = s.packets;
      if (t >= SERIES_PACKETS) return true;
      const iat = s.lastT === s.lastT ? p.t - s.lastT : 0;
      s.lastT = p.t;
      s.packets = t + 1;
      const f0 = Math.fround(Math.sqrt(Math.min(Math.max(iat, 0), DELAY_THRESHOLD_NS) / DELAY_THRESHOLD_NS));
      const f1 = dir === 0 ? 1 : -1;
      const f2 = Math.fround(Math.sqrt(Math.min(len, SIZE_THRESHOLD) / SIZE_THRESHOLD));
      const step = STEP_OF_PACKET[t];
      const width = STEP_WIDTH[step];
      const a = s.acc;
      const o = step * STEP_INPUTS;
      if (width === 1) {
        a[o] = f0;
        a[o + 1] = f1;
        a[o + 2] = f2;
        a[o + 3] = s.prev0;
        a[o + 4] = s.prev1;
        a[o + 5] = s.prev2;
      } else if (s.seen[step] === 0) {
        a[o] = a[o + 3] = f0;
        a[o + 1] = a[o + 4] = f1;
        a[o + 2] = a[o + 5] = f2;
      } else {
        if (f0 > a[o]) a[o] = f0;
        if (f1 > a[o + 1]) a[o + 1] = f1;
        if (f2 > a[o + 2]) a[o + 2] = f2;
        a[o + 3] += f0;
        a[o + 4] += f1;
        a[o + 5] += f2;
      }
      s.seen[step]++;
      s.prev0 = f0;
      s.prev1 = f1;
      s.prev2 = f2;
      return t + 1 >= SERIES_PACKETS;
    },
    write(s: SeriesState, _flow: Flow, row: CellValue[], at: number): void {
      const out = new Float64Array(SERIES_STEPS * STEP_INPUTS);
      for (let step = 0; step < SERIES_STEPS; step++) {
        const o = step * STEP_INPUTS;
        const width = STEP_WIDTH[step];
        if (width === 1) {
          for (let k = 0; k < 6; k++) out[o + k] = s.acc[o + k];
          // The first padding step still carries the flow's last packet as its previous entry.
          if (step === s.packets) {
            out[o + 3] = s.prev0;
            out[o + 4] = s.prev1;
            out[o + 5] = s.prev2;
          }
          continue;
        }
        const n = s.seen[step];
        for (let k = 0; k < 3; k++) {
          // Padding packets are zeros: they take part in the max and the mean of a step the flow did not fill.
          out[o + k] = n === 0 ? 0 : n < width ? Math.max(s.acc[o + k], 0) : s.acc[o + k];
          out[o + 3 + k] = n === 0 ? 0 : s.acc[o + 3 + k] / width;
        }
      }
      row[at] = out;
    },
  };
}
