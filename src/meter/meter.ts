import type { Readable } from 'node:stream';
import { DEFAULT_MEMORY_MB, MemoryBudget } from '../common/memory-budget.js';
import { Decoder, type DecoderOptions } from '../decode/decoder.js';
import type { ReassemblyStats } from '../decode/fragments.js';
import type { DecodedPacket } from '../decode/packet.js';
import { recordFilter } from '../filter/bpf.js';
import { type FilterOptions, PacketFilter } from '../filter/filter.js';
import type { ExpiryReason, Flow, FlowPlugin } from '../flow/flow.js';
import { CORE_COLUMNS, type RecordStage, type RecordStageFactory, writeCore } from '../flow/record.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { DEFAULT_FLOW_OPTIONS, FlowTable, type FlowTableOptions, type RecordKind } from '../flow/table.js';
import { type ReadOptions, type ReadResult, inputName, readCapture, rereadable } from '../pcap/reader.js';
import type { CaptureIssue, CaptureMetadata, PacketRecord } from '../pcap/types.js';
import type { DeviceApp } from '../pcap/pcapdroid.js';
import type { DeviceProcess } from '../pcap/darwin.js';
import { APP_COLUMNS, AppAttributor, type AppMatcher } from '../features/apps.js';
import { AddressBook } from '../features/learned-addresses.js';
import { DEFAULT_PLUGINS, flowPlugins } from '../features/plugins.js';

/**
 * The meter engine: decoder, filter, flow table and the feature plugins (src/features/, by registry) over one stream
 * of packet records. sharded.ts runs one FlowMeter per worker thread.
 */

export const CAPTURE_COLUMN: ColumnDef = { name: 'capture', type: 'string', unit: '', identifier: true, description: 'The capture file the flow came from (as given on the command line; "<stdin>" for standard input).' };

/** All columns of a flow record: capture, core columns, each plugin's columns, then the app columns with --apps. */
export function flowColumns(plugins: readonly FlowPlugin[] = DEFAULT_PLUGINS, withApps = false): ColumnDef[] {
  return [CAPTURE_COLUMN, ...CORE_COLUMNS, ...plugins.flatMap((p) => p.columns), ...(withApps ? APP_COLUMNS : [])];
}

export interface ExtractOptions {
  flow?: Partial<FlowTableOptions>;
  /**
   * The memory budget, MiB (default DEFAULT_MEMORY_MB; Infinity for none), shared by the flow table, the plugins'
   * buffers, fragment buffers and the DNS name map (common/memory-budget.ts). A sharded run gives each shard its share.
   */
  memoryMiB?: number;
  /**
   * A capture filter in tcpdump's syntax (filter/bpf.ts), applied to each packet record before decoding; a packet
   * it rejects is counted as dropped `capture-filter`.
   */
  bpf?: string;
  /**
   * Stop after this many packet records that the capture filter passes (tshark -c, tcpdump -c): the rest of the
   * input is not read, and the flows then open end as at the end of the input.
   */
  maxPackets?: number;
  /** Packet filter; when absent every IP packet is metered (non-IP and malformed frames never form flows). */
  filter?: FilterOptions;
  plugins?: readonly FlowPlugin[];
  decoder?: DecoderOptions;
  /** App rules: adds the app, app_evidence, app_host and app_evidence_gap_ns columns (the first record stage). */
  apps?: AppMatcher;
  /**
   * Server addresses learned from the capture (learnAddresses, a first reading of a file): flows without a name of
   * their own take the app of the same server address and port (app_evidence addr). With apps only.
   */
  addresses?: AddressBook;
  /** Learn addresses while metering, from the flows named so far (live input: forward in time only). */
  learnAddresses?: boolean;
  /** Record stages after the plugins (and the app columns), each adding its columns to every record. */
  stages?: readonly RecordStageFactory[];
  onIssue?: (issue: CaptureIssue) => void;
  onProgress?: ReadOptions['onProgress'];
  /**
   * Live input: every tickMs, advance the flow table's clock to the wall clock, so idle flows end (and their
   * records come out) even when no packet arrives. Packet times of a live capture come from the same clock.
   */
  live?: { tickMs: number };
  /** Live input: called after each tick with the meter's state (the status line). */
  onStatus?: (s: MeterStatus) => void;
  /**
   * The output's backpressure, asked between chunks of input: a promise to wait for before reading on (a Parquet
   * writer with row groups queued for its encoder), or undefined to go on. Without it a fast input outran the
   * encoder and every row group of the run waited in memory.
   */
  backlog?: () => Promise<void> | undefined;
}

/** What a running meter has seen so far. */
export interface MeterStatus {
  /** Packet records read. */
  packets: number;
  /** Flows open now. */
  active: number;
  /** Records that formed no flow: not IP, malformed, filtered. */
  skipped: number;
}

export interface ExtractSummary {
  capture: string;
  packets: number;
  bytesRead: number;
  /** Input bytes skipped over corrupt data (the reader resynchronised after them). */
  skippedBytes: number;
  /** Packets (or reassembled datagrams) that went into flows. */
  metered: number;
  records: number;
  flows: number;
  /** Metered packets by transport protocol (tcp, udp, icmp, icmpv6, other). */
  protocols: Record<string, number>;
  /** Packets that did not enter a flow, by reason (non-IP, LAN noise, filters, malformed...). */
  dropped: Record<string, number>;
  fragments: ReassemblyStats;
  outOfOrder: number;
  /** Flows written early because the memory budget (--memory) or --max-flows was reached. */
  evicted: number;
  /** Of the evicted: flows a later packet continued as their next segment. */
  continued: number;
  /** What was freed to stay within the memory budget: flows, fragment datagrams, DNS map addresses. */
  shed: Record<string, number>;
  /** The most the budget held at once (estimated bytes; summed over shards). */
  memoryPeakBytes: number;
  /** With app rules: final records by what named their app (app_evidence; "none" for no app). */
  appEvidence?: Record<string, number>;
  errors: number;
  warnings: number;
  metadata: CaptureMetadata;
  elapsedSec: number;
  /** A sharded run's CPU seconds per thread, the reading (main) thread first; Linux only (threadCpuSec). */
  threadCpuSec?: number[];
}

/** What a FlowMeter counted; the reader's counts (packets, bytes, metadata, issues) are added by its caller. */
export interface MeterCounts {
  metered: number;
  records: number;
  flows: number;
  /** Metered packets by IP protocol number. */
  byProto: Float64Array;
  dropped: Map<string, number>;
  fragments: ReassemblyStats;
  outOfOrder: number;
  /** Flows evicted because the table was full (the memory budget or FlowTableOptions.maxFlows). */
  evicted: number;
  continued: number;
  shed: Record<string, number>;
  memoryPeakBytes: number;
  /** With app rules: final records by app_evidence ("" for none). */
  appEvidence: Map<string, number>;
}

/**
 * Decoder, filter, flow table and plugins for one stream of packet records: the engine behind extractFlows, and
 * behind each shard of extractFlowsSharded. Rows go to `onRow` as flows end; the row array is reused.
 */
export class FlowMeter {
  readonly table: FlowTable;
  readonly columns: ColumnDef[];
  private readonly decoder: Decoder;
  private readonly filter: PacketFilter | undefined;
  private readonly bpf: ((rec: PacketRecord) => boolean) | undefined;
  /** Records the capture filter passed, against ExtractOptions.maxPackets. */
  private admitted = 0;
  private readonly maxPackets: number;
  private readonly dropped = new Map<string, number>();
  /** Plugins with capture-wide state (FlowPlugin.observe), for shared packets of flows another shard meters. */
  private readonly observers: FlowPlugin[];
  private metered = 0;
  private records = 0;
  private finals = 0;
  // Indexed by IP protocol number; named at the end.
  private readonly byProto = new Float64Array(256);
  private readonly appEvidence = new Map<string, number>();
  // Live ticks: packets and clock records seen, as of the last tick, and since when nothing has come.
  private activity = 0;
  private seenActivity = -1;
  private quietSinceMs = 0;
  private quietClock = 0;
  /** The memory budget (undefined with memoryMiB Infinity). */
  readonly budget: MemoryBudget | undefined;

  constructor(name: string, onRow: (row: CellValue[]) => void, opts: ExtractOptions = {}) {
    const plugins = opts.plugins ?? flowPlugins();
    this.decoder = new Decoder(opts.decoder);
    const mib = opts.memoryMiB ?? DEFAULT_MEMORY_MB;
    this.budget = Number.isFinite(mib) ? MemoryBudget.ofMiB(mib) : undefined;
    this.filter = opts.filter ? new PacketFilter(opts.filter) : undefined;
    this.bpf = opts.bpf ? recordFilter(opts.bpf) : undefined;
    this.maxPackets = opts.maxPackets ?? Infinity;
    this.observers = plugins.filter((p) => p.observe !== undefined);
    const stageFactories: RecordStageFactory[] = [...(opts.apps ? [(before: readonly ColumnDef[]) => new AppAttributor(opts.apps!, before, opts.addresses ?? (opts.learnAddresses ? new AddressBook() : undefined), opts.learnAddresses === true)] : []), ...(opts.stages ?? [])];
    const columns: ColumnDef[] = flowColumns(plugins);
    const stages: RecordStage[] = [];
    const stageAt: number[] = [];
    for (const make of stageFactories) {
      const stage = make(columns);
      stages.push(stage);
      stageAt.push(columns.length);
      columns.push(...stage.columns);
    }
    this.columns = columns;
    const evidenceAt = opts.apps ? columns.findIndex((c) => c.name === 'app_evidence') : -1;
    const row: CellValue[] = new Array(columns.length);
    row[0] = name;
    const sink = {
      record: (flow: Flow, kind: RecordKind, reason: ExpiryReason, table: FlowTable): void => {
        writeCore(flow, kind, reason, row, 1);
        let at = 1 + CORE_COLUMNS.length;
        for (let i = 0; i < plugins.length; i++) {
          plugins[i].write(flow.slots[i], flow, row, at);
          at += plugins[i].columns.length;
        }
        for (let i = 0; i < stages.length; i++) stages[i].fill(row, stageAt[i]);
        this.records++;
        if (kind === 'final') {
          this.finals++;
          if (evidenceAt >= 0) {
            const e = (row[evidenceAt] as string | null) ?? 'none';
            this.appEvidence.set(e, (this.appEvidence.get(e) ?? 0) + 1);
          }
        }
        onRow(row);
      },
    };
    // The table registers first: over the budget, flows are written early before fragments or DNS answers go.
    this.table = new FlowTable(plugins, sink, { ...DEFAULT_FLOW_OPTIONS, ...opts.flow }, this.budget);
    if (this.budget !== undefined) {
      this.decoder.reassembler.useBudget(this.budget);
      for (const p of plugins) p.useBudget?.(this.budget);
    }
  }

  /** A PCAPdroid uid mapping of the capture (pcapng), for the device_app columns of the uid's flows. */
  deviceApp(app: DeviceApp): void {
    this.decoder.addDeviceApp(app);
  }

  /** An Apple process block of the capture (pcapng), for the device_app columns of its packets' flows. */
  deviceProcess(proc: DeviceProcess): void {
    this.decoder.addDeviceProcess(proc);
  }

  /** Meter one packet record; true once the packet count (ExtractOptions.maxPackets) is reached. */
  packet(rec: PacketRecord): boolean {
    if (!this.admits(rec)) return false;
    this.meterDecoded(this.decoder.decode(rec));
    return ++this.admitted >= this.maxPackets;
  }

  /**
   * packet() for a record a sharded run's router has already decoded (sharded.ts): the router's decoder reads a
   * record as this one does, and the main thread then decodes its own shard's packets once, not twice. Any kind but
   * 'fragment': fragments must come through packet(), since only this meter's decoder reassembles.
   */
  packetDecoded(rec: PacketRecord, p: DecodedPacket): void {
    if (this.admits(rec)) this.meterDecoded(p);
  }

  /** Count the record as activity and apply the capture filter (-f), which works on the record's bytes before decoding. */
  private admits(rec: PacketRecord): boolean {
    this.activity++;
    if (this.bpf !== undefined && !this.bpf(rec)) {
      this.drop('capture-filter');
      return false;
    }
    return true;
  }

  private meterDecoded(p: DecodedPacket): void {
    if (this.filter !== undefined && this.filter.verdict(p) !== undefined) return; // counted by the filter
    if (p.kind !== 'ip') {
      if (p.kind !== 'fragment') this.drop(p.kind === 'non-ip' ? `non-ip:${p.reason}` : `${p.kind}:${p.reason}`);
      return;
    }
    this.metered++;
    this.byProto[p.proto]++;
    this.table.add(p);
  }

  /**
   * A packet another shard meters, shared because a plugin's capture-wide state learns from it (FlowPlugin.shares):
   * the plugins that observe see it, but it forms no flow here.
   */
  observe(rec: PacketRecord): void {
    if (this.observers.length === 0 || (this.bpf !== undefined && !this.bpf(rec))) return;
    const p = this.decoder.decode(rec);
    if (p.kind !== 'ip' || this.filter?.drops(p)) return; // as packet() would: a filtered packet teaches nothing
    this.table.stamp(p);
    for (const o of this.observers) o.observe!(p);
  }

  /**
   * Live input, on a timer: while no packet comes, capture time is taken to pass as wall time does, so idle flows
   * end without a new packet. It runs on from the last packet's time rather than jumping to the wall clock, so a
   * capture replayed through a pipe (old timestamps, faster than real time) expires exactly as from a file. The
   * silence is noticed at the first tick without packets, so expiry can come up to one tick interval late.
   */
  tick(): void {
    const now = Date.now();
    if (this.activity !== this.seenActivity) {
      this.seenActivity = this.activity;
      this.quietSinceMs = now;
      this.quietClock = this.table.clock;
      return;
    }
    if (this.table.baseSec < 0) return;
    this.table.tickAt(this.quietClock + (now - this.quietSinceMs) * 1e6);
  }

  /** A sharded run's router says the capture clock reached this time (see sharded.ts). */
  clockTick(tsSec: number, tsNsec: number): void {
    this.activity++;
    this.table.tick(tsSec, tsNsec);
  }

  /** End of input: every flow ends; returns what was counted. */
  finish(): MeterCounts {
    this.decoder.finish();
    this.table.flush();
    const fr = this.decoder.reassembler.stats;
    const lost = fr.expired + fr.evicted + fr.unfinished + fr.inconsistent;
    const dropped = new Map(this.dropped);
    if (this.filter !== undefined) for (const [k, v] of this.filter.dropped) dropped.set(k, v);
    if (lost > 0) dropped.set('fragment-not-reassembled', lost);
    return { metered: this.metered, records: this.records, flows: this.finals, byProto: this.byProto, dropped, fragments: { ...fr }, outOfOrder: this.table.outOfOrder, evicted: this.table.evicted, continued: this.table.continued, shed: { ...this.budget?.shed }, memoryPeakBytes: this.budget?.peak ?? 0, appEvidence: new Map(this.appEvidence) };
  }

  status(): MeterStatus {
    let skipped = 0;
    for (const v of this.dropped.values()) skipped += v;
    if (this.filter !== undefined) for (const v of this.filter.dropped.values()) skipped += v;
    return { packets: this.activity, active: this.table.active, skipped };
  }

  private drop(why: string): void {
    this.dropped.set(why, (this.dropped.get(why) ?? 0) + 1);
  }
}

/** The summary of a run from the reader's result and the meter counts (summed over shards). */
export function summarize(name: string, read: ReadResult, counts: MeterCounts, errors: number, warnings: number, startedNs: bigint): ExtractSummary {
  return {
    capture: name,
    packets: read.packets,
    bytesRead: read.bytes,
    skippedBytes: read.skippedBytes,
    metered: counts.metered,
    records: counts.records,
    flows: counts.flows,
    protocols: protocolCounts(counts.byProto),
    dropped: Object.fromEntries([...counts.dropped.entries()].sort((a, b) => b[1] - a[1])),
    fragments: counts.fragments,
    outOfOrder: counts.outOfOrder,
    evicted: counts.evicted,
    continued: counts.continued,
    shed: counts.shed,
    memoryPeakBytes: counts.memoryPeakBytes,
    ...(counts.appEvidence.size > 0 ? { appEvidence: Object.fromEntries([...counts.appEvidence.entries()].sort((a, b) => b[1] - a[1])) } : {}),
    errors,
    warnings,
    metadata: read.metadata,
    elapsedSec: Number(process.hrtime.bigint() - startedNs) / 1e9,
  };
}

/** Counts a reader's issues by severity for the summary, passing each one on. */
export function issueCounter(onIssue?: (i: CaptureIssue) => void): { errors: number; warnings: number; issue(i: CaptureIssue): void } {
  const c = {
    errors: 0,
    warnings: 0,
    issue(i: CaptureIssue): void {
      if (i.severity === 'error') c.errors++;
      else c.warnings++;
      onIssue?.(i);
    },
  };
  return c;
}


/**
 * Read a capture and stream one row per flow record to `onRow` (columns as `flowColumns(plugins)`). The row
 * array is reused between calls: consume or copy it inside the callback.
 */
export async function extractFlows(input: string | Readable, onRow: (row: CellValue[]) => void, opts: ExtractOptions = {}): Promise<ExtractSummary> {
  const started = process.hrtime.bigint();
  const name = inputName(input);
  const meter = new FlowMeter(name, onRow, opts);
  const timer = opts.live
    ? setInterval(() => {
        meter.tick();
        opts.onStatus?.(meter.status());
      }, opts.live.tickMs)
    : undefined;
  const issues = issueCounter(opts.onIssue);
  const result = await readCapture(input, { packet: (rec) => meter.packet(rec), issue: issues.issue, deviceApp: (a) => meter.deviceApp(a), deviceProcess: (d) => meter.deviceProcess(d), drain: opts.backlog }, { name, onProgress: opts.onProgress }).finally(() => clearInterval(timer));
  return summarize(name, result, meter.finish(), issues.errors, issues.warnings, started);
}

/**
 * The first of two readings of a file with app rules: meter it with the TLS and DNS plugins only and keep, for
 * every flow named first-hand (SNI, DNS answer, certificate), its server address, port, time and app. The second
 * reading (extractFlows with `addresses`) names the flows that carry no name of their own, whether the evidence
 * came before or after them. About the cost of a `--features tls,dns` run.
 */
export async function learnAddresses(input: string, apps: AppMatcher, opts: Pick<ExtractOptions, 'flow' | 'bpf' | 'maxPackets' | 'filter' | 'decoder' | 'memoryMiB' | 'onProgress'> = {}): Promise<AddressBook> {
  const book = new AddressBook();
  const plugins = flowPlugins({ groups: ['tls', 'dns'] });
  const columns = flowColumns(plugins, true);
  const at = (n: string) => columns.findIndex((c) => c.name === n);
  const [addr, port, first, app, evidence, host] = ['server_addr', 'server_port', 'first_seen_ns', 'app', 'app_evidence', 'app_host'].map(at);
  await extractFlows(
    input,
    (row) => {
      const e = row[evidence];
      if (e !== 'sni' && e !== 'dns' && e !== 'cert') return;
      if (typeof row[addr] !== 'string') return;
      book.add({ addr: row[addr] as string, port: Number(row[port]), timeNs: row[first] as bigint, app: row[app] as string, host: row[host] as string | null });
    },
    // Only these options: the capture's issues are the second reading's to report (not each one twice).
    { flow: opts.flow, bpf: opts.bpf, maxPackets: opts.maxPackets, filter: opts.filter, decoder: opts.decoder, memoryMiB: opts.memoryMiB, onProgress: opts.onProgress, plugins, apps },
  );
  return book;
}

/**
 * How a run with app rules learns server addresses: a file is read twice (learnAddresses first), so evidence
 * before and after a flow counts; a stream (standard input, live capture) learns forward as it goes.
 */
export async function addressLearning(input: string | Readable, apps: AppMatcher | undefined, opts: Pick<ExtractOptions, 'flow' | 'bpf' | 'maxPackets' | 'filter' | 'decoder' | 'live' | 'memoryMiB' | 'onProgress'>): Promise<{ addresses?: AddressBook; learnAddresses?: boolean }> {
  if (apps === undefined) return {};
  if (!rereadable(input) || opts.live) return { learnAddresses: true };
  return { addresses: await learnAddresses(input, apps, opts) };
}

/** Names of the transport protocols counted by name in summaries. */
export const PROTO_NAMES: Record<number, string> = { 6: 'tcp', 17: 'udp', 1: 'icmp', 58: 'icmpv6' };

function protocolCounts(byProto: Float64Array): Record<string, number> {
  const out: Record<string, number> = {};
  byProto.forEach((n, proto) => {
    if (n === 0) return;
    const name = PROTO_NAMES[proto] ?? 'other';
    out[name] = (out[name] ?? 0) + n;
  });
  return out;
}
