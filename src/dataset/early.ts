import { RunningStats } from '../features/running-stats.js';

/**
 * Features of a flow's first `n` packets only, from its SPLT columns (signed lengths in bytes, inter-arrival times
 * in ns), for early classification: how well an app is known after 1, 2, 5, 10, 20 packets. Per n: the signed
 * lengths themselves (0 past the end of a short flow), then for all packets, client-to-server and
 * server-to-client packets: count, sum, mean, SD, min, max of the lengths, and mean, SD, min, max of the
 * inter-arrival times (ns, from the previous packet of the flow).
 */
export const EARLY_PACKETS = [1, 2, 3, 5, 10, 20] as const;

export function earlyFeatureNames(n: number): string[] {
  const names = Array.from({ length: n }, (_, i) => `len_${i + 1}`);
  for (const d of ['all', 'fwd', 'bwd']) names.push(...['count', 'bytes', 'len_mean', 'len_sd', 'len_min', 'len_max', 'iat_mean', 'iat_sd', 'iat_min', 'iat_max'].map((x) => `${d}_${x}`));
  return names;
}

export function earlyFeatures(signedLens: ArrayLike<number>, iatsNs: ArrayLike<number>, n: number): Float64Array {
  const out = new Float64Array(n + 30);
  const m = Math.min(n, signedLens.length, iatsNs.length);
  for (let i = 0; i < m; i++) out[i] = signedLens[i];
  const lens = [new RunningStats(), new RunningStats(), new RunningStats()];
  const iats = [new RunningStats(), new RunningStats(), new RunningStats()];
  for (let i = 0; i < m; i++) {
    const d = signedLens[i] >= 0 ? 1 : 2;
    for (const k of [0, d]) {
      lens[k].push(Math.abs(signedLens[i]));
      if (i > 0) iats[k].push(iatsNs[i]);
    }
  }
  for (let k = 0; k < 3; k++) {
    const l = lens[k];
    const t = iats[k];
    out.set([l.n, l.sum, l.mean, l.sd, l.min, l.max, t.mean, t.sd, t.min, t.max], n + 10 * k);
  }
  return out;
}
