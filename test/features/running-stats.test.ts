import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { RunningStats } from '../../src/features/running-stats.js';

function direct(xs: number[]) {
  const n = xs.length;
  const mean = n ? xs.reduce((a, b) => a + b, 0) / n : 0;
  const sd = n < 2 ? 0 : Math.sqrt(xs.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
  return { n, mean, sd, min: n ? Math.min(...xs) : 0, max: n ? Math.max(...xs) : 0 };
}

function of(xs: number[]): RunningStats {
  const s = new RunningStats();
  for (const x of xs) s.push(x);
  return s;
}

const near = (a: number, b: number) => Math.abs(a - b) <= 1e-9 * Math.max(1, Math.abs(b));

describe('RunningStats', () => {
  it('equals a two-pass computation (sample SD, n - 1)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -1e9, max: 1e9 }), { maxLength: 200 }), (xs) => {
        const s = of(xs);
        const d = direct(xs);
        return s.n === d.n && near(s.mean, d.mean) && near(s.sd, d.sd) && s.min === d.min && s.max === d.max;
      }),
    );
  });

  it('merging partial statistics equals the statistics of the concatenation (Chan et al.)', () => {
    fc.assert(
      fc.property(fc.array(fc.array(fc.integer({ min: 0, max: 65535 }), { maxLength: 50 }), { maxLength: 6 }), (parts) => {
        const merged = new RunningStats();
        for (const p of parts) merged.merge(of(p));
        const d = direct(parts.flat());
        return merged.n === d.n && near(merged.mean, d.mean) && near(merged.sd, d.sd) && merged.min === d.min && merged.max === d.max;
      }),
    );
  });

  it('hand values: 2, 4, 4, 4, 5, 5, 7, 9', () => {
    const s = of([2, 4, 4, 4, 5, 5, 7, 9]);
    assert.equal(s.mean, 5);
    assert.ok(near(s.sd, Math.sqrt(32 / 7)));
    assert.equal(of([3]).sd, 0);
    assert.equal(of([]).mean, 0);
  });
});
