import type { DecodedPacket } from '../decode/packet.js';
import type { Direction, Flow, FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { slabAllocator } from './slab.js';

/**
 * The direction-based size and timing features (Table 1 of the capture-to-features design, items 1-4, 7-14, 17-20; counts and bytes
 * 5, 6, 15, 16 are core columns) plus the same statistics over both directions.
 *
 * - Packet length: the meter's --length accounting mode (IP length by default).
 * - Inter-arrival time (IAT): t_i - t_(i-1) between consecutive packets of the same direction (or of the flow, for
 *   the bidirectional columns), in nanoseconds, in arrival order. Out-of-order timestamps give negative IATs;
 *   they are counted in out_of_order_packets and never reordered.
 * - Absent is null (docs/schema.md, "Absent values"): min, max and mean of no values, and the SD of fewer than two,
 *   are null, not 0: a direction with no packets has no smallest packet, and one inter-arrival time has no spread.
 */
export class PacketStatsState {
  /**
   * Six running statistics (length fwd, bwd, both; IAT fwd, bwd, both) of five doubles each (n, mean, M2, min, max:
   * RunningStats' Welford update, operation for operation), then the last packet time of each scope, in one view
   * of a shared slab. As objects (a RunningStats each, three arrays) a flow's statistics were ten heap objects that
   * every flow keeps for its whole life, which the young-generation collector copied and promoted flow by flow.
   */
  private readonly v = allocate();

  constructor() {
    const v = this.v;
    v[LAST] = NaN;
    v[LAST + 1] = NaN;
    v[LAST + 2] = NaN;
  }

  /**
   * One packet of direction dir and length len, at p.t (relative ns). The time is read from the packet, not taken
   * as an argument: when this call is not inlined (a table with the TLS group inlines less into its dispatch) a
   * double argument is boxed, a heap number per packet, 18 MB of garbage over a million packets.
   */
  push(dir: Direction, p: DecodedPacket, len: number): void {
    const t = p.t;
    const v = this.v;
    welford(v, dir * STAT, len);
    welford(v, 2 * STAT, len);
    const ld = v[LAST + dir];
    if (ld === ld) welford(v, IAT + dir * STAT, t - ld); // ld === ld: not NaN
    v[LAST + dir] = t;
    const la = v[LAST + 2];
    if (la === la) welford(v, IAT + 2 * STAT, t - la);
    v[LAST + 2] = t;
  }

  /** The 24 columns (fwd, bwd, both: length min, max, mean, SD, then IAT the same) from row[at]; returns the next index. */
  write(row: CellValue[], at: number): number {
    const v = this.v;
    for (let i = 0; i < 3; i++) {
      at = writeStat(v, i * STAT, row, at);
      at = writeStat(v, IAT + i * STAT, row, at);
    }
    return at;
  }
}

/** Doubles in one running statistic (n, mean, M2, min, max), where the IAT statistics start, the last times. */
const STAT = 5;
const IAT = 3 * STAT;
const LAST = 6 * STAT;
const STATE_DOUBLES = LAST + 3;
const allocate = slabAllocator((k) => new Float64Array(k), STATE_DOUBLES, 128);

/** RunningStats.push on v[o, o + 5): the same operations in the same order, so the same doubles. */
function welford(v: Float64Array, o: number, x: number): void {
  const n = v[o] + 1;
  v[o] = n;
  if (n === 1) {
    v[o + 1] = x;
    v[o + 3] = x;
    v[o + 4] = x;
    return;
  }
  const mean = v[o + 1];
  const delta = x - mean;
  const next = mean + delta / n;
  v[o + 1] = next;
  v[o + 2] += delta * (x - next);
  if (x < v[o + 3]) v[o + 3] = x;
  else if (x > v[o + 4]) v[o + 4] = x;
}

/** min, max, mean, SD (n - 1) of the statistic at v[o]: null when there are no values, the SD below two. */
function writeStat(v: Float64Array, o: number, row: CellValue[], at: number): number {
  const n = v[o];
  if (n > 0) {
    row[at] = v[o + 3];
    row[at + 1] = v[o + 4];
    row[at + 2] = v[o + 1];
  } else {
    row[at] = null;
    row[at + 1] = null;
    row[at + 2] = null;
  }
  row[at + 3] = n > 1 ? Math.sqrt(v[o + 2] / (n - 1)) : null;
  return at + 4;
}

const SCOPES: ReadonlyArray<{ prefix: string; who: string; table: string }> = [
  { prefix: 'fwd_', who: 'client-to-server packets', table: 'Table 1 #' },
  { prefix: 'bwd_', who: 'server-to-client packets', table: 'Table 1 #' },
  { prefix: '', who: 'all packets of the flow', table: '' },
];
const TABLE1 = [
  [1, 2, 3, 4, 7, 8, 9, 10],
  [11, 12, 13, 14, 17, 18, 19, 20],
];

function columns(): ColumnDef[] {
  const out: ColumnDef[] = [];
  SCOPES.forEach((s, i) => {
    const ref = (k: number) => (i < 2 ? ` (${s.table}${TABLE1[i][k]})` : '');
    out.push(
      { name: `${s.prefix}pkt_len_min_bytes`, type: 'int', unit: 'bytes', description: `Smallest packet length among ${s.who}${ref(0)}; null when there are none.` },
      { name: `${s.prefix}pkt_len_max_bytes`, type: 'int', unit: 'bytes', description: `Largest packet length among ${s.who}${ref(1)}.` },
      { name: `${s.prefix}pkt_len_mean_bytes`, type: 'float', unit: 'bytes', description: `Mean packet length of ${s.who}${ref(2)}${i === 2 ? ' (the average packet size)' : ''}.` },
      { name: `${s.prefix}pkt_len_sd_bytes`, type: 'float', unit: 'bytes', description: `Sample SD (n-1) of the packet length of ${s.who}${ref(3)}; null below two packets.` },
      { name: `${s.prefix}iat_min_ns`, type: 'int', unit: 'ns', description: `Smallest inter-arrival time between consecutive ${s.who}${ref(4)}; null below two packets.` },
      { name: `${s.prefix}iat_max_ns`, type: 'int', unit: 'ns', description: `Largest inter-arrival time between consecutive ${s.who}${ref(5)}.` },
      { name: `${s.prefix}iat_mean_ns`, type: 'float', unit: 'ns', description: `Mean inter-arrival time of ${s.who}${ref(6)}.` },
      { name: `${s.prefix}iat_sd_ns`, type: 'float', unit: 'ns', description: `Sample SD (n-1) of the inter-arrival time of ${s.who}${ref(7)}; null below two inter-arrival times (three packets).` },
    );
  });
  return out;
}

export const packetStatsPlugin: FlowPlugin<PacketStatsState> = {
  name: 'packet-stats',
  columns: columns(),
  init(): PacketStatsState {
    return new PacketStatsState();
  },
  update(s: PacketStatsState, _flow: Flow, p: DecodedPacket, dir: Direction, len: number): void {
    s.push(dir, p, len);
  },
  write(s: PacketStatsState, _flow: Flow, row: CellValue[], at: number): void {
    s.write(row, at);
  },
};
