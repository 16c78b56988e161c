/**
 * bench/ml: the same exported data trained and scored by cipherscope and by scikit-learn in the same run, so the
 * ratios hold on a noisy machine. Data: the app task of a labeled flow file (cipherscope testbed / label output),
 * the features `cipherscope evaluate` uses, one grouped fold as the test set.
 *
 *   npm run bench:ml -- LABELED.csv            (default: out/testbed/paper-mini/flows.csv)
 *
 * Prints accuracy, macro-F1, and fit and predict CPU seconds side by side, with cipherscope / scikit-learn ratios.
 * When the records have series_pooled (label --features all), also the LSTM app model against a PyTorch model of
 * the same shape and training (bench/ml/torch_lstm.py, Debian's python3-torch: bash scripts/setup.sh --bench), with
 * 1 and 2 threads each: training sequences/s and test accuracy.
 *
 *   npm run bench:ml -- LABELED.csv [--lstm-batches 400]
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { type Matrix, argmaxRows, encodeLabels, featureSpec, labeledAppRows, seriesMatrix, toMatrix } from '../../src/dataset/matrix.js';
import { splitGroups, stratifiedGroupKFold } from '../../src/dataset/splits.js';
import { readRecordsCsv } from '../../src/dataset/records.js';
import { ALL_GROUPS, flowPlugins } from '../../src/features/plugins.js';
import { labeledColumns } from '../../src/label/label-capture.js';
import { APP_SEGMENTS, LSTM_UNITS, seriesInputs } from '../../src/models/lstm-models.js';
import { ChainKernel } from '../../src/models/lstm-chain.js';
import { makeKernel } from '../../src/models/lstm-simd.js';
import { trainChain } from '../../src/models/lstm-train.js';
import { APP_FOREST } from '../../src/models/model-kinds.js';
import { RandomForest } from '../../src/models/forest.js';
import { scores } from '../../src/models/metrics.js';
import { SvmClassifier } from '../../src/models/svm.js';
import { GradientBoosting } from '../../src/models/gbdt.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const lstmBatches = args.includes('--lstm-batches') ? Number(args[args.indexOf('--lstm-batches') + 1]) : 400;
const file = args.find((a, i) => !a.startsWith('--') && args[i - 1] !== '--lstm-batches') ?? 'out/testbed/paper-mini/flows.csv';
const cols = labeledColumns(flowPlugins({ groups: ALL_GROUPS }));
const table = readRecordsCsv(file, cols);
const app = table.names.indexOf('label_app');
const rows = labeledAppRows(table);
const spec = featureSpec(cols, table.names);
const { classes, y } = encodeLabels(rows.map((r) => table.rows[r][app] as string));
const fold = stratifiedGroupKFold(y, splitGroups(table, rows, 5), classes.length, 5, 1);
const trainIdx = [...rows.keys()].filter((i) => fold[i] !== 0);
const testIdx = [...rows.keys()].filter((i) => fold[i] === 0);
const xtr = toMatrix(table, spec, trainIdx.map((i) => rows[i]));
const xte = toMatrix(table, spec, testIdx.map((i) => rows[i]));
const ytr = Int32Array.from(trainIdx, (i) => y[i]);
const yte = Int32Array.from(testIdx, (i) => y[i]);

const dir = mkdtempSync(join(tmpdir(), 'cipherscope-bench-ml-'));
const csv = (m: Matrix) => Array.from({ length: m.rows }, (_, i) => Array.from(m.data.subarray(i * m.cols, (i + 1) * m.cols), (v) => (Number.isNaN(v) ? 'nan' : String(v))).join(',')).join('\n') + '\n';
writeFileSync(join(dir, 'x_train.csv'), csv(xtr));
writeFileSync(join(dir, 'x_test.csv'), csv(xte));
writeFileSync(join(dir, 'y_train.csv'), Array.from(ytr).join('\n') + '\n');
writeFileSync(join(dir, 'y_test.csv'), Array.from(yte).join('\n') + '\n');

const cpu = (): number => {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1e6;
};
/** Median CPU seconds of `runs` calls, and the last result. */
async function timed<T>(runs: number, f: () => T | Promise<T>): Promise<[number, T]> {
  const times: number[] = [];
  let r!: T;
  for (let i = 0; i < runs; i++) {
    const t = cpu();
    r = await f();
    times.push(cpu() - t);
  }
  times.sort((x, y) => x - y);
  return [times[runs >> 1], r];
}
const RUNS = 3;
const ours: Record<string, { accuracy: number; macro_f1: number; fit_s: number; predict_s: number }> = {};
const [rfFit, rf] = await timed(RUNS, () => RandomForest.fit(xtr, ytr, classes.length, { ...APP_FOREST, seed: 1 }));
const [rfPredS, rfPred] = await timed(RUNS, () => rf.predict(xte));
const s1 = scores(yte, rfPred, classes.length);
ours.rf = { accuracy: s1.accuracy, macro_f1: s1.macroF1, fit_s: rfFit, predict_s: rfPredS };
const [svmFit, svm] = await timed(RUNS, () => SvmClassifier.fit(xtr, ytr, classes.length));
const [svmPredS, svmPred] = await timed(RUNS, () => svm.predict(xte));
const s2 = scores(yte, svmPred, classes.length);
ours.svm = { accuracy: s2.accuracy, macro_f1: s2.macroF1, fit_s: svmFit, predict_s: svmPredS };
const [gbFit, gb] = await timed(RUNS, () => GradientBoosting.fit(xtr, ytr, classes.length));
const [gbPredS, gbPred] = await timed(RUNS, () => gb.predict(xte));
const s3 = scores(yte, gbPred, classes.length);
ours.gbdt = { accuracy: s3.accuracy, macro_f1: s3.macroF1, fit_s: gbFit, predict_s: gbPredS };

const sk = JSON.parse(execFileSync('/usr/bin/python3', [join(here, 'sk_models.py'), dir], { encoding: 'utf8', maxBuffer: 1 << 24 })) as typeof ours;
const lines = [
  `data: ${file}, app task (${classes.join(', ')}), ${xtr.rows} training and ${xte.rows} test flows (one grouped fold), ${xtr.cols} features; CPU seconds (median of 3), one thread`,
  '',
  '| model | accuracy cipherscope / sklearn | macro-F1 cipherscope / sklearn | fit s cipherscope / sklearn (ratio) | predict s cipherscope / sklearn (ratio) |',
  '|---|---:|---:|---:|---:|',
];
for (const [k, name] of [
  ['rf', 'random forest, 50 trees, depth 15'],
  ['svm', 'SVM, RBF, standardised'],
  ['gbdt', 'gradient-boosted trees (HistGradientBoosting defaults)'],
] as const) {
  const a = ours[k];
  const b = sk[k];
  lines.push(`| ${name} | ${(100 * a.accuracy).toFixed(1)} / ${(100 * b.accuracy).toFixed(1)} | ${(100 * a.macro_f1).toFixed(1)} / ${(100 * b.macro_f1).toFixed(1)} | ${a.fit_s.toFixed(2)} / ${b.fit_s.toFixed(2)} (${(a.fit_s / b.fit_s).toFixed(2)}x) | ${a.predict_s.toFixed(3)} / ${b.predict_s.toFixed(3)} (${(a.predict_s / b.predict_s).toFixed(2)}x) |`);
}
process.stdout.write(lines.join('\n') + '\n');

// The LSTM app model against PyTorch: same shape, same training settings, same number of batches, no early
// stopping, the same split; training wall seconds (ours include starting the worker threads).
if (lstmBatches <= 0) process.stdout.write('\nLSTM: not run (--lstm-batches 0)\n');
else if (table.names.includes('series_pooled')) {
  let torchOk = true;
  try {
    execFileSync('/usr/bin/python3', ['-c', 'import torch'], { stdio: 'pipe' });
  } catch {
    torchOk = false;
    process.stdout.write('\nLSTM: python3-torch is missing (bash scripts/setup.sh --bench installs it); cipherscope rows only\n');
  }
  const str = seriesInputs(seriesMatrix(table, trainIdx.map((i) => rows[i])));
  const ste = seriesInputs(seriesMatrix(table, testIdx.map((i) => rows[i])));
  writeFileSync(join(dir, 'series_train.f32'), Buffer.from(str.buffer, str.byteOffset, str.byteLength));
  writeFileSync(join(dir, 'series_test.f32'), Buffer.from(ste.buffer, ste.byteOffset, ste.byteLength));
  const shape = { inputs: 6, units: LSTM_UNITS, classes: classes.length, segments: APP_SEGMENTS };
  const out = [
    '',
    `LSTM app model (4 chained cells of ${LSTM_UNITS} units, 128 steps x 6 inputs), ${lstmBatches} class-uniform batches of 50, Adam 1e-3, clip 5, no early stopping; wall seconds of training`,
    '',
    '| implementation | threads | training sequences/s | accuracy | macro-F1 |',
    '|---|---:|---:|---:|---:|',
  ];
  const rate: Record<string, number> = {};
  for (const kernel of ['simd', 'js'] as const) {
    for (const threads of [1, 2]) {
      if (kernel === 'js' && threads === 2) continue;
      const r = await trainChain(shape, { x: str, y: ytr, count: ytr.length }, { batches: lstmBatches, threads, validation: 0, kernel, seed: 1 });
      const k: ChainKernel = makeKernel(shape, kernel);
      const pred = argmaxRows(k.predict(r.params, ste, yte.length), classes.length);
      const sc = scores(yte, pred, classes.length);
      rate[`${kernel}${threads}`] = r.sequencesPerSecond;
      out.push(`| cipherscope (${kernel === 'simd' ? 'WebAssembly SIMD kernel' : 'float64 JavaScript kernel'}) | ${threads} | ${Math.round(r.sequencesPerSecond)} | ${(100 * sc.accuracy).toFixed(1)} | ${(100 * sc.macroF1).toFixed(1)} |`);
    }
  }
  if (torchOk) {
    for (const threads of [1, 2]) {
      const t = JSON.parse(execFileSync('/usr/bin/python3', [join(here, 'torch_lstm.py'), dir, String(lstmBatches), String(threads)], { encoding: 'utf8' })) as { accuracy: number; macro_f1: number; sequences_per_s: number; torch: string };
      rate[`torch${threads}`] = t.sequences_per_s;
      out.push(`| PyTorch ${t.torch} (CPU) | ${threads} | ${Math.round(t.sequences_per_s)} | ${(100 * t.accuracy).toFixed(1)} | ${(100 * t.macro_f1).toFixed(1)} |`);
    }
    out.push('', `cipherscope / PyTorch training speed: ${(rate.simd1 / rate.torch1).toFixed(2)}x on 1 thread, ${(rate.simd2 / rate.torch2).toFixed(2)}x on 2`);
  }
  process.stdout.write(out.join('\n') + '\n');
}
