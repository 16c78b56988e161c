import { flowPlugins, groupsForColumns, type PluginOptions } from '../features/plugins.js';
import { DEFAULT_BYTE_DIST_BYTES, DEFAULT_SPLT_PACKETS } from '../features/sequence.js';
import { DEFAULT_FLOW_OPTIONS } from '../flow/table.js';
import { inputColumn } from '../dataset/matrix.js';
import type { FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { flowColumns } from '../meter/meter.js';
import type { LengthMode } from '../flow/flow.js';
import { type ManifestMeter, type ModelManifest, kindOf, loadModels, predict } from '../models/model-dir.js';
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
  flow: { burstGapSec: number; lengthMode?: LengthMode; idleTimeoutSec?: number; activeTimeoutSec?: number };
  /** What the manifest does not say about how the training records were metered, and what classify does instead. */
  notes: string[];
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

/**
 * The plugins a model's inputs need on top of its kind's: the groups that write its feature columns (the
 * after-handshake group for --after-handshake models), and SPLT lists as long as its first-packet inputs.
 */
function meterFor(base: PluginOptions, features: readonly string[], meter: ManifestMeter): PluginOptions {
  const longest = Math.max(0, ...features.map((f) => inputColumn(f)[1] + 1));
  const splt = meter.spltPackets ?? Math.max(longest, base.spltPackets ?? DEFAULT_SPLT_PACKETS);
  return { ...base, groups: groupsForColumns(features, base), spltPackets: splt, ...(meter.byteDistBytes !== undefined ? { byteDistBytes: meter.byteDistBytes } : {}) };
}

/** Settings the training records did not record (older records), which classify takes from its defaults. */
function meterNotes(dir: string, meter: ManifestMeter): string[] {
  const missing = [
    meter.lengthMode === undefined && `length accounting (ip)`,
    meter.idleTimeoutSec === undefined && `idle timeout (${DEFAULT_FLOW_OPTIONS.idleTimeoutSec} s)`,
    meter.activeTimeoutSec === undefined && `active timeout (${DEFAULT_FLOW_OPTIONS.activeTimeoutSec} s)`,
    meter.spltPackets === undefined && `SPLT length (${DEFAULT_SPLT_PACKETS} packets)`,
    meter.byteDistBytes === undefined && `byte-distribution length (${DEFAULT_BYTE_DIST_BYTES} bytes)`,
  ].filter((x): x is string => typeof x === 'string');
  return missing.length === 0 ? [] : [`${dir}: the training records do not say their ${missing.join(', ')}; classify meters with these defaults, which may not be how the model's records were metered (label them again and retrain to be sure)`];
}

export async function loadFlowClassifier(modelDir: string, threshold?: number, withApps = false): Promise<FlowClassifier> {
  const m = await loadModels(modelDir);
  const kind = kindOf(m);
  const meter = m.manifest.meter;
  const pluginOptions = meterFor(kind.plugins, m.manifest.features, meter);
  const plugins = flowPlugins(pluginOptions);
  // The names classify keeps need their plugins even when the model does not (an LSTM reads only the series).
  const meterColumns = flowColumns(plugins, withApps);
  const names = meterColumns.map((c) => c.name);
  const missing = m.manifest.features.filter((f) => !names.includes(inputColumn(f)[0]));
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
    flow: {
      burstGapSec: meter.burstGapSec,
      ...(meter.lengthMode ? { lengthMode: meter.lengthMode as LengthMode } : {}),
      ...(meter.idleTimeoutSec !== undefined ? { idleTimeoutSec: meter.idleTimeoutSec } : {}),
      ...(meter.activeTimeoutSec !== undefined ? { activeTimeoutSec: meter.activeTimeoutSec } : {}),
    },
    notes: meterNotes(modelDir, meter),
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
