import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { ColumnDef } from '../flow/schema.js';
import { encodeLabels, featureSpec, labeledAppRows, toMatrix } from '../dataset/matrix.js';
import type { RecordTable } from '../dataset/records.js';
import { DEFAULT_LABEL_BURST_GAP_SEC } from '../label/label-capture.js';
import { ACTION_FOREST, APP_FOREST, KNOWN_ACCEPTED, splitGroups } from './evaluate.js';
import { quantile, stratifiedGroupKFold } from './metrics.js';
import { type Matrix, RandomForest } from './forest.js';

/**
 * A trained model directory: manifest.json (features, classes, forest settings, the threshold, the training
 * data's hash, versions) and one forest per file: app.json, and action-<n>.json per app with actions.
 */

export const MANIFEST_VERSION = 1;
/**
 * An app prediction whose probability is below the model's threshold is "unknown" (no action model runs for it).
 * train calibrates it: the probability that keeps KNOWN_ACCEPTED (95%) of the training apps' flows when each is
 * predicted by a forest that did not see its group (3 grouped folds).
 */
export const CALIBRATION_FOLDS = 3;

export interface ModelManifest {
  version: number;
  kind: 'random-forest';
  features: string[];
  apps: string[];
  actions: Record<string, { file: string; classes: string[] }>;
  forest: { app: object; action: object };
  unknownThreshold: number;
  /** How the training records were metered; classify meters the same way. */
  meter: { burstGapSec: number };
  trainingRows: number;
  dataSha256: string;
  seed: number;
  node: string;
  written: string;
}

export interface TrainedModels {
  manifest: ModelManifest;
  app: RandomForest;
  actions: Map<string, RandomForest>;
}

export function trainModels(table: RecordTable, columns: readonly ColumnDef[], dataBytes: Uint8Array, seed = 1, exclude: string[] = [], meter = { burstGapSec: DEFAULT_LABEL_BURST_GAP_SEC }): TrainedModels {
  const rows = labeledAppRows(table);
  const appCol = table.names.indexOf('label_app');
  const actCol = table.names.indexOf('label_action');
  const spec = featureSpec(columns, table.names, exclude);
  if (rows.length === 0) throw new Error('no labeled app flows to train on');
  const { classes: apps, y } = encodeLabels(rows.map((r) => table.rows[r][appCol] as string));
  const x = toMatrix(table, spec, rows);
  const app = RandomForest.fit(x, y, apps.length, { ...APP_FOREST, seed });
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
  const manifest: ModelManifest = {
    version: MANIFEST_VERSION,
    kind: 'random-forest',
    features: spec.names,
    apps,
    actions: actionMeta,
    forest: { app: APP_FOREST, action: ACTION_FOREST },
    unknownThreshold,
    meter,
    trainingRows: rows.length,
    dataSha256: createHash('sha256').update(dataBytes).digest('hex'),
    seed,
    node: process.version,
    written: new Date().toISOString(),
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
  if (manifest.version !== MANIFEST_VERSION || manifest.kind !== 'random-forest') throw new Error(`${dir}: not a cipherscope random-forest model (version ${manifest.version})`);
  const actions = new Map(Object.entries(manifest.actions).map(([a, meta]) => [a, RandomForest.fromJSON(read(meta.file))]));
  return { manifest, app: RandomForest.fromJSON(read('app.json')), actions };
}

export interface Prediction {
  app: string;
  appProb: number;
  action: string | null;
  actionProb: number;
}

/** App for every row; `unknown` below the threshold; then the action model of the predicted app. */
export function predict(m: TrainedModels, x: Matrix, threshold = m.manifest.unknownThreshold): Prediction[] {
  const pa = m.app.predictProba(x);
  const k = m.manifest.apps.length;
  const out: Prediction[] = [];
  for (let i = 0; i < x.rows; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (pa[i * k + c] > pa[i * k + best]) best = c;
    const prob = pa[i * k + best];
    const app = prob >= threshold ? m.manifest.apps[best] : 'unknown';
    let action: string | null = null;
    let actionProb = 0;
    const am = m.actions.get(app);
    if (am !== undefined) {
      const row = { rows: 1, cols: x.cols, data: x.data.subarray(i * x.cols, (i + 1) * x.cols) };
      const p = am.predictProba(row);
      let b = 0;
      for (let c = 1; c < p.length; c++) if (p[c] > p[b]) b = c;
      action = m.manifest.actions[app].classes[b];
      actionProb = p[b];
    }
    out.push({ app, appProb: prob, action, actionProb });
  }
  return out;
}
