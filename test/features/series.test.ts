import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { flowPlugins } from '../../src/features/plugins.js';
import { paperSeries } from '../../src/features/series.js';
import { type SynthPacket, synthPcap } from '../../src/pcap/synth.js';
import { flowsOf } from '../helpers/flows.js';
import { PCAPS } from '../helpers/tshark.js';

/** The series plugin (computed as packets arrive) against paperSeries over the same flow's first 2048 packets. */
function check(rows: Array<Record<string, unknown>>): number {
  let checked = 0;
  for (const r of rows) {
    const want = paperSeries(r.splt_signed_len_bytes as Float64Array, r.splt_iat_ns as Float64Array);
    const got = r.series_pooled as Float64Array;
    assert.equal(got.length, 768);
    for (let i = 0; i < 768; i++) assert.ok(Math.abs(got[i] - want[i]) < 1e-6, `flow ${r.flow_id} input ${i}: ${got[i]} vs ${want[i]}`);
    checked++;
  }
  return checked;
}

describe('the series feature group', () => {
  for (const name of ['tls12-https-heise-offers13.pcap', 'quic-chromium115-cirrus.pcap', 'sll-mixed-tcp-dns-arp.pcap']) {
    it(`${name}: equals paperSeries over the SPLT of the first 2048 packets`, async () => {
      const { rows } = await flowsOf(join(PCAPS, name), { plugins: flowPlugins({ groups: ['splt', 'series'], spltPackets: 2048 }) });
      assert.ok(check(rows) > 0);
    });
  }

  it('a flow longer than 2048 packets and one that stops inside a pooled band', async () => {
    const pkts: SynthPacket[] = [];
    for (let i = 0; i < 2300; i++) {
      const fromClient = i % 3 !== 0;
      const at = i * 0.004 + (i % 7) * 0.0003;
      const sec = 1_700_000_000 + Math.floor(at);
      const nsec = Math.round((at % 1) * 1e9);
      pkts.push(fromClient ? { sec, nsec, src: '10.0.0.2', dst: '10.0.0.9', sport: 40000, dport: 443, proto: 'udp', payload: 20 + ((i * 37) % 1400) } : { sec, nsec, src: '10.0.0.9', dst: '10.0.0.2', sport: 443, dport: 40000, proto: 'udp', payload: 60 + ((i * 53) % 1300) });
    }
    const plugins = flowPlugins({ groups: ['splt', 'series'], spltPackets: 2048 });
    const long = (await flowsOf(synthPcap(pkts), { plugins })).rows;
    assert.equal(long.length, 1);
    assert.equal(check(long), 1);
    const short = (await flowsOf(synthPcap(pkts.slice(0, 45)), { plugins: flowPlugins({ groups: ['splt', 'series'], spltPackets: 2048 }) })).rows;
    assert.equal(check(short), 1);
  });
});
