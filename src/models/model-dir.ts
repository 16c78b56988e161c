import { writeFileAtomic } from '../common/atomic-file.js';
import { createHash } from 'node:crypto';
import { mkdirSync, readFileSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import type { ColumnDef } from '../flow/schema.js';
import { type InputOptions, type Matrix, argmaxRows, encodeLabels, featureSpec, appTaskRows, maxRows, pickRows } from '../dataset/matrix.js';
import type { RecordTable } from '../dataset/records.js';
import { splitGroups, stratifiedGroupKFold } from '../dataset/splits.js';
import { DEFAULT_LABEL_BURST_GAP_SEC } from '../label/label-capture.js';
import { crossValidate } from './cross-validate.js';
import { KNOWN_ACCEPTED, checkKindInputs, kindInputs } from './evaluate.js';
import { quantile } from './metrics.js';
import { type Model, type ModelKind, modelKind } from './model-kinds.js';
import { type MeterSettings, parseMeterSettings } from '../label/labeler.js';
import { TOOL_VERSION } from '../common/version.js';

/**
 * A trained model directory: manifest.json (kind, features, classes, settings, the threshold, the training data's
 * hash, versions) and one model per file: app.json, and action-<n>.json per app with actions. Any registered model
 * kind (model-kinds.ts) trains, saves, loads and predicts through the same code.
 */

export const MANIFEST_VERSION = 2;
/**
 * An app prediction whose probability is below the model's threshold is "unknown" (no action model runs for it).
 * train calibrates it: the probability that keeps KNOWN_ACCEPTED (95%) of the training apps' flows when each is
 * predicted by a model of the same kind that did not see its group (3 grouped folds).
 */
export const CALIBRATION_FOLDS = 3;

export interface ModelManifest {
  version: number;
  /** The model kind's registered name (rf, svm, lstm). */
  kind: string;
  /** Input columns: the feature columns, or ['series_pooled'] for the LSTM. */
  features: string[];
  apps: string[];
  actions: Record<string, { file: string; classes: string[] }>;
  /** The kind's settings for each task (forest sizes, the LSTM's training options). */
  settings: { app: object; action: object };
  unknownThreshold: number;
  /** How the training records were metered (their label_meter); classify meters the same way. */
  meter: ManifestMeter;
  /** The tool that wrote the model. */
  tool?: string;
  trainingRows: number;
  dataSha256: string;
  seed: number;
  node: string;
  written: string;
}

export interface TrainedModels {
  manifest: ModelManifest;
  app: Model;
  actions: Map<string, Model>;
}

/** The records' metering (label_meter); lengthMode is missing in models of records that did not record it. */
export type ManifestMeter = Omit<MeterSettings, 'lengthMode'> & { lengthMode?: string };

export interface TrainOptions extends InputOptions {
  /** A registered model kind (default rf). */
  kind?: string;
  seed?: number;
  meter?: ManifestMeter;
  /** The kind's settings (the LSTM's batches and threads). */
  settings?: Readonly<Record<string, unknown>>;
  /** The LSTM's settings (as settings, for kind lstm). */
  lstm?: Readonly<Record<string, unknown>>;
  /** The app model without the class `other` of flows of no app (appTaskRows). */
  closedWorld?: boolean;
}

/**
 * The app model on every labeled flow; CALIBRATION_FOLDS grouped folds give each flow an out-of-fold prediction
 * (from a model that did not see its group), which calibrates the unknown threshold and, for kinds whose app model
 * hands a context to the action models (the LSTM), gives the contexts the action models train on: like the ones
 * they will get on new captures, not the app model's overconfident view of its own training flows.
 */
export async function trainModels(table: RecordTable, columns: readonly ColumnDef[], dataBytes: Uint8Array, o: TrainOptions = {}): Promise<TrainedModels> {
  const kind = modelKind(o.kind ?? 'rf');
  checkKindInputs(kind, o);
  const seed = o.seed ?? 1;
  const settings = o.settings ?? o.lstm;
  const task = appTaskRows(table, o.closedWorld);
  const rows = task.rows;
  if (task.known === 0) throw new Error('no labeled app flows to train on');
  const actCol = table.names.indexOf('label_action');
  const spec = featureSpec(columns, table.names, o);
  const { classes: apps, y } = encodeLabels(task.labels);
  const K = apps.length;
  const x = kindInputs(kind, table, spec, rows);
  const fit = { deploy: true, settings };
  const app = await kind.fit(x, y, K, { ...fit, task: 'app', seed });
  const fold = stratifiedGroupKFold(y, splitGroups(table, rows, CALIBRATION_FOLDS), K, CALIBRATION_FOLDS, seed);
  const cv = await crossValidate(kind, x, y, K, fold, CALIBRATION_FOLDS, { ...fit, task: 'app', seed: (f) => seed + 100 + f, proba: true, classes: false });
  // Calibrated to keep 95% of the known apps' flows (not of the flows of no app, which should come back other).
  const tops = maxRows(cv.proba!, K).filter((_, i) => cv.tested[i] === 1 && i < task.known);
  const unknownThreshold = tops.length > 0 ? quantile(tops, 1 - KNOWN_ACCEPTED) : 0;
  const actions = new Map<string, Model>();
  const actionMeta: ModelManifest['actions'] = {};
  for (const [i, a] of apps.entries()) {
    const mine = [...rows.keys()].filter((j) => y[j] === i);
    const enc = encodeLabels(mine.map((j) => table.rows[rows[j]][actCol] as string));
    if (enc.classes.length < 2) continue;
    if (kind.usesContext && cv.context === undefined) throw new Error(`too few labeled flows to train ${kind.name} action models: no calibration fold could be tested`);
    const context = kind.usesContext ? pickRows(cv.context!, mine) : undefined;
    actions.set(a, await kind.fit(pickRows(x, mine), enc.y, enc.classes.length, { ...fit, task: 'action', seed: seed + 1 + i, context }));
    actionMeta[a] = { file: `action-${i}.json`, classes: enc.classes };
  }
  const manifest: ModelManifest = {
    version: MANIFEST_VERSION,
    kind: kind.name,
    features: kind.inputs === 'series' ? ['series_pooled'] : spec.names,
    apps,
    actions: actionMeta,
    settings: { app: kind.manifestSettings('app', settings), action: kind.manifestSettings('action', settings) },
    unknownThreshold,
    meter: o.meter ?? meterOfRecords(table) ?? { burstGapSec: DEFAULT_LABEL_BURST_GAP_SEC },
    tool: `cipherscope ${TOOL_VERSION}`,
    trainingRows: rows.length,
    dataSha256: createHash('sha256').update(dataBytes).digest('hex'),
    seed,
    node: process.version,
    written: new Date().toISOString(),
  };
  return { manifest, app, actions };
}

/**
 * How the records were metered, from their label_meter column: one setting for all of them, or an error that
 * names the different ones (records metered differently do not make one model). Undefined without the column.
 */
export function meterOfRecords(table: RecordTable): MeterSettings | undefined {
  const at = table.names.indexOf('label_meter');
  if (at < 0) return undefined;
  const seen = new Set<string>();
  for (const r of table.rows) if (typeof r[at] === 'string' && r[at] !== '') seen.add(r[at] as string);
  if (seen.size === 0) return undefined;
  if (seen.size > 1) throw new Error(`the records were metered differently (label_meter: ${[...seen].join('; ')}): label them with the same settings`);
  const m = parseMeterSettings([...seen][0]);
  if (m === undefined) throw new Error(`label_meter "${[...seen][0]}" is not a metering setting`);
  return m;
}

/**
 * Throws, naming `dir`, when a model cannot be saved there: a file in its place, or on its path. Checked before
 * training, which can take minutes, and again by saveModels.
 */
export function checkModelDir(dir: string): void {
  for (let d = resolve(dir); ; d = dirname(d)) {
    let st;
    try {
      st = statSync(d);
    } catch {
      if (dirname(d) === d) return;
      continue; // made by saveModels
    }
    if (st.isDirectory()) return;
    throw new Error(d === resolve(dir) ? `${dir}: is a file, not a directory; --model names the directory the model is saved in` : `${dir}: cannot make the model directory: ${d} is a file`);
  }
}

export function saveModels(dir: string, m: TrainedModels): void {
  checkModelDir(dir);
  mkdirSync(dir, { recursive: true });
  writeFileAtomic(join(dir, 'manifest.json'), JSON.stringify(m.manifest, null, 2) + '\n');
  writeFileAtomic(join(dir, 'app.json'), JSON.stringify(m.app.toJSON()));
  for (const [a, f] of m.actions) writeFileAtomic(join(dir, m.manifest.actions[a].file), JSON.stringify(f.toJSON()));
}

export async function loadModels(dir: string): Promise<TrainedModels> {
  const read = (f: string) => {
    try {
      return JSON.parse(readFileSync(join(dir, f), 'utf8'));
    } catch (e) {
      throw new Error(`${join(dir, f)}: cannot read the model: ${(e as Error).message}`);
    }
  };
  const manifest = read('manifest.json') as ModelManifest;
  if (manifest.version !== MANIFEST_VERSION) throw new Error(`${dir}: model format version ${manifest.version}, this cipherscope reads ${MANIFEST_VERSION}: train it again`);
  let kind: ModelKind;
  try {
    kind = modelKind(manifest.kind);
  } catch (e) {
    throw new Error(`${dir}: ${(e as Error).message}`);
  }
  const actions = new Map<string, Model>();
  for (const [a, meta] of Object.entries(manifest.actions)) actions.set(a, await kind.fromJSON(read(meta.file), 'action'));
  return { manifest: { ...manifest, kind: kind.name }, app: await kind.fromJSON(read('app.json'), 'app'), actions };
}

/** The kind a trained model directory was made by. */
export function kindOf(m: TrainedModels): ModelKind {
  return modelKind(m.manifest.kind);
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
  const pa = m.app.predictProba(x);
  const context = m.app.context?.(x);
  const best = argmaxRows(pa, k);
  const out: Prediction[] = [];
  const byApp = new Map<string, number[]>();
  for (let i = 0; i < x.rows; i++) {
    const prob = pa[i * k + best[i]];
    const app = prob >= threshold ? m.manifest.apps[best[i]] : 'unknown';
    out.push({ app, appProb: prob, action: null, actionProb: 0 });
    if (m.actions.has(app)) byApp.set(app, [...(byApp.get(app) ?? []), i]);
  }
  // Each action model once over all of its app's rows.
  for (const [app, rows] of byApp) {
    const classes = m.manifest.actions[app].classes;
    const kc = classes.length;
    const p = m.actions.get(app)!.predictProba(pickRows(x, rows), context && pickRows(context, rows));
    const b = argmaxRows(p, kc);
    rows.forEach((i, j) => {
      out[i].action = classes[b[j]];
      out[i].actionProb = p[j * kc + b[j]];
    });
  }
  return out;
}
