import { basename } from 'node:path';
import { inputName } from '../pcap/reader.js';
import { readRecords } from '../dataset/record-files.js';
import { type ExtractSummary, PROTO_NAMES, flowColumns } from '../meter/meter.js';
import { ALL_GROUPS, flowPlugins } from '../features/plugins.js';
import type { AppMatcher } from '../features/apps.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { LABEL_COLUMNS } from '../label/labeler.js';
import { cellForDisplay } from '../output/codec.js';
import type { FlowClassifier } from '../pipeline/classifier.js';
import { pipelineColumns, runPipeline } from '../pipeline/pipeline.js';
import { memorySink } from '../pipeline/sinks.js';
import { PREDICTION_COLUMNS } from '../models/predictions.js';

/**
 * The flows a dashboard or report shows, in memory: every record of the captures (metered here) and flow-record
 * files (flows, label or classify output) it was given, with paging, filtering, sorting and search on the server,
 * so a page never holds more than one page of a capture's tens of thousands of flows.
 */

export interface CaptureSummary {
  name: string;
  /** "capture" (metered here) or "records" (a flow-record file). */
  kind: 'capture' | 'records';
  packets: number | null;
  flows: number;
  bytes: number;
  firstSeenMs: number | null;
  lastSeenMs: number | null;
  protocols: Record<string, number>;
  /** Flows by app (predicted_app when a model classified them, else the host-rule app; "(none)" when empty). */
  apps: Record<string, number>;
}

export interface FlowQuery {
  capture?: string;
  /** Case-insensitive substring of any text column (addresses, SNI, DNS name, app...). */
  q?: string;
  app?: string;
  protocol?: number;
  sort?: string;
  desc?: boolean;
  offset?: number;
  limit?: number;
}

export interface FlowPage {
  total: number;
  offset: number;
  columns: string[];
  rows: Array<Array<string | number | boolean | null>>;
}

export interface TimelinePoint {
  /** Bin start, ms since the epoch. */
  t: number;
  key: string;
  flows: number;
  bytes: number;
}

/** Columns the flows table shows, in this order, when present. */
export const TABLE_COLUMNS = ['capture', 'flow_id', 'first_seen_ns', 'protocol', 'client_addr', 'client_port', 'server_addr', 'server_port', 'packets', 'bytes', 'duration_ns', 'tls_sni', 'dns_host', 'app', 'label_app', 'label_action', 'predicted_app', 'app_probability', 'predicted_action'];
export const MAX_PAGE = 500;

export class FlowStore {
  readonly captures: CaptureSummary[] = [];
  /** Every column any source had; rows are laid out this way (null where a source lacks the column). */
  readonly columns: string[] = [];
  readonly rows: CellValue[][] = [];
  private readonly index = new Map<string, number>();

  constructor(columns: readonly string[]) {
    for (const c of columns) this.addColumn(c);
  }

  private addColumn(name: string): number {
    let i = this.index.get(name);
    if (i === undefined) {
      i = this.columns.length;
      this.columns.push(name);
      this.index.set(name, i);
      for (const r of this.rows) r.push(null);
    }
    return i;
  }

  /**
   * Replace every client address by "device-N", the same N for the same address, and a server address that is some
   * flow's client address (a device answering another, a local resolver) by the same name (LoadOptions.showAddresses).
   */
  hideClientAddresses(): void {
    const c = this.col('client_addr');
    const s = this.col('server_addr');
    if (c < 0) return;
    const names = new Map<string, string>();
    for (const r of this.rows) {
      const a = r[c];
      if (typeof a === 'string' && a !== '' && !names.has(a)) names.set(a, `device-${names.size + 1}`);
    }
    for (const r of this.rows) {
      const a = r[c];
      if (typeof a === 'string' && names.has(a)) r[c] = names.get(a)!;
      const b = s >= 0 ? r[s] : undefined;
      if (typeof b === 'string' && names.has(b)) r[s] = names.get(b)!;
    }
  }

  col(name: string): number {
    return this.index.get(name) ?? -1;
  }

  /** Add a source's records (its own column names) and its summary. */
  add(kind: CaptureSummary['kind'], name: string, names: readonly string[], rows: readonly CellValue[][], packets: number | null): void {
    const map = names.map((n) => this.addColumn(n));
    const capture = this.col('capture');
    const start = this.rows.length;
    for (const r of rows) {
      const out: CellValue[] = new Array(this.columns.length).fill(null);
      for (let j = 0; j < map.length; j++) out[map[j]] = r[j];
      out[capture] = name;
      this.rows.push(out);
    }
    this.captures.push(this.summarize(kind, name, this.rows.slice(start), packets));
  }

  /** The app a record is shown under: the model's prediction, else the host rules', else the label's. */
  appOf(r: readonly CellValue[]): string {
    for (const c of ['predicted_app', 'app', 'label_app']) {
      const i = this.col(c);
      if (i >= 0 && typeof r[i] === 'string' && r[i] !== '') return r[i] as string;
    }
    return '(none)';
  }

  /** Flows by app over every source. */
  appCounts(): Record<string, number> {
    const out: Record<string, number> = {};
    for (const c of this.captures) for (const [app, n] of Object.entries(c.apps)) out[app] = (out[app] ?? 0) + n;
    return out;
  }

  /** The action: the model's prediction, else the label. */
  actionOf(r: readonly CellValue[]): string {
    for (const c of ['predicted_action', 'label_action']) {
      const i = this.col(c);
      if (i >= 0 && typeof r[i] === 'string' && r[i] !== '') return r[i] as string;
    }
    return '(none)';
  }

  private summarize(kind: CaptureSummary['kind'], name: string, rows: readonly CellValue[][], packets: number | null): CaptureSummary {
    const [pk, by, fs, ls, proto] = ['packets', 'bytes', 'first_seen_ns', 'last_seen_ns', 'protocol'].map((c) => this.col(c));
    const s: CaptureSummary = { name, kind, packets, flows: rows.length, bytes: 0, firstSeenMs: null, lastSeenMs: null, protocols: {}, apps: {} };
    let sumPackets = 0;
    for (const r of rows) {
      sumPackets += Number(r[pk] ?? 0);
      s.bytes += Number(r[by] ?? 0);
      const f = toMs(r[fs]);
      const l = toMs(r[ls]);
      if (f !== null && (s.firstSeenMs === null || f < s.firstSeenMs)) s.firstSeenMs = f;
      if (l !== null && (s.lastSeenMs === null || l > s.lastSeenMs)) s.lastSeenMs = l;
      const p = PROTO_NAMES[Number(r[proto])] ?? String(r[proto] ?? '?');
      s.protocols[p] = (s.protocols[p] ?? 0) + 1;
      const app = this.appOf(r);
      s.apps[app] = (s.apps[app] ?? 0) + 1;
    }
    if (s.packets === null) s.packets = sumPackets;
    return s;
  }

  /** One page of the flows that match, sorted. */
  query(q: FlowQuery): FlowPage {
    const cap = this.col('capture');
    const proto = this.col('protocol');
    const text = this.columns.map((_, i) => i).filter((i) => this.rows.some((r) => typeof r[i] === 'string'));
    const needle = q.q?.trim().toLowerCase();
    const matches = this.rows.filter(
      (r) =>
        (q.capture === undefined || r[cap] === q.capture) &&
        (q.protocol === undefined || Number(r[proto]) === q.protocol) &&
        (q.app === undefined || this.appOf(r) === q.app) &&
        (!needle || text.some((i) => typeof r[i] === 'string' && (r[i] as string).toLowerCase().includes(needle))),
    );
    const sortCol = q.sort === undefined ? -1 : this.col(q.sort);
    if (sortCol >= 0) {
      const dir = q.desc ? -1 : 1;
      matches.sort((a, b) => dir * compareCells(a[sortCol], b[sortCol]));
    }
    const limit = Math.min(Math.max(1, q.limit ?? 100), MAX_PAGE);
    const offset = Math.max(0, Math.min(q.offset ?? 0, Math.max(0, matches.length - 1)));
    const shown = TABLE_COLUMNS.filter((c) => this.col(c) >= 0);
    const at = shown.map((c) => this.col(c));
    return {
      total: matches.length,
      offset,
      columns: shown,
      rows: matches.slice(offset, offset + limit).map((r) => at.map((i) => cellForDisplay(r[i]))),
    };
  }

  /** Flows starting in each time bin, by app or by action, over one capture or all. */
  timeline(by: 'app' | 'action', capture?: string, bins = 60): { binMs: number; points: TimelinePoint[] } {
    const cap = this.col('capture');
    const fs = this.col('first_seen_ns');
    const bytes = this.col('bytes');
    const rows = this.rows.filter((r) => capture === undefined || r[cap] === capture);
    const times = rows.map((r) => toMs(r[fs]) ?? 0);
    if (rows.length === 0) return { binMs: 1000, points: [] };
    // A loop, not Math.min(...times): spreading millions of arguments overflows the stack.
    let t0 = Infinity;
    let t1 = -Infinity;
    for (const t of times) {
      if (t < t0) t0 = t;
      if (t > t1) t1 = t;
    }
    const binMs = niceBin(Math.max(1, (t1 - t0) / bins));
    const acc = new Map<string, TimelinePoint>();
    rows.forEach((r, i) => {
      const t = Math.floor(times[i] / binMs) * binMs;
      const key = by === 'app' ? this.appOf(r) : this.actionOf(r);
      const k = `${t}\u0000${key}`;
      let p = acc.get(k);
      if (!p) acc.set(k, (p = { t, key, flows: 0, bytes: 0 }));
      p.flows++;
      p.bytes += Number(r[bytes] ?? 0);
    });
    return { binMs, points: [...acc.values()].sort((a, b) => a.t - b.t || a.key.localeCompare(b.key)) };
  }
}

/** Bin widths people read easily: 1, 2, 5, 10, 15, 30 s, 1, 2, 5, 10, 15, 30 min, 1, 2, 6, 12 h, days. */
function niceBin(ms: number): number {
  const steps = [1, 2, 5, 10, 15, 30, 60, 120, 300, 600, 900, 1800, 3600, 7200, 21600, 43200, 86400].map((s) => s * 1000);
  return steps.find((s) => s >= ms) ?? Math.ceil(ms / 86_400_000) * 86_400_000;
}

function toMs(v: CellValue): number | null {
  if (typeof v === 'bigint') return Number(v / 1_000_000n);
  if (typeof v === 'number' && Number.isFinite(v)) return Math.floor(v / 1e6);
  if (typeof v === 'string' && /^\d+$/.test(v)) return Number(BigInt(v) / 1_000_000n);
  return null;
}

function compareCells(a: CellValue, b: CellValue): number {
  if (a === b) return 0;
  if (a === null || a === undefined) return 1;
  if (b === null || b === undefined) return -1;
  if (typeof a === 'string' && typeof b === 'string') return a.localeCompare(b);
  const x = typeof a === 'bigint' ? a : Number(a);
  const y = typeof b === 'bigint' ? b : Number(b);
  return x < y ? -1 : x > y ? 1 : 0;
}

export interface LoadOptions {
  /** Host rules for the app columns of metered captures. */
  apps?: AppMatcher;
  /** A trained model: its prediction columns are appended to each metered capture's records. */
  classifier?: FlowClassifier;
  onCapture?: (name: string, summary: ExtractSummary) => void;
  /**
   * Show the devices' own addresses (client_addr). Off by default: each device address becomes "device-N" (in
   * order of first appearance) before anything is shown or served, so a report or a shared dashboard does not carry
   * who was captured; server addresses stay, they name services, not people.
   */
  showAddresses?: boolean;
}

/** Every column a flow-record file may have. */
const KNOWN_COLUMNS: ColumnDef[] = [...flowColumns(flowPlugins({ groups: ALL_GROUPS }), true), ...LABEL_COLUMNS, ...PREDICTION_COLUMNS];

/**
 * How the dashboard names an input: a file by its base name; standard input as <stdin>; a pipe given as a path
 * (bash's <(...) is /dev/fd/63) by that path, whose base name alone ("63") would say nothing.
 */
export function captureLabel(input: string): string {
  if (input === '-') return inputName(input);
  return /^\/(dev|proc\/self)\/fd\/\d+$/.test(input) ? input : basename(input);
}

/** Meter captures (pcap, pcapng) and read flow-record files (.csv, .jsonl, .parquet) into one FlowStore. */
export async function loadFlowStore(inputs: readonly string[], o: LoadOptions = {}): Promise<FlowStore> {
  const store = new FlowStore(['capture']);
  for (const input of inputs) {
    const name = captureLabel(input);
    if (/\.(csv|jsonl|ndjson|parquet)$/i.test(input)) {
      const t = await readRecords(input, KNOWN_COLUMNS);
      store.add('records', name, t.names, t.rows, null);
      continue;
    }
    const pipeline = { apps: o.apps?.rules, classifier: o.classifier, records: 'full' as const };
    const names = pipelineColumns(pipeline).map((c) => c.name);
    const sink = memorySink();
    const summary = await runPipeline(input, [sink], pipeline);
    const rows = sink.rows;
    store.add('capture', name, names, rows, summary.packets);
    o.onCapture?.(name, summary);
  }
  if (o.showAddresses !== true) store.hideClientAddresses();
  return store;
}
