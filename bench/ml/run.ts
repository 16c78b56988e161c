/**
 * bench/ml: the same exported data trained and scored by cipherscope and by scikit-learn in the same run, so the
 * ratios hold on a noisy machine. Data: the app task of a labeled flow file (cipherscope testbed / label output),
 * the features `cipherscope evaluate` uses, one grouped fold as the test set.
 *
 *   npm run bench:ml -- LABELED.csv            (default: out/testbed/paper-mini/flows.csv)
 *
 * Prints accuracy, macro-F1, and fit and predict CPU seconds side by side, with cipherscope / scikit-learn ratios.
 * The PyTorch LSTM comparison comes with the LSTM models (issue 6).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeLabels, featureSpec, labeledAppRows, toMatrix } from '../../src/dataset/matrix.js';
import { readRecordsCsv } from '../../src/dataset/records.js';
import { labeledColumns } from '../../src/label/label-capture.js';
import { APP_FOREST, splitGroups } from '../../src/models/evaluate.js';
import { type Matrix, RandomForest } from '../../src/models/forest.js';
import { scores, stratifiedGroupKFold } from '../../src/models/metrics.js';
import { SvmClassifier } from '../../src/models/svm.js';

const here = dirname(fileURLToPath(import.meta.url));
const file = process.argv[2] ?? 'out/testbed/paper-mini/flows.csv';
const cols = labeledColumns();
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
] as const) {
  const a = ours[k];
  const b = sk[k];
  lines.push(`| ${name} | ${(100 * a.accuracy).toFixed(1)} / ${(100 * b.accuracy).toFixed(1)} | ${(100 * a.macro_f1).toFixed(1)} / ${(100 * b.macro_f1).toFixed(1)} | ${a.fit_s.toFixed(2)} / ${b.fit_s.toFixed(2)} (${(a.fit_s / b.fit_s).toFixed(2)}x) | ${a.predict_s.toFixed(3)} / ${b.predict_s.toFixed(3)} (${(a.predict_s / b.predict_s).toFixed(2)}x) |`);
}
process.stdout.write(lines.join('\n') + '\n');
