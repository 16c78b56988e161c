import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { NO_USER, planFolds, planSplit } from '../../src/dataset/splits.js';
import type { RecordTable } from '../../src/dataset/records.js';
import { foldBaselines } from '../../src/models/evaluate.js';
import { pythonJson, skipWithoutSklearn } from '../helpers/sklearn.js';

const NAMES = ['capture', 'first_seen_ns', 'client_addr', 'label_user'];
const table = (rows: Array<[string, number, string, string | null]>): RecordTable => ({ names: NAMES, rows: rows.map(([c, t, a, u]) => [c, BigInt(t), a, u]) });

describe('grouped splits', () => {
  it('never puts one group on both sides of a fold, whatever the groups, classes and folds (property)', () => {
    fc.assert(
      fc.property(
        fc.array(fc.tuple(fc.integer({ min: 0, max: 12 }), fc.integer({ min: 0, max: 3 })), { minLength: 2, maxLength: 300 }),
        fc.integer({ min: 2, max: 8 }),
        fc.constantFrom('capture', 'device', 'user'),
        fc.integer({ min: 0, max: 1000 }),
        (rows, folds, by, seed) => {
          const t = table(rows.map(([g, _c], i) => [`cap${g}`, i, `10.0.0.${g}`, `u${g}`]));
          const ids = [...t.rows.keys()];
          if (new Set(rows.map(([g]) => g)).size < 2) {
            assert.throws(() => planSplit(t, ids, by as 'capture', folds), /a split needs two/);
            return;
          }
          const plan = planSplit(t, ids, by as 'capture', folds);
          const y = Int32Array.from(rows, ([, c]) => c);
          const fold = planFolds(plan, y, 4, seed);
          const foldOf = new Map<string, number>();
          plan.groups.forEach((g, i) => {
            if (foldOf.has(g)) assert.equal(foldOf.get(g), fold[i], `group ${g} in two folds`);
            foldOf.set(g, fold[i]);
            assert.ok(fold[i] >= 0 && fold[i] < plan.folds);
          });
          const groups = new Set(plan.groups).size;
          assert.equal(plan.groupCount, groups);
          if (groups <= folds) {
            assert.equal(plan.scheme, 'leave-one-group-out');
            assert.equal(plan.folds, groups);
            assert.equal(new Set(foldOf.values()).size, groups, 'one group a fold');
          } else assert.equal(plan.folds, folds);
        },
      ),
      { numRuns: 300, seed: 20261202 },
    );
  });

  it('says what it is, refuses one group, and keeps records of no user as one group of their own', () => {
    const t = table([
      ['a.pcap', 1, '10.0.0.1', 'alice'],
      ['a.pcap', 2, '10.0.0.2', 'bob'],
      ['b.pcap', 3, '10.0.0.1', 'alice'],
      ['b.pcap', 4, '10.0.0.3', null],
    ]);
    const ids = [0, 1, 2, 3];
    assert.equal(planSplit(t, ids, 'capture', 5).label, 'leave-one-capture-out (2 captures)');
    assert.equal(planSplit(t, ids, 'device', 2).label, '2-fold by device (3 devices)');
    const users = planSplit(t, ids, 'user', 5);
    assert.deepEqual(users.groups, ['alice', 'bob', 'alice', NO_USER]);
    assert.match(users.label, /^leave-one-user-out \(3 users\), 1 records of no user one of them$/);
    assert.match(planSplit(t, ids, 'block', 2).label, /time block .*not capture-disjoint/);
    assert.throws(() => planSplit(t, [0, 1], 'capture', 5), /1 capture, and a split needs two; use --group-by user or device/);
    assert.throws(() => planSplit({ names: ['capture'], rows: [['x'], ['y']] }, [0, 1], 'user', 5), /needs the column label_user/);
  });

  it("baselines in the folds: the majority class as scikit-learn's DummyClassifier predicts it, fold by fold", { skip: skipWithoutSklearn }, () => {
    let s = 3;
    const rnd = () => ((s = (s * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const n = 600;
    const y = Int32Array.from({ length: n }, () => Math.floor(rnd() ** 2 * 4));
    const fold = Int32Array.from({ length: n }, () => Math.floor(rnd() * 5));
    const ours = foldBaselines(y, fold, 5, 4);
    const sk = pythonJson<{ majAcc: number; majF1: number; chAcc: number; chF1: number }>(`
import json, numpy as np
from sklearn.dummy import DummyClassifier
from sklearn.metrics import accuracy_score, f1_score
y = np.array(${JSON.stringify([...y])}); fold = np.array(${JSON.stringify([...fold])})
X = np.zeros((len(y), 1))
maj = np.zeros(len(y), dtype=int)
for f in range(5):
    tr, te = fold != f, fold == f
    maj[te] = DummyClassifier(strategy='most_frequent').fit(X[tr], y[tr]).predict(X[te])
accs, f1s = [], []
for seed in range(300):
    p = np.zeros(len(y), dtype=int)
    for f in range(5):
        tr, te = fold != f, fold == f
        p[te] = DummyClassifier(strategy='stratified', random_state=seed * 10 + f).fit(X[tr], y[tr]).predict(X[te])
    accs.append(accuracy_score(y, p)); f1s.append(f1_score(y, p, labels=sorted(set(y)), average='macro', zero_division=0))
print(json.dumps({'majAcc': accuracy_score(y, maj), 'majF1': f1_score(y, maj, labels=sorted(set(y)), average='macro', zero_division=0), 'chAcc': float(np.mean(accs)), 'chF1': float(np.mean(f1s))}))
`);
    assert.ok(Math.abs(ours.majority.accuracy - sk.majAcc) < 1e-12, `${ours.majority.accuracy} vs ${sk.majAcc}`);
    assert.ok(Math.abs(ours.majority.macroF1 - sk.majF1) < 1e-12, `${ours.majority.macroF1} vs ${sk.majF1}`);
    assert.ok(Math.abs(ours.chance.accuracy - sk.chAcc) < 0.005, `${ours.chance.accuracy} vs ${sk.chAcc}`);
    assert.ok(Math.abs(ours.chance.macroF1 - sk.chF1) < 0.01, `${ours.chance.macroF1} vs ${sk.chF1}`);
  });
});
