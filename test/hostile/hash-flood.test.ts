import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import type { DecodedPacket } from '../../src/decode/packet.js';
import { FlowTable, MAX_CHAIN, flowHash } from '../../src/flow/table.js';
import { collide, v6 } from '../helpers/hostile.js';
import { Decoder } from '../../src/decode/decoder.js';
import { packetStatsPlugin } from '../../src/features/packet-stats.js';
import type { FlowPlugin } from '../../src/flow/flow.js';
import { readCapture } from '../../src/pcap/reader.js';
import { extractFlows } from '../../src/meter/meter.js';
import { type SynthPacket, synthPcap } from '../../src/pcap/synth.js';

/**
 * Hash flooding, as an attacker who knows the code would do it: invert the unkeyed endpoint hash to get 20,000
 * IPv6 client addresses whose flows all share one hash. The table keys its hash with a per-run secret, so those
 * flows spread over the buckets and meter as fast as ordinary ones.
 */
function packet(w: number[], port: number): DecodedPacket {
  return { src0: w[0], src1: w[1], src2: w[2], src3: w[3], srcPort: port, dst0: 0x20010db8, dst1: 0, dst2: 0, dst3: 1, dstPort: 443, proto: 6 } as DecodedPacket;
}

const N = 20_000;
function clients(crafted: boolean, key = 0): Array<{ w: number[]; port: number }> {
  const out: Array<{ w: number[]; port: number }> = [];
  for (let i = 0; i < N; i++) {
    const w1 = 0x11110000 + i;
    const w2 = 0x2222;
    const w3 = 0x33330000 ^ i;
    const port = 1024 + (i % 60000);
    out.push({ w: [crafted ? collide(0xdeadbeef, w1, w2, w3, port, key) : 0x20010db9, w1, w2, w3], port });
  }
  return out;
}

function synCapture(cs: Array<{ w: number[]; port: number }>): Buffer {
  const packets: SynthPacket[] = cs.map((c, i) => ({ sec: 1_700_000_000, nsec: i * 1000, src: v6(c.w), dst: '2001:db8::1', sport: c.port, dport: 443, proto: 'tcp', flags: 2, seq: i }));
  return Buffer.from(synthPcap(packets));
}

describe('hash flooding', () => {
  it('the crafted clients collide in the unkeyed hash, and spread under a key', () => {
    const crafted = clients(true).map((c) => packet(c.w, c.port));
    const unkeyed = new Set(crafted.map((p) => flowHash(p, 0, true, 0)));
    assert.equal(unkeyed.size, 1, 'the attack works on the unkeyed hash');
    const key = 0x5bd1e995;
    const buckets = new Set(crafted.map((p) => flowHash(p, 0, true, key) & 4095));
    assert.ok(buckets.size > 3900, `${buckets.size} of 4096 buckets used under a key`);
  });

  it('20,000 colliding SYNs meter about as fast as 20,000 ordinary ones', async () => {
    const time = async (buf: Buffer) => {
      const t0 = process.hrtime.bigint();
      const s = await extractFlows(Readable.from([buf]), () => {}, {});
      assert.equal(s.flows, N);
      return Number(process.hrtime.bigint() - t0);
    };
    const crafted = synCapture(clients(true));
    const ordinary = synCapture(clients(false));
    await time(ordinary);
    const c = Math.min(await time(crafted), await time(crafted));
    const o = Math.min(await time(ordinary), await time(ordinary));
    assert.ok(c < 3 * o, `colliding SYNs took ${(c / o).toFixed(1)}x the ordinary ones`);
  });

  it('an attacker who learnt the key: the chain passes MAX_CHAIN, the table takes a new key, the flood costs what benign SYNs cost', async () => {
    // The key is the table's secret; this test reads it (as a leak would) and aims 20,000 flows at one chain.
    const run = async (crafted: boolean) => {
      let rows = 0;
      const table = new FlowTable([packetStatsPlugin as FlowPlugin], { record: () => void rows++ });
      const key = (table as unknown as { hashKey: number }).hashKey;
      const buf = synCapture(clients(crafted, key));
      const decoder = new Decoder();
      await readCapture(Readable.from([buf]), {
        packet: (rec) => {
          const p = decoder.decode(rec);
          if (p.kind === 'ip') table.add(p);
        },
      });
      table.flush();
      return { table, rows };
    };
    const time = async (crafted: boolean) => {
      const t0 = process.hrtime.bigint();
      const r = await run(crafted);
      return { ...r, ns: Number(process.hrtime.bigint() - t0) };
    };
    await time(false);
    const c = await time(true);
    const o = await time(false);
    assert.equal(c.rows, N);
    assert.ok(c.table.rekeys >= 1, 'the table took a new key');
    assert.ok(c.table.rekeys <= 3, `${c.table.rekeys} rekeys: amortised, not one per packet`);
    assert.equal(o.table.rekeys, 0, 'benign flows never pass MAX_CHAIN');
    assert.ok(MAX_CHAIN < 100);
    assert.ok(c.ns < 3 * o.ns, `the aimed flood took ${(c.ns / o.ns).toFixed(1)}x the benign SYNs`);
  });
});
