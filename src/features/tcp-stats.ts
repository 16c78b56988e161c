import { type DecodedPacket, IPPROTO, TcpFlag, parseTcpOptions } from '../decode/packet.js';
import type { Direction, Flow, FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { slabAllocator } from './slab.js';

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

/**
 * A TCP flow's state: one Float64Array cut from a slab, flag counts per direction at 0..15 (client to server
 * first), then client and server MSS, window scale and initial window at HS..HS+5 (-1 = not seen). One object a
 * flow: a state object with two plain arrays was five heap objects for the young-generation collector to copy.
 */
type TcpState = Float64Array;
const HS = FLAGS.length * 2;
const newState = slabAllocator((k) => new Float64Array(k), HS + 6, 256);

function columns(): ColumnDef[] {
  const out: ColumnDef[] = [];
  for (const [dir, who] of [
    ['fwd', 'client-to-server'],
    ['bwd', 'server-to-client'],
  ]) {
    for (const [name] of FLAGS) out.push({ name: `${dir}_${name}_count`, type: 'int', unit: 'packets', description: `${who} TCP packets with ${name.toUpperCase()} set (null for other protocols).` });
  }
  for (const [side, pkt] of [
    ['client', 'SYN'],
    ['server', 'SYN+ACK'],
  ]) {
    out.push(
      { name: `${side}_tcp_mss_bytes`, type: 'int', unit: 'bytes', artefact: true, description: `MSS option of the ${side}'s ${pkt} (null when not seen, or not TCP).` },
      { name: `${side}_tcp_window_scale`, type: 'int', unit: '', artefact: true, description: `Window-scale shift of the ${side}'s ${pkt} (null when not seen, or not TCP).` },
      { name: `${side}_tcp_init_window_bytes`, type: 'int', unit: 'bytes', artefact: true, description: `Window field of the ${side}'s ${pkt} (unscaled; null when not seen, or not TCP).` },
    );
  }
  return out;
}

export const tcpStatsPlugin: FlowPlugin<TcpState | null> = {
  name: 'tcp',
  flowBytes: 290,
  columns: columns(),
  init(flow: Flow): TcpState | null {
    if (flow.proto !== IPPROTO.TCP) return null;
    const s = newState();
    s.fill(-1, HS);
    return s;
  },
  update(s: TcpState | null, _flow: Flow, p: DecodedPacket, dir: Direction): boolean | void {
    if (s === null) return true;
    const f = p.tcpFlags;
    const base = dir * FLAGS.length;
    for (let bits = f & 0xff; bits !== 0; bits &= bits - 1) s[base + COLUMN_OF_BIT[31 - Math.clz32(bits & -bits)]]++;
    const hs = HS + dir * 3;
    if (f & TcpFlag.SYN && s[hs] === -1 && s[hs + 2] === -1) {
      const o = parseTcpOptions(p);
      s[hs] = o.mss ?? -1;
      s[hs + 1] = o.windowScale ?? -1;
      s[hs + 2] = p.tcpWindow;
    }
  },
  write(s: TcpState | null, _flow: Flow, row: CellValue[], at: number): void {
    if (s === null) {
      row.fill(null, at, at + HS + 6);
      return;
    }
    for (let i = 0; i < HS; i++) row[at++] = s[i];
    for (let i = 0; i < 6; i++, at++) row[at] = s[HS + i] === -1 ? null : s[HS + i];
  },
};
