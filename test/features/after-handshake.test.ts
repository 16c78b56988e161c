import assert from 'node:assert/strict';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { flowPlugins } from '../../src/features/plugins.js';
import { NO_TIMEOUTS, type FlowRow, flowsOf } from '../helpers/flows.js';
import { PCAPS, epochNs, haveTshark, sharedPcaps, tshark } from '../helpers/tshark.js';

/**
 * Where the handshake ends, against tshark on every shared capture: in TLS <= 1.2 the first frame of a TCP stream
 * with an application_data record (tls.record.content_type 23: TLS 1.2 sends Finished as type 22), in QUIC the
 * first frame whose first packet has a short header (quic.header_form 0), in other TCP the first frame with
 * payload. TLS 1.3 hides its handshake types from tshark without keys, so its case is worked by hand below. The
 * after-handshake statistics are then checked against tshark's lengths and times of the frames after that point.
 */

interface Frame {
  n: number;
  t: bigint;
  len: number;
  src: string;
  tcpLen: number;
  types: number[];
  headerForm: number | null;
  trouble: boolean;
  tls13: boolean;
  syn: boolean;
}

function framesByStream(file: string): Map<string, Frame[]> {
  const out = tshark(['-r', file, '-o', 'tcp.analyze_sequence_numbers:TRUE', '-T', 'fields', '-E', 'separator=|', '-E', 'occurrence=a', '-E', 'aggregator=,', '-e', 'frame.number', '-e', 'frame.time_epoch', '-e', 'ip.len', '-e', 'ipv6.plen', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'tcp.srcport', '-e', 'udp.srcport', '-e', 'tcp.stream', '-e', 'udp.stream', '-e', 'tcp.len', '-e', 'tls.record.content_type', '-e', 'quic.header_form', '-e', 'tcp.analysis.flags', '-e', 'tls.handshake.extensions.supported_version', '-e', 'tls.handshake.type', '-e', 'ip.flags.mf', '-e', 'ip.frag_offset', '-e', 'tcp.flags.syn']);
  const streams = new Map<string, Frame[]>();
  for (const line of out.split('\n').filter(Boolean)) {
    const [n, t, l4, l6, s4, s6, tp, up, ts, us, tl, types, hf, flags, sv, ht, mf, fo, syn] = line.split('|');
    if (ts === '' && us === '') continue;
    if (mf === '1' || (fo !== '' && fo !== '0')) continue; // fragments: metered once, reassembled
    const key = ts !== '' ? `tcp ${ts.split(',')[0]}` : `udp ${us.split(',')[0]}`;
    const list = streams.get(key) ?? [];
    const htypes = ht.split(',');
    list.push({
      n: Number(n),
      t: epochNs(t),
      len: l4 ? Number(l4.split(',')[0]) : 40 + Number(l6.split(',')[0]),
      src: `${(s4 || s6).split(',')[0]}:${(tp || up).split(',')[0]}`,
      tcpLen: Number(tl || 0),
      types: types === '' ? [] : types.split(',').map(Number),
      headerForm: hf === '' ? null : Number(hf.split(',')[0]),
      trouble: flags !== '',
      syn: syn === '1' || syn === 'True',
      // A ServerHello with supported_versions is TLS 1.3 or one of its drafts (TLS 1.2 servers never send it).
      tls13: htypes.includes('2') && !htypes.includes('1') && sv !== '',
    });
    streams.set(key, list);
  }
  return streams;
}

/** Frames before the first one of application data, by tshark's fields; undefined when tshark cannot tell. */
function expectedHandshake(key: string, frames: Frame[], client: string): { packets: number; rule: string } | undefined {
  const isTcp = key.startsWith('tcp');
  if (!isTcp && frames[0].headerForm === 1) {
    const i = frames.findIndex((f) => f.headerForm === 0);
    return { packets: i < 0 ? frames.length : i, rule: 'quic' };
  }
  if (!isTcp) return undefined;
  // A record that begins inside a connection (no SYN first) is behind its handshake.
  if (!frames[0].syn) return { packets: 0, rule: 'none' };
  if (frames.some((f) => f.trouble)) return undefined; // gaps and retransmissions: tshark's view and ours differ by design
  const firstPayload = frames.findIndex((f) => f.tcpLen > 0);
  if (firstPayload < 0) return undefined;
  // tshark puts a record that spans segments on the segment that completes it: the first frame with records.
  const f0 = frames.find((f) => f.types.length > 0);
  if (f0 !== undefined && f0.src === client && f0.types[0] === 22) {
    if (frames.some((f) => f.tls13)) return undefined; // worked by hand below
    const i = frames.findIndex((f) => f.types.includes(23));
    return { packets: i < 0 ? frames.length : i, rule: 'tls' };
  }
  return { packets: firstPayload, rule: 'tcp' };
}

function rowFor(rows: FlowRow[], frames: Frame[]): FlowRow | undefined {
  return rows.find((r) => r.first_seen_ns === frames[0].t && r.packets === frames.length);
}

describe('after-handshake group', { skip: !haveTshark() && 'tshark not installed' }, () => {
  it('ends the handshake where tshark shows the first application data, on every shared capture', async () => {
    let checked = 0;
    const rules = new Map<string, number>();
    for (const file of sharedPcaps()) {
      const { rows } = await flowsOf(file, { ...NO_TIMEOUTS, plugins: flowPlugins({ groups: ['after-handshake'], spltPackets: 8 }) });
      for (const [key, frames] of framesByStream(file)) {
        const row = rowFor(rows, frames);
        if (row === undefined) continue;
        const client = `${row.client_addr}:${row.client_port}`;
        const want = expectedHandshake(key, frames, client);
        if (want === undefined) continue;
        const where = `${basename(file)} flow from frame ${frames[0].n}`;
        assert.equal(row.handshake_rule, want.rule, where);
        assert.equal(row.handshake_packets, want.packets, where);
        const after = frames.slice(want.packets);
        const hs = frames.slice(0, want.packets);
        assert.equal(row.handshake_bytes, hs.reduce((s, f) => s + f.len, 0), where);
        assert.equal(row.ah_fwd_packets, after.filter((f) => f.src === client).length, where);
        assert.equal(row.ah_bwd_packets, after.filter((f) => f.src !== client).length, where);
        assert.equal(row.ah_bwd_bytes, after.filter((f) => f.src !== client).reduce((s, f) => s + f.len, 0), where);
        const first = after.slice(0, 8);
        assert.deepEqual(row.ah_splt_signed_len_bytes, first.map((f) => (f.src === client ? f.len : -f.len)), where);
        assert.deepEqual(row.ah_splt_iat_ns, first.map((f, i) => (i === 0 ? 0 : Number(f.t - first[i - 1].t))), where);
        if (after.length > 0) {
          const lens = after.map((f) => f.len);
          const mean = lens.reduce((a, b) => a + b, 0) / lens.length;
          assert.ok(Math.abs((row.ah_pkt_len_mean_bytes as number) - mean) < 1e-9, where);
          assert.equal(row.ah_pkt_len_max_bytes, Math.max(...lens), where);
          assert.equal(row.ah_duration_ns, Number(after[after.length - 1].t - after[0].t), where);
          assert.equal(row.handshake_duration_ns, Number(after[0].t - frames[0].t), where);
        }
        rules.set(want.rule, (rules.get(want.rule) ?? 0) + 1);
        checked++;
      }
    }
    // Each rule met on real traffic, not just the easy one.
    assert.ok((rules.get('tls') ?? 0) >= 5, `TLS flows checked: ${rules.get('tls')}`);
    assert.ok((rules.get('quic') ?? 0) >= 5, `QUIC flows checked: ${rules.get('quic')}`);
    assert.ok((rules.get('tcp') ?? 0) >= 3, `plain TCP flows checked: ${rules.get('tcp')}`);
    assert.ok(checked >= 15);
  });

  it('counts the encrypted TLS 1.3 flight and the client Finished as handshake (tls13-googlevideo-ech, by hand)', async () => {
    // tshark -r tls13-googlevideo-ech.pcap: frames 1-3 TCP handshake; 4 ClientHello; 6 ServerHello + CCS, then the
    // server's encrypted flight (type-23 records of 4487, ... bytes) in 8, 10, 12 with client ACKs between; 14 the
    // client's CCS and a 53-byte type-23 record (its Finished); 15 the client's 1426-byte record, the request.
    const { rows } = await flowsOf(join(PCAPS, 'tls13-googlevideo-ech.pcap'), { ...NO_TIMEOUTS, plugins: flowPlugins({ groups: ['after-handshake'] }) });
    assert.equal(rows.length, 1);
    assert.equal(rows[0].handshake_rule, 'tls');
    assert.equal(rows[0].handshake_packets, 14);
    const lens = tshark(['-r', join(PCAPS, 'tls13-googlevideo-ech.pcap'), '-Y', 'frame.number == 15', '-T', 'fields', '-e', 'ip.len']).trim();
    assert.equal((rows[0].ah_splt_signed_len_bytes as number[])[0], Number(lens));
  });

  it('ends the handshake at a TCP gap and says so (tls13-hello-retry-request: frame 9 arrives before frame 11)', async () => {
    const { rows } = await flowsOf(join(PCAPS, 'tls13-hello-retry-request.pcap'), { ...NO_TIMEOUTS, plugins: flowPlugins({ groups: ['after-handshake'] }) });
    assert.equal(rows[0].handshake_rule, 'tls-desync');
    assert.equal(rows[0].handshake_packets, 8);
  });
});
