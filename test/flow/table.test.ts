import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { packetStatsPlugin } from '../../src/features/packet-stats.js';
import type { FlowPlugin } from '../../src/flow/flow.js';
import { SETTLE_BITS } from '../../src/flow/flow.js';
import { type SynthPacket, synthPcap } from '../../src/pcap/synth.js';
import { flowsOf } from '../helpers/flows.js';

const SYN = 0x02;
const ACK = 0x10;
const FIN = 0x01;
const RST = 0x04;
const PSH = 0x08;

const C = '10.0.0.2';
const S = '93.184.216.34';
const T0 = 1_700_000_000;

function tcp(at: number, fromClient: boolean, flags: number, payload = 0, extra: Partial<SynthPacket> = {}): SynthPacket {
  const sec = T0 + Math.floor(at);
  const nsec = Math.round((at - Math.floor(at)) * 1e9);
  return fromClient
    ? { sec, nsec, src: C, dst: S, sport: 40000, dport: 443, proto: 'tcp', flags, payload, seq: 1000, ...extra }
    : { sec, nsec, src: S, dst: C, sport: 443, dport: 40000, proto: 'tcp', flags, payload, seq: 5000, ...extra };
}

/** A complete connection: handshake, one request, one response, FIN both ways, last ACK. */
function connection(start: number, isn = 1000): SynthPacket[] {
  return [
    tcp(start, true, SYN, 0, { seq: isn }),
    tcp(start + 0.01, false, SYN | ACK),
    tcp(start + 0.02, true, ACK),
    tcp(start + 0.03, true, PSH | ACK, 100),
    tcp(start + 0.05, false, PSH | ACK, 1000),
    tcp(start + 0.06, true, FIN | ACK),
    tcp(start + 0.07, false, FIN | ACK),
    tcp(start + 0.08, true, ACK),
  ];
}

describe('flow table', () => {
  it('keeps the final ACK after FIN both ways in the flow (no "TCP appendix" flow)', async () => {
    const { rows } = await flowsOf(synthPcap(connection(0)));
    assert.equal(rows.length, 1);
    assert.equal(rows[0].packets, 8);
    assert.equal(rows[0].expiry_reason, 'end-of-input');
    assert.equal(rows[0].initiator_rule, 'syn');
    assert.equal(rows[0].client_addr, C);
    assert.equal(rows[0].fwd_packets, 5);
    assert.equal(rows[0].bwd_packets, 3);
  });

  it('closes a flow after the FIN grace period and starts a new one for a later packet', async () => {
    const pkts = [...connection(0), tcp(20, true, ACK)];
    const { rows } = await flowsOf(synthPcap(pkts), { flow: { tcpCloseGraceSec: 5 } });
    assert.deepEqual(rows.map((r) => [r.packets, r.expiry_reason]), [
      [8, 'tcp-fin'],
      [1, 'end-of-input'],
    ]);
  });

  it('ends a flow on RST after the grace period, RST packet included', async () => {
    const pkts = [tcp(0, true, SYN), tcp(0.01, false, RST | ACK), tcp(30, true, SYN, 0, { seq: 777 })];
    const { rows } = await flowsOf(synthPcap(pkts));
    assert.deepEqual(rows.map((r) => [r.packets, r.expiry_reason]), [
      [2, 'tcp-rst'],
      [1, 'end-of-input'],
    ]);
  });

  it('a new SYN with a new ISN on a closing connection starts a new flow at once', async () => {
    const pkts = [...connection(0, 1000), ...connection(1, 99999)];
    const { rows } = await flowsOf(synthPcap(pkts));
    assert.deepEqual(rows.map((r) => [r.flow_id, r.packets, r.expiry_reason]), [
      [1, 8, 'tcp-new-syn'],
      [2, 8, 'end-of-input'],
    ]);
  });

  it('a retransmitted SYN (same ISN) stays in its flow', async () => {
    const pkts = [tcp(0, true, SYN, 0, { seq: 1 }), tcp(1, true, SYN, 0, { seq: 1 }), tcp(1.01, false, SYN | ACK)];
    const { rows } = await flowsOf(synthPcap(pkts));
    assert.equal(rows.length, 1);
    assert.equal(rows[0].fwd_syn_count, 2);
  });

  it('expires idle flows (t - last >= idle) and splits at the active timeout keeping client and flow id', async () => {
    const pkts: SynthPacket[] = [tcp(0, true, SYN), tcp(0.01, false, SYN | ACK)];
    // a keep-alive every 50 s for 200 s: never idle (60 s), but older than the active timeout (120 s)
    for (let t = 50; t <= 200; t += 50) pkts.push(tcp(t, false, ACK, 1));
    pkts.push(tcp(300, true, ACK)); // 100 s after the last: idle
    const { rows } = await flowsOf(synthPcap(pkts), { flow: { idleTimeoutSec: 60, activeTimeoutSec: 120 } });
    assert.deepEqual(rows.map((r) => [r.flow_id, r.segment, r.packets, r.expiry_reason, r.initiator_rule, r.client_addr]), [
      [1, 0, 4, 'active', 'syn', C],
      [1, 1, 2, 'idle', 'inherited', C],
      [2, 0, 1, 'end-of-input', 'port', C],
    ]);
  });

  it('splits a long-lived connection at silences of --burst-gap: same flow id, next segment, client kept', async () => {
    // A chat connection: handshake and a message, a keep-alive 10 s later, a second message 30 s later; the server
    // sends the last keep-alive reply first after the gap, so the inherited client must not flip.
    const pkts = [
      tcp(0, true, SYN),
      tcp(0.01, false, SYN | ACK),
      tcp(0.02, true, ACK),
      tcp(0.03, true, PSH | ACK, 300),
      tcp(0.05, false, PSH | ACK, 40),
      tcp(10, false, PSH | ACK, 2),
      tcp(10.01, true, ACK),
      tcp(40, true, PSH | ACK, 500),
      tcp(40.4, false, PSH | ACK, 60),
      tcp(41.3, true, ACK),
    ];
    const { rows } = await flowsOf(synthPcap(pkts), { flow: { burstGapSec: 1 } });
    assert.deepEqual(
      rows.map((r) => [r.flow_id, r.segment, r.packets, r.fwd_packets, r.expiry_reason, r.initiator_rule, r.client_addr]),
      [
        [1, 0, 5, 3, 'burst-gap', 'syn', C],
        [1, 1, 2, 1, 'burst-gap', 'inherited', C],
        [1, 2, 3, 2, 'end-of-input', 'inherited', C],
      ],
    );
    // A gap just under the threshold does not split; off by default.
    assert.equal((await flowsOf(synthPcap(pkts), { flow: { burstGapSec: 30.5 } })).rows.length, 1);
    assert.equal((await flowsOf(synthPcap(pkts))).rows.length, 1);
  });

  it('emits interim status records with a shared flow id when --status-interval is set', async () => {
    const pkts: SynthPacket[] = [tcp(0, true, SYN), tcp(0.01, false, SYN | ACK)];
    for (let t = 1; t <= 25; t += 1) pkts.push(tcp(t, false, ACK, 10));
    const { rows } = await flowsOf(synthPcap(pkts), { flow: { statusIntervalSec: 10 } });
    const kinds = rows.map((r) => [r.record_kind, r.flow_id, r.packets]);
    // status at t=10 (after packets up to t=10) and t=20, then the final record with all 27 packets
    assert.deepEqual(kinds, [
      ['status', 1, 11],
      ['status', 1, 21],
      ['final', 1, 27],
    ]);
  });

  it('mid-connection capture: the side with the well-known port is the server', async () => {
    const pkts = [tcp(0, false, PSH | ACK, 500), tcp(0.1, true, ACK)];
    const { rows } = await flowsOf(synthPcap(pkts));
    assert.equal(rows[0].initiator_rule, 'port');
    assert.equal(rows[0].client_addr, C);
    assert.equal(rows[0].server_port, 443);
    assert.equal(rows[0].fwd_packets, 1);
    assert.equal(rows[0].bwd_packets, 1);
  });

  it('counts out-of-order timestamps, keeps arrival order, and reports the largest time as last_seen', async () => {
    const pkts = [tcp(0, true, SYN), tcp(2, false, SYN | ACK), tcp(1, true, ACK), tcp(3, true, ACK)];
    const { rows, summary } = await flowsOf(synthPcap(pkts));
    assert.equal(rows[0].out_of_order_packets, 1);
    assert.equal(summary.outOfOrder, 1);
    assert.equal(rows[0].last_seen_ns, BigInt(T0 + 3) * 1_000_000_000n);
    // bidirectional IATs in arrival order: 2 s, -1 s, 2 s
    assert.equal(rows[0].iat_min_ns, -1e9);
    assert.equal(rows[0].iat_max_ns, 2e9);
    assert.equal(rows[0].iat_mean_ns, 1e9);
  });

  it('hand-computed direction features on a small flow (IP length accounting)', async () => {
    // client: SYN (40), ACK (40), data 100 (140) at 0, 0.02, 0.03; server: SYN-ACK (40), data 1000 (1040) at 0.01, 0.05
    const pkts = connection(0).slice(0, 5);
    const { rows } = await flowsOf(synthPcap(pkts));
    const r = rows[0];
    assert.equal(r.fwd_pkt_len_min_bytes, 40);
    assert.equal(r.fwd_pkt_len_max_bytes, 140);
    assert.ok(Math.abs((r.fwd_pkt_len_mean_bytes as number) - 220 / 3) < 1e-9);
    // sample SD of 40, 40, 140: mean 73.33, squares 1111.1+1111.1+4444.4 = 6666.7 / 2
    assert.ok(Math.abs((r.fwd_pkt_len_sd_bytes as number) - Math.sqrt(20000 / 3 / 2)) < 1e-9);
    assert.equal(r.bwd_pkt_len_sd_bytes, Math.sqrt(((40 - 540) ** 2 + (1040 - 540) ** 2) / 1));
    assert.equal(r.fwd_iat_min_ns, 10_000_000);
    assert.equal(r.fwd_iat_max_ns, 20_000_000);
    assert.equal(r.fwd_iat_mean_ns, 15_000_000);
    assert.equal(r.bwd_iat_mean_ns, 40_000_000);
    assert.equal(r.bwd_iat_sd_ns, null, 'the SD of one value is absent (null), not 0');
    assert.equal(r.pkt_len_mean_bytes, (40 + 40 + 40 + 140 + 1040) / 5);
    assert.equal(r.fwd_payload_bytes, 100);
    assert.equal(r.bwd_payload_bytes, 1000);
  });

  it('length modes: frame = +14 Ethernet, transport = -20 IP, payload = data only', async () => {
    const pkts = connection(0).slice(0, 5);
    const get = async (lengthMode: 'frame' | 'transport' | 'payload') => (await flowsOf(synthPcap(pkts), { flow: { lengthMode } })).rows[0].bytes;
    assert.equal(await get('frame'), 1300 + 5 * 14);
    assert.equal(await get('transport'), 1300 - 5 * 20);
    assert.equal(await get('payload'), 1100);
  });

  it('IPv6 flows and UDP flows use the port rule when no handshake exists', async () => {
    const pkts: SynthPacket[] = [
      { sec: T0, nsec: 0, src: '2001:db8::1', dst: '2001:db8::53', sport: 53000, dport: 53, proto: 'udp', payload: 30 },
      { sec: T0, nsec: 5000, src: '2001:db8::53', dst: '2001:db8::1', sport: 53, dport: 53000, proto: 'udp', payload: 90 },
    ];
    const { rows } = await flowsOf(synthPcap(pkts));
    assert.equal(rows.length, 1);
    assert.equal(rows[0].client_addr, '2001:db8::1');
    assert.equal(rows[0].ip_version, 6);
    assert.equal(rows[0].bytes, 40 + 8 + 30 + 40 + 8 + 90);
    assert.equal(rows[0].duration_ns, 5000);
  });

  it('stops calling a plugin for a flow once its update returned true (settled), and no other', async () => {
    // Plugins that count the updates they get and settle after `k` (0: never). One more than SETTLE_BITS of them,
    // so the last ones have no settled bit and must be called for every packet even though they return true.
    const counters: Array<FlowPlugin<{ n: number }>> = [];
    const ks: number[] = [];
    for (let i = 0; i < SETTLE_BITS + 2; i++) {
      const k = i % 4; // 0 = never settles, else after k packets
      ks.push(k);
      counters.push({
        name: `count${i}`,
        columns: [{ name: `updates_${i}`, type: 'int', unit: 'packets', description: '' }],
        init: () => ({ n: 0 }),
        update(s) {
          s.n++;
          return k > 0 && s.n >= k;
        },
        write(s, _flow, row, at) {
          row[at] = s.n;
        },
      });
    }
    const pkts = [...connection(0), ...connection(100, 9000).map((p) => (p.src === C ? { ...p, sport: 40001 } : { ...p, dport: 40001 }))];
    const { rows } = await flowsOf(synthPcap(pkts), { plugins: [packetStatsPlugin as FlowPlugin, ...(counters as FlowPlugin[])] });
    assert.equal(rows.length, 2);
    for (const r of rows) {
      assert.equal(r.packets, 8);
      // Plugin i sits at index i + 1 (after packet-stats), so its bit is i + 1.
      ks.forEach((k, i) => assert.equal(r[`updates_${i}`], k === 0 || i + 1 >= SETTLE_BITS ? 8 : k, `plugin ${i} (settles after ${k})`));
    }
  });
});

