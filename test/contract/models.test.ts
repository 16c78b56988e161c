import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../docs/examples/centroid-kind.js';
import { mulberry32 } from '../../src/common/rng.js';
import { type Matrix, argmaxRows, labeledAppRows, pickRows, toMatrix } from '../../src/dataset/matrix.js';
import { SERIES_STEPS, STEP_INPUTS } from '../../src/features/series.js';
import type { CellValue } from '../../src/flow/schema.js';
import { labeledColumns } from '../../src/label/label-capture.js';
import { evaluateModels } from '../../src/models/evaluate.js';
import { loadModels, predict, saveModels, trainModels } from '../../src/models/model-dir.js';
import { modelKind, modelKinds } from '../../src/models/model-kinds.js';
import { loadFlowClassifier } from '../../src/pipeline/classifier.js';
import { runPipeline } from '../../src/pipeline/pipeline.js';
import { memorySink } from '../../src/pipeline/sinks.js';
import { flowsOf } from '../helpers/flows.js';
import { pythonJson, skipWithoutSklearn } from '../helpers/sklearn.js';
import { PCAPS } from '../helpers/tshark.js';

/**
 * The contract every registered model kind keeps (the example nearest-centroid kind of docs/architecture.md among
 * them): probabilities are rows of a distribution, predict agrees with them, the model learns what is learnable,
 * and toJSON / fromJSON give the same predictions. Then the example kind goes through evaluate, train and classify.
 */
const IRIS = skipWithoutSklearn
  ? undefined
  : pythonJson<{ X: number[][]; y: number[]; nc: number[] }>(`
import json, sys
from sklearn.datasets import load_iris
from sklearn.neighbors import NearestCentroid
from sklearn.preprocessing import StandardScaler
X, y = load_iris(return_X_y=True)
tr = [i for i in range(len(y)) if i % 2 == 0]
te = [i for i in range(len(y)) if i % 2 == 1]
s = StandardScaler().fit(X[tr])
nc = NearestCentroid().fit(s.transform(X[tr]), y[tr]).predict(s.transform(X[te]))
json.dump({'X': X.tolist(), 'y': y.tolist(), 'nc': nc.tolist()}, sys.stdout)
`);
import { tempDir } from '../helpers/temp.js';

/** Learnable data for a kind: iris for flow features, three classes of noisy series for the pooled series. */
function dataFor(inputs: 'features' | 'series'): { x: Matrix; y: Int32Array; k: number } {
  if (inputs === 'features') {
    assert.ok(IRIS, 'scikit-learn gives iris (scripts/setup.sh installs it)');
    return { x: { rows: IRIS.y.length, cols: 4, data: Float64Array.from(IRIS.X.flat()) }, y: Int32Array.from(IRIS.y), k: 3 };
  }
  const random = mulberry32(5);
  const n = 120;
  const w = SERIES_STEPS * STEP_INPUTS;
  const data = new Float64Array(n * w);
  const y = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    y[i] = i % 3;
    // The first 32 packets (the steps the app model reads last) carry the class in their size and direction.
    for (let t = 0; t < 32; t++) {
      data[i * w + t * STEP_INPUTS + 1] = y[i] === 1 ? -1 : 1;
      data[i * w + t * STEP_INPUTS + 2] = 0.2 + 0.3 * y[i] + 0.05 * random();
    }
  }
  return { x: { rows: n, cols: w, data }, y, k: 3 };
}

const halves = (n: number) => [[...Array(n).keys()].filter((i) => i % 2 === 0), [...Array(n).keys()].filter((i) => i % 2 === 1)];
const settingsFor = (name: string) => (name === 'lstm' ? { batches: 60, batchSize: 20, evalEvery: 20, learningRate: 0.01, threads: 1 } : undefined);

describe('model kind contract', () => {
  for (const kind of modelKinds()) {
    it(`${kind.name}: distributions, agreement with predict, learning, the same predictions after toJSON / fromJSON`, { skip: skipWithoutSklearn }, async () => {
      const { x, y, k } = dataFor(kind.inputs);
      const [train, test] = halves(x.rows);
      const xt = pickRows(x, test);
      const m = await kind.fit(pickRows(x, train), Int32Array.from(train, (i) => y[i]), k, { task: 'app', seed: 1, deploy: true, settings: settingsFor(kind.name) });
      const p = m.predictProba(xt);
      assert.equal(p.length, test.length * k);
      for (let i = 0; i < test.length; i++) {
        const row = p.subarray(i * k, (i + 1) * k);
        assert.ok(row.every((v) => v >= 0 && v <= 1), `row ${i}: ${row.join(',')}`);
        assert.ok(Math.abs(row.reduce((a, b) => a + b, 0) - 1) < 1e-6, `row ${i} sums to 1`);
      }
      const predicted = m.predict(xt);
      const agree = argmaxRows(p, k).filter((c, i) => c === predicted[i]).length / test.length;
      // libsvm's classes come from decision values and its probabilities from Platt scaling, as in scikit-learn.
      assert.ok(agree >= (kind.name === 'svm' ? 0.9 : 1), `predict agrees with predictProba on ${(100 * agree).toFixed(1)}%`);
      const accuracy = predicted.filter((c, i) => c === y[test[i]]).length / test.length;
      assert.ok(accuracy > 0.8, `${kind.name} accuracy ${accuracy} (chance 0.33)`);
      const back = await kind.fromJSON(JSON.parse(JSON.stringify(m.toJSON())), 'app');
      assert.deepEqual(back.predictProba(xt), p);
      if (kind.usesContext) {
        const context = m.context!(pickRows(x, train));
        const a = await kind.fit(pickRows(x, train), Int32Array.from(train, (i) => y[i] % 2), 2, { task: 'action', seed: 2, context, settings: settingsFor(kind.name) });
        const pa = a.predictProba(xt, m.context!(xt));
        assert.equal(pa.length, test.length * 2);
        const again = await kind.fromJSON(JSON.parse(JSON.stringify(a.toJSON())), 'action');
        assert.deepEqual(again.predictProba(xt, m.context!(xt)), pa);
      }
    });
  }

  it('the example kind predicts as scikit-learn NearestCentroid on standardised iris', { skip: skipWithoutSklearn }, async () => {
    const { x, y } = dataFor('features');
    const [train, test] = halves(x.rows);
    const m = await modelKind('centroid').fit(pickRows(x, train), Int32Array.from(train, (i) => y[i]), 3, { task: 'app', seed: 1 });
    assert.deepEqual(Array.from(m.predict(pickRows(x, test))), IRIS!.nc);
  });

  it('the example kind goes through evaluate, train and classify', async () => {
    const cols = labeledColumns();
    const names = cols.map((c) => c.name);
    const rows: CellValue[][] = [];
    const files = ['dns-udp-edns-ecs-ipv4-ipv6.pcap', 'tls13-ipv4-ipv6-drafts.pcap', 'sll-mixed-tcp-dns-arp.pcap'];
    for (const f of files) {
      const { rows: flows } = await flowsOf(join(PCAPS, f));
      for (const r of flows) rows.push(names.map((n) => (n === 'label_app' ? (r.protocol === 17 ? 'U' : 'T') : n === 'label_action' ? ((r.packets as number) > 4 ? 'big' : 'small') : n === 'capture' ? f : (r[n] ?? null))));
    }
    const table = { names, rows };
    const results = await evaluateModels(table, cols, { folds: 3, seed: 1, models: ['centroid'] });
    const app = results.find((r) => r.model === 'NC' && r.task === 'app' && r.split === 'group-kfold');
    assert.ok(app && app.rows === labeledAppRows(table).length && app.accuracy > 0.5, `evaluated: ${JSON.stringify(app?.accuracy)}`);
    const trained = await trainModels(table, cols, new Uint8Array([1]), { kind: 'centroid', seed: 1 });
    assert.equal(trained.manifest.kind, 'centroid');
    const dir = tempDir('cipherscope-centroid-');
    saveModels(dir, trained);
    const loaded = await loadModels(dir);
    const capture = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    const classifier = await loadFlowClassifier(dir);
    const sink = memorySink();
    await runPipeline(capture, [sink], { classifier, records: 'full' });
    // classify meters as the records were labeled: split at the manifest's burst gap.
    const { rows: flows } = await flowsOf(capture, { flow: classifier.flow });
    assert.equal(sink.rows.length, flows.length);
    const at = classifier.meterColumns.length;
    const featureRows = { names: classifier.meterColumns.map((c) => c.name), rows: sink.rows.map((r) => r.slice(0, at)) };
    const expected = predict(loaded, toMatrix(featureRows, { names: loaded.manifest.features }, [...featureRows.rows.keys()]));
    assert.deepEqual(
      sink.rows.map((r) => r[at]),
      expected.map((p) => p.app),
    );
    assert.ok(sink.rows.every((r) => ['U', 'T', 'unknown'].includes(r[at] as string)));
  });
});
