import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pythonJson, skipWithoutSklearn } from '../helpers/sklearn.js';
import type { Matrix } from '../../src/dataset/matrix.js';
import { RandomForest } from '../../src/models/forest.js';

/**
 * The random forest against scikit-learn on the datasets scikit-learn ships (iris, digits, breast cancer; read from
 * its package, no download): the same 5 stratified folds, the paper's 50 trees of depth 15, mean accuracy within
 * 1.5 points; a single unbootstrapped depth-3 tree predicts what sklearn's DecisionTreeClassifier predicts.
 */

const PY = `
import json, sys
from sklearn.datasets import load_iris, load_digits, load_breast_cancer
from sklearn.tree import DecisionTreeClassifier
from sklearn.ensemble import RandomForestClassifier
from sklearn.model_selection import StratifiedKFold
out = {}
for name, loader in [('iris', load_iris), ('digits', load_digits), ('breast_cancer', load_breast_cancer)]:
    X, y = loader(return_X_y=True)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    accs = [float((RandomForestClassifier(n_estimators=50, max_depth=15, random_state=0).fit(X[tr], y[tr]).predict(X[te]) == y[te]).mean()) for tr, te in folds]
    tree = DecisionTreeClassifier(max_depth=3, random_state=0).fit(X, y)
    out[name] = {'X': X.tolist(), 'y': y.tolist(), 'folds': [te.tolist() for _, te in folds], 'rf_acc': accs, 'tree3_pred': tree.predict(X).tolist()}
json.dump(out, sys.stdout)
`;

const skip = skipWithoutSklearn;

interface Data {
  X: number[][];
  y: number[];
  folds: number[][];
  rf_acc: number[];
  tree3_pred: number[];
}

function matrix(d: Data, ids: number[]): Matrix {
  return { rows: ids.length, cols: d.X[0].length, data: Float64Array.from(ids.flatMap((i) => d.X[i])) };
}

describe('random forest against scikit-learn', { skip }, () => {
  const data = skip ? {} : pythonJson<Record<string, Data>>(PY);

  for (const name of ['iris', 'digits', 'breast_cancer']) {
    it(`${name}: 50 trees of depth 15, 5 stratified folds, mean accuracy within 1.5 points of sklearn`, () => {
      const d = data[name];
      const n = d.y.length;
      const k = Math.max(...d.y) + 1;
      const accs = d.folds.map((te) => {
        const test = new Set(te);
        const tr = [...Array(n).keys()].filter((i) => !test.has(i));
        const m = RandomForest.fit(matrix(d, tr), Int32Array.from(tr, (i) => d.y[i]), k, { trees: 50, maxDepth: 15, seed: 0 });
        const p = m.predict(matrix(d, te));
        return te.filter((i, j) => p[j] === d.y[i]).length / te.length;
      });
      const ours = accs.reduce((a, b) => a + b) / accs.length;
      const theirs = d.rf_acc.reduce((a, b) => a + b) / d.rf_acc.length;
      assert.ok(Math.abs(ours - theirs) <= 0.015, `accuracy ${ours.toFixed(4)} vs sklearn ${theirs.toFixed(4)}`);
    });
  }

  it('one unbootstrapped tree of depth 3 with every feature predicts as sklearn DecisionTreeClassifier', () => {
    for (const name of ['iris', 'digits']) {
      // Both have few distinct values per feature, so every split is exact (no quantile bins).
      const d = data[name];
      const all = [...Array(d.y.length).keys()];
      const m = RandomForest.fit(matrix(d, all), Int32Array.from(d.y), Math.max(...d.y) + 1, { trees: 1, maxDepth: 3, bootstrap: false, maxFeatures: 'all' });
      assert.deepEqual([...m.predict(matrix(d, all))], d.tree3_pred, name);
      assert.ok(m.trees[0].nodes <= 15);
    }
  });

  it('probabilities sum to 1, importances sum to 1, a seeded refit and a JSON round trip give identical predictions', () => {
    const d = data.breast_cancer;
    const all = [...Array(d.y.length).keys()];
    const x = matrix(d, all);
    const y = Int32Array.from(d.y);
    const a = RandomForest.fit(x, y, 2, { trees: 20, maxDepth: 10, seed: 42 });
    const b = RandomForest.fit(x, y, 2, { trees: 20, maxDepth: 10, seed: 42 });
    const c = RandomForest.fromJSON(JSON.parse(JSON.stringify(a.toJSON())));
    const pa = a.predictProba(x);
    assert.deepEqual(pa, b.predictProba(x));
    assert.deepEqual(pa, c.predictProba(x));
    for (let i = 0; i < x.rows; i++) assert.ok(Math.abs(pa[2 * i] + pa[2 * i + 1] - 1) < 1e-12);
    assert.ok(Math.abs(a.importances.reduce((s, v) => s + v, 0) - 1) < 1e-12);
    assert.notDeepEqual(pa, RandomForest.fit(x, y, 2, { trees: 20, maxDepth: 10, seed: 43 }).predictProba(x));
  });

  it('trees grown on worker threads make the same forest as the sequential fit', async () => {
    const d = data.digits;
    const all = [...Array(d.y.length).keys()];
    const x = matrix(d, all);
    const y = Int32Array.from(d.y);
    const opts = { trees: 9, maxDepth: 12, seed: 5 };
    const one = RandomForest.fit(x, y, 10, opts);
    const two = await RandomForest.fitParallel(x, y, 10, opts, 2);
    assert.deepEqual(two.toJSON(), one.toJSON());
  });
});

describe('random forest on hand-made data', () => {
  it('splits at the midpoint between neighbouring values and sends missing values left', () => {
    const x: Matrix = { rows: 6, cols: 1, data: Float64Array.from([1, 2, 3, 10, 11, 12]) };
    const m = RandomForest.fit(x, Int32Array.from([0, 0, 0, 1, 1, 1]), 2, { trees: 1, bootstrap: false, maxFeatures: 'all' });
    assert.equal(m.trees[0].nodes, 3);
    assert.equal(m.trees[0].threshold[0], 6.5);
    assert.deepEqual([...m.predict({ rows: 4, cols: 1, data: Float64Array.from([6.4, 6.6, NaN, -5]) })], [0, 1, 0, 0]);
  });

  it('a constant feature never splits; a pure node is a leaf', () => {
    const x: Matrix = { rows: 4, cols: 2, data: Float64Array.from([5, 0, 5, 0, 5, 1, 5, 1]) };
    const m = RandomForest.fit(x, Int32Array.from([0, 0, 1, 1]), 2, { trees: 3, bootstrap: false, maxFeatures: 1 });
    for (const t of m.trees) {
      assert.equal(t.nodes, 3);
      assert.equal(t.feature[0], 1);
    }
    assert.deepEqual([...m.importances], [0, 1]);
  });
});
