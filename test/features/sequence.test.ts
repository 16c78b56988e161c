import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { flowPlugins } from '../../src/features/plugins.js';
import { flowsOf } from '../helpers/flows.js';
import { PCAPS, epochNs, haveTshark, tshark } from '../helpers/tshark.js';

/**
 * Sequence and byte-distribution columns against an independent computation from
 * `tshark -T fields` (frame times, IP lengths, tcp.payload / udp.payload bytes as hex) on small real captures.
 */

const CASES: Array<[string, 'tcp' | 'udp']> = [
  ['tls12-sni-chrome34-google.pcap', 'tcp'],
  ['quic-chromium115-cirrus.pcap', 'udp'],
];

describe('sequence and byte distribution columns', { skip: !haveTshark() && 'tshark not installed' }, () => {
  for (const [name, proto] of CASES) {
    // 70000: above 65535 the counts are 32-bit, else 16-bit; both must count the same.
    for (const [n, cap] of [
      [20, 4096],
      [7, 300],
      [3, 70000],
    ]) {
      it(`${name} (first ${n} packets, ${cap} payload bytes)`, async () => {
        const file = join(PCAPS, name);
        const { rows } = await flowsOf(file, { plugins: flowPlugins({ spltPackets: n, byteDistBytes: cap }) });
        const out = tshark(['-r', file, '-Y', proto, '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=f', '-e', 'frame.time_epoch', '-e', 'ip.len', '-e', 'ipv6.plen', '-e', 'ip.src', '-e', 'ipv6.src', '-e', `${proto}.srcport`, '-e', `${proto}.stream`, '-e', `${proto}.payload`]);
        const streams = new Map<string, Array<{ t: bigint; len: number; src: string; payload: Buffer }>>();
        for (const line of out.split('\n').filter(Boolean)) {
          const [t, l4, l6, s4, s6, sp, stream, payload] = line.split('|');
          const list = streams.get(stream) ?? [];
          list.push({ t: epochNs(t), len: l4 ? Number(l4) : 40 + Number(l6), src: `${s4 || s6}:${sp}`, payload: Buffer.from(payload.replace(/:/g, ''), 'hex') });
          streams.set(stream, list);
        }
        for (const pkts of streams.values()) {
          const row = rows.find((r) => r.first_seen_ns === pkts[0].t);
          assert.ok(row, 'flow for tshark stream');
          const client = `${row.client_addr}:${row.client_port}`;
          const first = pkts.slice(0, n);
          assert.deepEqual(Array.from(row.splt_signed_len_bytes as Float64Array), first.map((p) => (p.src === client ? p.len : -p.len)));
          assert.deepEqual(Array.from(row.splt_iat_ns as Float64Array), first.map((p, i) => (i === 0 ? 0 : Number(p.t - first[i - 1].t))));
          for (const [dir, fromClient] of [
            ['fwd', true],
            ['bwd', false],
          ] as const) {
            const bytes = Buffer.concat(pkts.filter((p) => (p.src === client) === fromClient).map((p) => p.payload)).subarray(0, cap);
            const counts = new Array<number>(256).fill(0);
            for (const b of bytes) counts[b]++;
            const entropy = counts.reduce((h, c) => (c === 0 ? h : h - (c / bytes.length) * Math.log2(c / bytes.length)), 0);
            assert.deepEqual(Array.from(row[`${dir}_byte_dist`] as Uint16Array), counts, `${dir} byte distribution`);
            assert.equal(row[`${dir}_byte_dist_bytes`], bytes.length);
            assert.ok(Math.abs((row[`${dir}_byte_entropy_bits`] as number) - entropy) < 1e-12, `${dir} entropy`);
          }
        }
      });
    }
  }
});
