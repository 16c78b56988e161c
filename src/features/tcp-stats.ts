import { type DecodedPacket, IPPROTO, TcpFlag, parseTcpOptions } from '../decode/packet.js';
import type { Direction, Flow, FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';

/** TCP flag counts per direction and the handshake's options (MSS, window scale, initial window). */
const FLAGS: ReadonlyArray<[string, number]> = [
  ['syn', TcpFlag.SYN],
  ['fin', TcpFlag.FIN],
  ['rst', TcpFlag.RST],
  ['psh', TcpFlag.PSH],
  ['ack', TcpFlag.ACK],
  ['urg', TcpFlag.URG],
  ['ece', TcpFlag.ECE],
  ['cwr', TcpFlag.CWR],
];

/** Column index (within a direction) of each of the 8 flag bits, so a packet costs a step per flag set, not per flag. */
const COLUMN_OF_BIT = (() => {
  const t = new Int8Array(8).fill(-1);
  FLAGS.forEach(([, bit], i) => (t[31 - Math.clz32(bit)] = i));
  return t;
})();

class TcpState {
  // A plain array, not a typed one: a 128-byte typed array per flow is an off-heap allocation each.
  readonly counts: number[] = new Array<number>(FLAGS.length * 2).fill(0);
  /** client, server: MSS, window scale, initial window (-1 = not seen). */
  readonly hs = [-1, -1, -1, -1, -1, -1];
}

function columns(): ColumnDef[] {
  const out: ColumnDef[] = [];
  for (const [dir, who] of [
    ['fwd', 'client-to-server'],
    ['bwd', 'server-to-client'],
  ]) {
    for (const [name] of FLAGS) out.push({ name: `${dir}_${name}_count`, type: 'int', unit: 'packets', description: `${who} TCP packets with ${name.toUpperCase()} set (0 for other protocols).` });
  }
  for (const [side, pkt] of [
    ['client', 'SYN'],
    ['server', 'SYN+ACK'],
  ]) {
    out.push(
      { name: `${side}_tcp_mss_bytes`, type: 'int', unit: 'bytes', description: `MSS option of the ${side}'s ${pkt}; -1 if not seen.` },
      { name: `${side}_tcp_window_scale`, type: 'int', unit: '', description: `Window-scale shift of the ${side}'s ${pkt}; -1 if not seen.` },
      { name: `${side}_tcp_init_window_bytes`, type: 'int', unit: 'bytes', description: `Window field of the ${side}'s ${pkt} (unscaled); -1 if not seen.` },
    );
  }
  return out;
}

export const tcpStatsPlugin: FlowPlugin<TcpState | null> = {
  name: 'tcp',
  columns: columns(),
  init(flow: Flow): TcpState | null {
    return flow.proto === IPPROTO.TCP ? new TcpState() : null;
  },
  update(s: TcpState | null, _flow: Flow, p: DecodedPacket, dir: Direction): boolean | void {
    if (s === null) return true;
    const f = p.tcpFlags;
    const base = dir * FLAGS.length;
    for (let bits = f & 0xff; bits !== 0; bits &= bits - 1) s.counts[base + COLUMN_OF_BIT[31 - Math.clz32(bits & -bits)]]++;
    if (f & TcpFlag.SYN && s.hs[dir * 3] === -1 && s.hs[dir * 3 + 2] === -1) {
      const o = parseTcpOptions(p);
      s.hs[dir * 3] = o.mss ?? -1;
      s.hs[dir * 3 + 1] = o.windowScale ?? -1;
      s.hs[dir * 3 + 2] = p.tcpWindow;
    }
  },
  write(s: TcpState | null, _flow: Flow, row: CellValue[], at: number): void {
    for (let i = 0; i < FLAGS.length * 2; i++) row[at++] = s === null ? 0 : s.counts[i];
    for (let i = 0; i < 6; i++) row[at++] = s === null ? -1 : s.hs[i];
  },
};
