import assert from 'node:assert/strict';
import { basename } from 'node:path';
import { describe, it } from 'node:test';
import { parseDns } from '../../src/features/dns/message.js';
import { type SynthPacket, synthFrame, synthPcap } from '../../src/pcap/synth.js';
import { NO_TIMEOUTS, flowsOf } from '../helpers/flows.js';
import { haveTshark, sharedPcaps, tshark } from '../helpers/tshark.js';

/**
 * DNS questions and answers equal tshark's dns.* fields, flow by flow, on every shared
 * capture with DNS over port 53; and a flow whose host name comes only from an earlier DNS answer.
 */
const dnsFiles = haveTshark() ? sharedPcaps().filter((f) => tshark(['-r', f, '-Y', 'dns && (udp.port == 53 || tcp.port == 53)', '-T', 'fields', '-e', 'frame.number']).trim() !== '') : [];

function uniq(xs: string[]): string[] {
  return [...new Set(xs.filter((x) => x !== ''))];
}

describe('DNS equals tshark', { skip: !haveTshark() && 'tshark not installed' }, () => {
  it('finds the shared captures with DNS', () => assert.ok(dnsFiles.length >= 8, `${dnsFiles.length}`));
  for (const file of dnsFiles) {
    it(basename(file), async () => {
      const { rows } = await flowsOf(file, { flow: NO_TIMEOUTS });
      const out = tshark(['-r', file, '-Y', 'dns && (udp.port == 53 || tcp.port == 53) && !icmp && !icmpv6', '-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=,', '-E', 'occurrence=a', '-e', 'udp.stream', '-e', 'tcp.stream', '-e', 'dns.qry.name', '-e', 'dns.a', '-e', 'dns.aaaa', '-e', 'dns.svcb.svcparam.ipv4hint.ip', '-e', 'dns.svcb.svcparam.ipv6hint.ip', '-e', 'dns.cname', '-e', 'ip.src', '-e', 'ipv6.src', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'udp.srcport', '-e', 'tcp.srcport', '-e', 'udp.dstport', '-e', 'tcp.dstport']);
      const streams = new Map<string, { eps: Set<string>; names: string[]; addrs: string[]; cnames: string[] }>();
      for (const line of out.split('\n').filter(Boolean)) {
        const [us, ts, names, a, aaaa, h4, h6, cname, s4, s6, d4, d6, usp, tsp, udp, tdp] = line.split('|');
        const key = us !== '' ? `u${us}` : `t${ts}`;
        const st = streams.get(key) ?? { eps: new Set<string>(), names: [], addrs: [], cnames: [] };
        st.eps.add(`${s4 || s6}:${usp || tsp}`);
        st.eps.add(`${d4 || d6}:${udp || tdp}`);
        st.names.push(...names.split(',').map((n) => n.toLowerCase()));
        st.addrs.push(...[a, aaaa, h4, h6].flatMap((x) => x.split(',')));
        st.cnames.push(...cname.split(',').map((n) => n.toLowerCase()));
        streams.set(key, st);
      }
      for (const st of streams.values()) {
        const r = rows.find((x) => st.eps.has(`${x.client_addr}:${x.client_port}`) && st.eps.has(`${x.server_addr}:${x.server_port}`) && (x.dns_messages as number) > 0);
        assert.ok(r, `flow for ${[...st.eps].join(' <-> ')}`);
        assert.deepEqual(((r.dns_queries as string | null) ?? '').split(',').filter(Boolean).sort(), uniq(st.names).sort(), 'questions');
        assert.deepEqual(((r.dns_answer_addrs as string | null) ?? '').split(',').filter(Boolean).sort(), uniq(st.addrs).sort(), 'A/AAAA answers');
        assert.deepEqual(((r.dns_cnames as string | null) ?? '').split(',').filter(Boolean).sort(), uniq(st.cnames).sort(), 'CNAMEs');
      }
    });
  }
});

/** A DNS response for `name` with one A record `addr` (compressed owner name). */
function dnsResponse(name: string, addr: string): number[] {
  const qname = name.split('.').flatMap((l) => [l.length, ...Buffer.from(l)]);
  return [0x12, 0x34, 0x81, 0x80, 0, 1, 0, 1, 0, 0, 0, 0, ...qname, 0, 0, 1, 0, 1, 0xc0, 12, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, ...addr.split('.').map(Number)];
}

describe('DNS naming of flows', () => {
  it('a flow without SNI is named by the latest DNS answer before it started, not by a later one', async () => {
    const T = 1_700_000_000;
    const resp = (sec: number, name: string): SynthPacket => ({ sec: T + sec, nsec: 0, src: '10.0.0.1', dst: '10.0.0.2', sport: 53, dport: 40001, proto: 'udp', payload: 0 });
    // Build the capture from frames so the DNS payload is real: patch the synthetic UDP frames with DNS bytes.
    const frames: Array<{ p: SynthPacket; payload?: number[] }> = [
      { p: resp(0, 'old.example'), payload: dnsResponse('old.example', '157.240.1.1') },
      { p: resp(10, 'chat.whatsapp.net'), payload: dnsResponse('chat.whatsapp.net', '157.240.1.1') },
      { p: { sec: T + 20, nsec: 0, src: '10.0.0.2', dst: '157.240.1.1', sport: 50000, dport: 5222, proto: 'tcp', flags: 0x02 } },
      { p: resp(30, 'later.example'), payload: dnsResponse('later.example', '157.240.1.1') },
    ];
    const pcap = synthPcapWithPayloads(frames);
    const { rows } = await flowsOf(pcap);
    const tcp = rows.find((r) => r.protocol === 6);
    assert.equal(tcp?.dns_host, 'chat.whatsapp.net');
    assert.equal(tcp?.tls_sni, null);
  });

  it('compression loops and forward pointers are rejected, not followed', () => {
    const loop = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 12, 0, 1, 0, 1];
    assert.equal(parseDns(Uint8Array.from(loop)), undefined);
    const fwd = [0, 1, 0x81, 0x80, 0, 1, 0, 0, 0, 0, 0, 0, 0xc0, 20, 0, 1, 0, 1, 0, 0, 1, 0];
    assert.equal(parseDns(Uint8Array.from(fwd)), undefined);
    const ok = parseDns(Uint8Array.from(dnsResponse('a.b', '1.2.3.4')));
    assert.deepEqual(ok?.answers, [{ section: 'answer', name: 'a.b', type: 1, ttl: 60, data: '1.2.3.4' }]);
  });
});

/** synthPcap, with UDP payload bytes replaced by the given DNS message where one is given. */
function synthPcapWithPayloads(items: Array<{ p: SynthPacket; payload?: number[] }>): Uint8Array {
  const base = synthPcap(items.map(({ p, payload }) => ({ ...p, payload: payload?.length ?? p.payload ?? 0 })));
  const dv = new DataView(base.buffer);
  let o = 24;
  for (const { p, payload } of items) {
    const len = dv.getUint32(o + 8, true);
    if (payload) base.set(payload, o + 16 + synthFrame({ ...p, payload: 0 }).length);
    o += 16 + len;
  }
  return base;
}
