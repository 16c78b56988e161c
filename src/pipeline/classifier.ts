import { flowPlugins, type PluginOptions } from '../features/plugins.js';
import type { FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { flowColumns } from '../meter/meter.js';
import type { LengthMode } from '../flow/flow.js';
import { type ModelManifest, kindOf, loadModels, predict } from '../models/model-dir.js';
import { PREDICTION_COLUMNS } from '../models/predictions.js';
import { kindInputs } from '../models/evaluate.js';

/**
 * The flow columns classify keeps beside its predictions, those the meter writes for the model: who talked to whom
 * and when, the names the flow gave away, and the app the rules (or the phone) named, so a prediction can be
 * checked against them without a second run.
 */
export const CLASSIFY_KEPT = [
  'capture', 'flow_id', 'segment', 'record_kind', 'expiry_reason', 'first_seen_ns', 'last_seen_ns', 'protocol', 'ip_version',
  'client_addr', 'client_port', 'server_addr', 'server_port', 'packets', 'bytes', 'tls_sni', 'dns_host', 'device_app',
  'app', 'app_evidence', 'app_host',
];

/**
 * A trained model ready for flow records: the plugins and metering it needs (the manifest's burst gap, the series
 * for the LSTM), and the predictions of full flow records (laid out as `meterColumns`).
 */
export interface FlowClassifier {
  manifest: ModelManifest;
  pluginOptions: PluginOptions;
  plugins: FlowPlugin[];
  flow: { burstGapSec: number; lengthMode?: LengthMode };
  /** The records the meter writes for this model (with the app columns when loaded withApps). */
  meterColumns: ColumnDef[];
  /** The meter runs with app rules: the app columns are in meterColumns and kept in `columns`. */
  withApps: boolean;
  /** classify's output: the CLASSIFY_KEPT columns, then PREDICTION_COLUMNS. */
  columns: ColumnDef[];
  /** The four prediction cells of each record. */
  predictions(rows: readonly CellValue[][]): CellValue[][];
  /** Records as classify writes them (columns). */
  classify(rows: readonly CellValue[][]): CellValue[][];
}

export async function loadFlowClassifier(modelDir: string, threshold?: number, withApps = false): Promise<FlowClassifier> {
  const m = await loadModels(modelDir);
  const kind = kindOf(m);
  const pluginOptions = kind.plugins;
  const plugins = flowPlugins(pluginOptions);
  // The names classify keeps need their plugins even when the model does not (an LSTM reads only the series).
  const meterColumns = flowColumns(plugins, withApps);
  const names = meterColumns.map((c) => c.name);
  const missing = m.manifest.features.filter((f) => !names.includes(f));
  if (missing.length > 0) throw new Error(`${modelDir}: the model needs columns this version does not write: ${missing.join(', ')}`);
  const keep = CLASSIFY_KEPT.map((k) => names.indexOf(k)).filter((j) => j >= 0);
  const predictions = (rows: readonly CellValue[][]): CellValue[][] => {
    if (rows.length === 0) return [];
    const preds = predict(m, kindInputs(kind, { names, rows: rows as CellValue[][] }, { names: m.manifest.features }, [...rows.keys()]), threshold);
    return preds.map((p) => [p.app, p.appProb, p.action, p.actionProb]);
  };
  return {
    manifest: m.manifest,
    pluginOptions,
    plugins,
    flow: { burstGapSec: m.manifest.meter.burstGapSec, ...(m.manifest.meter.lengthMode ? { lengthMode: m.manifest.meter.lengthMode as LengthMode } : {}) },
    meterColumns,
    withApps,
    columns: [...keep.map((j) => meterColumns[j]), ...PREDICTION_COLUMNS],
    predictions,
    classify: (rows) => {
      const p = predictions(rows);
      return rows.map((r, i) => [...keep.map((j) => r[j]), ...p[i]]);
    },
  };
}
