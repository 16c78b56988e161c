import type { CellValue, ColumnDef } from '../flow/schema.js';
import type { Matrix } from '../models/forest.js';
import type { RecordTable } from './records.js';

/**
 * Model inputs for the random forest (and later the SVM): every numeric column of a flow record (int, float, bool)
 * that is not an identifier. Identifiers (addresses, ports, host names, absolute times, ids, the app named from host
 * names) and the label columns never enter: on testbed data each app has its own address, so they would name the
 * app without learning anything. `exclude` removes more columns (the ablation without TTL-like or port-like
 * features goes through it). Missing values are NaN.
 */
export interface FeatureSpec {
  names: string[];
}

export function featureSpec(columns: readonly ColumnDef[], present: readonly string[], exclude: readonly string[] = []): FeatureSpec {
  const have = new Set(present);
  const skip = new Set(exclude);
  const names = columns.filter((c) => (c.type === 'int' || c.type === 'float' || c.type === 'bool') && !c.identifier && !c.name.startsWith('label_') && have.has(c.name) && !skip.has(c.name)).map((c) => c.name);
  return { names };
}

function num(v: CellValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  return NaN;
}

export function toMatrix(table: RecordTable, spec: FeatureSpec, rows: readonly number[]): Matrix {
  const at = spec.names.map((n) => table.names.indexOf(n));
  const d = at.length;
  const data = new Float64Array(rows.length * d);
  rows.forEach((r, i) => {
    const row = table.rows[r];
    for (let j = 0; j < d; j++) data[i * d + j] = num(row[at[j]]);
  });
  return { rows: rows.length, cols: d, data };
}

/** Class names in first-seen order, and each row's class index. */
export function encodeLabels(values: readonly string[]): { classes: string[]; y: Int32Array } {
  const classes: string[] = [];
  const index = new Map<string, number>();
  const y = new Int32Array(values.length);
  values.forEach((v, i) => {
    let c = index.get(v);
    if (c === undefined) {
      c = classes.length;
      classes.push(v);
      index.set(v, c);
    }
    y[i] = c;
  });
  return { classes, y };
}

/**
 * The rows a model learns from: final records (not interim status records) of a known app (`label_app` set) whose
 * action is decided (not "ambiguous"). Throws when the table has no labels.
 */
export function labeledAppRows(table: RecordTable): number[] {
  const app = table.names.indexOf('label_app');
  const action = table.names.indexOf('label_action');
  if (app < 0 || action < 0) throw new Error('labeled records (label_app, label_action) are needed: use cipherscope label or testbed output');
  const kind = table.names.indexOf('record_kind');
  return [...table.rows.keys()].filter((r) => {
    const row = table.rows[r];
    return (kind < 0 || row[kind] === 'final') && typeof row[app] === 'string' && row[app] !== '' && row[action] !== 'ambiguous';
  });
}
