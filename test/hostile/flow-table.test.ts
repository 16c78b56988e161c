import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { synthPcap } from '../../src/pcap/synth.js';
import { syn } from '../helpers/hostile.js';
import { flowsOf } from '../helpers/flows.js';

/**
 * One SYN per 5-tuple inside the idle timeout (the flood that took 4.6 GB and then the heap): the table holds at
 * most maxFlows, writes the longest-idle flow early as `evicted`, counts it, and every packet is in some record.
 */

describe('the flow table under a SYN flood', () => {
  it('50,000 flows through a table of 5,000: 45,000 evicted, counted, every packet in a record', async () => {
    const packets = Array.from({ length: 50_000 }, (_, i) => syn(i, i * 1000));
    // The first flow speaks again at the end: after its eviction, its packet starts a new record.
    packets.push({ ...syn(0, 50_000 * 1000), flags: 0x10 });
    const { rows, summary } = await flowsOf(synthPcap(packets), { flow: { maxFlows: 5000 } });
    assert.equal(summary.evicted, 45_001);
    assert.equal(rows.filter((r) => r.expiry_reason === 'evicted').length, 45_001);
    assert.equal(rows.length, 50_001);
    assert.equal(rows.reduce((n, r) => n + (r.packets as number), 0), packets.length, 'every packet in some record');
    // The longest-idle go first: the evicted are the oldest flows, in order.
    const evicted = rows.filter((r) => r.expiry_reason === 'evicted');
    assert.equal(evicted[0].client_addr, '10.0.0.0');
    assert.equal(evicted[1].client_addr, '10.0.0.1');
    assert.equal(rows.filter((r) => r.client_addr === '10.0.0.0').length, 2, 'the first flow: evicted, then a new record');
  });

  it('no bound reached, nothing evicted: the same records as without a bound', async () => {
    const packets = Array.from({ length: 2000 }, (_, i) => syn(i, i * 1000));
    const bounded = await flowsOf(synthPcap(packets), { flow: { maxFlows: 2000 } });
    const free = await flowsOf(synthPcap(packets), { flow: { maxFlows: Infinity } });
    assert.equal(bounded.summary.evicted, 0);
    assert.deepEqual(bounded.rows.map((r) => r.expiry_reason), free.rows.map((r) => r.expiry_reason));
  });
});
