import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { flowsOf } from '../helpers/flows.js';
import { PCAPS, epochNs, haveTshark, tshark } from '../helpers/tshark.js';

/**
 * All 20 direction-based features equal an independent computation from
 * `tshark -T fields` output, to 1e-9 (relative). Times are parsed from tshark's frame.time_epoch text into exact
 * integer nanoseconds; lengths are IP lengths (ip.len, or 40 + ipv6.plen), our default accounting.
 */
interface Pkt {
  tNs: bigint;
  len: number;
  src: string;
}


/** Plain two-pass statistics: mean, then the sample SD with n - 1; 0 for empty sets and below two values. */
function stats(xs: number[]): { min: number; max: number; mean: number; sd: number } {
  if (xs.length === 0) return { min: 0, max: 0, mean: 0, sd: 0 };
  const mean = xs.reduce((a, b) => a + b, 0) / xs.length;
  const ss = xs.reduce((a, b) => a + (b - mean) ** 2, 0);
  return { min: Math.min(...xs), max: Math.max(...xs), mean, sd: xs.length < 2 ? 0 : Math.sqrt(ss / (xs.length - 1)) };
}

function close(actual: unknown, expected: number, what: string): void {
  assert.equal(typeof actual, 'number', what);
  const a = actual as number;
  assert.ok(Math.abs(a - expected) <= 1e-9 * Math.max(1, Math.abs(expected)), `${what}: ours ${a}, independent ${expected}`);
}

function streamsFromTshark(file: string, proto: 'tcp' | 'udp'): Map<string, { client: string; pkts: Pkt[] }> {
  const out = tshark(['-r', file, '-Y', proto, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f', '-e', 'frame.time_epoch', '-e', 'ip.len', '-e', 'ipv6.plen', '-e', 'ip.src', '-e', 'ipv6.src', '-e', `${proto}.srcport`, '-e', `${proto}.stream`, '-e', 'tcp.flags.syn', '-e', 'tcp.flags.ack']);
  const streams = new Map<string, { client: string; pkts: Pkt[] }>();
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [t, ipLen, plen, s4, s6, sport, stream, syn, ack] = line.split('\t');
    const src = `${s4 || s6}:${sport}`;
    const len = ipLen ? Number(ipLen) : 40 + Number(plen);
    let s = streams.get(stream);
    if (s === undefined) {
      s = { client: src, pkts: [] };
      streams.set(stream, s);
    }
    // The client is the SYN sender when there is one (our initiator rule); these captures all start with the SYN.
    if (syn === '1' && ack === '0') s.client = src;
    s.pkts.push({ tNs: epochNs(t), len, src });
  }
  return streams;
}

const FILES: Array<[string, 'tcp' | 'udp']> = [
  ['tls12-https-heise-offers13.pcap', 'tcp'],
  ['ipv6-tcp-smtp.pcap', 'tcp'],
  ['tcp-retransmissions.pcap', 'tcp'],
  ['quic-firefox102-cloudflare.pcap', 'udp'],
];

describe('the 20 direction-based features equal an independent computation from tshark fields', { skip: !haveTshark() && 'tshark not installed' }, () => {
  for (const [name, proto] of FILES) {
    it(name, async () => {
      const file = join(PCAPS, name);
      const { rows } = await flowsOf(file, { flow: { idleTimeoutSec: 1e9, activeTimeoutSec: 1e9, tcpCloseGraceSec: 1e9 } });
      const streams = streamsFromTshark(file, proto);
      assert.ok(streams.size > 0);
      for (const { client, pkts } of streams.values()) {
        const row = rows.find((r) => `${r.client_addr}:${r.client_port}` === client && r.protocol === (proto === 'tcp' ? 6 : 17) && pkts.some((p) => p.src !== client && `${r.server_addr}:${r.server_port}` === p.src));
        assert.ok(row, `no flow with client ${client}`);
        for (const [dir, mine] of [
          ['fwd', pkts.filter((p) => p.src === client)],
          ['bwd', pkts.filter((p) => p.src !== client)],
        ] as const) {
          const len = stats(mine.map((p) => p.len));
          const iats = mine.slice(1).map((p, i) => Number(p.tNs - mine[i].tNs));
          const iat = stats(iats);
          assert.equal(row[`${dir}_packets`], mine.length, `${dir}_packets`);
          assert.equal(row[`${dir}_bytes`], mine.reduce((a, p) => a + p.len, 0), `${dir}_bytes`);
          close(row[`${dir}_pkt_len_min_bytes`], len.min, `${dir} min length`);
          close(row[`${dir}_pkt_len_max_bytes`], len.max, `${dir} max length`);
          close(row[`${dir}_pkt_len_mean_bytes`], len.mean, `${dir} mean length`);
          close(row[`${dir}_pkt_len_sd_bytes`], len.sd, `${dir} SD length`);
          close(row[`${dir}_iat_min_ns`], iat.min, `${dir} min IAT`);
          close(row[`${dir}_iat_max_ns`], iat.max, `${dir} max IAT`);
          close(row[`${dir}_iat_mean_ns`], iat.mean, `${dir} mean IAT`);
          close(row[`${dir}_iat_sd_ns`], iat.sd, `${dir} SD IAT`);
        }
        assert.equal(row.first_seen_ns, pkts[0].tNs, 'first_seen_ns at full resolution');
        assert.equal(row.last_seen_ns, pkts[pkts.length - 1].tNs, 'last_seen_ns at full resolution');
      }
    });
  }
});
