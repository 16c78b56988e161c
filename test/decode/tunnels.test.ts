import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { after, describe, it } from 'node:test';
import { Decoder } from '../../src/decode/decoder.js';
import { extractFlows } from '../../src/meter/meter.js';
import { CaptureFormatError, readCapture } from '../../src/pcap/reader.js';
import { mulberry32 as rng } from '../../src/common/rng.js';
import { cli } from '../helpers/cli.js';
import { type FlowRow, flowsOf } from '../helpers/flows.js';
import { mutateCapture } from '../helpers/mutate.js';
import { parseCsv } from '../helpers/csv.js';
import { PCAPS, haveTshark, tshark, tsharkConversations } from '../helpers/tshark.js';
import { CAPWAP_RADIO, ERSPAN_SESSION, GRE_KEY, PPTP_CALL, TEID_UP, TUNNEL_WRAPS, type TunnelWrap, VNI, wrapCapture } from '../helpers/tunnels.js';

/**
 * Tunnels (GTP-U, VXLAN, Geneve, GRE, PPTP, ERSPAN II/III, IP in IP, GRE inside VXLAN, TZSP and CAPWAP with
 * Ethernet or 802.11 inside): real captures wrapped
 * byte by byte (test/helpers/tunnels.ts), then metered. tshark's conversations of the wrapped files are those of the
 * originals (so the wrapping is right), ours of the wrapped files are ours of the originals, column for column, and
 * the tunnel ids are what tshark reads in each flow's first packet.
 */
const dir = mkdtempSync(join(tmpdir(), 'cs-tunnels-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const SOURCES = ['tls12-https-heise-offers13.pcap', 'tls-quic-ipv6-cloudflare.pcap', 'dns-udp-edns-ecs-ipv4-ipv6.pcap'];
const wrapped = (src: string, kind: TunnelWrap) => {
  const out = join(dir, `${kind}-${src}`);
  wrapCapture(join(PCAPS, src), out, kind);
  return out;
};

const NAME: Record<TunnelWrap, string> = { 'gtp-u': 'gtp-u', 'gtp-u-ext': 'gtp-u', vxlan: 'vxlan', geneve: 'geneve', 'gre-key': 'gre', erspan2: 'erspan', erspan3: 'erspan', ipip: 'ip-in-ip', pptp: 'pptp', 'vxlan-gre': 'vxlan/gre', tzsp: 'tzsp', 'tzsp-wlan': 'tzsp', capwap: 'capwap', 'capwap-wlan': 'capwap' };
const TSHARK_ID: Record<TunnelWrap, string | undefined> = { 'gtp-u': 'gtp.teid', 'gtp-u-ext': 'gtp.teid', vxlan: 'vxlan.vni', geneve: 'geneve.vni', 'gre-key': 'gre.key', erspan2: 'erspan.spanid', erspan3: 'erspan.spanid', ipip: undefined, pptp: 'gre.key.call_id', 'vxlan-gre': 'vxlan.vni', tzsp: undefined, 'tzsp-wlan': undefined, capwap: 'capwap.header.rid', 'capwap-wlan': 'capwap.header.rid' };
const WRITTEN_ID: Record<TunnelWrap, number | null> = { 'gtp-u': TEID_UP, 'gtp-u-ext': TEID_UP, vxlan: VNI, geneve: VNI, 'gre-key': GRE_KEY, erspan2: ERSPAN_SESSION, erspan3: ERSPAN_SESSION, ipip: null, pptp: PPTP_CALL, 'vxlan-gre': VNI, tzsp: null, 'tzsp-wlan': null, capwap: CAPWAP_RADIO, 'capwap-wlan': CAPWAP_RADIO };

/** A record without the columns a tunnel changes (its file's name, the tunnel columns). */
const inner = (r: FlowRow) => {
  const { capture: _c, tunnel: _t, tunnel_id: _i, ...rest } = r;
  return JSON.stringify(rest, (_, v) => (typeof v === 'bigint' ? String(v) : ArrayBuffer.isView(v) ? Array.from(v as Uint8Array) : v));
};

const tcpFrames = (file: string) =>
  tsharkConversations(file)
    .tcp.map((c) => `${c.a} ${c.b} ${c.framesAB} ${c.framesBA}`)
    .sort();

describe('tunnels', () => {
  it('tshark reads the wrapped captures as the originals: the same TCP conversations, frames each way (the wrapping is right)', { skip: !haveTshark() && 'tshark not installed' }, () => {
    for (const src of SOURCES.slice(0, 2)) {
      const want = tcpFrames(join(PCAPS, src));
      assert.ok(want.length >= 1);
      for (const kind of TUNNEL_WRAPS) assert.deepEqual(tcpFrames(wrapped(src, kind)), want, `${kind} ${src}`);
    }
  });

  it('flows of a wrapped capture are the flows of the original, every column but the tunnel\'s, on every tunnel kind', async () => {
    for (const src of SOURCES) {
      const want = (await flowsOf(join(PCAPS, src))).rows;
      assert.ok(want.length >= 1, src);
      for (const kind of TUNNEL_WRAPS) {
        const { rows } = await flowsOf(wrapped(src, kind));
        assert.deepEqual(rows.map(inner).sort(), want.map(inner).sort(), `${kind} ${src}`);
        for (const r of rows) {
          // Non-IP frames of the original were put in the frame tunnels only; every IP flow came out of one.
          assert.equal(r.tunnel, NAME[kind], `${kind} ${src}: tunnel of ${r.client_addr}`);
        }
      }
    }
  });

  it('tunnel_id is the id tshark reads in each flow\'s first packet (TEID, VNI, GRE key, ERSPAN session, PPTP call)', { skip: !haveTshark() && 'tshark not installed' }, async () => {
    const src = 'tls-quic-ipv6-cloudflare.pcap';
    for (const kind of TUNNEL_WRAPS) {
      const file = wrapped(src, kind);
      const { rows } = await flowsOf(file);
      const field = TSHARK_ID[kind];
      for (const r of rows) {
        const firstFrame = tshark(['-r', file, '-Y', `frame.time_epoch == ${formatEpoch(r.first_seen_ns as bigint)} && ${r.protocol === 6 ? 'tcp' : 'udp'}.port == ${r.client_port}`, '-T', 'fields', '-E', 'occurrence=f', '-e', field ?? 'frame.number']).trim().split('\n')[0];
        if (field === undefined) assert.equal(r.tunnel_id, null, kind);
        else assert.equal(r.tunnel_id, Number(firstFrame), `${kind}: ${field} of the first packet`);
        assert.equal(r.tunnel_id, WRITTEN_ID[kind], `${kind}: the id written`);
      }
    }
  });

  it('--no-tunnels meters the packets between the tunnel end points, as tshark\'s outer conversation', { skip: !haveTshark() && 'tshark not installed' }, () => {
    const file = wrapped('tls12-https-heise-offers13.pcap', 'gtp-u');
    const r = cli(['flows', file, '--no-tunnels', '-q', '--length', 'frame', '--idle-timeout', '1e9', '--active-timeout', '1e9']);
    assert.equal(r.status, 0, r.stderr);
    const [head, ...body] = parseCsv(r.stdout);
    const rows = body.map((x) => Object.fromEntries(head.map((h, i) => [h, x[i]])));
    const outer = tsharkConversations(file).udp.filter((c) => c.a.endsWith(':2152'));
    assert.equal(outer.length, 1);
    assert.equal(rows.length, 1);
    assert.equal(rows[0].server_port, '2152');
    assert.equal(rows[0].tunnel, '');
    assert.equal(Number(rows[0].packets), outer[0].framesAB + outer[0].framesBA);
    assert.deepEqual([rows[0].client_addr, rows[0].server_addr].sort(), ['10.200.0.1', '10.200.0.2']);
  });

  it('what is not IP inside a tunnel leaves the packet outer (ARP in VXLAN); IP fragments inside tunnels are reassembled as without them', async () => {
    const arp = await flowsOf(wrapped('noise-arp-icmp.pcap', 'vxlan'));
    const icmp = arp.rows.filter((r) => r.protocol === 1);
    assert.equal(icmp.length, 1);
    assert.equal(icmp[0].packets, 2);
    assert.equal(icmp[0].tunnel, 'vxlan');
    const outerRows = arp.rows.filter((r) => r.protocol === 17);
    assert.ok(outerRows.every((r) => r.server_port === 4789 && r.tunnel === null));
    assert.equal(
      arp.rows.reduce((s, r) => s + (r.packets as number), 0),
      6,
      'every packet in a record',
    );
    // Datagrams reassembled, and (ipv4-fragments-5) fragments that never complete, counted as such.
    let reassembled = 0;
    for (const src of ['ipv4-fragments-udp.pcap', 'ipv4-fragments-5.pcap', 'dns-ipv6-fragmented.pcap']) {
      const want = await flowsOf(join(PCAPS, src));
      reassembled += want.rows.reduce((s, r) => s + (r.reassembled_datagrams as number), 0);
      for (const kind of ['gtp-u', 'ipip', 'gre-key'] as const) {
        const got = await flowsOf(wrapped(src, kind));
        assert.deepEqual(got.rows.map(inner).sort(), want.rows.map(inner).sort(), `${kind} ${src}`);
        assert.deepEqual(got.summary.dropped, want.summary.dropped, `${kind} ${src}: dropped`);
      }
    }
    assert.ok(reassembled >= 2, `${reassembled} datagrams reassembled`);
  });

  it('two shards route by the inner addresses: --threads 2 gives one thread\'s flows, with tunnels and with --no-tunnels', () => {
    const file = wrapped('dns-udp-edns-ecs-ipv4-ipv6.pcap', 'gtp-u');
    const key = (csv: string) =>
      parseCsv(csv)
        .slice(1)
        .map((x) => x.slice(2).join(','))
        .sort();
    for (const extra of [[], ['--no-tunnels']]) {
      const one = cli(['flows', file, '-q', ...extra]);
      const two = cli(['flows', file, '-q', '--threads', '2', ...extra]);
      assert.equal(two.status, 0, two.stderr);
      assert.ok(key(one.stdout).length >= (extra.length ? 1 : 60));
      assert.deepEqual(key(two.stdout), key(one.stdout), extra.join(' ') || 'tunnels');
    }
  });

  it('filter --only-host keeps the packets whose inner address matches, as on the original capture', () => {
    const src = 'dns-udp-edns-ecs-ipv4-ipv6.pcap';
    const kept = (file: string, host: string) => {
      const r = cli(['filter', file, '--only-host', host, '-o', join(dir, 'kept.pcap')]);
      assert.equal(r.status, 0, r.stderr);
      return Number(/(\d+) written/.exec(r.stderr)?.[1]);
    };
    for (const host of ['37.209.192.2', '2001:470:765b::a25:53']) {
      const want = kept(join(PCAPS, src), host);
      assert.ok(want >= 2, `${host}: ${want}`);
      for (const kind of ['gtp-u', 'vxlan', 'gre-key'] as const) assert.equal(kept(wrapped(src, kind), host), want, `${kind} ${host}`);
    }
  });

  it('every cut of a tunneled frame decodes without throwing: the inner packet, or else the outer one', async () => {
    for (const kind of TUNNEL_WRAPS) {
      const d = new Decoder();
      let frames = 0;
      await readCapture(wrapped('tls12-https-heise-offers13.pcap', kind), {
        packet(rec) {
          if (frames++ > 12) return;
          for (let cut = 0; cut <= rec.capLen; cut++) {
            const p = d.decode({ ...rec, capLen: cut });
            assert.ok(p.kind === 'ip' || p.kind === 'malformed' || p.kind === 'fragment', `${kind} frame ${rec.number} cut at ${cut}: ${p.kind} ${p.reason}`);
            if (p.kind === 'ip' && p.tunnel === '') assert.ok([17, 47, 4, 41].includes(p.proto), `${kind} cut at ${cut}: outer protocol ${p.proto}`);
          }
        },
      });
    }
  });

  it('mutated tunneled captures: never a throw but "not a capture", every record complete', async () => {
    const r = rng(2026120740);
    let runs = 0;
    for (const kind of TUNNEL_WRAPS) {
      const bytes = readFileSync(wrapped('tls-quic-ipv6-cloudflare.pcap', kind));
      for (let k = 0; k < 40; k++) {
        const m = mutateCapture(bytes, r);
        try {
          await extractFlows(Readable.from([m]), () => undefined, { flow: { idleTimeoutSec: 1e9 } });
        } catch (e) {
          assert.ok(e instanceof CaptureFormatError && e.offset === 0, `${kind} mutation ${k}: ${(e as Error).stack}`);
        }
        runs++;
      }
    }
    assert.equal(runs, TUNNEL_WRAPS.length * 40);
  });
});

function formatEpoch(ns: bigint): string {
  return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')}`;
}

