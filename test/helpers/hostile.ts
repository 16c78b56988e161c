import { type SynthPacket, synthPcap } from '../../src/pcap/synth.js';

/**
 * Generators of hostile captures (test/hostile/): each case at any size, also the fuzzer's seeds
 * (test/pcap/fuzz.test.ts).
 */

/** One SYN per 5-tuple, i microseconds apart: a flow-table flood. */
export const syn = (i: number, nsec: number): SynthPacket => ({ sec: 1_700_000_000, nsec, src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dst: '192.0.2.1', sport: 1024 + (i % 50000), dport: 443, proto: 'tcp', flags: 2, seq: i });

/** A handshake record of one byte: the smallest thing that looks like TLS. */
export const TINY_RECORD = [0x16, 0x03, 0x01, 0x00, 0x01, 0x01];

/** n flows of a SYN and one TINY_RECORD each way, never finished: half-open TLS handshakes. */
export function halfOpenTls(n: number): Buffer {
  return pcapOf(3 * n, HOSTILE['half-open-tls'].make);
}

/** A packet time `ns` nanoseconds after the generators' epoch, as seconds and nanoseconds. */
export function at(ns: number): { sec: number; nsec: number } {
  return { sec: 1_700_000_000 + Math.floor(ns / 1e9), nsec: ns % 1e9 };
}

/** A DNS response (id i) to `name` with A records of `addrs` (answer section; each name a pointer to the question). */
export function dnsResponse(i: number, name: string, addrs: readonly number[]): Uint8Array {
  const labels = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l, 'latin1')]);
  const out = new Uint8Array(12 + labels.length + 1 + 4 + addrs.length * 16);
  const dv = new DataView(out.buffer);
  dv.setUint16(0, i & 0xffff);
  dv.setUint16(2, 0x8180);
  dv.setUint16(4, 1);
  dv.setUint16(6, addrs.length);
  out.set(labels, 12);
  let o = 12 + labels.length + 1;
  dv.setUint16(o, 1);
  dv.setUint16(o + 2, 1);
  o += 4;
  for (const a of addrs) {
    dv.setUint16(o, 0xc00c);
    dv.setUint16(o + 2, 1);
    dv.setUint16(o + 4, 1);
    dv.setUint32(o + 6, 60);
    dv.setUint16(o + 10, 4);
    dv.setUint32(o + 12, a >>> 0);
    o += 16;
  }
  return out;
}

/** One frame: a SynthPacket whose payload (after Ethernet, IPv4 and the UDP or TCP header) is `payload`. */
export function frameWith(p: SynthPacket, payload: Uint8Array): { packet: SynthPacket; payload: Uint8Array } {
  return { packet: { ...p, payload: payload.length }, payload };
}

/**
 * A capture of `n` packets made by `make(i)`, built `chunk` packets at a time (a flood of millions of packets never
 * held as frame objects at once); each packet's payload bytes, when given, replace synth's pattern.
 */
export function* pcapChunks(n: number, make: (i: number) => { packet: SynthPacket; payload?: Uint8Array; patch?: (frame: Uint8Array) => void }, chunk = 65_536): Generator<Uint8Array> {
  for (let from = 0; from < n; from += chunk) {
    const items = Array.from({ length: Math.min(chunk, n - from) }, (_, k) => make(from + k));
    const buf = synthPcap(items.map((x) => x.packet));
    let o = 24;
    for (const x of items) {
      const len = new DataView(buf.buffer, buf.byteOffset + o + 8, 4).getUint32(0, true);
      const frame = buf.subarray(o + 16, o + 16 + len);
      if (x.payload !== undefined) frame.set(x.payload, frame.length - x.payload.length);
      x.patch?.(frame);
      o += 16 + len;
    }
    yield from === 0 ? buf : buf.subarray(24);
  }
}

/** The whole capture of pcapChunks, in memory (test sizes). */
export function pcapOf(n: number, make: Parameters<typeof pcapChunks>[1]): Buffer {
  return Buffer.concat([...pcapChunks(n, make)]);
}

/** Inverting the endpoint hash of src/flow/table.ts, as an attacker who knows the code would. */
const inv = (m: number) => {
  let x = m;
  for (let i = 0; i < 5; i++) x = Math.imul(x, 2 - Math.imul(m, x));
  return x;
};
const unshift = (x: number, s: number) => {
  let y = x;
  for (let i = 0; i < 32 / s + 1; i++) y = x ^ (y >>> s);
  return y >>> 0;
};

/** w0 so that the endpoint hash of (w0, w1, w2, w3, port) under `key` is target (the steps of table.ts, undone). */
export function collide(target: number, w1: number, w2: number, w3: number, port: number, key = 0): number {
  const h1 = Math.imul(w3 ^ 0x27d4eb2d ^ key, 0x165667b1);
  const h2 = Math.imul(h1 ^ (h1 >>> 15) ^ w2, 0x85ebca6b);
  const h3 = Math.imul(h2 ^ (h2 >>> 13) ^ w1, 0xc2b2ae35);
  const h5 = unshift(target, 16);
  const h4 = unshift(Math.imul(h5, inv(0x165667b1)) ^ port ^ Math.imul(key, 0x9e3779b1), 15);
  return (Math.imul(h4, inv(0x27d4eb2f)) ^ h3 ^ (h3 >>> 16)) >>> 0;
}

const hexWords = (w: number) => [(w >>> 16).toString(16), (w & 0xffff).toString(16)];
export const v6 = (w: number[]) => w.flatMap(hexWords).join(':');

const v4 = (i: number) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;

/** The hostile cases of bench:hostile and test/hostile, each a packet maker at any size. */
export const HOSTILE: Record<string, { what: string; unit: string; make: (i: number) => { packet: SynthPacket; payload?: Uint8Array; patch?: (frame: Uint8Array) => void } }> = {
  'syn-flood': { what: 'one SYN per 5-tuple within the idle timeout', unit: 'SYNs', make: (i) => ({ packet: { ...syn(i, 0), ...at(i * 1000) } }) },
  'half-open-tls': {
    what: 'a SYN and a 6-byte TLS record each way per flow, never finished',
    unit: 'packets (3 a flow)',
    make: (i) => {
      const f = Math.floor(i / 3);
      const client = v4(f);
      const t = at(f * 10_000 + (i % 3));
      if (i % 3 === 0) return { packet: { ...t, src: client, dst: '192.0.2.1', sport: 40000, dport: 443, proto: 'tcp', flags: 2, seq: 100 } };
      if (i % 3 === 1) return frameWith({ ...t, src: client, dst: '192.0.2.1', sport: 40000, dport: 443, proto: 'tcp', flags: 0x18, seq: 101 }, Uint8Array.from(TINY_RECORD));
      return frameWith({ ...t, src: '192.0.2.1', dst: client, sport: 443, dport: 40000, proto: 'tcp', flags: 0x18, seq: 1 }, Uint8Array.from(TINY_RECORD));
    },
  },
  'dns-answers': {
    what: 'DNS responses, each a new name and answer address (the capture-wide name map)',
    unit: 'responses',
    make: (i) => frameWith({ ...at(i * 1000), src: '192.0.2.53', dst: v4(i), sport: 53, dport: 1024 + (i % 50000), proto: 'udp' }, dnsResponse(i, `h${i}.example`, [0x0a000000 + i])),
  },
  'dns-one-flow': {
    what: 'large DNS responses on one flow, 4,000 distinct addresses each (the per-flow answer list)',
    unit: 'responses',
    make: (i) =>
      frameWith(
        { ...at(i * 1e6), src: '192.0.2.53', dst: '10.0.0.1', sport: 53, dport: 5353, proto: 'udp' },
        dnsResponse(i, `big${i}.example`, Array.from({ length: 4000 }, (_, k) => 0x0b000000 + i * 4000 + k)),
      ),
  },
  'hash-flood': {
    what: 'SYNs of IPv6 clients computed to collide in the unkeyed flow hash',
    unit: 'SYNs',
    make: (i) => {
      const w1 = 0x11110000 + i;
      const w3 = (0x33330000 ^ i) >>> 0;
      const port = 1024 + (i % 60000);
      return { packet: { ...at(i * 1000), src: v6([collide(0xdeadbeef, w1, 0x2222, w3, port), w1, 0x2222, w3]), dst: '2001:db8::1', sport: port, dport: 443, proto: 'tcp', flags: 2, seq: i } };
    },
  },
  fragments: {
    what: '8-byte IPv4 fragments of one datagram (offsets cycling over 64 KB)',
    unit: 'fragments',
    make: (i) => ({
      packet: { ...at(i * 1000), src: '10.9.0.1', dst: '192.0.2.7', sport: 0, dport: 0, proto: 'udp', ipId: 77 },
      // MF set, offset (i mod 8000) x 8 bytes: IPv4 flags and fragment offset at 14 + 6.
      patch: (frame) => new DataView(frame.buffer, frame.byteOffset).setUint16(20, 0x2000 | (i % 8000)),
    }),
  },
};

/** Ordinary traffic for comparison: TCP flows of 20 packets (handshake, then 200-byte payloads), 1 us apart. */
export function benign(i: number): { packet: SynthPacket } {
  const f = Math.floor(i / 20);
  const k = i % 20;
  const client = v4(f % 60_000);
  const t = at(f * 20_000 + k * 1000);
  const fwd = k % 2 === 0;
  return { packet: { ...t, src: fwd ? client : '192.0.2.1', dst: fwd ? '192.0.2.1' : client, sport: fwd ? 1024 + (f % 50000) : 443, dport: fwd ? 443 : 1024 + (f % 50000), proto: 'tcp', flags: k === 0 ? 2 : k === 1 ? 0x12 : 0x18, seq: 1000 + k * 200, payload: k < 2 ? 0 : 200 } };
}
