/**
 * bench/ml: the same exported data trained and scored by cipherscope and by scikit-learn in the same run, so the
 * ratios hold on a noisy machine. Data: the app task of a labeled flow file (cipherscope testbed / label output),
 * the features `cipherscope evaluate` uses, one grouped fold as the test set.
 *
 *   npm run bench:ml -- LABELED.csv            (default: out/testbed/paper-mini/flows.csv)
 *
 * Prints accuracy, macro-F1, and fit and predict CPU seconds side by side, with cipherscope / scikit-learn ratios:
 * five rounds per model, each our step next to scikit-learn's (sk_models.py serves its steps one at a time), and
 * the median of the rounds' ratios, so both sides see the same phase of the machine's drift.
 * When the records have series_pooled (label --features all), also the LSTM app model against a PyTorch model of
 * the same shape and training (bench/ml/torch_lstm.py, Debian's python3-torch: bash scripts/setup.sh --bench), with
 * 1 and 2 threads each: training sequences/s and test accuracy.
 *
 *   npm run bench:ml -- LABELED.csv [--lstm-batches 400]
 */
import { execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { createInterface } from 'node:readline';
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
import { median } from '../common.js';

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
/** CPU seconds of one call, and its result. */
async function timedOnce<T>(f: () => T | Promise<T>): Promise<[number, T]> {
  const t = cpu();
  const r = await f();
  return [cpu() - t, r];
}

/**
 * scikit-learn served one step at a time (sk_models.py), so that each of our steps runs next to its step in the
 * same phase of the machine's drift: run after ours, three fits each, the ratios of two such medians moved by a
 * third between runs (a forest fit 1.13x, then 1.51x), with neither implementation changed.
 */
const sk = spawn('/usr/bin/python3', [join(here, 'sk_models.py'), dir], { stdio: ['pipe', 'pipe', 'inherit'] });
const answers = createInterface({ input: sk.stdout! })[Symbol.asyncIterator]();
/** One answer of sk_models.py: fit_s for a fit; predict_s, accuracy and macro_f1 for a prediction. */
interface SkAnswer {
  fit_s?: number;
  predict_s?: number;
  accuracy?: number;
  macro_f1?: number;
}
async function ask(model: string, step: 'fit' | 'predict'): Promise<SkAnswer> {
  sk.stdin!.write(`${model} ${step}\n`);
  const line = await answers.next();
  if (line.done) throw new Error(`bench/ml/sk_models.py ended before answering "${model} ${step}"`);
  return JSON.parse(line.value) as SkAnswer;
}

const RUNS = 5;
interface Side {
  accuracy: number;
  macro_f1: number;
  fit_s: number;
  predict_s: number;
}
interface Paired {
  ours: Side;
  sk: Side;
  /** Medians over the rounds of our time over scikit-learn's in the same round, with their range. */
  fit: { ratio: number; range: [number, number] };
  predict: { ratio: number; range: [number, number] };
}
/**
 * RUNS rounds of (our fit, scikit-learn's fit), then RUNS of (our predict, its predict): CPU seconds, medians of
 * each side and of the rounds' ratios. Ours counts every thread of the process (V8 compiles and collects on
 * helper threads), as scikit-learn's process_time does.
 */
async function paired<M>(name: string, fit: () => M | Promise<M>, predict: (m: M) => Int32Array): Promise<Paired> {
  const fits: Array<[number, number]> = [];
  let model!: M;
  for (let i = 0; i < RUNS; i++) {
    const [t, m] = await timedOnce(fit);
    model = m;
    fits.push([t, (await ask(name, 'fit')).fit_s!]);
  }
  const preds: Array<[number, number]> = [];
  let pred!: Int32Array;
  let theirs!: SkAnswer;
  for (let i = 0; i < RUNS; i++) {
    const [t, p] = await timedOnce(() => predict(model));
    pred = p;
    theirs = await ask(name, 'predict');
    preds.push([t, theirs.predict_s!]);
  }
  const s = scores(yte, pred, classes.length);
  const ratio = (xs: Array<[number, number]>) => {
    const r = xs.map(([a, b]) => a / b);
    return { ratio: median(r), range: [Math.min(...r), Math.max(...r)] as [number, number] };
  };
  return {
    ours: { accuracy: s.accuracy, macro_f1: s.macroF1, fit_s: median(fits.map((x) => x[0])), predict_s: median(preds.map((x) => x[0])) },
    sk: { accuracy: theirs.accuracy!, macro_f1: theirs.macro_f1!, fit_s: median(fits.map((x) => x[1])), predict_s: median(preds.map((x) => x[1])) },
    fit: ratio(fits),
    predict: ratio(preds),
  };
}
const results: Record<'rf' | 'svm' | 'gbdt', Paired> = {
  rf: await paired('rf', () => RandomForest.fit(xtr, ytr, classes.length, { ...APP_FOREST, seed: 1 }), (m) => m.predict(xte)),
  svm: await paired('svm', () => SvmClassifier.fit(xtr, ytr, classes.length), (m) => m.predict(xte)),
  gbdt: await paired('gbdt', () => GradientBoosting.fit(xtr, ytr, classes.length), (m) => m.predict(xte)),
};
sk.stdin!.end();

const lines = [
  `data: ${file}, app task (${classes.join(', ')}), ${xtr.rows} training and ${xte.rows} test flows (one grouped fold), ${xtr.cols} features; CPU seconds, one thread, ${RUNS} rounds each alternating cipherscope and scikit-learn (medians; the ratio is the median of the rounds' ratios, with their range)`,
  '',
  '| model | accuracy cipherscope / sklearn | macro-F1 cipherscope / sklearn | fit s cipherscope / sklearn | fit: N× sklearn\'s time (range) | predict s cipherscope / sklearn | predict: N× (range) |',
  '|---|---:|---:|---:|---:|---:|---:|',
];
for (const [k, name] of [
  ['rf', 'random forest, 50 trees, depth 15'],
  ['svm', 'SVM, RBF, standardised'],
  ['gbdt', 'gradient-boosted trees (HistGradientBoosting defaults)'],
] as const) {
  const { ours: a, sk: b, fit, predict } = results[k];
  const r = (x: { ratio: number; range: [number, number] }) => `${x.ratio.toFixed(2)}x (${x.range[0].toFixed(2)}-${x.range[1].toFixed(2)})`;
  lines.push(`| ${name} | ${(100 * a.accuracy).toFixed(1)} / ${(100 * b.accuracy).toFixed(1)} | ${(100 * a.macro_f1).toFixed(1)} / ${(100 * b.macro_f1).toFixed(1)} | ${a.fit_s.toFixed(2)} / ${b.fit_s.toFixed(2)} | ${r(fit)} | ${a.predict_s.toFixed(3)} / ${b.predict_s.toFixed(3)} | ${r(predict)} |`);
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
