import { flowPlugins, type PluginOptions } from '../features/plugins.js';
import type { FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { flowColumns } from '../meter/meter.js';
import { type ModelManifest, kindOf, loadModels, predict } from '../models/model-dir.js';
import { PREDICTION_COLUMNS } from '../models/predictions.js';
import { kindInputs } from '../models/evaluate.js';

/** The flow columns classify keeps beside its predictions. */
export const CLASSIFY_KEPT = ['capture', 'flow_id', 'segment', 'first_seen_ns', 'last_seen_ns', 'protocol', 'client_addr', 'client_port', 'server_addr', 'server_port', 'packets', 'bytes'];

/**
 * A trained model ready for flow records: the plugins and metering it needs (the manifest's burst gap, the series
 * for the LSTM), and the predictions of full flow records (laid out as `meterColumns`).
 */
export interface FlowClassifier {
  manifest: ModelManifest;
  pluginOptions: PluginOptions;
  plugins: FlowPlugin[];
  flow: { burstGapSec: number };
  /** The records the meter writes for this model. */
  meterColumns: ColumnDef[];
  /** classify's output: the CLASSIFY_KEPT columns, then PREDICTION_COLUMNS. */
  columns: ColumnDef[];
  /** The four prediction cells of each record. */
  predictions(rows: readonly CellValue[][]): CellValue[][];
  /** Records as classify writes them (columns). */
  classify(rows: readonly CellValue[][]): CellValue[][];
}

export async function loadFlowClassifier(modelDir: string, threshold?: number): Promise<FlowClassifier> {
  const m = await loadModels(modelDir);
  const kind = kindOf(m);
  const pluginOptions = kind.plugins;
  const plugins = flowPlugins(pluginOptions);
  const meterColumns = flowColumns(plugins);
  const names = meterColumns.map((c) => c.name);
  const missing = m.manifest.features.filter((f) => !names.includes(f));
  if (missing.length > 0) throw new Error(`${modelDir}: the model needs columns this version does not write: ${missing.join(', ')}`);
  const keep = CLASSIFY_KEPT.map((k) => names.indexOf(k));
  const predictions = (rows: readonly CellValue[][]): CellValue[][] => {
    if (rows.length === 0) return [];
    const preds = predict(m, kindInputs(kind, { names, rows: rows as CellValue[][] }, { names: m.manifest.features }, [...rows.keys()]), threshold);
    return preds.map((p) => [p.app, p.appProb, p.action, p.actionProb]);
  };
  return {
    manifest: m.manifest,
    pluginOptions,
    plugins,
    flow: { burstGapSec: m.manifest.meter.burstGapSec },
    meterColumns,
    columns: [...keep.map((j) => meterColumns[j]), ...PREDICTION_COLUMNS],
    predictions,
    classify: (rows) => {
      const p = predictions(rows);
      return rows.map((r, i) => [...keep.map((j) => r[j]), ...p[i]]);
    },
  };
}
