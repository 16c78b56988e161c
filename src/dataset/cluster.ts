import type { CellValue } from '../flow/schema.js';
import type { RecordTable } from './records.js';

/**
 * Clusters of streams (001: "we also keep track of the number of packets as well as the sums of squares of the time
 * series as this allows us to calculate combined mean and standard deviation for two merged time series. Such a
 * combination enables training a module that predicts application class for a cluster of streams.")
 *
 * Each flow record's per-series statistics (count, mean, sample SD) become count, sum and sum of squares; merged over
 * the flows of a cluster they give the cluster's own statistics, as if its packets were one series. Series: packet
 * lengths of all, client-to-server and server-to-client packets (bytes), and inter-arrival times within each flow
 * (ns; a flow of n packets has n - 1 of them).
 */
export interface SeriesMoments {
  n: number;
  sum: number;
  sumSq: number;
}

/** Columns (count, mean, sample SD, min, max) of each series a cluster merges. */
const SERIES: ReadonlyArray<{ name: string; count: string; mean: string; sd: string; min: string; max: string; gaps: boolean }> = [
  { name: 'pkt_len', count: 'packets', mean: 'pkt_len_mean_bytes', sd: 'pkt_len_sd_bytes', min: 'pkt_len_min_bytes', max: 'pkt_len_max_bytes', gaps: false },
  { name: 'fwd_pkt_len', count: 'fwd_packets', mean: 'fwd_pkt_len_mean_bytes', sd: 'fwd_pkt_len_sd_bytes', min: 'fwd_pkt_len_min_bytes', max: 'fwd_pkt_len_max_bytes', gaps: false },
  { name: 'bwd_pkt_len', count: 'bwd_packets', mean: 'bwd_pkt_len_mean_bytes', sd: 'bwd_pkt_len_sd_bytes', min: 'bwd_pkt_len_min_bytes', max: 'bwd_pkt_len_max_bytes', gaps: false },
  { name: 'iat', count: 'packets', mean: 'iat_mean_ns', sd: 'iat_sd_ns', min: 'iat_min_ns', max: 'iat_max_ns', gaps: true },
  { name: 'fwd_iat', count: 'fwd_packets', mean: 'fwd_iat_mean_ns', sd: 'fwd_iat_sd_ns', min: 'fwd_iat_min_ns', max: 'fwd_iat_max_ns', gaps: true },
  { name: 'bwd_iat', count: 'bwd_packets', mean: 'bwd_iat_mean_ns', sd: 'bwd_iat_sd_ns', min: 'bwd_iat_min_ns', max: 'bwd_iat_max_ns', gaps: true },
];

/** Feature names of clusterFeatures(), in order. */
export const CLUSTER_FEATURES: string[] = ['streams', 'packets_per_stream', ...SERIES.flatMap((s) => [`${s.name}_mean`, `${s.name}_sd`, `${s.name}_min`, `${s.name}_max`])];

function num(v: CellValue | undefined): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'bigint') return Number(v);
  return NaN;
}

/** count, sum, sum of squares from a count, a mean and a sample (n - 1) SD. */
export function fromMeanSd(n: number, mean: number, sd: number): SeriesMoments {
  if (!(n > 0) || !Number.isFinite(mean)) return { n: 0, sum: 0, sumSq: 0 };
  const s = Number.isFinite(sd) && n > 1 ? sd : 0;
  return { n, sum: mean * n, sumSq: s * s * (n - 1) + n * mean * mean };
}

/**
 * Features of a cluster of flow records (rows of `table`): the number of streams, packets per stream, and for each
 * series the merged mean, sample SD, min and max.
 */
export function clusterFeatures(table: RecordTable, rows: readonly number[]): Float64Array {
  const at = (c: string) => table.names.indexOf(c);
  const out = new Float64Array(CLUSTER_FEATURES.length);
  out[0] = rows.length;
  let packets = 0;
  for (const r of rows) packets += num(table.rows[r][at('packets')]);
  out[1] = rows.length === 0 ? NaN : packets / rows.length;
  SERIES.forEach((s, i) => {
    let n = 0;
    let sum = 0;
    let sumSq = 0;
    let min = Infinity;
    let max = -Infinity;
    const [ci, mi, si, mn, mx] = [at(s.count), at(s.mean), at(s.sd), at(s.min), at(s.max)];
    for (const r of rows) {
      const row = table.rows[r];
      const count = num(row[ci]) - (s.gaps ? 1 : 0);
      const m = fromMeanSd(count, num(row[mi]), num(row[si]));
      if (m.n === 0) continue;
      n += m.n;
      sum += m.sum;
      sumSq += m.sumSq;
      min = Math.min(min, num(row[mn]));
      max = Math.max(max, num(row[mx]));
    }
    const mean = n === 0 ? NaN : sum / n;
    const sd = n > 1 ? Math.sqrt(Math.max(0, (sumSq - n * mean * mean) / (n - 1))) : NaN;
    out.set([mean, sd, n === 0 ? NaN : min, n === 0 ? NaN : max], 2 + 4 * i);
  });
  return out;
}
