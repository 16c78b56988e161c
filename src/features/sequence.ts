import type { DecodedPacket } from '../decode/packet.js';
import type { Direction, Flow, FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { slabAllocator } from './slab.js';

export const DEFAULT_SPLT_PACKETS = 20;
/**
 * Payload bytes per direction counted in the byte distribution. Joy counts the first 4000 (ETTA_MIN_OCTETS);
 * counting costs about 4 ns a byte here, and 4096 per direction made `flows` 1.5 times slower on the benchmark
 * capture, so the default is 1024 (`--byte-dist-bytes 4096` gives Joy's view).
 */
export const DEFAULT_BYTE_DIST_BYTES = 1024;

/**
 * A flow's SPLT state is one Float64Array cut from a slab: lengths at 0..n-1, times at n..2n-1, the packet count at
 * 2n and the last packet's time at 2n+1 (NaN before the first). One object a flow instead of three (a state object,
 * its view, and the boxed double of a float field), which is less for the young-generation collector to copy.
 */
type SpltState = Float64Array;

/**
 * Sequence of packet lengths and times (SPLT) of the first `n` packets of the flow, every packet counted (also
 * those without payload): signed length (+ client to server, - server to client, --length accounting) and the
 * inter-arrival time from the previous packet of the flow in ns (0 for the first). Lists hold at most n entries and
 * are not padded.
 */
export function sequencePlugin(n = DEFAULT_SPLT_PACKETS): FlowPlugin<SpltState> {
  const columns: ColumnDef[] = [
    { name: 'splt_signed_len_bytes', type: 'int[]', unit: 'bytes', description: `Lengths of the first ${n} packets (--splt), positive from client to server, negative from server to client.` },
    { name: 'splt_iat_ns', type: 'int[]', unit: 'ns', description: `Inter-arrival time of each of the first ${n} packets from the previous packet of the flow (0 for the first).` },
  ];
  const alloc = slabAllocator((k) => new Float64Array(k), 2 * n + 2, Math.max(1, Math.floor(4096 / n)));
  const COUNT = 2 * n;
  const LAST = 2 * n + 1;
  return {
    name: 'splt',
    // Measured (docs/memory.md): the state object and its slab share of 2n + 2 doubles.
    flowBytes: 110 + 16 * n,
    columns,
    init(): SpltState {
      const v = alloc();
      v[LAST] = NaN;
      return v;
    },
    update(v: SpltState, _flow: Flow, p: DecodedPacket, dir: Direction, len: number): boolean {
      const i = v[COUNT];
      if (i >= n) return true;
      const last = v[LAST];
      v[i] = dir === 0 ? len : -len;
      v[n + i] = last === last ? p.t - last : 0;
      v[LAST] = p.t;
      v[COUNT] = i + 1;
      return i + 1 >= n;
    },
    write(v: SpltState, _flow: Flow, row: CellValue[], at: number): void {
      const count = v[COUNT];
      row[at] = v.subarray(0, count);
      row[at + 1] = v.subarray(n, n + count);
    },
  };
}

/** Count arrays: 16-bit when the cap fits (half the memory per flow), else 32-bit. */
type Counts = Uint16Array | Int32Array;

/**
 * Counts of both directions in one array (client to server at 0..255, server to client at 256..511), allocated at
 * the first payload byte: most flows of a busy link are payload-free scans or handshakes cut short.
 */
class ByteDistState {
  counts: Counts | null = null;
  fwdTotal = 0;
  bwdTotal = 0;
}

/** c * log2(c) for every count up to the cap, so entropy costs no logarithm per bin. */
function cLogTable(cap: number): Float64Array {
  const t = new Float64Array(cap + 1);
  for (let c = 2; c <= cap; c++) t[c] = c * Math.log2(c);
  return t;
}

/** H = log2(N) - (1/N) * sum(c * log2 c), the Shannon entropy of the counts in bits. */
function entropyBits(c: Counts, total: number, clog: Float64Array): number {
  if (total === 0) return 0;
  // Four partial sums: one sum is a chain of dependent float additions, four run side by side.
  let s0 = 0;
  let s1 = 0;
  let s2 = 0;
  let s3 = 0;
  for (let i = 0; i < 256; i += 4) {
    s0 += clog[c[i]];
    s1 += clog[c[i + 1]];
    s2 += clog[c[i + 2]];
    s3 += clog[c[i + 3]];
  }
  return Math.max(0, Math.log2(total) - (s0 + s1 + (s2 + s3)) / total);
}

/**
 * c[base + b]++ for every byte b of d[start..end). Eight loads before eight increments: V8 keeps the plain loop's
 * load-increment-store chains in order, and unrolled it counts about twice as fast (4 ns a byte down to 2 here).
 */
function countBytes(c: Counts, d: Uint8Array, start: number, end: number, base: number): void {
  let i = start;
  for (; i + 8 <= end; i += 8) {
    const b0 = d[i], b1 = d[i + 1], b2 = d[i + 2], b3 = d[i + 3], b4 = d[i + 4], b5 = d[i + 5], b6 = d[i + 6], b7 = d[i + 7];
    c[base + b0]++;
    c[base + b1]++;
    c[base + b2]++;
    c[base + b3]++;
    c[base + b4]++;
    c[base + b5]++;
    c[base + b6]++;
    c[base + b7]++;
  }
  for (; i < end; i++) c[base + d[i]]++;
}

/**
 * Byte distribution of the transport payload per direction: raw counts of each byte value (not Joy's rescaled
 * counts) over the first `cap` captured payload bytes of that direction, and their Shannon entropy in bits per byte.
 */
export function byteDistPlugin(cap = DEFAULT_BYTE_DIST_BYTES): FlowPlugin<ByteDistState> {
  const columns: ColumnDef[] = [];
  for (const [d, who] of [
    ['fwd', 'client-to-server'],
    ['bwd', 'server-to-client'],
  ]) {
    columns.push(
      { name: `${d}_byte_dist`, type: 'int[]', unit: 'bytes', description: `256 counts: how often each byte value 0..255 occurs in the first ${cap} captured ${who} payload bytes (--byte-dist-bytes); null without payload in that direction.` },
      { name: `${d}_byte_dist_bytes`, type: 'int', unit: 'bytes', description: `Payload bytes counted in ${d}_byte_dist (at most ${cap}).` },
      { name: `${d}_byte_entropy_bits`, type: 'float', unit: 'bits/byte', description: `Shannon entropy of ${d}_byte_dist, 0..8 bits per byte; null without payload in that direction.` },
    );
  }
  const clog = cLogTable(cap);
  // A count never exceeds the cap, so 16 bits hold it up to 65535: 1 KiB per flow instead of 2. On bench/flows
  // (20,000 flows at once) that is 8 MiB less at peak and about 3% less time (fewer cold cache lines per packet,
  // fewer fresh pages).
  const wide = cap > 0xffff;
  const newCounts: () => Counts = wide ? slabAllocator((k) => new Int32Array(k), 512, 64) : slabAllocator((k) => new Uint16Array(k), 512, 128);
  return {
    name: 'byte-dist',
    // The counts (512 of 2 or 4 bytes) are charged when the first payload byte comes (Flow.heldBytes).
    flowBytes: 60,
    columns,
    init: () => new ByteDistState(),
    update(s: ByteDistState, flow: Flow, p: DecodedPacket, dir: Direction): boolean {
      const counted = dir === 0 ? s.fwdTotal : s.bwdTotal;
      const start = p.payloadOffset;
      const end = Math.min(start + p.payloadLen, p.capturedEnd, start + cap - counted);
      if (end > start) {
        let counts = s.counts;
        if (counts === null) {
          counts = s.counts = newCounts();
          flow.heldBytes += counts.byteLength;
        }
        countBytes(counts, p.data, start, end, dir << 8);
        if (dir === 0) s.fwdTotal += end - start;
        else s.bwdTotal += end - start;
      }
      return s.fwdTotal >= cap && s.bwdTotal >= cap;
    },
    write(s: ByteDistState, _flow: Flow, row: CellValue[], at: number): void {
      // A direction without payload has no distribution: null, not 256 zeros (absent is null, docs/schema.md). Its
      // view is not even cut: most flows of a scan or flood carry no payload either way.
      const c = s.counts;
      const fwd = c !== null && s.fwdTotal > 0 ? c.subarray(0, 256) : null;
      const bwd = c !== null && s.bwdTotal > 0 ? c.subarray(256, 512) : null;
      row[at] = fwd;
      row[at + 1] = s.fwdTotal;
      row[at + 2] = fwd !== null ? entropyBits(fwd, s.fwdTotal, clog) : null;
      row[at + 3] = bwd;
      row[at + 4] = s.bwdTotal;
      row[at + 5] = bwd !== null ? entropyBits(bwd, s.bwdTotal, clog) : null;
    },
  };
}
