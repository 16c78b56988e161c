import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { pythonJson, skipWithoutSklearn } from '../helpers/sklearn.js';
import type { Matrix } from '../../src/dataset/matrix.js';
import { SvmClassifier, fitScaler, loadLibSvm, scale } from '../../src/models/svm.js';

/**
 * The SVM baseline against scikit-learn's make_pipeline(StandardScaler(), SVC()) on the datasets scikit-learn
 * ships: libsvm is the same library underneath, so with the same scaling and gamma the fold accuracies are equal.
 */
const PY = `
import json, sys
from sklearn.datasets import load_iris, load_digits, load_breast_cancer
from sklearn.svm import SVC
from sklearn.preprocessing import StandardScaler
from sklearn.pipeline import make_pipeline
from sklearn.model_selection import StratifiedKFold
out = {}
for name, loader in [('iris', load_iris), ('digits', load_digits), ('breast_cancer', load_breast_cancer)]:
    X, y = loader(return_X_y=True)
    folds = list(StratifiedKFold(5, shuffle=True, random_state=0).split(X, y))
    out[name] = {'X': X.tolist(), 'y': y.tolist(), 'folds': [te.tolist() for _, te in folds],
                 'acc': [float((make_pipeline(StandardScaler(), SVC()).fit(X[tr], y[tr]).predict(X[te]) == y[te]).mean()) for tr, te in folds]}
json.dump(out, sys.stdout)
`;

const skip = skipWithoutSklearn;

describe('SVM against scikit-learn', { skip }, () => {
  const data = skip ? {} : pythonJson<Record<string, { X: number[][]; y: number[]; folds: number[][]; acc: number[] }>>(PY);
  for (const name of ['iris', 'digits', 'breast_cancer']) {
    it(`${name}: the same accuracy as StandardScaler + SVC on every one of 5 folds`, async () => {
      const d = data[name];
      const n = d.y.length;
      const mk = (ids: number[]): Matrix => ({ rows: ids.length, cols: d.X[0].length, data: Float64Array.from(ids.flatMap((i) => d.X[i])) });
      for (const [f, te] of d.folds.entries()) {
        const test = new Set(te);
        const tr = [...Array(n).keys()].filter((i) => !test.has(i));
        const m = await SvmClassifier.fit(mk(tr), Int32Array.from(tr, (i) => d.y[i]), Math.max(...d.y) + 1);
        const p = m.predict(mk(te));
        const acc = te.filter((i, j) => p[j] === d.y[i]).length / te.length;
        assert.ok(Math.abs(acc - d.acc[f]) < 1e-9, `fold ${f}: ${acc} vs sklearn ${d.acc[f]}`);
        if (f === 0) assert.deepEqual((await SvmClassifier.fromJSON(JSON.parse(JSON.stringify(m.toJSON())))).predict(mk(te)), p);
      }
    });
  }
  it('the typed-array SMO predicts what libsvm itself (libsvm-js) predicts, row by row', async () => {
    const d = data.digits;
    const te = new Set(d.folds[0]);
    const tr = [...d.y.keys()].filter((i) => !te.has(i));
    const mk = (ids: number[]): Matrix => ({ rows: ids.length, cols: d.X[0].length, data: Float64Array.from(ids.flatMap((i) => d.X[i])) });
    const m = await SvmClassifier.fit(mk(tr), Int32Array.from(tr, (i) => d.y[i]), 10);
    assert.ok(m.toJSON().smo !== undefined, 'fitted by the SMO');
    const SVM = await loadLibSvm();
    const scaler = fitScaler(mk(tr));
    const gamma = (m.toJSON().smo as { gamma: number }).gamma;
    const lib = new SVM({ kernel: SVM.KERNEL_TYPES.RBF, type: SVM.SVM_TYPES.C_SVC, cost: 1, gamma, quiet: true });
    lib.train(scale(scaler, mk(tr)), tr.map((i) => d.y[i]));
    const ours = Array.from(m.predict(mk([...te])));
    assert.deepEqual(ours, lib.predict(scale(scaler, mk([...te]))));
  });
});
