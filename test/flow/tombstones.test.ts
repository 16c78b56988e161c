import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { DecodedPacket } from '../../src/decode/packet.js';
import { type EvictedFlow, Tombstones, tombstoneCapacity } from '../../src/flow/tombstones.js';

const flow = (i: number): EvictedFlow => ({ hash: (i * 2654435761) >>> 0, proto: 6, vlan: 0, ipVersion: 4, c0: 0, c1: 0, c2: 0, c3: 0x0a000000 + i, cPort: 40000, s0: 0, s1: 0, s2: 0, s3: 0xc0000201, sPort: 443, flowId: i + 1, segment: i % 3, lastT: i });
const packetOf = (f: EvictedFlow, reverse = false) =>
  (reverse
    ? { proto: 6, ipVersion: 4, src0: 0, src1: 0, src2: 0, src3: f.s3, srcPort: f.sPort, dst0: 0, dst1: 0, dst2: 0, dst3: f.c3, dstPort: f.cPort }
    : { proto: 6, ipVersion: 4, src0: 0, src1: 0, src2: 0, src3: f.c3, srcPort: f.cPort, dst0: 0, dst1: 0, dst2: 0, dst3: f.s3, dstPort: f.sPort }) as DecodedPacket;

describe('tombstones of evicted flows', () => {
  it('remember exactly the latest `capacity` evictions, either direction, once each', () => {
    const t = new Tombstones(1024);
    for (let i = 0; i < 3000; i++) t.remember(flow(i));
    assert.equal(t.take(flow(1975).hash, packetOf(flow(1975)), 0, 1975, 1e9), undefined, 'older than the latest 1,024: forgotten');
    const got = t.take(flow(1976).hash, packetOf(flow(1976), true), 0, 2000, 1e9);
    assert.deepEqual(got && { id: got.flowId, seg: got.segment, c3: got.c3, port: got.cPort }, { id: 1977, seg: 1976 % 3, c3: 0x0a000000 + 1976, port: 40000 });
    assert.equal(t.take(flow(1976).hash, packetOf(flow(1976)), 0, 2000, 1e9), undefined, 'continued once');
    assert.ok(t.take(flow(2999).hash, packetOf(flow(2999)), 0, 3000, 1e9) !== undefined);
    assert.equal(t.continued, 2);
  });

  it('a packet after the idle timeout, or of another flow with the same hash, is not a continuation', () => {
    const t = new Tombstones(1024);
    t.remember(flow(5));
    const other = { ...packetOf(flow(5)), srcPort: 40001 } as DecodedPacket;
    assert.equal(t.take(flow(5).hash, other, 0, 6, 1e9), undefined);
    assert.equal(t.take(flow(5).hash, packetOf(flow(5)), 1, 6, 1e9), undefined, 'another VLAN');
    assert.equal(t.take(flow(5).hash, packetOf(flow(5)), 0, 5 + 1e9, 1e9), undefined, 'idle timeout passed');
  });

  it('the capacity follows the budget: 1/32 of it, from 1,024 to 65,536 entries', () => {
    assert.equal(tombstoneCapacity(1024 * 1024), 1024);
    assert.equal(tombstoneCapacity(16 * 1024 * 1024), 2048);
    assert.equal(tombstoneCapacity(512 * 1024 * 1024), 65_536);
    assert.equal(tombstoneCapacity(64 * 1024 * 1024 * 1024), 65_536);
  });
});
