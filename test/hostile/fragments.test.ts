import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { FragmentReassembler } from '../../src/decode/fragments.js';

/**
 * Fragment floods, as the Linux kernel bounds them: a cap of pieces per datagram, no datagram beyond 65,535 bytes,
 * pieces kept in order (no re-sort of all of them per fragment), overlaps resolved by arrival (earlier wins).
 */
const piece = (n: number, v: number) => new Uint8Array(n).fill(v);

describe('IP fragments under attack', () => {
  it('40,000 8-byte fragments of one datagram: dropped past 256 pieces, counted, in time like benign ones', () => {
    const hostile = () => {
      const r = new FragmentReassembler();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 40_000; i++) r.add('one', 0, (i % 8000) * 8, true, piece(8, i & 255), 20, 42);
      return { r, ns: Number(process.hrtime.bigint() - t0) };
    };
    const benign = () => {
      const r = new FragmentReassembler();
      const t0 = process.hrtime.bigint();
      for (let i = 0; i < 20_000; i++) {
        r.add(`d${i}`, 0, 0, true, piece(1480, 1), 20, 1514);
        r.add(`d${i}`, 0, 1480, false, piece(8, 2), 20, 42);
      }
      return { r, ns: Number(process.hrtime.bigint() - t0) };
    };
    hostile();
    benign();
    const h = hostile();
    const b = benign();
    assert.equal(h.r.stats.datagrams, 0);
    assert.ok(h.r.stats.tooManyPieces >= 39_000, `${h.r.stats.tooManyPieces} fragments dropped for too many pieces`);
    assert.equal(h.r.stats.inconsistent, h.r.stats.tooManyPieces);
    assert.ok(h.r.held <= 1);
    assert.equal(b.r.stats.datagrams, 20_000);
    assert.ok(h.ns < 5 * b.ns, `the flood took ${(h.ns / b.ns).toFixed(1)}x the benign fragments' time`);
  });

  it('no datagram beyond 65,535 bytes', () => {
    const r = new FragmentReassembler();
    assert.equal(r.add('big', 0, 0, true, piece(1480, 1), 20, 1514), undefined);
    assert.equal(r.add('big', 0, 65528, false, piece(1000, 2), 20, 1034), undefined);
    assert.equal(r.stats.oversized, 2);
    assert.equal(r.held, 0);
  });

  it('out of order and overlapping: complete once covered, the earlier fragment wins where they overlap', () => {
    const r = new FragmentReassembler();
    assert.equal(r.add('x', 0, 16, false, piece(8, 3), 20, 42), undefined);
    assert.equal(r.add('x', 0, 8, true, piece(16, 2), 20, 50), undefined); // overlaps the last piece's first 8 bytes
    const d = r.add('x', 0, 0, true, piece(8, 1), 20, 42);
    assert.ok(d);
    assert.deepEqual(Array.from(d.payload), [...Array(8).fill(1), ...Array(8).fill(2), ...Array(8).fill(3)]);
    assert.equal(d.fragments, 3);
  });
});

describe('--strict and packets in no record', () => {
  it('a fragment never reassembled is counted, and flows --strict exits 2 for it', async () => {
    const { mkdtempSync, rmSync, writeFileSync } = await import('node:fs');
    const { tmpdir } = await import('node:os');
    const { join } = await import('node:path');
    const { cli } = await import('../helpers/cli.js');
    const { HOSTILE, pcapOf } = await import('../helpers/hostile.js');
    const dir = mkdtempSync(join(tmpdir(), 'cs-frag-strict-'));
    try {
      const file = join(dir, 'frags.pcap');
      writeFileSync(file, pcapOf(10, HOSTILE.fragments.make));
      const lenient = cli(['flows', file, '-o', join(dir, 'a.csv')]);
      assert.equal(lenient.status, 0, lenient.stderr);
      assert.match(lenient.stderr, /fragment-not-reassembled=10/);
      const strict = cli(['flows', file, '--strict', '-o', join(dir, 'b.csv')]);
      assert.equal(strict.status, 2);
      assert.match(strict.stderr, /--strict: 1 input\(s\) had warnings, errors or packets in no record/);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
