import type { DecodedPacket } from '../decode/packet.js';
import type { Direction, Flow, FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { RunningStats } from './running-stats.js';

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
  readonly len = [new RunningStats(), new RunningStats(), new RunningStats()]; // fwd, bwd, both
  readonly iat = [new RunningStats(), new RunningStats(), new RunningStats()];
  readonly lastT = [NaN, NaN, NaN];

  /** One packet of direction dir at time t (relative ns) of length len. */
  push(dir: Direction, t: number, len: number): void {
    this.len[dir].push(len);
    this.len[2].push(len);
    const ld = this.lastT[dir];
    if (ld === ld) this.iat[dir].push(t - ld); // ld === ld: not NaN
    this.lastT[dir] = t;
    const la = this.lastT[2];
    if (la === la) this.iat[2].push(t - la);
    this.lastT[2] = t;
  }

  /** The 24 columns (fwd, bwd, both: length min, max, mean, SD, then IAT the same) from row[at]; returns the next index. */
  write(row: CellValue[], at: number): number {
    for (let i = 0; i < 3; i++) {
      const l = this.len[i];
      const g = this.iat[i];
      const ln = l.n > 0;
      row[at++] = ln ? l.min : null;
      row[at++] = ln ? l.max : null;
      row[at++] = ln ? l.mean : null;
      row[at++] = l.n > 1 ? l.sd : null;
      const gn = g.n > 0;
      row[at++] = gn ? g.min : null;
      row[at++] = gn ? g.max : null;
      row[at++] = gn ? g.mean : null;
      row[at++] = g.n > 1 ? g.sd : null;
    }
    return at;
  }
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
    s.push(dir, p.t, len);
  },
  write(s: PacketStatsState, _flow: Flow, row: CellValue[], at: number): void {
    s.write(row, at);
  },
};
