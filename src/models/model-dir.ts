import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ColumnDef } from '../flow/schema.js';
import { encodeLabels, featureSpec, labeledAppRows, toMatrix } from '../dataset/matrix.js';
import type { RecordTable } from '../dataset/records.js';
import { DEFAULT_LABEL_BURST_GAP_SEC } from '../label/label-capture.js';
import { ACTION_FOREST, APP_FOREST, KNOWN_ACCEPTED, pickRows, seriesMatrix, splitGroups } from './evaluate.js';
import { ACTION_SEGMENTS, APP_SEGMENTS, type AppContext, LSTM_UNITS, LstmModel, appContext, fitActionLstm, fitAppLstm, predictAction, subsetContext } from './lstm-models.js';
import { LSTM_TRAIN_DEFAULTS, type LstmTrainOptions } from './lstm-train.js';
import { quantile, stratifiedGroupKFold } from './metrics.js';
import { type Matrix, RandomForest } from './forest.js';

/**
 * A trained model directory: manifest.json (kind, features, classes, settings, the threshold, the training data's
 * hash, versions) and one model per file: app.json, and action-<n>.json per app with actions. Kinds: the random
 * forests (flow features) and the paper's LSTM ensemble (the series_pooled column).
 */

export const MANIFEST_VERSION = 2;
export type ModelKind = 'random-forest' | 'lstm';
/**
 * An app prediction whose probability is below the model's threshold is "unknown" (no action model runs for it).
 * train calibrates it: the probability that keeps KNOWN_ACCEPTED (95%) of the training apps' flows when each is
 * predicted by a forest that did not see its group (3 grouped folds).
 */
export const CALIBRATION_FOLDS = 3;

export interface ModelManifest {
  version: number;
  kind: ModelKind;
  /** Input columns: the feature columns, or ['series_pooled'] for the LSTM. */
  features: string[];
  apps: string[];
  actions: Record<string, { file: string; classes: string[] }>;
  /** Forest settings, or the LSTM's training options. */
  settings: { app: object; action: object };
  unknownThreshold: number;
  /** How the training records were metered; classify meters the same way. */
  meter: { burstGapSec: number };
  trainingRows: number;
  dataSha256: string;
  seed: number;
  node: string;
  written: string;
}

export type TrainedModels =
  | { manifest: ModelManifest & { kind: 'random-forest' }; app: RandomForest; actions: Map<string, RandomForest> }
  | { manifest: ModelManifest & { kind: 'lstm' }; app: LstmModel; actions: Map<string, LstmModel> };

export interface TrainOptions {
  kind?: ModelKind;
  seed?: number;
  exclude?: string[];
  meter?: { burstGapSec: number };
  lstm?: Partial<LstmTrainOptions>;
}

export async function trainModels(table: RecordTable, columns: readonly ColumnDef[], dataBytes: Uint8Array, o: TrainOptions = {}): Promise<TrainedModels> {
  return o.kind === 'lstm' ? trainLstm(table, dataBytes, o) : trainForests(table, columns, dataBytes, o);
}

function baseManifest(rows: number, dataBytes: Uint8Array, o: TrainOptions): Pick<ModelManifest, 'version' | 'meter' | 'trainingRows' | 'dataSha256' | 'seed' | 'node' | 'written'> {
  return {
    version: MANIFEST_VERSION,
    meter: o.meter ?? { burstGapSec: DEFAULT_LABEL_BURST_GAP_SEC },
    trainingRows: rows,
    dataSha256: createHash('sha256').update(dataBytes).digest('hex'),
    seed: o.seed ?? 1,
    node: process.version,
    written: new Date().toISOString(),
  };
}

async function trainForests(table: RecordTable, columns: readonly ColumnDef[], dataBytes: Uint8Array, o: TrainOptions): Promise<TrainedModels> {
  const seed = o.seed ?? 1;
  const rows = labeledAppRows(table);
  const appCol = table.names.indexOf('label_app');
  const actCol = table.names.indexOf('label_action');
  const spec = featureSpec(columns, table.names, o.exclude);
  if (rows.length === 0) throw new Error('no labeled app flows to train on');
  const { classes: apps, y } = encodeLabels(rows.map((r) => table.rows[r][appCol] as string));
  const x = toMatrix(table, spec, rows);
  const app = await RandomForest.fitAuto(x, y, apps.length, { ...APP_FOREST, seed });
  const fold = stratifiedGroupKFold(y, splitGroups(table, rows, CALIBRATION_FOLDS), apps.length, CALIBRATION_FOLDS, seed);
  const tops: number[] = [];
  for (let f = 0; f < CALIBRATION_FOLDS; f++) {
    const train = [...rows.keys()].filter((i) => fold[i] !== f);
    const test = [...rows.keys()].filter((i) => fold[i] === f);
    if (train.length === 0 || test.length === 0) continue;
    const m = RandomForest.fit(toMatrix(table, spec, train.map((i) => rows[i])), Int32Array.from(train, (i) => y[i]), apps.length, { ...APP_FOREST, seed: seed + 100 + f });
    const p = m.predictProba(toMatrix(table, spec, test.map((i) => rows[i])));
    for (let i = 0; i < test.length; i++) tops.push(Math.max(...p.subarray(i * apps.length, (i + 1) * apps.length)));
  }
  const unknownThreshold = tops.length > 0 ? quantile(tops, 1 - KNOWN_ACCEPTED) : 0;
  const actions = new Map<string, RandomForest>();
  const actionMeta: ModelManifest['actions'] = {};
  apps.forEach((a, i) => {
    const mine = rows.filter((r) => table.rows[r][appCol] === a);
    const enc = encodeLabels(mine.map((r) => table.rows[r][actCol] as string));
    if (enc.classes.length < 2) return;
    actions.set(a, RandomForest.fit(toMatrix(table, spec, mine), enc.y, enc.classes.length, { ...ACTION_FOREST, seed: seed + 1 + i }));
    actionMeta[a] = { file: `action-${i}.json`, classes: enc.classes };
  });
  const manifest = {
    ...baseManifest(rows.length, dataBytes, o),
    kind: 'random-forest' as const,
    features: spec.names,
    apps,
    actions: actionMeta,
    settings: { app: APP_FOREST, action: ACTION_FOREST },
    unknownThreshold,
  };
  return { manifest, app, actions };
}

/**
 * The LSTM ensemble: the app model on every labeled flow; CALIBRATION_FOLDS grouped folds give each flow an
 * out-of-fold app context (probabilities and last cell state from a model that did not see its group), which both
 * calibrates the unknown threshold and trains the action models, so they learn from contexts like the ones they
 * will get on new captures rather than from the app model's overconfident view of its own training flows.
 */
async function trainLstm(table: RecordTable, dataBytes: Uint8Array, o: TrainOptions): Promise<TrainedModels> {
  const seed = o.seed ?? 1;
  const rows = labeledAppRows(table);
  if (rows.length === 0) throw new Error('no labeled app flows to train on');
  const appCol = table.names.indexOf('label_app');
  const actCol = table.names.indexOf('label_action');
  const { classes: apps, y } = encodeLabels(rows.map((r) => table.rows[r][appCol] as string));
  const series = seriesMatrix(table, rows);
  const pick = (ids: number[]): Matrix => pickRows(series, ids);
  const app = await fitAppLstm(series, y, apps.length, { ...o.lstm, seed });
  const fold = stratifiedGroupKFold(y, splitGroups(table, rows, CALIBRATION_FOLDS), apps.length, CALIBRATION_FOLDS, seed);
  const K = apps.length;
  const ctx: AppContext = { probs: new Float64Array(rows.length * K), cells: new Float32Array(rows.length * LSTM_UNITS), apps: K };
  const tops: number[] = [];
  for (let f = 0; f < CALIBRATION_FOLDS; f++) {
    const train = [...rows.keys()].filter((i) => fold[i] !== f);
    const test = [...rows.keys()].filter((i) => fold[i] === f);
    if (train.length === 0 || test.length === 0) continue;
    const m = await fitAppLstm(pick(train), Int32Array.from(train, (i) => y[i]), K, { ...o.lstm, seed: seed + 100 + f });
    const c = appContext(m, pick(test));
    test.forEach((i, j) => {
      ctx.probs.set(c.probs.subarray(j * K, (j + 1) * K), i * K);
      ctx.cells.set(c.cells.subarray(j * LSTM_UNITS, (j + 1) * LSTM_UNITS), i * LSTM_UNITS);
      tops.push(Math.max(...c.probs.subarray(j * K, (j + 1) * K)));
    });
  }
  const unknownThreshold = tops.length > 0 ? quantile(tops, 1 - KNOWN_ACCEPTED) : 0;
  const actions = new Map<string, LstmModel>();
  const actionMeta: ModelManifest['actions'] = {};
  for (const [i, a] of apps.entries()) {
    const mine = [...rows.keys()].filter((j) => table.rows[rows[j]][appCol] === a);
    const enc = encodeLabels(mine.map((j) => table.rows[rows[j]][actCol] as string));
    if (enc.classes.length < 2) continue;
    actions.set(a, await fitActionLstm(pick(mine), subsetContext(ctx, mine), enc.y, enc.classes.length, { ...o.lstm, seed: seed + 1 + i }));
    actionMeta[a] = { file: `action-${i}.json`, classes: enc.classes };
  }
  const { onProgress: _, ...settings } = { ...LSTM_TRAIN_DEFAULTS, ...o.lstm };
  const manifest = {
    ...baseManifest(rows.length, dataBytes, o),
    kind: 'lstm' as const,
    features: ['series_pooled'],
    apps,
    actions: actionMeta,
    settings: { app: { ...settings, units: LSTM_UNITS, segments: APP_SEGMENTS }, action: { ...settings, units: LSTM_UNITS, segments: ACTION_SEGMENTS } },
    unknownThreshold,
  };
  return { manifest, app, actions };
}

export function saveModels(dir: string, m: TrainedModels): void {
  mkdirSync(dir, { recursive: true });
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(m.manifest, null, 2) + '\n');
  writeFileSync(join(dir, 'app.json'), JSON.stringify(m.app.toJSON()));
  for (const [a, f] of m.actions) writeFileSync(join(dir, m.manifest.actions[a].file), JSON.stringify(f.toJSON()));
}

export function loadModels(dir: string): TrainedModels {
  const read = (f: string) => {
    try {
      return JSON.parse(readFileSync(join(dir, f), 'utf8'));
    } catch (e) {
      throw new Error(`${join(dir, f)}: cannot read the model: ${(e as Error).message}`);
    }
  };
  const manifest = read('manifest.json') as ModelManifest;
  if (manifest.version !== MANIFEST_VERSION) throw new Error(`${dir}: model format version ${manifest.version}, this cipherscope reads ${MANIFEST_VERSION}: train it again`);
  if (manifest.kind === 'lstm') {
    const actions = new Map(Object.entries(manifest.actions).map(([a, meta]) => [a, LstmModel.fromJSON(read(meta.file))]));
    return { manifest: { ...manifest, kind: 'lstm' }, app: LstmModel.fromJSON(read('app.json')), actions };
  }
  if (manifest.kind !== 'random-forest') throw new Error(`${dir}: unknown model kind ${String(manifest.kind)}`);
  const actions = new Map(Object.entries(manifest.actions).map(([a, meta]) => [a, RandomForest.fromJSON(read(meta.file))]));
  return { manifest: { ...manifest, kind: 'random-forest' }, app: RandomForest.fromJSON(read('app.json')), actions };
}

export interface Prediction {
  app: string;
  appProb: number;
  action: string | null;
  actionProb: number;
}

/**
 * App for every row; `unknown` below the threshold; then the action model of the predicted app. `x` holds the
 * manifest's feature columns (forests) or series_pooled rows (LSTM).
 */
export function predict(m: TrainedModels, x: Matrix, threshold = m.manifest.unknownThreshold): Prediction[] {
  const k = m.manifest.apps.length;
  let pa: Float64Array;
  let actionProba: (app: string, rows: number[]) => Float64Array;
  if (m.manifest.kind === 'lstm') {
    const ctx = appContext(m.app as LstmModel, x);
    pa = ctx.probs;
    actionProba = (app, rows) => predictAction(m.actions.get(app) as LstmModel, pickRows(x, rows), subsetContext(ctx, rows));
  } else {
    const forests = m as Extract<TrainedModels, { manifest: { kind: 'random-forest' } }>;
    pa = forests.app.predictProba(x);
    actionProba = (app, rows) => forests.actions.get(app)!.predictProba(pickRows(x, rows));
  }
  const out: Prediction[] = [];
  const byApp = new Map<string, number[]>();
  for (let i = 0; i < x.rows; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (pa[i * k + c] > pa[i * k + best]) best = c;
    const prob = pa[i * k + best];
    const app = prob >= threshold ? m.manifest.apps[best] : 'unknown';
    out.push({ app, appProb: prob, action: null, actionProb: 0 });
    if (m.actions.has(app)) byApp.set(app, [...(byApp.get(app) ?? []), i]);
  }
  // Each action model once over all of its app's rows.
  for (const [app, rows] of byApp) {
    const classes = m.manifest.actions[app].classes;
    const p = actionProba(app, rows);
    const kc = classes.length;
    rows.forEach((i, j) => {
      let b = 0;
      for (let c = 1; c < kc; c++) if (p[j * kc + c] > p[j * kc + b]) b = c;
      out[i].action = classes[b];
      out[i].actionProb = p[j * kc + b];
    });
  }
  return out;
}
