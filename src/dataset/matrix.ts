import { SERIES_STEPS, STEP_INPUTS } from '../features/series.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import type { RecordTable } from './records.js';

/** A dense matrix, row-major: every model's input and output. */
export interface Matrix {
  rows: number;
  cols: number;
  data: Float64Array;
}

/** Some rows of a matrix (indices into its rows), in that order. */
export function pickRows(x: Matrix, ids: readonly number[]): Matrix {
  const data = new Float64Array(ids.length * x.cols);
  ids.forEach((i, j) => data.set(x.data.subarray(i * x.cols, (i + 1) * x.cols), j * x.cols));
  return { rows: ids.length, cols: x.cols, data };
}

/** The class of highest probability in each row of an n x k probability matrix (the first on ties). */
export function argmaxRows(p: Float64Array, k: number): Int32Array {
  const n = p.length / k;
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    let best = 0;
    for (let c = 1; c < k; c++) if (p[i * k + c] > p[i * k + best]) best = c;
    out[i] = best;
  }
  return out;
}

/** The highest probability in each row of an n x k probability matrix. */
export function maxRows(p: Float64Array, k: number): number[] {
  const n = p.length / k;
  const out = new Array<number>(n);
  for (let i = 0; i < n; i++) {
    let best = p[i * k];
    for (let c = 1; c < k; c++) if (p[i * k + c] > best) best = p[i * k + c];
    out[i] = best;
  }
  return out;
}

/** Rows of the series_pooled column (the LSTM's input), or an error that says how to get it. */
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

/**
 * Model inputs for the flow-feature kinds: every numeric column of a flow record (int, float, bool) that is not an
 * identifier. Identifiers (addresses, ports, host names, absolute times, ids, the app named from host names) and the
 * label columns never enter: on testbed data each app has its own address, so they would name the app without
 * learning anything. A name `col[i]` is element i of the list column `col` (NaN when the list is shorter): the
 * first-packet inputs. Missing values are NaN.
 */
export interface FeatureSpec {
  names: string[];
}

/** Which inputs a model gets (train, evaluate and the cross-dataset run take the same options). */
export interface InputOptions {
  /** Columns left out (an ablation). */
  exclude?: readonly string[];
  /** Also the capture-setup artefacts (ColumnDef.artefact: IP version, TCP MSS, window scale, initial window). */
  withArtefacts?: boolean;
  /**
   * Only what the after-handshake group metered from the first packet of application data on (the ah_ columns):
   * no handshake packet, no ClientHello field, no whole-flow statistic that counts them.
   */
  afterHandshake?: boolean;
  /** Also the signed length and the gap of each of the first N packets (the splt lists; ah_splt after the handshake). */
  firstPackets?: number;
}

/** Prefix of the after-handshake group's columns. */
export const AFTER_HANDSHAKE_PREFIX = 'ah_';

/**
 * The model inputs: numeric columns that are not identifiers, labels, or (unless `withArtefacts`) artefacts of the
 * capture setup, less `exclude`; with `afterHandshake` only the ah_ columns; then the first-packet elements.
 */
export function featureSpec(columns: readonly ColumnDef[], present: readonly string[], o: InputOptions = {}): FeatureSpec {
  const have = new Set(present);
  const skip = new Set(o.exclude ?? []);
  const ah = o.afterHandshake === true;
  if (ah && !present.some((n) => n.startsWith(AFTER_HANDSHAKE_PREFIX))) throw new Error('--after-handshake reads the after-handshake columns (ah_*): label or meter with --features tcp,tls,dns,splt,bytes,after-handshake');
  const names = columns
    .filter((c) => (c.type === 'int' || c.type === 'float' || c.type === 'bool') && !c.identifier && (o.withArtefacts === true || !c.artefact) && !c.name.startsWith('label_') && have.has(c.name) && !skip.has(c.name) && (!ah || c.name.startsWith(AFTER_HANDSHAKE_PREFIX)))
    .map((c) => c.name);
  const n = o.firstPackets ?? 0;
  if (n > 0) {
    const lists = ah ? ['ah_splt_signed_len_bytes', 'ah_splt_iat_ns'] : ['splt_signed_len_bytes', 'splt_iat_ns'];
    for (const l of lists) if (!have.has(l)) throw new Error(`--first-packets reads ${l}: meter with the ${ah ? 'after-handshake' : 'splt'} group (and --splt ${n} or more)`);
    for (let i = 0; i < n; i++) for (const l of lists) if (!skip.has(l)) names.push(`${l}[${i}]`);
  }
  if (names.length === 0) throw new Error(`no input column left: the records hold none of the ${ah ? 'after-handshake ' : ''}feature columns this model reads${skip.size > 0 ? ' (or --exclude took them all)' : ''}`);
  return { names };
}

/** `col[i]` as [col, i]; a plain name as [name, -1]. */
export function inputColumn(name: string): [string, number] {
  const m = /^(.*)\[(\d+)\]$/.exec(name);
  return m === null ? [name, -1] : [m[1], Number(m[2])];
}

function num(v: CellValue): number {
  if (typeof v === 'number') return v;
  if (typeof v === 'boolean') return v ? 1 : 0;
  if (typeof v === 'bigint') return Number(v);
  return NaN;
}

function element(v: CellValue, i: number): number {
  if (v === null || typeof v !== 'object' || !('length' in v)) return NaN;
  const list = v as ArrayLike<unknown>;
  return i < list.length ? num(list[i] as CellValue) : NaN;
}

export function toMatrix(table: RecordTable, spec: FeatureSpec, rows: readonly number[]): Matrix {
  const parsed = spec.names.map(inputColumn);
  const at = parsed.map(([n]) => table.names.indexOf(n));
  const el = parsed.map(([, i]) => i);
  const d = at.length;
  const data = new Float64Array(rows.length * d);
  rows.forEach((r, i) => {
    const row = table.rows[r];
    for (let j = 0; j < d; j++) data[i * d + j] = el[j] < 0 ? num(row[at[j]]) : element(row[at[j]], el[j]);
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

/** The app task's class for flows of no app (open set): in use, most flows are no app the model knows. */
export const OTHER_APP = 'other';

/**
 * The app task's rows and labels: every labeled app flow (labeledAppRows, first, in its order), then, open set
 * (the default), the final records of no app as the class `other`, so the model learns to say "none of mine"
 * instead of naming an app for every DNS lookup and telemetry beacon. `closedWorld`: the app flows only.
 */
export function appTaskRows(table: RecordTable, closedWorld = false): { rows: number[]; labels: string[]; known: number } {
  const known = labeledAppRows(table);
  const app = table.names.indexOf('label_app');
  const labels = known.map((r) => table.rows[r][app] as string);
  if (closedWorld) return { rows: known, labels, known: known.length };
  const action = table.names.indexOf('label_action');
  const kind = table.names.indexOf('record_kind');
  const other = [...table.rows.keys()].filter((r) => {
    const row = table.rows[r];
    return (kind < 0 || row[kind] === 'final') && (row[app] === null || row[app] === '') && row[action] !== 'ambiguous';
  });
  if (known.some((r) => table.rows[r][app] === OTHER_APP)) throw new Error(`an app is named "${OTHER_APP}", the open-set class of flows of no app: rename it, or use the closed world`);
  return { rows: [...known, ...other], labels: [...labels, ...other.map(() => OTHER_APP)], known: known.length };
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
