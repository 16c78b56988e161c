import type { ColumnDef } from '../flow/schema.js';
import { encodeLabels, featureSpec, labeledAppRows, pickRows } from '../dataset/matrix.js';
import type { RecordTable } from '../dataset/records.js';
import { bootstrapInterval, scores } from './metrics.js';
import { modelKind } from './model-kinds.js';
import { type EvaluationOptions, checkKindInputs, kindInputs } from './evaluate.js';

/**
 * Train on one set of captures, test on another (another user, device or day): the split a deployment faces, where
 * nothing of the test traffic, not even its capture, was seen in training. Each row of the result sits beside two
 * baselines computed on the same test rows: always the training set's most common class, and stratified chance
 * (guessing with the training set's class shares: expected accuracy sum_c p_train(c) p_test(c); expected F1 of class
 * c is 2 p_train p_test / (p_train + p_test), averaged over the test's classes as macro-F1 is).
 * A test class the training set never had counts as wrong every time (its F1 is 0), never silently dropped.
 */

export interface CrossResult {
  model: string;
  task: string;
  split: 'cross-dataset';
  trainRows: number;
  testRows: number;
  classes: string[];
  accuracy: number;
  macroF1: number;
  macroF1Ci: [number, number];
  majority: { class: string; accuracy: number; macroF1: number };
  chance: { accuracy: number; macroF1: number };
  /** Test classes absent from training. */
  unseen: string[];
  confusion: number[][];
}

function shares(labels: readonly string[]): Map<string, number> {
  const m = new Map<string, number>();
  for (const l of labels) m.set(l, (m.get(l) ?? 0) + 1 / labels.length);
  return m;
}

/** The two baselines on test labels, from the training labels' shares. */
export function baselines(train: readonly string[], test: readonly string[]): Pick<CrossResult, 'majority' | 'chance'> {
  const pTrain = shares(train);
  const pTest = shares(test);
  const major = [...pTrain.entries()].sort((a, b) => b[1] - a[1] || (a[0] < b[0] ? -1 : 1))[0][0];
  const majAcc = pTest.get(major) ?? 0;
  // Always one class: its F1 is 2 p / (1 + p) over the test (precision p, recall 1); every other class scores 0.
  const majF1 = (majAcc === 0 ? 0 : (2 * majAcc) / (1 + majAcc)) / pTest.size;
  let acc = 0;
  let f1 = 0;
  for (const [c, pt] of pTest) {
    const pr = pTrain.get(c) ?? 0;
    acc += pr * pt;
    f1 += pr + pt === 0 ? 0 : (2 * pr * pt) / (pr + pt);
  }
  return { majority: { class: major, accuracy: majAcc, macroF1: majF1 }, chance: { accuracy: acc, macroF1: f1 / pTest.size } };
}

export async function crossDataset(train: RecordTable, test: RecordTable, columns: readonly ColumnDef[], o: EvaluationOptions): Promise<CrossResult[]> {
  const trRows = labeledAppRows(train);
  const teRows = labeledAppRows(test);
  const names = train.names.filter((n) => test.names.includes(n));
  const spec = featureSpec(columns, names, o);
  const col = (t: RecordTable, n: string) => t.names.indexOf(n);
  const label = (t: RecordTable, rows: readonly number[], n: string) => rows.map((r) => t.rows[r][col(t, n)] as string);
  const results: CrossResult[] = [];
  const kinds = (o.models ?? ['rf', 'svm']).map(modelKind);
  for (const kind of kinds) checkKindInputs(kind, o);
  for (const kind of kinds) {
    const run = async (task: string, trIds: number[], teIds: number[], trainLabels: string[], testLabels: string[], fitTask: 'app' | 'action', context?: { train: ReturnType<typeof kindInputs>; test: ReturnType<typeof kindInputs> }) => {
      const { classes, y } = encodeLabels(trainLabels);
      const k = classes.length;
      // One class is no task to score, but an app model of one app still hands its context to the action models.
      if ((k < 2 && task !== 'app-context') || teIds.length === 0) return undefined;
      const index = new Map(classes.map((c, i) => [c, i]));
      const unseen = [...new Set(testLabels.filter((l) => !index.has(l)))].sort();
      const all = [...classes, ...unseen];
      unseen.forEach((c, i) => index.set(c, k + i));
      const truth = Int32Array.from(testLabels, (l) => index.get(l)!);
      const m = await kind.fit(kindInputs(kind, train, spec, trIds), y, k, { task: fitTask, seed: o.seed, context: context?.train, settings: o.settings?.[kind.name] });
      const xTest = kindInputs(kind, test, spec, teIds);
      const pred = m.predict(xTest, context?.test);
      const s = scores(truth, pred, all.length);
      results.push({
        model: kind.title,
        task,
        split: 'cross-dataset',
        trainRows: trIds.length,
        testRows: teIds.length,
        classes: all,
        accuracy: s.accuracy,
        macroF1: s.macroF1,
        macroF1Ci: bootstrapInterval(truth, pred, all.length, (z) => z.macroF1, 1000, o.seed),
        ...baselines(trainLabels, testLabels),
        unseen,
        confusion: s.confusion,
      });
      return { model: m, xTest, xTrain: kindInputs(kind, train, spec, trIds) };
    };
    const appRun = await run('app', trRows, teRows, label(train, trRows, 'label_app'), label(test, teRows, 'label_app'), 'app');
    const trApps = label(train, trRows, 'label_app');
    const teApps = label(test, teRows, 'label_app');
    for (const a of [...new Set(trApps)].sort()) {
      const tr = trRows.filter((_, i) => trApps[i] === a);
      const teIdx = [...teRows.keys()].filter((i) => teApps[i] === a);
      const te = teIdx.map((i) => teRows[i]);
      let context: { train: ReturnType<typeof kindInputs>; test: ReturnType<typeof kindInputs> } | undefined;
      if (kind.usesContext) {
        // The app model's context for the action models: on training rows in sample (no held-out app model here).
        const app = appRun ?? (await run('app-context', trRows, teRows, trApps, teApps, 'app'));
        if (app?.model.context) {
          const trIdx = [...trRows.keys()].filter((i) => trApps[i] === a);
          context = { train: pickRows(app.model.context(app.xTrain), trIdx), test: pickRows(app.model.context(app.xTest), teIdx) };
        }
      }
      await run(`action:${a}`, tr, te, label(train, tr, 'label_action'), label(test, te, 'label_action'), 'action', context);
    }
  }
  return results.filter((r) => r.task !== 'app-context');
}

const pct = (x: number) => (100 * x).toFixed(1);

export function crossMarkdown(results: readonly CrossResult[], trainName: string, testName: string): string {
  const lines = [
    `Train ${trainName}, test ${testName} (cross-dataset: no test capture seen in training):`,
    '',
    '| model | task | train / test rows | macro-F1 [95% CI] / accuracy | majority class: macro-F1 / accuracy | stratified chance: macro-F1 / accuracy | test classes unseen in training |',
    '|---|---|---:|---:|---:|---:|---|',
  ];
  for (const r of results) {
    lines.push(
      `| ${r.model} | ${r.task === 'app' ? 'app' : `action (${r.task.slice(7)})`} | ${r.trainRows} / ${r.testRows} | ${pct(r.macroF1)} [${pct(r.macroF1Ci[0])}, ${pct(r.macroF1Ci[1])}] / ${pct(r.accuracy)} | ${pct(r.majority.macroF1)} / ${pct(r.majority.accuracy)} (${r.majority.class}) | ${pct(r.chance.macroF1)} / ${pct(r.chance.accuracy)} | ${r.unseen.join(', ') || '-'} |`,
    );
  }
  return lines.join('\n') + '\n';
}
