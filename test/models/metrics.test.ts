import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { stratifiedGroupKFold } from '../../src/dataset/splits.js';
import { auroc, bootstrapInterval, quantile, scores } from '../../src/models/metrics.js';

describe('evaluation metrics', () => {
  it('accuracy, per-class precision/recall/F1 and macro-F1 equal a hand computation', () => {
    // truth:     0 0 0 1 1 2
    // predicted: 0 0 1 1 2 2
    const s = scores([0, 0, 0, 1, 1, 2], [0, 0, 1, 1, 2, 2], 3);
    assert.equal(s.accuracy, 4 / 6);
    assert.deepEqual(s.confusion, [
      [2, 1, 0],
      [0, 1, 1],
      [0, 0, 1],
    ]);
    // class 0: P 2/2, R 2/3, F1 0.8; class 1: P 1/2, R 1/2, F1 0.5; class 2: P 1/2, R 1, F1 2/3.
    assert.deepEqual(
      s.perClass.map((p) => [p.precision, p.recall, p.support]),
      [
        [1, 2 / 3, 3],
        [0.5, 0.5, 2],
        [0.5, 1, 1],
      ],
    );
    assert.ok(Math.abs(s.macroF1 - (0.8 + 0.5 + 2 / 3) / 3) < 1e-12);
    // A class absent from the truth does not count in macro-F1.
    assert.equal(scores([0, 0], [0, 1], 2).macroF1, 2 / 3);
  });

  it('the bootstrap interval holds the score and is seeded', () => {
    const t = Array.from({ length: 200 }, (_, i) => i % 3);
    const p = t.map((c, i) => (i % 7 === 0 ? (c + 1) % 3 : c));
    const f = (s: ReturnType<typeof scores>) => s.accuracy;
    const [lo, hi] = bootstrapInterval(t, p, 3, f, 500, 9);
    const acc = scores(t, p, 3).accuracy;
    assert.ok(lo < acc && acc < hi && hi - lo < 0.15, `${lo} ${acc} ${hi}`);
    assert.deepEqual(bootstrapInterval(t, p, 3, f, 500, 9), [lo, hi]);
  });

  it('stratified group k-fold never splits a group and uses every fold (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.tuple(fc.integer({ min: 0, max: 2 }), fc.integer({ min: 0, max: 30 })), { minLength: 10, maxLength: 200 }), fc.integer({ min: 2, max: 5 }), (rows, folds) => {
        const y = rows.map((r) => r[0]);
        const g = rows.map((r) => `g${r[1]}`);
        const fold = stratifiedGroupKFold(y, g, 3, folds, 1);
        const of = new Map<string, number>();
        g.forEach((x, i) => {
          if (of.has(x)) assert.equal(of.get(x), fold[i]);
          of.set(x, fold[i]);
        });
        if (new Set(g).size >= folds) assert.equal(new Set(fold).size, folds);
      }),
      { numRuns: 200, seed: 3 },
    );
  });

  it('AUROC by hand (ties count half) and quantiles as numpy interpolates them', () => {
    // Positives 0.9, 0.6, 0.4; negatives 0.6, 0.2: pairs won 2 + 0.5 + 1 ... = (2 + 1.5 + 1) / 6.
    assert.equal(auroc([0.9, 0.6, 0.4, 0.6, 0.2], [1, 1, 1, 0, 0]), 4.5 / 6);
    assert.equal(auroc([1, 2, 3], [0, 1, 1]), 1);
    assert.equal(auroc([1, 2, 3], [1, 0, 0]), 0);
    assert.ok(Number.isNaN(auroc([1, 2], [1, 1])));
    assert.equal(quantile([3, 1, 2, 4], 0.5), 2.5);
    assert.equal(quantile([10, 20, 30, 40, 50], 0.05), 12);
    assert.equal(quantile([7], 0.3), 7);
  });
});
