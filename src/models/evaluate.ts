import { mulberry32 } from '../common/rng.js';
import type { ColumnDef } from '../flow/schema.js';
import { CLUSTER_FEATURES, clusterFeatures } from '../dataset/cluster.js';
import { EARLY_PACKETS, earlyFeatures } from '../dataset/early.js';
import { type FeatureSpec, type InputOptions, type Matrix, OTHER_APP, appTaskRows, argmaxRows, encodeLabels, featureSpec, labeledAppRows, maxRows, pickRows, seriesMatrix, toMatrix } from '../dataset/matrix.js';
import type { RecordTable } from '../dataset/records.js';
import { type GroupBy, type SplitPlan, foldSplits, planFolds, planSplit } from '../dataset/splits.js';
import { crossValidate } from './cross-validate.js';
import { auroc, bootstrapInterval, quantile, scores } from './metrics.js';
import { type ModelKind, modelKind } from './model-kinds.js';

/**
 * The paper's Table 2 for every model kind asked for (model-kinds.ts): app classification over every flow of a known app, and action
 * classification within each app (its actions plus "impertinent"), scored by macro-F1 (with a 95% bootstrap
 * interval) and accuracy.
 *
 * Split: stratified group k-fold, so that correlated flows never sit on both sides. The group is the capture when
 * the data has at least as many captures as folds; otherwise (one testbed run is one capture) the capture's
 * timeline cut into 4 x folds blocks of consecutive flows: the flows of one action, its retries and its
 * neighbours' background stay together. The paper's random 80/20 split is run beside it as a leaky reference row.
 */

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
  /** The grouped split as it was made (the random split: undefined). */
  splitPlan?: { groupBy: GroupBy; groups: number; folds: number; scheme: SplitPlan['scheme']; label: string };
  /** On the same test rows: always the training folds' most common class, and guessing with their class shares. */
  baselines?: { majority: { accuracy: number; macroF1: number }; chance: { accuracy: number; macroF1: number } };
}

export interface EvaluationOptions extends InputOptions {
  folds: number;
  seed: number;
  /** What rows are grouped by (default capture): see dataset/splits.ts. */
  groupBy?: GroupBy;
  /** The app task without the flows of no app (class `other`): the paper's closed world. */
  closedWorld?: boolean;
  /** A task or experiment left out, and why (an action task whose rows hold one group). */
  onNote?: (note: string) => void;
  /** Model kinds by name (default rf, svm). */
  models?: readonly string[];
  /** Settings of a kind, by its name (the LSTM's batches and threads). */
  settings?: Readonly<Record<string, Readonly<Record<string, unknown>>>>;
  /** The kind the open-world, early and cluster experiments use (default rf); it must read flow features. */
  experimentModel?: string;
}

/** The model matrix of some rows for a kind: its flow features, or its pooled series. */
export function kindInputs(kind: ModelKind, table: RecordTable, spec: FeatureSpec, rows: readonly number[]): Matrix {
  return kind.inputs === 'series' ? seriesMatrix(table, rows) : toMatrix(table, spec, rows);
}

/** Refuse a kind that cannot take the inputs asked for: the pooled series holds every packet, handshake included. */
export function checkKindInputs(kind: ModelKind, o: InputOptions): void {
  if (kind.inputs === 'series' && o.afterHandshake === true) throw new Error(`${kind.name} reads the pooled series of every packet, handshake included: --after-handshake is for models of flow features (rf, svm, gbdt)`);
  if (kind.inputs === 'series' && (o.firstPackets ?? 0) > 0) throw new Error(`${kind.name} reads the pooled series: --first-packets is for models of flow features`);
}

/** The kind of the open-world, early and cluster experiments. */
function experimentKind(o: EvaluationOptions): ModelKind {
  const kind = modelKind(o.experimentModel ?? 'rf');
  if (kind.inputs !== 'features') throw new Error(`${kind.name}: the open-world, early and cluster experiments need a model of flow features`);
  return kind;
}

/**
 * One task for one model kind: grouped k-fold (every row predicted once, by the model that did not see its group),
 * then the leaky random 80/20 row. `context` (aligned with rows) goes to kinds that read an app context; the app
 * task's out-of-fold context comes back in `outOfFold` for the kinds that make one.
 */
async function runTask(kind: ModelKind, task: string, table: RecordTable, spec: FeatureSpec, rows: number[], labels: string[], o: EvaluationOptions, context?: Matrix): Promise<{ results: TaskResult[]; outOfFold?: Matrix; predicted: string[] }> {
  const { classes, y } = encodeLabels(labels);
  const k = classes.length;
  const fitTask = task === 'app' ? 'app' : 'action';
  const settings = o.settings?.[kind.name];
  const x = kindInputs(kind, table, spec, rows);
  const names = kind.inputs === 'series' ? [] : spec.names;
  const results: TaskResult[] = [];
  const assemble = (split: TaskResult['split'], pred: Int32Array, truth: Int32Array, importances: Float64Array | undefined): TaskResult => {
    const s = scores(truth, pred, k);
    const imp = importances ? [...importances].map((v, i) => ({ feature: names[i], importance: v })).sort((a, b) => b.importance - a.importance) : [];
    return {
      model: kind.title,
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
  const plan = planSplit(table, rows, o.groupBy ?? 'capture', o.folds);
  const fold = planFolds(plan, y, k, o.seed);
  const cv = await crossValidate(kind, x, y, k, fold, plan.folds, { task: fitTask, seed: (f) => o.seed + f, context, settings });
  const importances = kind.importances ? (await kind.fit(x, y, k, { task: fitTask, seed: o.seed, context, settings })).importances : undefined;
  results.push({
    ...assemble('group-kfold', cv.predicted, y, importances),
    splitPlan: { groupBy: plan.groupBy, groups: plan.groupCount, folds: plan.folds, scheme: plan.scheme, label: plan.label },
    baselines: foldBaselines(y, fold, plan.folds, k),
  });
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
    const ctx = (ids: number[]) => (context ? pickRows(context, ids) : undefined);
    const m = await kind.fit(pickRows(x, train), Int32Array.from(train, (i) => y[i]), k, { task: fitTask, seed: o.seed, context: ctx(train), settings });
    results.push(assemble('random-80-20', m.predict(pickRows(x, test), ctx(test)), Int32Array.from(test, (i) => y[i]), m.importances));
  }
  return { results, outOfFold: cv.context, predicted: Array.from(cv.predicted, (c) => classes[c]) };
}

/**
 * Baselines out of fold, as scikit-learn's DummyClassifier would score them in the same folds: each test fold gets
 * its training folds' most common class; stratified chance is the expectation of guessing with the training folds'
 * class shares (accuracy exactly; macro-F1 from the expected confusion matrix).
 */
export function foldBaselines(y: ArrayLike<number>, fold: Int32Array, folds: number, k: number): NonNullable<TaskResult['baselines']> {
  const perFold = Array.from({ length: folds }, () => new Float64Array(k));
  for (let i = 0; i < y.length; i++) perFold[fold[i]][y[i]]++;
  const total = new Float64Array(k);
  for (const c of perFold) for (let j = 0; j < k; j++) total[j] += c[j];
  const majorityPred = new Int32Array(y.length);
  const expected = Array.from({ length: k }, () => new Float64Array(k));
  const share = perFold.map((c) => {
    const train = total.map((t, j) => t - c[j]);
    const n = train.reduce((a, b) => a + b, 0);
    let best = 0;
    for (let j = 1; j < k; j++) if (train[j] > train[best]) best = j;
    return { best, p: train.map((t) => (n === 0 ? 0 : t / n)) };
  });
  for (let i = 0; i < y.length; i++) {
    const s = share[fold[i]];
    majorityPred[i] = s.best;
    for (let j = 0; j < k; j++) expected[y[i]][j] += s.p[j];
  }
  const maj = scores(y, majorityPred, k);
  let correct = 0;
  let f1 = 0;
  let present = 0;
  for (let c = 0; c < k; c++) {
    correct += expected[c][c];
    const support = expected[c].reduce((a, b) => a + b, 0);
    if (support === 0) continue;
    present++;
    const predicted = expected.reduce((a, r) => a + r[c], 0);
    const precision = predicted === 0 ? 0 : expected[c][c] / predicted;
    const recall = expected[c][c] / support;
    f1 += precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
  }
  return { majority: { accuracy: maj.accuracy, macroF1: maj.macroF1 }, chance: { accuracy: y.length === 0 ? 0 : correct / y.length, macroF1: present === 0 ? 0 : f1 / present } };
}

/** App task and one action task per app, for each model kind, on labeled flow records (`label` / `testbed` output). */
export async function evaluateModels(table: RecordTable, columns: readonly ColumnDef[], o: EvaluationOptions): Promise<TaskResult[]> {
  const usable = labeledAppRows(table);
  const app = table.names.indexOf('label_app');
  const action = table.names.indexOf('label_action');
  const spec = featureSpec(columns, table.names, o);
  const results: TaskResult[] = [];
  const apps = [...new Set(usable.map((r) => table.rows[r][app] as string))].sort();
  const kinds = (o.models ?? ['rf', 'svm']).map(modelKind);
  for (const kind of kinds) checkKindInputs(kind, o);
  for (const kind of kinds) {
    const appRows = appTaskRows(table, o.closedWorld);
    const appTask = await runTask(kind, 'app', table, spec, appRows.rows, appRows.labels, o);
    // The known-app flows come first in the app task's rows: their predictions are its first ones.
    appTask.predicted = appTask.predicted.slice(0, usable.length);
    results.push(...appTask.results);
    // Out-of-fold action of every flow by its true app's action model (an app with one action: that action).
    const actionOf = usable.map((r) => table.rows[r][action] as string);
    let anyActionTask = false;
    for (const a of apps) {
      const ids = [...usable.keys()].filter((i) => table.rows[usable[i]][app] === a);
      const rows = ids.map((i) => usable[i]);
      const labels = rows.map((r) => table.rows[r][action] as string);
      if (new Set(labels).size < 2) continue;
      try {
        planSplit(table, rows, o.groupBy ?? 'capture', o.folds);
      } catch (e) {
        if (kind === kinds[0]) o.onNote?.(`action task of ${a} left out: ${(e as Error).message}`);
        continue;
      }
      anyActionTask = true;
      const context = appTask.outOfFold ? pickRows(appTask.outOfFold, ids) : undefined;
      const t = await runTask(kind, `action:${a}`, table, spec, rows, labels, o, context);
      results.push(...t.results);
      ids.forEach((i, j) => (actionOf[i] = t.predicted[j]));
    }
    if (anyActionTask) results.push(endToEnd(kind.title, usable.map((r) => `${table.rows[r][app]}/${table.rows[r][action]}`), appTask.predicted, usable.map((r) => table.rows[r][app] as string), actionOf, o.seed));
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
  const grouped = results.filter((r) => r.split === 'group-kfold' && r.splitPlan);
  const by = grouped[0]?.splitPlan?.groupBy ?? 'capture';
  const name = by === 'block' ? 'split by time block' : `split by ${by}`;
  for (const split of ['group-kfold', 'random-80-20'] as const) {
    for (const model of models) {
      const cells = tasks.map((t) => {
        const r = results.find((x) => x.model === model && x.task === t && x.split === split);
        return r ? `${pct(r.macroF1)} [${pct(r.macroF1Ci[0])}, ${pct(r.macroF1Ci[1])}] / ${pct(r.accuracy)}` : '';
      });
      lines.push(`| ${model}, ${split === 'group-kfold' ? name : 'random 80/20 (leaky reference)'} | ${cells.join(' | ')} |`);
    }
    if (split === 'group-kfold' && grouped.length > 0) {
      // Baselines depend on the folds only, the same for every model: the first model's.
      const base = (pick: (b: NonNullable<TaskResult['baselines']>) => { accuracy: number; macroF1: number }) =>
        tasks.map((t) => {
          const r = grouped.find((x) => x.task === t && x.baselines);
          return r ? `${pct(pick(r.baselines!).macroF1)} / ${pct(pick(r.baselines!).accuracy)}` : '';
        });
      lines.push(`| majority class, ${name} | ${base((b) => b.majority).join(' | ')} |`);
      lines.push(`| stratified chance, ${name} | ${base((b) => b.chance).join(' | ')} |`);
    }
  }
  const plans = tasks.flatMap((t) => {
    const r = grouped.find((x) => x.task === t);
    return r ? [`${t === 'app' ? 'app' : t === 'end-to-end' ? 'end to end' : `action (${t.slice(7)})`}: ${r.splitPlan!.label}`] : [];
  });
  if (plans.length > 0) lines.push('', `Grouped split: ${plans.join('; ')}. Cells: macro-F1 [95% CI] / accuracy.`);
  const declined = declinedLine(grouped);
  if (declined !== '') lines.push('', declined);
  return lines.join('\n') + '\n';
}

/**
 * How much of the traffic each model declined in the open-set app task: the share of records it called `other`
 * (no app it knows), beside the share that is `other`, and how many of the known apps' records it lost that way.
 */
function declinedLine(grouped: readonly TaskResult[]): string {
  const parts: string[] = [];
  let truth = '';
  for (const r of grouped.filter((x) => x.task === 'app')) {
    const o = r.classes.indexOf(OTHER_APP);
    if (o < 0) continue;
    const total = r.confusion.flat().reduce((a, b) => a + b, 0);
    const called = r.confusion.reduce((a, row) => a + row[o], 0);
    const knownCalled = r.confusion.reduce((a, row, t) => a + (t === o ? 0 : row[o]), 0);
    const known = r.confusion.reduce((a, row, t) => a + (t === o ? 0 : row.reduce((x, y) => x + y, 0)), 0);
    truth = `${pct(r.confusion[o].reduce((a, b) => a + b, 0) / total)}%`;
    parts.push(`${r.model} ${pct(called / total)}% (${pct(known === 0 ? 0 : knownCalled / known)}% of the known apps' records)`);
  }
  return parts.length === 0 ? '' : `Declined (called \`${OTHER_APP}\`, no app the model knows) in the app task: ${parts.join(', ')}; ${truth} of the records are \`${OTHER_APP}\`.`;
}

/** Mean and sample SD (n - 1) of some numbers; SD 0 for one. */
export function meanSd(xs: readonly number[]): { mean: number; sd: number } {
  const m = xs.reduce((a, b) => a + b, 0) / xs.length;
  const v = xs.length < 2 ? 0 : xs.reduce((a, b) => a + (b - m) * (b - m), 0) / (xs.length - 1);
  return { mean: m, sd: Math.sqrt(v) };
}

/**
 * Table 2 over several seeds (`evaluate --seeds N`): each cell the mean ± sample SD of macro-F1 / accuracy over the
 * runs. A seed changes the models (forest bootstrap, feature draws, boosting's row order) and, where groups are
 * more than folds, which groups share a fold; leave-one-group-out folds stay the same.
 */
export function seedsMarkdown(runs: readonly (readonly TaskResult[])[], seeds: readonly number[]): string {
  const all = runs.flat();
  const tasks = [...new Set(all.map((r) => r.task))];
  const models = [...new Set(all.map((r) => r.model))];
  const grouped = all.filter((r) => r.split === 'group-kfold' && r.splitPlan);
  const by = grouped[0]?.splitPlan?.groupBy ?? 'capture';
  const name = by === 'block' ? 'split by time block' : `split by ${by}`;
  const cell = (vals: Array<{ accuracy: number; macroF1: number }>) => {
    if (vals.length === 0) return '';
    const f = meanSd(vals.map((v) => v.macroF1));
    const a = meanSd(vals.map((v) => v.accuracy));
    return `${pct(f.mean)} ± ${pct(f.sd)} / ${pct(a.mean)} ± ${pct(a.sd)}`;
  };
  const head = tasks.map((t) => (t === 'app' ? 'app' : t === 'end-to-end' ? 'app/action end to end' : `action (${t.slice(7)})`));
  const lines = [`| model, split (${runs.length} seeds) | ${head.join(' | ')} |`, `|---|${tasks.map(() => '---:').join('|')}|`];
  for (const split of ['group-kfold', 'random-80-20'] as const) {
    for (const model of models) {
      const cells = tasks.map((t) => cell(all.filter((x) => x.model === model && x.task === t && x.split === split)));
      lines.push(`| ${model}, ${split === 'group-kfold' ? name : 'random 80/20 (leaky reference)'} | ${cells.join(' | ')} |`);
    }
    if (split === 'group-kfold' && grouped.length > 0) {
      // The first model's baselines of each run (they depend on the folds only).
      const first = models[0];
      for (const [label, pick] of [
        ['majority class', (b: NonNullable<TaskResult['baselines']>) => b.majority],
        ['stratified chance', (b: NonNullable<TaskResult['baselines']>) => b.chance],
      ] as const) {
        const cells = tasks.map((t) => cell(grouped.filter((x) => x.model === first && x.task === t && x.baselines).map((x) => pick(x.baselines!))));
        lines.push(`| ${label}, ${name} | ${cells.join(' | ')} |`);
      }
    }
  }
  lines.push('', `Seeds ${seeds.join(', ')}. Cells: mean ± SD (n - 1) over the seeds of macro-F1 / accuracy, in %.`);
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
  const spec = featureSpec(columns, table.names, o);
  const kind = experimentKind(o);
  const apps = [...new Set(usable.map((r) => table.rows[r][app] as string))].sort();
  const out: OpenWorldResult[] = [];
  if (apps.length < 3) return out;
  for (const h of apps) {
    const known = usable.filter((r) => table.rows[r][app] !== h);
    const unknown = usable.filter((r) => table.rows[r][app] === h);
    const { classes, y } = encodeLabels(known.map((r) => table.rows[r][app] as string));
    const plan = planSplit(table, known, o.groupBy ?? 'capture', o.folds);
    const fold = planFolds(plan, y, classes.length, o.seed);
    const xu = toMatrix(table, spec, unknown);
    const aucs: number[] = [];
    const thresholds: number[] = [];
    const rejected: number[] = [];
    const k = classes.length;
    await crossValidate(kind, toMatrix(table, spec, known), y, k, fold, plan.folds, {
      task: 'app',
      seed: (f) => o.seed + f,
      proba: true,
      classes: false,
      deploy: true,
      onFold(m, fold) {
        const sk = maxRows(fold.proba!, k);
        const su = maxRows(m.predictProba(xu), k);
        aucs.push(auroc([...sk, ...su], [...sk.map(() => 1), ...su.map(() => 0)]));
        const t = quantile(sk, 1 - KNOWN_ACCEPTED);
        thresholds.push(t);
        rejected.push(su.filter((v) => v < t).length / su.length);
      },
    });
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
  // After the handshake: the first packets of application data.
  const pre = o.afterHandshake === true ? 'ah_' : '';
  const lens = table.names.indexOf(`${pre}splt_signed_len_bytes`);
  const iats = table.names.indexOf(`${pre}splt_iat_ns`);
  if (lens < 0 || iats < 0) return [];
  const usable = labeledAppRows(table);
  const app = table.names.indexOf('label_app');
  const kind = experimentKind(o);
  const { classes, y } = encodeLabels(usable.map((r) => table.rows[r][app] as string));
  if (classes.length < 2) return []; // one app: nothing to tell apart
  const plan = planSplit(table, usable, o.groupBy ?? 'capture', o.folds);
  const fold = planFolds(plan, y, classes.length, o.seed);
  const longest = Math.max(0, ...usable.map((r) => (table.rows[r][lens] as number[] | null)?.length ?? 0));
  const out: EarlyResult[] = [];
  for (const n of EARLY_PACKETS.filter((k) => k <= Math.max(longest, 1))) {
    const width = n + 30;
    const data = new Float64Array(usable.length * width);
    usable.forEach((r, i) => data.set(earlyFeatures((table.rows[r][lens] as number[] | null) ?? [], (table.rows[r][iats] as number[] | null) ?? [], n), i * width));
    const cv = await crossValidate(kind, { rows: usable.length, cols: width, data }, y, classes.length, fold, plan.folds, { task: 'app', seed: (f) => o.seed + f });
    const pred = cv.predicted;
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
  if (o.afterHandshake === true) return []; // the cluster features are whole-flow statistics, handshake included
  const usable = labeledAppRows(table);
  const appCol = table.names.indexOf('label_app');
  const kind = experimentKind(o);
  const { classes, y } = encodeLabels(usable.map((r) => table.rows[r][appCol] as string));
  if (classes.length < 2) return [];
  const plan = planSplit(table, usable, o.groupBy ?? 'capture', o.folds);
  const groups = plan.groups;
  const fold = planFolds(plan, y, classes.length, o.seed);
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
    for (const split of foldSplits(fold, plan.folds)) {
      const train = deal(split.train);
      const test = deal(split.test);
      if (train.length === 0 || test.length === 0) continue;
      const m = await kind.fit(matrix(train), Int32Array.from(train, (c) => c.label), classes.length, { task: 'app', seed: o.seed + split.fold });
      const p = m.predictProba(matrix(test));
      const best = argmaxRows(p, classes.length);
      test.forEach((c, i) => {
        truth.push(c.label);
        pred.push(best[i]);
        sure += p[i * classes.length + best[i]];
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

export interface SingleFeatureResult {
  feature: string;
  macroF1: number;
  accuracy: number;
  /** The feature alone scores at least SHORTCUT_SHARE of the full model's macro-F1. */
  shortcut: boolean;
}

/** A single feature scoring this share of the full model's macro-F1 is flagged as a shortcut. */
export const SHORTCUT_SHARE = 0.9;

/**
 * Shortcut check: the app task's top features (by the forest's importances), each alone, in the same grouped folds
 * as the full model. A single column that nearly matches the full model (a handshake length, the IP version, a
 * port) says the model may have learned the setup, not the app.
 */
export async function singleFeatureScores(table: RecordTable, columns: readonly ColumnDef[], o: EvaluationOptions, full: TaskResult, top = 5): Promise<SingleFeatureResult[]> {
  const kind = experimentKind(o);
  const appRows = appTaskRows(table, o.closedWorld);
  const { classes, y } = encodeLabels(appRows.labels);
  if (classes.length < 2) return [];
  const plan = planSplit(table, appRows.rows, o.groupBy ?? 'capture', o.folds);
  const fold = planFolds(plan, y, classes.length, o.seed);
  const out: SingleFeatureResult[] = [];
  for (const { feature } of full.importances.slice(0, top)) {
    const spec = { names: [feature] };
    const cv = await crossValidate(kind, toMatrix(table, spec, appRows.rows), y, classes.length, fold, plan.folds, { task: 'app', seed: (f) => o.seed + f });
    const s = scores(y, cv.predicted, classes.length);
    out.push({ feature, macroF1: s.macroF1, accuracy: s.accuracy, shortcut: s.macroF1 >= SHORTCUT_SHARE * full.macroF1 });
  }
  return out;
}

export function singleFeatureMarkdown(results: readonly SingleFeatureResult[], full: TaskResult): string {
  if (results.length === 0) return '';
  const lines = ['| feature alone | app macro-F1 / accuracy | of the full model\'s macro-F1 |', '|---|---:|---:|'];
  for (const r of results) lines.push(`| ${r.feature}${r.shortcut ? ' **(shortcut?)**' : ''} | ${pct(r.macroF1)} / ${pct(r.accuracy)} | ${full.macroF1 > 0 ? pct(r.macroF1 / full.macroF1) : '-'}% |`);
  lines.push(`| all features (${full.model}) | ${pct(full.macroF1)} / ${pct(full.accuracy)} | 100.0% |`);
  return lines.join('\n') + '\n';
}
