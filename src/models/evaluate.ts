import { mulberry32 } from '../common/rng.js';
import type { ColumnDef } from '../flow/schema.js';
import { CLUSTER_FEATURES, clusterFeatures } from '../dataset/cluster.js';
import { EARLY_PACKETS, earlyFeatures } from '../dataset/early.js';
import { type FeatureSpec, encodeLabels, featureSpec, labeledAppRows, toMatrix } from '../dataset/matrix.js';
import type { RecordTable } from '../dataset/records.js';
import { type ForestOptions, type Matrix, RandomForest } from './forest.js';
import { auroc, bootstrapInterval, quantile, scores, stratifiedGroupKFold } from './metrics.js';
import { SvmClassifier } from './svm.js';
import { SERIES_STEPS, STEP_INPUTS } from '../features/series.js';
import { type AppContext, LSTM_UNITS, appContext, argmaxRows, fitActionLstm, fitAppLstm, predictAction, seriesInputs } from './lstm-models.js';
import type { LstmTrainOptions } from './lstm-train.js';

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

/** A fitted model as the evaluation sees it. */
export interface Fitted {
  /** Class index of each row; `context` rows (aligned with x) when the learner takes an app context. */
  predict(x: Matrix, context?: Matrix): Int32Array;
  importances?: Float64Array;
  /** App models that hand a context to action models: one row of it per row of x. */
  context?(x: Matrix): Matrix;
}

/** A model kind as the evaluation sees it: fit on rows, predict class indices. */
export interface Learner {
  name: string;
  /** What a row holds: the flow's feature columns (featureSpec), or its pooled series (series_pooled). */
  inputs?: 'features' | 'series';
  /** False: no importances to report, so no extra fit on all rows. */
  importances?: boolean;
  fit(x: Matrix, y: Int32Array, classes: number, task: 'app' | 'action', seed: number, context?: Matrix): Promise<Fitted>;
}

export const FOREST_LEARNER: Learner = {
  name: 'RF',
  fit: (x, y, k, task, seed) => RandomForest.fitAuto(x, y, k, { ...(task === 'app' ? APP_FOREST : ACTION_FOREST), seed }),
};

export const SVM_LEARNER: Learner = {
  name: 'SVM',
  importances: false,
  fit: (x, y, k) => SvmClassifier.fit(x, y, k),
};

/**
 * The paper's LSTM ensemble (lstm-models.ts). For the app task it learns the app; its out-of-fold context (each
 * flow's app probabilities and last cell state from the fold model that did not see the flow's group) then feeds the
 * action models, as the paper's action models read the app model's output and cell state.
 */
export function lstmLearner(train: Partial<LstmTrainOptions> = {}): Learner {
  return {
    name: 'LSTM',
    inputs: 'series',
    importances: false,
    async fit(x, y, k, task, seed, context) {
      const o = { ...train, seed };
      if (task === 'app') {
        const m = await fitAppLstm(x, y, k, o);
        return {
          predict: (q) => argmaxRows(m.predictProba(seriesInputs(q), q.rows), k),
          context: (q) => contextMatrix(appContext(m, q)),
        };
      }
      if (!context) throw new Error('lstm: the action models need the app model\'s context');
      const m = await fitActionLstm(x, fromContextMatrix(context), y, k, o);
      return {
        predict: (q, c) => {
          if (!c) throw new Error('lstm: the action models need the app model\'s context');
          return argmaxRows(predictAction(m, q, fromContextMatrix(c)), k);
        },
      };
    },
  };
}

/** An app context as matrix rows: the app probabilities, then the cell state. */
function contextMatrix(c: AppContext): Matrix {
  const n = c.cells.length / LSTM_UNITS;
  const cols = c.apps + LSTM_UNITS;
  const data = new Float64Array(n * cols);
  for (let i = 0; i < n; i++) {
    data.set(c.probs.subarray(i * c.apps, (i + 1) * c.apps), i * cols);
    for (let u = 0; u < LSTM_UNITS; u++) data[i * cols + c.apps + u] = c.cells[i * LSTM_UNITS + u];
  }
  return { rows: n, cols, data };
}

function fromContextMatrix(m: Matrix): AppContext {
  const apps = m.cols - LSTM_UNITS;
  const probs = new Float64Array(m.rows * apps);
  const cells = new Float32Array(m.rows * LSTM_UNITS);
  for (let i = 0; i < m.rows; i++) {
    probs.set(m.data.subarray(i * m.cols, i * m.cols + apps), i * apps);
    for (let u = 0; u < LSTM_UNITS; u++) cells[i * LSTM_UNITS + u] = m.data[i * m.cols + apps + u];
  }
  return { probs, cells, apps };
}

/** Rows of the series_pooled column, or an error that says how to get it. */
export function seriesMatrix(table: RecordTable, rows: readonly number[]): Matrix {
  const at = table.names.indexOf('series_pooled');
  if (at < 0) throw new Error('the LSTM reads the series_pooled column: label with --features tcp,tls,dns,splt,bytes,series (or all)');
  const width = SERIES_STEPS * STEP_INPUTS;
  const data = new Float64Array(rows.length * width);
  rows.forEach((r, i) => {
    const v = table.rows[r][at];
    if (!Array.isArray(v) && !(v instanceof Float64Array)) throw new Error(`record ${r + 1}: series_pooled is empty`);
    if (v.length !== width) throw new Error(`record ${r + 1}: series_pooled has ${v.length} values, ${width} expected`);
    data.set(v as ArrayLike<number>, i * width);
  });
  return { rows: rows.length, cols: width, data };
}

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

export function pickRows(x: Matrix, ids: readonly number[]): Matrix {
  const data = new Float64Array(ids.length * x.cols);
  ids.forEach((i, j) => data.set(x.data.subarray(i * x.cols, (i + 1) * x.cols), j * x.cols));
  return { rows: ids.length, cols: x.cols, data };
}

/**
 * One task for one learner: grouped k-fold (every row predicted once, by the model that did not see its group),
 * then the leaky random 80/20 row. `context` (aligned with rows) goes to learners that read an app context; the
 * app task's out-of-fold context comes back in `outOfFold` for the learners that make one.
 */
async function runTask(learner: Learner, task: string, table: RecordTable, spec: FeatureSpec, rows: number[], labels: string[], o: EvaluationOptions, context?: Matrix): Promise<{ results: TaskResult[]; outOfFold?: Matrix; predicted: string[] }> {
  const { classes, y } = encodeLabels(labels);
  const k = classes.length;
  const kind = task === 'app' ? 'app' : 'action';
  const x = learner.inputs === 'series' ? seriesMatrix(table, rows) : toMatrix(table, spec, rows);
  const names = learner.inputs === 'series' ? [] : spec.names;
  const results: TaskResult[] = [];
  const assemble = (split: TaskResult['split'], pred: Int32Array, truth: Int32Array, importances: Float64Array | undefined): TaskResult => {
    const s = scores(truth, pred, k);
    const imp = importances ? [...importances].map((v, i) => ({ feature: names[i], importance: v })).sort((a, b) => b.importance - a.importance) : [];
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
  const ctx = (ids: number[]) => (context ? pickRows(context, ids) : undefined);
  const fold = stratifiedGroupKFold(y, splitGroups(table, rows, o.folds), k, o.folds, o.seed);
  const pred = new Int32Array(rows.length);
  let outOfFold: Matrix | undefined;
  for (let f = 0; f < o.folds; f++) {
    const train = [...rows.keys()].filter((i) => fold[i] !== f);
    const test = [...rows.keys()].filter((i) => fold[i] === f);
    if (test.length === 0 || train.length === 0) continue;
    const m = await learner.fit(pickRows(x, train), Int32Array.from(train, (i) => y[i]), k, kind, o.seed + f, ctx(train));
    const xt = pickRows(x, test);
    const p = m.predict(xt, ctx(test));
    test.forEach((i, j) => (pred[i] = p[j]));
    if (m.context) {
      const c = m.context(xt);
      outOfFold ??= { rows: rows.length, cols: c.cols, data: new Float64Array(rows.length * c.cols) };
      test.forEach((i, j) => outOfFold!.data.set(c.data.subarray(j * c.cols, (j + 1) * c.cols), i * c.cols));
    }
  }
  const importances = learner.importances === false ? undefined : (await learner.fit(x, y, k, kind, o.seed, context)).importances;
  results.push(assemble('group-kfold', pred, y, importances));
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
    const m = await learner.fit(pickRows(x, train), Int32Array.from(train, (i) => y[i]), k, kind, o.seed, ctx(train));
    results.push(assemble('random-80-20', m.predict(pickRows(x, test), ctx(test)), Int32Array.from(test, (i) => y[i]), m.importances));
  }
  return { results, outOfFold, predicted: Array.from(pred, (c) => classes[c]) };
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
    const appTask = await runTask(learner, 'app', table, spec, usable, usable.map((r) => table.rows[r][app] as string), o);
    results.push(...appTask.results);
    // Out-of-fold action of every flow by its true app's action model (an app with one action: that action).
    const actionOf = usable.map((r) => table.rows[r][action] as string);
    let anyActionTask = false;
    for (const a of apps) {
      const ids = [...usable.keys()].filter((i) => table.rows[usable[i]][app] === a);
      const rows = ids.map((i) => usable[i]);
      const labels = rows.map((r) => table.rows[r][action] as string);
      if (new Set(labels).size < 2) continue;
      anyActionTask = true;
      const context = appTask.outOfFold ? pickRows(appTask.outOfFold, ids) : undefined;
      const t = await runTask(learner, `action:${a}`, table, spec, rows, labels, o, context);
      results.push(...t.results);
      ids.forEach((i, j) => (actionOf[i] = t.predicted[j]));
    }
    if (anyActionTask) results.push(endToEnd(learner.name, usable.map((r) => `${table.rows[r][app]}/${table.rows[r][action]}`), appTask.predicted, usable.map((r) => table.rows[r][app] as string), actionOf, o.seed));
  }
  return results;
}

/**
 * End to end, as classify runs: the predicted app chooses the action model, so a flow is right only when its app and
 * its action both are. Classes are app/action pairs; a flow whose app is wrong is scored as "<predicted app>/?" (the
 * action model of that app never saw the flow in its folds), which matches no true pair.
 */
function endToEnd(model: string, truth: string[], predictedApp: string[], trueApp: string[], actionByTrueApp: string[], seed: number): TaskResult {
  const pred = truth.map((_, i) => (predictedApp[i] === trueApp[i] ? `${trueApp[i]}/${actionByTrueApp[i]}` : `${predictedApp[i]}/?`));
  const { classes, y } = encodeLabels([...truth, ...pred]);
  const t = y.subarray(0, truth.length);
  const p = y.subarray(truth.length);
  const k = classes.length;
  const s = scores(t, p, k);
  return {
    model,
    task: 'end-to-end',
    split: 'group-kfold',
    classes,
    rows: truth.length,
    accuracy: s.accuracy,
    macroF1: s.macroF1,
    macroF1Ci: bootstrapInterval(t, p, k, (z) => z.macroF1, 1000, seed),
    perClass: s.perClass.map((c, i) => ({ class: classes[i], ...c })).filter((c) => c.support > 0),
    confusion: s.confusion,
    importances: [],
  };
}

const pct = (x: number) => (100 * x).toFixed(1);

/** The results as the paper's Table 2 layout: one row per split, app then action per app; macro-F1 [CI] / accuracy. */
export function table2Markdown(results: readonly TaskResult[]): string {
  const tasks = [...new Set(results.map((r) => r.task))];
  const lines = [`| model, split | ${tasks.map((t) => (t === 'app' ? 'app' : t === 'end-to-end' ? 'app/action end to end' : `action (${t.slice(7)})`)).join(' | ')} |`, `|---|${tasks.map(() => '---:').join('|')}|`];
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

export interface ClusterResult {
  streams: number;
  clusters: number;
  macroF1: number;
  accuracy: number;
  /** Mean probability of the predicted app: how sure the model is about clusters of this size. */
  confidence: number;
}

export const CLUSTER_SIZES = [1, 2, 4, 8, 16];

/**
 * The app of a cluster of streams from merged statistics (dataset/cluster.ts), as the paper proposes: grouped
 * k-fold over flows as for the app task; in each fold, the flows of each app and group (capture or block of the
 * capture's timeline) are dealt at random into clusters of k, on both sides; a forest (the app settings) learns
 * from the training clusters and predicts the test clusters.
 */
export async function clusterClassification(table: RecordTable, o: EvaluationOptions): Promise<ClusterResult[]> {
  const usable = labeledAppRows(table);
  const appCol = table.names.indexOf('label_app');
  const { classes, y } = encodeLabels(usable.map((r) => table.rows[r][appCol] as string));
  if (classes.length < 2) return [];
  const groups = splitGroups(table, usable, o.folds);
  const fold = stratifiedGroupKFold(y, groups, classes.length, o.folds, o.seed);
  const width = CLUSTER_FEATURES.length;
  const out: ClusterResult[] = [];
  for (const k of CLUSTER_SIZES) {
    const random = mulberry32(o.seed + k);
    const truth: number[] = [];
    const pred: number[] = [];
    let sure = 0;
    /** Clusters of k rows (indices into usable) dealt from the given rows, within each app and group. */
    const deal = (ids: number[]): Array<{ rows: number[]; label: number }> => {
      const by = new Map<string, number[]>();
      for (const i of ids) {
        const key = `${y[i]}\u0000${groups[i]}`;
        by.set(key, [...(by.get(key) ?? []), i]);
      }
      const clusters: Array<{ rows: number[]; label: number }> = [];
      for (const members of by.values()) {
        for (let i = members.length - 1; i > 0; i--) {
          const j = Math.floor(random() * (i + 1));
          [members[i], members[j]] = [members[j], members[i]];
        }
        for (let s = 0; s + k <= members.length; s += k) clusters.push({ rows: members.slice(s, s + k), label: y[members[s]] });
      }
      return clusters;
    };
    const matrix = (cs: Array<{ rows: number[] }>): Matrix => {
      const data = new Float64Array(cs.length * width);
      cs.forEach((c, i) => data.set(clusterFeatures(table, c.rows.map((j) => usable[j])), i * width));
      return { rows: cs.length, cols: width, data };
    };
    for (let f = 0; f < o.folds; f++) {
      const train = deal([...usable.keys()].filter((i) => fold[i] !== f));
      const test = deal([...usable.keys()].filter((i) => fold[i] === f));
      if (train.length === 0 || test.length === 0) continue;
      const m = await RandomForest.fitAuto(matrix(train), Int32Array.from(train, (c) => c.label), classes.length, { ...APP_FOREST, seed: o.seed + f });
      const p = m.predictProba(matrix(test));
      test.forEach((c, i) => {
        let best = 0;
        for (let j = 1; j < classes.length; j++) if (p[i * classes.length + j] > p[i * classes.length + best]) best = j;
        truth.push(c.label);
        pred.push(best);
        sure += p[i * classes.length + best];
      });
    }
    if (truth.length === 0) continue;
    const s = scores(truth, pred, classes.length);
    out.push({ streams: k, clusters: truth.length, macroF1: s.macroF1, accuracy: s.accuracy, confidence: sure / truth.length });
  }
  return out;
}

export function clusterMarkdown(results: readonly ClusterResult[]): string {
  if (results.length === 0) return '';
  const head = ['streams per cluster', ...results.map((r) => String(r.streams))];
  const rows = [
    ['test clusters', ...results.map((r) => String(r.clusters))],
    ['app macro-F1 / accuracy', ...results.map((r) => `${pct(r.macroF1)} / ${pct(r.accuracy)}`)],
    ['mean probability of the predicted app', ...results.map((r) => pct(r.confidence))],
  ];
  return [`| ${head.join(' | ')} |`, `|${head.map(() => '---').join('|')}|`, ...rows.map((r) => `| ${r.join(' | ')} |`)].join('\n') + '\n';
}
