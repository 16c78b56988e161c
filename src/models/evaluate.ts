import { mulberry32 } from '../common/rng.js';
import type { ColumnDef } from '../flow/schema.js';
import { EARLY_PACKETS, earlyFeatures } from '../dataset/early.js';
import { type FeatureSpec, encodeLabels, featureSpec, labeledAppRows, toMatrix } from '../dataset/matrix.js';
import type { RecordTable } from '../dataset/records.js';
import { type ForestOptions, type Matrix, RandomForest } from './forest.js';
import { auroc, bootstrapInterval, quantile, scores, stratifiedGroupKFold } from './metrics.js';
import { SvmClassifier } from './svm.js';

/**
 * The paper's Table 2 for the random forest and the SVM: app classification over every flow of a known app, and action
 * classification within each app (its actions plus "impertinent"), scored by macro-F1 (with a 95% bootstrap
 * interval) and accuracy.
 *
 * Split: stratified group k-fold, so that correlated flows never sit on both sides. The group is the capture when
 * the data has at least as many captures as folds; otherwise (one testbed run is one capture) the capture's
 * timeline cut into 4 x folds blocks of consecutive flows: the flows of one action, its retries and its
 * neighbours' background stay together. The paper's random 80/20 split is run beside it as a leaky reference row.
 */

export const APP_FOREST: Partial<ForestOptions> = { trees: 50, maxDepth: 15 };
export const ACTION_FOREST: Partial<ForestOptions> = { trees: 20, maxDepth: 10 };

/** A model kind as the evaluation sees it: fit on rows, predict class indices. */
export interface Learner {
  name: string;
  fit(x: Matrix, y: Int32Array, classes: number, task: 'app' | 'action', seed: number): Promise<{ predict(x: Matrix): Int32Array; importances?: Float64Array }>;
}

export const FOREST_LEARNER: Learner = {
  name: 'RF',
  fit: async (x, y, k, task, seed) => RandomForest.fit(x, y, k, { ...(task === 'app' ? APP_FOREST : ACTION_FOREST), seed }),
};

export const SVM_LEARNER: Learner = {
  name: 'SVM',
  fit: (x, y, k) => SvmClassifier.fit(x, y, k),
};

export interface TaskResult {
  model: string;
  task: string;
  split: 'group-kfold' | 'random-80-20';
  classes: string[];
  rows: number;
  accuracy: number;
  macroF1: number;
  macroF1Ci: [number, number];
  perClass: Array<{ class: string; precision: number; recall: number; f1: number; support: number }>;
  confusion: number[][];
  /** Top features by mean decrease in impurity (forests only, fitted on all rows of the task). */
  importances: Array<{ feature: string; importance: number }>;
}

export interface EvaluationOptions {
  folds: number;
  seed: number;
  exclude?: string[];
  learners?: Learner[];
}

/** Group of each row: capture, or a block of consecutive flows of its capture. */
export function splitGroups(table: RecordTable, rows: readonly number[], folds: number): string[] {
  const cap = table.names.indexOf('capture');
  const first = table.names.indexOf('first_seen_ns');
  const captures = new Set(rows.map((r) => String(table.rows[r][cap])));
  if (captures.size >= folds) return rows.map((r) => String(table.rows[r][cap]));
  const blocks = 4 * folds;
  const out = new Array<string>(rows.length);
  for (const c of captures) {
    const mine = rows.map((r, i) => [i, table.rows[r][first] as bigint] as const).filter(([i]) => String(table.rows[rows[i]][cap]) === c);
    mine.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    mine.forEach(([i], j) => (out[i] = `${c}#${Math.floor((j * blocks) / mine.length)}`));
  }
  return out;
}

async function runTask(learner: Learner, task: string, table: RecordTable, spec: FeatureSpec, rows: number[], labels: string[], o: EvaluationOptions): Promise<TaskResult[]> {
  const { classes, y } = encodeLabels(labels);
  const k = classes.length;
  const kind = task === 'app' ? 'app' : 'action';
  const x = toMatrix(table, spec, rows);
  const results: TaskResult[] = [];
  const assemble = (split: TaskResult['split'], pred: Int32Array, truth: Int32Array, importances: Float64Array | undefined): TaskResult => {
    const s = scores(truth, pred, k);
    const imp = importances ? [...importances].map((v, i) => ({ feature: spec.names[i], importance: v })).sort((a, b) => b.importance - a.importance) : [];
    return {
      model: learner.name,
      task,
      split,
      classes,
      rows: truth.length,
      accuracy: s.accuracy,
      macroF1: s.macroF1,
      macroF1Ci: bootstrapInterval(truth, pred, k, (z) => z.macroF1, 1000, o.seed),
      perClass: s.perClass.map((p, c) => ({ class: classes[c], ...p })),
      confusion: s.confusion,
      importances: imp.slice(0, 10),
    };
  };
  const pick = (ids: number[]): Matrix => {
    const data = new Float64Array(ids.length * x.cols);
    ids.forEach((i, j) => data.set(x.data.subarray(i * x.cols, (i + 1) * x.cols), j * x.cols));
    return { rows: ids.length, cols: x.cols, data };
  };
  // Grouped k-fold: every row is predicted once, by the model that did not see its group.
  const fold = stratifiedGroupKFold(y, splitGroups(table, rows, o.folds), k, o.folds, o.seed);
  const pred = new Int32Array(rows.length);
  for (let f = 0; f < o.folds; f++) {
    const train = [...rows.keys()].filter((i) => fold[i] !== f);
    const test = [...rows.keys()].filter((i) => fold[i] === f);
    if (test.length === 0 || train.length === 0) continue;
    const m = await learner.fit(pick(train), Int32Array.from(train, (i) => y[i]), k, kind, o.seed + f);
    const p = m.predict(pick(test));
    test.forEach((i, j) => (pred[i] = p[j]));
  }
  const all = await learner.fit(x, y, k, kind, o.seed);
  results.push(assemble('group-kfold', pred, y, all.importances));
  // The paper's split: 80/20 at random over flows (leaky: neighbours of a test flow are in training).
  const random = mulberry32(o.seed);
  const order = [...rows.keys()];
  for (let i = order.length - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    [order[i], order[j]] = [order[j], order[i]];
  }
  const cut = Math.floor(order.length * 0.8);
  const train = order.slice(0, cut);
  const test = order.slice(cut);
  if (test.length > 0) {
    const m = await learner.fit(pick(train), Int32Array.from(train, (i) => y[i]), k, kind, o.seed);
    results.push(assemble('random-80-20', m.predict(pick(test)), Int32Array.from(test, (i) => y[i]), m.importances));
  }
  return results;
}

/** App task and one action task per app, for each learner, on labeled flow records (`label` / `testbed` output). */
export async function evaluateModels(table: RecordTable, columns: readonly ColumnDef[], o: EvaluationOptions): Promise<TaskResult[]> {
  const usable = labeledAppRows(table);
  const app = table.names.indexOf('label_app');
  const action = table.names.indexOf('label_action');
  const spec = featureSpec(columns, table.names, o.exclude);
  const results: TaskResult[] = [];
  const apps = [...new Set(usable.map((r) => table.rows[r][app] as string))].sort();
  for (const learner of o.learners ?? [FOREST_LEARNER, SVM_LEARNER]) {
    results.push(...(await runTask(learner, 'app', table, spec, usable, usable.map((r) => table.rows[r][app] as string), o)));
    for (const a of apps) {
      const rows = usable.filter((r) => table.rows[r][app] === a);
      const labels = rows.map((r) => table.rows[r][action] as string);
      if (new Set(labels).size < 2) continue;
      results.push(...(await runTask(learner, `action:${a}`, table, spec, rows, labels, o)));
    }
  }
  return results;
}

const pct = (x: number) => (100 * x).toFixed(1);

/** The results as the paper's Table 2 layout: one row per split, app then action per app; macro-F1 [CI] / accuracy. */
export function table2Markdown(results: readonly TaskResult[]): string {
  const tasks = [...new Set(results.map((r) => r.task))];
  const lines = [`| model, split | ${tasks.map((t) => (t === 'app' ? 'app' : `action (${t.slice(7)})`)).join(' | ')} |`, `|---|${tasks.map(() => '---:').join('|')}|`];
  const models = [...new Set(results.map((r) => r.model))];
  for (const split of ['group-kfold', 'random-80-20'] as const) {
    for (const model of models) {
      const cells = tasks.map((t) => {
        const r = results.find((x) => x.model === model && x.task === t && x.split === split);
        return r ? `${pct(r.macroF1)} [${pct(r.macroF1Ci[0])}, ${pct(r.macroF1Ci[1])}] / ${pct(r.accuracy)}` : '';
      });
      lines.push(`| ${model}, ${split === 'group-kfold' ? 'grouped k-fold' : 'random 80/20 (leaky reference)'} | ${cells.join(' | ')} |`);
    }
  }
  return lines.join('\n') + '\n';
}

export interface OpenWorldResult {
  heldOut: string;
  /** Known-app test flows vs held-out-app flows, scored by the highest app probability (mean over folds). */
  auroc: number;
  /** The threshold that accepts 95% of known test flows (their probabilities' 5th percentile), mean over folds. */
  threshold: number;
  /** Share of the held-out app's flows that fall below that threshold and so come back "unknown". */
  unknownRejected: number;
}

/** Share of known flows a calibrated threshold keeps: the rest come back "unknown". */
export const KNOWN_ACCEPTED = 0.95;

/**
 * Open world: each app in turn is left out of training entirely; a forest trained on the others (grouped folds of
 * their flows) should give the left-out app's flows lower top probabilities than the known apps' test flows.
 */
export async function openWorld(table: RecordTable, columns: readonly ColumnDef[], o: EvaluationOptions): Promise<OpenWorldResult[]> {
  const usable = labeledAppRows(table);
  const app = table.names.indexOf('label_app');
  const spec = featureSpec(columns, table.names, o.exclude);
  const apps = [...new Set(usable.map((r) => table.rows[r][app] as string))].sort();
  const out: OpenWorldResult[] = [];
  if (apps.length < 3) return out;
  for (const h of apps) {
    const known = usable.filter((r) => table.rows[r][app] !== h);
    const unknown = usable.filter((r) => table.rows[r][app] === h);
    const { classes, y } = encodeLabels(known.map((r) => table.rows[r][app] as string));
    const fold = stratifiedGroupKFold(y, splitGroups(table, known, o.folds), classes.length, o.folds, o.seed);
    const xu = toMatrix(table, spec, unknown);
    const aucs: number[] = [];
    const thresholds: number[] = [];
    const rejected: number[] = [];
    for (let f = 0; f < o.folds; f++) {
      const train = known.filter((_, i) => fold[i] !== f);
      const test = known.filter((_, i) => fold[i] === f);
      if (train.length === 0 || test.length === 0) continue;
      const m = RandomForest.fit(toMatrix(table, spec, train), Int32Array.from(known.keys()).filter((i) => fold[i] !== f).map((i) => y[i]), classes.length, { ...APP_FOREST, seed: o.seed + f });
      const top = (p: Float64Array, n: number) => Array.from({ length: n }, (_, i) => Math.max(...p.subarray(i * classes.length, (i + 1) * classes.length)));
      const sk = top(m.predictProba(toMatrix(table, spec, test)), test.length);
      const su = top(m.predictProba(xu), unknown.length);
      aucs.push(auroc([...sk, ...su], [...sk.map(() => 1), ...su.map(() => 0)]));
      const t = quantile(sk, 1 - KNOWN_ACCEPTED);
      thresholds.push(t);
      rejected.push(su.filter((v) => v < t).length / su.length);
    }
    const mean = (v: number[]) => v.reduce((a, b) => a + b, 0) / v.length;
    out.push({ heldOut: h, auroc: mean(aucs), threshold: mean(thresholds), unknownRejected: mean(rejected) });
  }
  return out;
}

export function openWorldMarkdown(results: readonly OpenWorldResult[]): string {
  if (results.length === 0) return '';
  const lines = ['| app left out of training | AUROC known vs unknown | threshold (95% of known kept) | its flows called unknown |', '|---|---:|---:|---:|'];
  for (const r of results) lines.push(`| ${r.heldOut} | ${r.auroc.toFixed(3)} | ${r.threshold.toFixed(2)} | ${pct(r.unknownRejected)}% |`);
  return lines.join('\n') + '\n';
}

export interface EarlyResult {
  packets: number;
  macroF1: number;
  accuracy: number;
}

/**
 * Early classification of the app: the random forest on features of each flow's first n packets only (SPLT
 * columns; see dataset/early.ts), grouped k-fold as above, for each n in EARLY_PACKETS up to the SPLT length.
 */
export async function earlyClassification(table: RecordTable, o: EvaluationOptions): Promise<EarlyResult[]> {
  const lens = table.names.indexOf('splt_signed_len_bytes');
  const iats = table.names.indexOf('splt_iat_ns');
  if (lens < 0 || iats < 0) return [];
  const usable = labeledAppRows(table);
  const app = table.names.indexOf('label_app');
  const { classes, y } = encodeLabels(usable.map((r) => table.rows[r][app] as string));
  if (classes.length < 2) return []; // one app: nothing to tell apart
  const fold = stratifiedGroupKFold(y, splitGroups(table, usable, o.folds), classes.length, o.folds, o.seed);
  const longest = Math.max(0, ...usable.map((r) => (table.rows[r][lens] as number[] | null)?.length ?? 0));
  const out: EarlyResult[] = [];
  for (const n of EARLY_PACKETS.filter((k) => k <= Math.max(longest, 1))) {
    const width = n + 30;
    const data = new Float64Array(usable.length * width);
    usable.forEach((r, i) => data.set(earlyFeatures((table.rows[r][lens] as number[] | null) ?? [], (table.rows[r][iats] as number[] | null) ?? [], n), i * width));
    const pick = (ids: number[]): Matrix => {
      const d = new Float64Array(ids.length * width);
      ids.forEach((i, j) => d.set(data.subarray(i * width, (i + 1) * width), j * width));
      return { rows: ids.length, cols: width, data: d };
    };
    const pred = new Int32Array(usable.length);
    for (let f = 0; f < o.folds; f++) {
      const train = [...usable.keys()].filter((i) => fold[i] !== f);
      const test = [...usable.keys()].filter((i) => fold[i] === f);
      if (train.length === 0 || test.length === 0) continue;
      const m = RandomForest.fit(pick(train), Int32Array.from(train, (i) => y[i]), classes.length, { ...APP_FOREST, seed: o.seed + f });
      m.predict(pick(test)).forEach((p, j) => (pred[test[j]] = p));
    }
    const s = scores(y, pred, classes.length);
    out.push({ packets: n, macroF1: s.macroF1, accuracy: s.accuracy });
  }
  return out;
}

export function earlyMarkdown(results: readonly EarlyResult[], all?: TaskResult): string {
  if (results.length === 0) return '';
  const head = ['packets seen', ...results.map((r) => String(r.packets)), ...(all ? ['whole flow'] : [])];
  const row = ['app macro-F1 / accuracy', ...results.map((r) => `${pct(r.macroF1)} / ${pct(r.accuracy)}`), ...(all ? [`${pct(all.macroF1)} / ${pct(all.accuracy)}`] : [])];
  return `| ${head.join(' | ')} |\n|${head.map(() => '---').join('|')}|\n| ${row.join(' | ')} |\n`;
}
