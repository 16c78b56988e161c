import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { Matrix } from '../../src/dataset/matrix.js';
import { GradientBoosting } from '../../src/models/gbdt.js';
import { pythonJson, skipWithoutSklearn } from '../helpers/sklearn.js';

/**
 * Gradient-boosted trees against scikit-learn's HistGradientBoostingClassifier (same defaults, early stopping off)
 * on the datasets scikit-learn ships: the same 5 stratified folds, mean accuracy within 2 points; and a saved model
 * predicts what the fitted one does.
 */
const PY = `
import json, sys
from sklearn.datasets import load_iris, load_digits, load_breast_cancer
from sklearn.ensemble import HistGradientBoostingClassifier
from sklearn.model_selection import StratifiedKFold
out = {}
for name, loader in [('iris', load_iris), ('digits', load_digits), ('breast_cancer', load_breast_cancer)]:
    X, y = loader(return_X_y=True)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    accs = [float((HistGradientBoostingClassifier(early_stopping=False, random_state=0).fit(X[tr], y[tr]).predict(X[te]) == y[te]).mean()) for tr, te in folds]
    out[name] = {'X': X.tolist(), 'y': y.tolist(), 'folds': [te.tolist() for _, te in folds], 'acc': accs}
json.dump(out, sys.stdout)
`;

interface Data {
  X: number[][];
  y: number[];
  folds: number[][];
  acc: number[];
}

const matrix = (d: Data, ids: number[]): Matrix => ({ rows: ids.length, cols: d.X[0].length, data: Float64Array.from(ids.flatMap((i) => d.X[i])) });

describe('gradient-boosted trees against scikit-learn', { skip: skipWithoutSklearn }, () => {
  const data = skipWithoutSklearn ? {} : pythonJson<Record<string, Data>>(PY);
  for (const name of ['iris', 'digits', 'breast_cancer']) {
    it(`${name}: 5 stratified folds, mean accuracy within 2 points of HistGradientBoostingClassifier`, () => {
      const d = data[name];
      const n = d.y.length;
      const k = Math.max(...d.y) + 1;
      const accs = d.folds.map((te, f) => {
        const test = new Set(te);
        const tr = [...Array(n).keys()].filter((i) => !test.has(i));
        const m = GradientBoosting.fit(matrix(d, tr), Int32Array.from(tr, (i) => d.y[i]), k);
        const p = m.predict(matrix(d, te));
        if (f === 0) {
          const back = GradientBoosting.fromJSON(JSON.parse(JSON.stringify(m.toJSON())));
          assert.deepEqual(back.predict(matrix(d, te)), p, 'a saved model predicts the same');
          const proba = m.predictProba(matrix(d, te));
          for (let i = 0; i < te.length; i++) assert.ok(Math.abs(proba.subarray(i * k, (i + 1) * k).reduce((a, b) => a + b, 0) - 1) < 1e-9);
          assert.ok(Math.abs(m.importances.reduce((a, b) => a + b, 0) - 1) < 1e-9);
        }
        return te.filter((i, j) => p[j] === d.y[i]).length / te.length;
      });
      const ours = accs.reduce((a, b) => a + b) / accs.length;
      const theirs = d.acc.reduce((a, b) => a + b) / d.acc.length;
      assert.ok(Math.abs(ours - theirs) <= 0.02, `accuracy ${ours.toFixed(4)} vs sklearn ${theirs.toFixed(4)}`);
    });
  }
});
