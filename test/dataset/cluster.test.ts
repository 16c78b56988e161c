import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { flowColumns } from '../../src/meter/meter.js';
import { CLUSTER_FEATURES, clusterFeatures, fromMeanSd } from '../../src/dataset/cluster.js';
import { flowsOf, NO_TIMEOUTS } from '../helpers/flows.js';
import { PCAPS, tshark } from '../helpers/tshark.js';

function meanSd(v: number[]): [number, number] {
  const m = v.reduce((a, b) => a + b, 0) / v.length;
  return [m, Math.sqrt(v.reduce((a, b) => a + (b - m) ** 2, 0) / (v.length - 1))];
}

describe('clusters of streams', () => {
  it("merged over every flow of a capture, the packet-length statistics are those of tshark's frame lengths", async () => {
    const file = join(PCAPS, 'tls13-ipv4-ipv6-drafts.pcap');
    const { rows } = await flowsOf(file, { flow: { ...NO_TIMEOUTS, lengthMode: 'frame' } });
    const names = flowColumns().map((c) => c.name);
    const table = { names, rows: rows.map((r) => names.map((n) => r[n] ?? null)) };
    const f = clusterFeatures(table, [...table.rows.keys()]);
    const lens = tshark(['-r', file, '-Y', 'ip or ipv6', '-T', 'fields', '-e', 'frame.len']).trim().split('\n').map(Number);
    const [m, s] = meanSd(lens);
    const at = (n: string) => f[CLUSTER_FEATURES.indexOf(n)];
    assert.equal(at('streams'), rows.length);
    assert.ok(Math.abs(at('pkt_len_mean') - m) < 1e-9, `${at('pkt_len_mean')} vs ${m}`);
    assert.ok(Math.abs(at('pkt_len_sd') - s) < 1e-6, `${at('pkt_len_sd')} vs ${s}`);
    assert.equal(at('pkt_len_min'), Math.min(...lens));
    assert.equal(at('pkt_len_max'), Math.max(...lens));
    assert.equal(at('packets_per_stream'), lens.length / rows.length);
  });

  it('count, mean and sample SD turn back into count, sum and sum of squares', () => {
    const v = [3, 7, 7, 10];
    const [m, s] = meanSd(v);
    const r = fromMeanSd(4, m, s);
    assert.equal(r.n, 4);
    assert.ok(Math.abs(r.sum - 27) < 1e-12);
    assert.ok(Math.abs(r.sumSq - (9 + 49 + 49 + 100)) < 1e-9);
    assert.deepEqual(fromMeanSd(1, 5, NaN), { n: 1, sum: 5, sumSq: 25 });
    assert.deepEqual(fromMeanSd(0, NaN, NaN), { n: 0, sum: 0, sumSq: 0 });
  });
});
