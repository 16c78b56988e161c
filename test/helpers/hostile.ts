import { type SynthPacket, synthPcap } from '../../src/pcap/synth.js';

/**
 * Generators of hostile captures (test/hostile/): each case at any size, also the fuzzer's seeds
 * (test/pcap/fuzz.test.ts).
 */

/** One SYN per 5-tuple, i microseconds apart: a flow-table flood. */
export const syn = (i: number, nsec: number): SynthPacket => ({ sec: 1_700_000_000, nsec, src: `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`, dst: '192.0.2.1', sport: 1024 + (i % 50000), dport: 443, proto: 'tcp', flags: 2, seq: i });

export function synFlood(n: number): Buffer {
  return Buffer.from(synthPcap(Array.from({ length: n }, (_, i) => syn(i, i * 1000))));
}

/** A handshake record of one byte: the smallest thing that looks like TLS. */
export const TINY_RECORD = [0x16, 0x03, 0x01, 0x00, 0x01, 0x01];

/** n flows of a SYN and one TINY_RECORD each way, never finished: half-open TLS handshakes. */
export function halfOpenTls(n: number): Buffer {
  const packets: SynthPacket[] = [];
  for (let i = 0; i < n; i++) {
    const client = `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}`;
    const t = { sec: 1_700_000_000, nsec: i * 10_000 };
    packets.push({ ...t, src: client, dst: '192.0.2.1', sport: 40000, dport: 443, proto: 'tcp', flags: 2, seq: 100 });
    packets.push({ ...t, nsec: t.nsec + 1, src: client, dst: '192.0.2.1', sport: 40000, dport: 443, proto: 'tcp', flags: 0x18, seq: 101, payload: TINY_RECORD.length });
    packets.push({ ...t, nsec: t.nsec + 2, src: '192.0.2.1', dst: client, sport: 443, dport: 40000, proto: 'tcp', flags: 0x18, seq: 1, payload: TINY_RECORD.length });
  }
  const buf = Buffer.from(synthPcap(packets));
  // Put the record into every payload (after Ethernet, IPv4 and TCP headers: 54 bytes), walking the records.
  let at = 24;
  for (const p of packets) {
    const len = buf.readUInt32LE(at + 8);
    if (p.payload) buf.set(TINY_RECORD, at + 16 + 54);
    at += 16 + len;
  }
  return buf;
}
