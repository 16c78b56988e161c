import type { RecordStage } from '../flow/record.js';
import { KEEPALIVE, type KeepaliveCensus } from './keepalive.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import type { ActionRecord } from './actions.js';

/**
 * Ground truth the way the paper builds it: a flow record belongs to a scripted action when its time overlaps the
 * action's window and its app (by the host rules: SNI, DNS answer, certificate names) is the action's app.
 *
 * - Window: [start_ns - slackBefore, end_ns + slackAfter]; a record overlaps when first_seen_ns <= window end and
 *   last_seen_ns >= window start. The slack absorbs the gap between the driver's clock readings and the packets
 *   (the last response lands after the page confirmed the action) and nothing else: keep it below the think time.
 * - One candidate: labeled with it (`label_source` = action).
 * - No candidate: `impertinent` (app outside any action of it, or no app at all).
 * - Two or more candidates: `ambiguous` and listed in the report, never guessed; with `ambiguity: 'largest-overlap'`
 *   the action with the longest overlap is taken and the record is still listed.
 */

export const IMPERTINENT = 'impertinent';
export const AMBIGUOUS = 'ambiguous';

export type LabelSource = 'action' | 'largest-overlap' | 'ambiguous' | 'app-outside-actions' | 'no-app' | 'keepalive';

export const LABEL_COLUMNS: readonly ColumnDef[] = [
  { name: 'label_app', type: 'string', unit: '', identifier: true, description: 'Ground truth app: the app of the flow by the host rules (null when no rule matches, and when only an operator\'s IP list names the flow, e.g. Meta). A target, never a model input.' },
  { name: 'label_action', type: 'string', unit: '', identifier: true, description: 'Ground truth action: the action of the action log the flow overlaps, "impertinent" when none, "ambiguous" when several, "keepalive" for a keep-alive burst of a long-lived connection (src/label/keepalive.ts), whatever it overlaps. A target, never a model input.' },
  {
    name: 'label_source',
    type: 'string',
    unit: '',
    identifier: true,
    description: 'How the label was decided: action (one overlapping action of the app), largest-overlap (several; the longest overlap, with --ambiguity largest-overlap), ambiguous (several, not decided), app-outside-actions (an app flow outside every action of that app), no-app (no host rule matched), keepalive (a keep-alive burst of an app\'s long-lived connection: small, and its payload sizes recur in the connection).',
  },
  { name: 'label_action_seq', type: 'int', unit: '', identifier: true, description: 'seq of the action in the action log; null for impertinent, ambiguous and keep-alive flows.' },
  {
    name: 'label_user',
    type: 'string',
    unit: '',
    identifier: true,
    description: 'The user the record belongs to (what evaluate --group-by user keeps whole): the user of its action; else the one user whose actions came from its client address (client_addr of the log); else the log\'s user when it has only one (label --user for --capture-action); null otherwise.',
  },
  {
    name: 'label_meter',
    type: 'string',
    unit: '',
    identifier: true,
    description: 'How the record was metered, as train reads it into the model\'s manifest so classify meters captures the same way: "burst_gap_s=<seconds> length=<ip|frame|transport|payload> idle_s=<seconds> active_s=<seconds> splt=<packets> byte_dist=<bytes>" (records of older versions carry only the first two).',
  },
];

/**
 * How records were metered, as far as a model's inputs depend on it: the burst gap and length accounting, and (since
 * they were recorded) the idle and active timeouts and the SPLT and byte-distribution lengths.
 */
export interface MeterSettings {
  burstGapSec: number;
  lengthMode: string;
  idleTimeoutSec?: number;
  activeTimeoutSec?: number;
  spltPackets?: number;
  byteDistBytes?: number;
}

const OPTIONAL_METER_KEYS: ReadonlyArray<[string, keyof MeterSettings]> = [
  ['idle_s', 'idleTimeoutSec'],
  ['active_s', 'activeTimeoutSec'],
  ['splt', 'spltPackets'],
  ['byte_dist', 'byteDistBytes'],
];

/** The label_meter text of a run's metering settings. */
export function meterSettingsText(m: MeterSettings): string {
  let t = `burst_gap_s=${m.burstGapSec} length=${m.lengthMode}`;
  for (const [k, f] of OPTIONAL_METER_KEYS) if (m[f] !== undefined) t += ` ${k}=${m[f]}`;
  return t;
}

/** The settings in a label_meter text (older records carry only the first two); undefined when it is not one. */
export function parseMeterSettings(text: string): MeterSettings | undefined {
  const m = /^burst_gap_s=(\S+) length=(ip|frame|transport|payload)((?: [a-z_]+=\S+)*)$/.exec(text);
  if (m === null || !Number.isFinite(Number(m[1]))) return undefined;
  const out: MeterSettings = { burstGapSec: Number(m[1]), lengthMode: m[2] };
  for (const kv of m[3].trim().split(' ').filter(Boolean)) {
    const [k, v] = kv.split('=');
    const field = OPTIONAL_METER_KEYS.find(([key]) => key === k)?.[1];
    const x = Number(v);
    if (field === undefined || Number.isNaN(x)) return undefined;
    (out as unknown as Record<string, number>)[field] = x;
  }
  return out;
}

export interface LabelOptions {
  slackBeforeNs?: bigint;
  slackAfterNs?: bigint;
  ambiguity?: 'report' | 'largest-overlap';
  /**
   * Names in the app column that are no app: operators named by an IP ownership list (Meta, Google), whose
   * address could be any of their apps. Such a flow is labeled as one with no app (never ground truth for an app).
   */
  notApps?: ReadonlySet<string>;
}

export const DEFAULT_SLACK_BEFORE_NS = 200_000_000n;
export const DEFAULT_SLACK_AFTER_NS = 500_000_000n;

export interface FlowTimes {
  flowId: number;
  segment: number;
  firstNs: bigint;
  lastNs: bigint;
  app: string | null;
  clientAddr: string;
  /** A keep-alive burst (keepalive.ts): labeled keepalive when the flow has an app. */
  keepalive?: boolean;
}

export interface Label {
  user: string | null;
  app: string | null;
  action: string;
  source: LabelSource;
  seq: number;
}

export interface LabelReport {
  actions: number;
  records: number;
  /** Records per label_action. */
  byAction: Record<string, number>;
  /** Records per label_source. */
  bySource: Record<string, number>;
  /** Actions that no record was labeled with. */
  actionsWithoutFlow: Array<{ seq: number; user: string; app: string; action: string }>;
  /** Records that overlapped several actions of their app. */
  ambiguous: Array<{ flowId: number; segment: number; candidates: number[]; chosen: number }>;
  /** Per action class: how many records each action got (min, median, max). */
  flowsPerAction: Record<string, { actions: number; min: number; median: number; max: number }>;
}

export class Labeler {
  /** Client address -> the one user whose actions came from it (null: several). */
  private readonly userByAddr = new Map<string, string | null>();
  private readonly onlyUser: string | null;
  private readonly byApp = new Map<string, ActionRecord[]>();
  private readonly maxDuration = new Map<string, bigint>();
  private readonly flowsOf = new Map<number, number>();
  private readonly before: bigint;
  private readonly after: bigint;
  private readonly report: LabelReport;

  constructor(
    private readonly actions: readonly ActionRecord[],
    private readonly opts: LabelOptions = {},
  ) {
    this.before = opts.slackBeforeNs ?? DEFAULT_SLACK_BEFORE_NS;
    this.after = opts.slackAfterNs ?? DEFAULT_SLACK_AFTER_NS;
    for (const a of actions) {
      const list = this.byApp.get(a.app) ?? [];
      list.push(a);
      this.byApp.set(a.app, list);
      const d = a.endNs - a.startNs;
      if (d > (this.maxDuration.get(a.app) ?? 0n)) this.maxDuration.set(a.app, d);
    }
    const users = new Set(actions.map((a) => a.user).filter((u) => u !== ''));
    this.onlyUser = users.size === 1 ? [...users][0] : null;
    for (const a of actions) {
      if (a.clientAddr === undefined || a.user === '') continue;
      const had = this.userByAddr.get(a.clientAddr);
      this.userByAddr.set(a.clientAddr, had === undefined || had === a.user ? a.user : null);
    }
    for (const list of this.byApp.values()) list.sort((x, y) => (x.startNs < y.startNs ? -1 : x.startNs > y.startNs ? 1 : 0));
    this.report = { actions: actions.length, records: 0, byAction: {}, bySource: {}, actionsWithoutFlow: [], ambiguous: [], flowsPerAction: {} };
  }

  /** Actions of the flow's app whose window overlaps the flow, in start order. */
  candidates(f: FlowTimes): ActionRecord[] {
    if (f.app === null) return [];
    const list = this.byApp.get(f.app);
    if (list === undefined) return [];
    // Binary search: the last action starting before the flow ends (window start <= lastNs).
    let lo = 0;
    let hi = list.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (list[mid].startNs - this.before <= f.lastNs) lo = mid + 1;
      else hi = mid;
    }
    const out: ActionRecord[] = [];
    const earliest = f.firstNs - (this.maxDuration.get(f.app) ?? 0n) - this.after;
    for (let i = lo - 1; i >= 0 && list[i].startNs >= earliest; i--) {
      const a = list[i];
      if (a.endNs + this.after >= f.firstNs && (a.clientAddr === undefined || a.clientAddr === f.clientAddr)) out.push(a);
    }
    return out.reverse();
  }

  label(flow: FlowTimes): Label {
    const f = flow.app !== null && this.opts.notApps?.has(flow.app) ? { ...flow, app: null } : flow;
    const c = f.keepalive === true && f.app !== null ? [] : this.candidates(f);
    let label: Omit<Label, 'user'>;
    if (f.keepalive === true && f.app !== null) label = { app: f.app, action: KEEPALIVE, source: 'keepalive', seq: -1 };
    else if (c.length === 0) label = { app: f.app, action: IMPERTINENT, source: f.app === null ? 'no-app' : 'app-outside-actions', seq: -1 };
    else if (c.length === 1) label = { app: f.app, action: c[0].action, source: 'action', seq: c[0].seq };
    else {
      const overlap = (a: ActionRecord) => min(a.endNs + this.after, f.lastNs) - max(a.startNs - this.before, f.firstNs);
      const best = c.reduce((b, a) => (overlap(a) > overlap(b) ? a : b));
      const decide = this.opts.ambiguity === 'largest-overlap';
      this.report.ambiguous.push({ flowId: f.flowId, segment: f.segment, candidates: c.map((a) => a.seq), chosen: decide ? best.seq : -1 });
      label = decide ? { app: f.app, action: best.action, source: 'largest-overlap', seq: best.seq } : { app: f.app, action: AMBIGUOUS, source: 'ambiguous', seq: -1 };
    }
    // Whose record: its action's user (or the candidates' one user), else its address's one user, else the log's.
    const fromActions = c.length > 0 && c.every((a) => a.user === c[0].user) && c[0].user !== '' ? c[0].user : undefined;
    const byAddr = this.userByAddr.get(f.clientAddr);
    const user = fromActions ?? (byAddr !== undefined ? byAddr : this.onlyUser);
    this.report.records++;
    this.report.byAction[label.action] = (this.report.byAction[label.action] ?? 0) + 1;
    this.report.bySource[label.source] = (this.report.bySource[label.source] ?? 0) + 1;
    if (label.seq >= 0) this.flowsOf.set(label.seq, (this.flowsOf.get(label.seq) ?? 0) + 1);
    return { ...label, user };
  }

  /** The report so far; call after the last record. */
  finish(): LabelReport {
    const per = new Map<string, number[]>();
    this.report.actionsWithoutFlow = [];
    for (const a of this.actions) {
      const n = this.flowsOf.get(a.seq) ?? 0;
      if (n === 0) this.report.actionsWithoutFlow.push({ seq: a.seq, user: a.user, app: a.app, action: a.action });
      const k = `${a.app}/${a.action}`;
      per.set(k, [...(per.get(k) ?? []), n]);
    }
    this.report.flowsPerAction = {};
    for (const [k, ns] of [...per].sort()) {
      ns.sort((x, y) => x - y);
      this.report.flowsPerAction[k] = { actions: ns.length, min: ns[0], median: ns[ns.length >> 1], max: ns[ns.length - 1] };
    }
    return this.report;
  }
}

function min(a: bigint, b: bigint): bigint {
  return a < b ? a : b;
}
function max(a: bigint, b: bigint): bigint {
  return a > b ? a : b;
}

/** Reads the columns a Labeler needs from rows laid out as `columns` (flow columns plus the app columns). */
export class RowLabeler implements RecordStage {
  readonly columns = LABEL_COLUMNS;
  private readonly idx: Record<'flow_id' | 'segment' | 'first_seen_ns' | 'last_seen_ns' | 'app' | 'client_addr', number>;

  constructor(
    readonly labeler: Labeler,
    columns: readonly ColumnDef[],
    /** Keep-alive bursts (counted in a first reading of a file; `countAsSeen`: a stream, counted as it goes). */
    keepalive?: { census: KeepaliveCensus; countAsSeen: boolean },
    /** The label_meter text of every record (meterSettingsText). */
    private readonly meter: string | null = null,
  ) {
    this.keepalive = keepalive && { view: keepalive.census.reader(columns), countAsSeen: keepalive.countAsSeen };
    const at = (n: string) => {
      const i = columns.findIndex((c) => c.name === n);
      if (i < 0) throw new Error(`labeling needs the column ${n}`);
      return i;
    };
    this.idx = { flow_id: at('flow_id'), segment: at('segment'), first_seen_ns: at('first_seen_ns'), last_seen_ns: at('last_seen_ns'), app: at('app'), client_addr: at('client_addr') };
  }

  private readonly keepalive: { view: ReturnType<KeepaliveCensus['reader']>; countAsSeen: boolean } | undefined;

  private isKeepalive(row: CellValue[]): boolean {
    const k = this.keepalive;
    if (k === undefined) return false;
    if (k.countAsSeen) k.view.add(row);
    return k.view.isKeepalive(row);
  }

  /** Label one row and write the LABEL_COLUMNS values into row[at .. at + 6). */
  fill(row: CellValue[], at: number): Label {
    const i = this.idx;
    const l = this.labeler.label({
      flowId: row[i.flow_id] as number,
      segment: row[i.segment] as number,
      firstNs: row[i.first_seen_ns] as bigint,
      lastNs: row[i.last_seen_ns] as bigint,
      app: (row[i.app] as string | null) ?? null,
      clientAddr: row[i.client_addr] as string,
      keepalive: this.isKeepalive(row),
    });
    row[at] = l.app;
    row[at + 1] = l.action;
    row[at + 2] = l.source;
    row[at + 3] = l.seq < 0 ? null : l.seq;
    row[at + 4] = l.user === '' ? null : l.user;
    row[at + 5] = this.meter;
    return l;
  }
}
