import type { Readable } from 'node:stream';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../common/worker.js';
import { threadCpuSec } from '../common/thread-cpu.js';
import { type ShardedOptions, createShardMeter, threadShare } from './shard-meter.js';
import { Decoder } from '../decode/decoder.js';
import { recordFilter } from '../filter/bpf.js';
import { PacketFilter } from '../filter/filter.js';
import type { DecodedPacket } from '../decode/packet.js';
import type { FlowPlugin } from '../flow/flow.js';
import type { CellValue } from '../flow/schema.js';
import { SCAN_INTERVAL_NS, flowHash } from '../flow/table.js';
import { type ReadBuffers, readCapture } from '../pcap/reader.js';
import type { PacketRecord } from '../pcap/types.js';
import { NO_UID } from '../pcap/pcapdroid.js';
import { flowPlugins, pluginModules } from '../features/plugins.js';
import { type ExtractOptions, type ExtractSummary, type MeterCounts, type MeterStatus, issueCounter, summarize } from './meter.js';
import { inputName } from '../pcap/reader.js';

/**
 * Flow metering on worker threads. The main thread reads the capture and routes each packet by a symmetric hash
 * of its flow's addresses to one shard; each shard (a worker thread) runs its own decoder, filter, flow table and
 * plugins (a FlowMeter), exactly as a single-threaded run would on its share of packets, and sends rows back.
 *
 * Why the address pair (with protocol and VLAN) and not the 5-tuple: IP fragments after the first carry no ports,
 * so a 5-tuple hash would send a datagram's fragments, and the unfragmented packets of the same flow, to different
 * shards; the address pair keeps every packet of a flow, fragment or not, in one shard (Suricata recommends the same
 * "sd" hashing for its RSS queues for this reason). Both directions hash alike because the endpoint hashes add.
 *
 * State shared across flows (the DNS name map: dns_host names a flow by the answer that preceded it, which another
 * shard metered) is the plugins' to declare (FlowPlugin.shares): every packet a plugin shares also goes, marked
 * observe-only, to every other shard, whose plugins observe it without metering it. Packets reach each shard in
 * capture order, so an answer is learnt before any later flow of that shard starts. Only fragments after the first
 * (rare for DNS: EDNS answers past the path MTU) are not shared, since the router does not reassemble.
 *
 * Plugins reach the shards as PluginOptions (plain data) and the modules that register them (pluginModules): each
 * shard builds its own, so a registered plugin of one's own runs on every thread.
 *
 * Records come out in the order shards finish them, not in the single-threaded order; flow ids are unique but
 * numbered per shard (shard s of n numbers s + 1, s + 1 + n, ...). out_of_order counts in the summary are summed
 * over shards, each counting against its own packets.
 */

export type { ShardedOptions } from './shard-meter.js';

export interface ShardedRunOptions extends ShardedOptions {
  /** Shards: the main thread meters one while it reads and routes, worker threads the others. */
  threads: number;
  /**
   * The main thread's share of the flows, against 1 for each worker thread (it also reads, decodes headers and
   * routes every packet): MAIN_SHARE unless told.
   */
  mainShare?: number;
  onIssue?: ExtractOptions['onIssue'];
  onProgress?: ExtractOptions['onProgress'];
  /** The main thread's output backpressure (ExtractOptions.backlog). */
  backlog?: ExtractOptions['backlog'];
  /** Live input: the shards' state summed, as their ticks report it. */
  onStatus?: ExtractOptions['onStatus'];
}

export interface ShardInit {
  name: string;
  shard: number;
  shards: number;
  options: ShardedOptions;
  /** Modules that register the plugins options.plugins names (built-ins need none). */
  modules: string[];
  /** Rows are sent back in messages of this many (and on the live timer). */
  rowsPerMessage: number;
}

/** Worker → main messages. */
export type ShardMessage =
  | { type: 'ack'; index: Float64Array<ArrayBuffer> }
  | { type: 'rows'; rows: CellValue[][] }
  | { type: 'text'; bytes: Uint8Array; rows: number }
  | { type: 'status'; status: MeterStatus }
  | { type: 'done'; counts: Omit<MeterCounts, 'dropped' | 'appEvidence'> & { dropped: Array<[string, number]>; appEvidence: Array<[string, number]> }; cpuSec: number | undefined }
  | { type: 'error'; message: string };

/**
 * The main thread reads the input straight into SharedArrayBuffers ("blocks"), which every shard can read;
 * a shard's batch is an index into the blocks, ENTRY numbers per record: block id, offset, captured and original
 * length, time (seconds, nanoseconds), frame number, link type + 65536 * flags (+ UID_SHIFT * PCAPdroid uid). Copying each record into a batch of
 * its own cost the main thread more than all its routing.
 */
export const ENTRY = 8;
/** A shared packet (FlowPlugin.shares) of another shard's flow: observed, not metered. */
export const FLAG_OBSERVE = 1;
/** A clock record (no bytes): the shard's table scans for expired flows at this capture time. */
export const FLAG_TICK = 2;
/**
 * The last index number holds link type + 65536 * flags + UID_SHIFT * (PCAPdroid uid - NO_UID, or -1 - the Apple
 * process index, 0 for neither).
 */
export const UID_SHIFT = 262144;
const BATCH_RECORDS = 8192;
/** Block size: above the reader's 4 MiB chunk plus the partial record carried over, so blocks fit every chunk. */
const BLOCK_BYTES = 5 << 20;
/** Batches sent but not yet consumed, per shard, before reading pauses. */
const MAX_IN_FLIGHT = 8;

export interface PacketBatch {
  type: 'packets';
  /** Blocks this batch uses that the shard has not been sent yet. */
  blocks: Array<{ id: number; sab: SharedArrayBuffer }>;
  index: Float64Array<ArrayBuffer>;
  records: number;
}

class Shard {
  index = new Float64Array(BATCH_RECORDS * ENTRY);
  /**
   * Index arrays the shard has sent back with its acknowledgements, to be filled again: a new 512 KiB array per
   * batch (a batch ends at every block, a few thousand packets) cost the router a tenth of its time in allocation.
   */
  spare: Array<Float64Array<ArrayBuffer>> = [];
  records = 0;
  blocks: PacketBatch['blocks'] = [];
  lastBlockSent = -1;
  inFlight = 0;
  /** Batches posted and batches the shard has finished, in order. */
  posted = 0;
  acked = 0;
  done: Promise<ShardMessage & { type: 'done' }>;
  /** The shard's latest live status. */
  status: MeterStatus = { packets: 0, active: 0, skipped: 0 };

  constructor(
    readonly worker: Worker,
    onRows: (rows: CellValue[][]) => void,
    onText: (bytes: Uint8Array, rows: number) => void,
    onAck: () => void,
    onStatus: () => void,
  ) {
    this.done = new Promise((resolve, reject) => {
      worker.on('message', (m: ShardMessage) => {
        if (m.type === 'rows') onRows(m.rows);
        else if (m.type === 'text') onText(m.bytes, m.rows);
        else if (m.type === 'status') {
          this.status = m.status;
          onStatus();
        }
        else if (m.type === 'ack') {
          this.spare.push(m.index);
          this.inFlight--;
          this.acked++;
          onAck();
        } else if (m.type === 'done') resolve(m);
        else reject(new Error(`flow shard: ${m.message}`));
      });
      worker.on('error', reject);
      worker.on('exit', (code) => reject(new Error(`flow shard exited with code ${code} before it finished`)));
    });
  }

  add(block: Block, offset: number, rec: PacketRecord, flags: number): void {
    if (block.id !== this.lastBlockSent) {
      this.blocks.push({ id: block.id, sab: block.sab });
      this.lastBlockSent = block.id;
    }
    const x = this.index;
    const at = this.records * ENTRY;
    x[at] = block.id;
    x[at + 1] = offset;
    x[at + 2] = rec.capLen;
    x[at + 3] = rec.origLen;
    x[at + 4] = rec.tsSec;
    x[at + 5] = rec.tsNsec;
    x[at + 6] = rec.number;
    // PCAPdroid's uid (pcapng comment) rides above: at most 2^32 * 2^18, exact in a double; an Apple process
    // index as a negative multiple instead (a packet has one or the other).
    const device = rec.deviceUid !== NO_UID ? rec.deviceUid - NO_UID : rec.deviceProcess >= 0 ? -1 - rec.deviceProcess : 0;
    x[at + 7] = rec.linkType + flags * 65536 + device * UID_SHIFT;
    if (++this.records === BATCH_RECORDS) this.post();
  }

  tick(tsSec: number, tsNsec: number): void {
    const x = this.index;
    const at = this.records * ENTRY;
    x.fill(0, at, at + ENTRY);
    x[at] = -1;
    x[at + 4] = tsSec;
    x[at + 5] = tsNsec;
    x[at + 7] = FLAG_TICK * 65536;
    if (++this.records === BATCH_RECORDS) this.post();
  }

  /** Send the batch (the index transferred, the blocks shared) and start a new one. */
  post(): void {
    if (this.records === 0) return;
    const batch: PacketBatch = { type: 'packets', blocks: this.blocks, index: this.index, records: this.records };
    this.worker.postMessage(batch, [this.index.buffer]);
    this.inFlight++;
    this.posted++;
    this.index = this.spare.pop() ?? new Float64Array(BATCH_RECORDS * ENTRY);
    this.records = 0;
    this.blocks = [];
  }
}

interface Block {
  id: number;
  sab: SharedArrayBuffer;
  /** The block may be refilled when every shard has acknowledged this many batches (set when it is retired). */
  releaseAt: number[] | undefined;
}

/** A chunk of the reader's buffer copied into a block: `source[start..end)` is at `block[at..]`. */
interface Chunk {
  block: Block;
  source: Uint8Array;
  start: number;
  end: number;
  at: number;
}

/** Where a sharded run's records go: rows, or text the shards encoded (options.encode). */
export type ShardedOutput = { onRow: (row: CellValue[]) => void } | { onEncoded: (bytes: Uint8Array, rows: number) => void };

/**
 * extractFlows on `threads` worker threads. Rows (the arrays are the caller's to keep) or encoded text come in the
 * order shards send them. Plugins are named by options (groups, sequence lengths) since each shard makes its own.
 * Options are checked here, before any thread starts.
 */
export async function extractFlowsSharded(input: string | Readable, out: ShardedOutput, opts: ShardedRunOptions): Promise<ExtractSummary> {
  const started = process.hrtime.bigint();
  const name = inputName(input);
  const n = Math.max(1, Math.floor(opts.threads));
  const { threads: _t, onIssue, onProgress, onStatus, backlog: _b, mainShare, ...options } = opts;
  const rowsPerMessage = 256;
  let waiting: (() => void) | undefined;
  const onAck = () => {
    if (waiting !== undefined && workers.every((s) => s.inFlight <= MAX_IN_FLIGHT / 2)) {
      const w = waiting;
      waiting = undefined;
      w();
    }
  };
  if (('onEncoded' in out) !== (opts.encode !== undefined)) throw new Error('extractFlowsSharded: onEncoded goes with the encode option, onRow without it');
  const onRows = (rows: CellValue[][]) => {
    if ('onRow' in out) for (const r of rows) out.onRow(r);
  };
  const onText = (bytes: Uint8Array, rows: number) => {
    if ('onEncoded' in out) out.onEncoded(bytes, rows);
  };
  // The router's own copies of the plugins answer which packets every shard must see.
  const sharing = flowPlugins(options.plugins).filter((p) => p.shares !== undefined);
  const modules = pluginModules(options.plugins);
  // One bound for the run: each shard holds its share of maxFlows and of the memory budget.
  const own = threadShare(options, n);
  const status = () => {
    if (onStatus === undefined) return;
    // Observe-only copies of shared packets are counted by every shard that got one; the router's count is exact.
    const mine = local.meter.status();
    onStatus(workers.reduce((a, s) => ({ packets: a.packets, active: a.active + s.status.active, skipped: a.skipped + s.status.skipped }), { packets: routed, active: mine.active, skipped: mine.skipped }));
  };
  // Shard 0 is metered here, between reads: a shard of its own would make one thread more than there are shards, and
  // on a machine with as many cores as shards the reading thread and that shard took turns on a core.
  const local = createShardMeter(name, 0, n, own, 'onRow' in out ? { rows: onRows } : { text: onText }, rowsPerMessage);
  const workers = Array.from({ length: n - 1 }, (_, k) => {
    const init: ShardInit = { name, shard: k + 1, shards: n, options: own, modules, rowsPerMessage };
    return new Shard(startModuleWorker(import.meta.url, 'shard-worker', init), onRows, onText, onAck, status);
  });
  const slots = routeSlots(n, mainShare ?? MAIN_SHARE);
  // Fail fast: a shard that dies rejects its promise now, not only when awaited at the end.
  const failed = Promise.race(workers.map((s) => s.done)).then(
    () => undefined,
    (e: unknown) => e as Error,
  );
  let failure: Error | undefined;
  void failed.then((e) => {
    failure = e;
    const w = waiting;
    waiting = undefined;
    w?.();
  });

  // Tunnels as the shards see them: packets are routed by the addresses their flows are keyed on.
  const router = new Decoder({ reassemble: false, tunnels: options.decoder?.tunnels });
  let nextBlock = 0;
  let chunk: Chunk | undefined;
  /** The block the current chunk is in. */
  let current: Block | undefined;
  // Blocks are recycled: allocating a SharedArrayBuffer per chunk cost more than the copy into it once did.
  const retired: Block[] = [];
  /** Free `b` once every shard has finished the batches that point into it (they are all sent first). */
  const retire = (b: Block) => {
    // Blocks are used in order, and a block is retired before any packet of a later one is routed: a batch that
    // points into it has it as its newest block.
    for (const s of workers) if (s.lastBlockSent === b.id) s.post();
    b.releaseAt = workers.map((s) => s.posted);
    retired.push(b);
  };
  const freshBlock = (min: number): Block => {
    const free = retired.findIndex((r) => r.sab.byteLength >= min && r.releaseAt!.every((at, i) => workers[i].acked >= at));
    const sab = free >= 0 ? retired.splice(free, 1)[0].sab : new SharedArrayBuffer(Math.max(min, BLOCK_BYTES));
    return { id: -1, sab, releaseAt: undefined };
  };
  // The reader reads straight into blocks (ReadOptions.buffers), so the shards see its chunks where they are.
  // Copying every chunk into shared memory cost the main thread a tenth of a run.
  const readBlocks = new Map<ArrayBufferLike, Block>();
  /** Make `b` the block packets are being routed from; ids number blocks in the order they are used. */
  const use = (b: Block) => {
    if (b === current) return;
    // A copy block holds one chunk: done with when the next begins (the reader gives its own blocks back).
    if (current !== undefined && !readBlocks.has(current.sab)) retire(current);
    if (b.id < 0) b.id = nextBlock++;
    current = b;
  };
  /** Bytes in the reader's own memory (a record larger than its headroom, joined in a buffer of its own) copied into a block. */
  const copy = (source: Uint8Array, start: number, end: number): Chunk => {
    // Copies into shared memory go byte by byte unless source and target share their alignment (10x slower).
    const pad = (source.byteOffset + start) & 7;
    const b = freshBlock(end - start + pad);
    new Uint8Array(b.sab, pad, end - start).set(source.subarray(start, end));
    use(b);
    return { block: b, source, start, end, at: pad };
  };
  /** A reader buffer that is a block of ours, where it lies. */
  const inBlock = (b: Block, buf: Uint8Array): Chunk => {
    use(b);
    return { block: b, source: buf, start: 0, end: buf.length, at: buf.byteOffset };
  };
  const buffers: ReadBuffers = {
    take(bytes) {
      const b = freshBlock(bytes);
      readBlocks.set(b.sab, b);
      return new Uint8Array(b.sab);
    },
    give(buf) {
      const b = readBlocks.get(buf.buffer);
      if (b === undefined) return;
      if (b.id < 0) {
        // Never routed from (its bytes went on into a buffer of the reader's own): free at once.
        b.releaseAt = workers.map(() => 0);
        retired.push(b);
      } else retire(b);
      readBlocks.delete(buf.buffer);
      if (current === b) current = undefined;
    },
  };
  /** Where a record's bytes are: in the current chunk, or (not expected: the reader announces chunks) found or copied on its own. */
  const place = (rec: PacketRecord): [Block, number] => {
    const c = chunk;
    if (c !== undefined && rec.data === c.source && rec.dataOffset >= c.start && rec.dataOffset + rec.capLen <= c.end) return [c.block, rec.dataOffset - c.start + c.at];
    const own = readBlocks.get(rec.data.buffer);
    chunk = own === undefined ? copy(rec.data, rec.dataOffset, rec.dataOffset + rec.capLen) : inBlock(own, rec.data);
    return [chunk.block, rec.dataOffset - chunk.start + chunk.at];
  };
  const vlanInKey = options.flow?.vlanInKey !== false;
  // The capture clock as one table would keep it (over packets that pass the filter), and the moments it would scan
  // for expired flows: every shard scans then too (tick records), so idle, FIN and status expiry match a single
  // table's. Fragments do not move this clock; a reassembled datagram's last fragment would, in a single table.
  const clockFilter = options.filter ? new PacketFilter(options.filter) : undefined;
  let baseSec = -1;
  let clock = -Infinity;
  let lastScan = -Infinity;
  const issues = issueCounter(onIssue);
  let routed = 0;
  // Live input: batches go out at least this often, so a quiet stream's packets are metered without delay.
  const sender = options.live ? setInterval(() => workers.forEach((s) => s.post()), Math.min(100, options.live.tickMs)) : undefined;
  // The local shard's live timer, as a worker's (shard-worker.ts).
  const ticker = options.live
    ? setInterval(() => {
        local.meter.tick();
        local.flush();
        status();
      }, options.live.tickMs)
    : undefined;
  const meter = local.meter;
  // A packet count (tshark -c) counts the records the capture filter passes, as one meter would; the shards apply
  // the filter for themselves, so the router asks it too, but only to count.
  const limit = options.maxPackets ?? Infinity;
  const counted = options.bpf !== undefined && Number.isFinite(limit) ? recordFilter(options.bpf) : undefined;
  let admitted = 0;
  try {
    const result = await readCapture(
      input,
      {
        chunk(buf, start, end) {
          const own = readBlocks.get(buf.buffer);
          chunk = own === undefined ? copy(buf, start, end) : inBlock(own, buf);
        },
        packet(rec) {
          routed++;
          // This record is routed either way; reading stops after it.
          const last = limit !== Infinity && (counted === undefined || counted(rec)) && ++admitted >= limit;
          const p = router.decode(rec);
          if (p.kind !== 'ip' && p.kind !== 'fragment') {
            // Not IP: any shard counts it the same way; spread by frame number.
            const k = slots[rec.number & SLOT_MASK];
            if (k === 0) meter.packetDecoded(rec, p);
            else {
              const [b, offset] = place(rec);
              workers[k - 1].add(b, offset, rec, 0);
            }
            return last;
          }
          if (p.kind === 'ip' && (clockFilter === undefined || !clockFilter.drops(p))) {
            if (baseSec < 0) baseSec = p.tsSec;
            const t = (p.tsSec - baseSec) * 1e9 + p.tsNsec;
            if (t > clock) clock = t;
            if (clock - lastScan >= SCAN_INTERVAL_NS) {
              lastScan = clock;
              const sec = baseSec + Math.floor(clock / 1e9);
              const nsec = clock - (sec - baseSec) * 1e9;
              meter.clockTick(sec, nsec);
              for (const s of workers) s.tick(sec, nsec);
            }
          }
          const k = slots[flowHash(p, vlanInKey ? p.vlan : 0, false) & SLOT_MASK];
          const shared = n > 1 && p.kind === 'ip' && sharedByAny(sharing, p);
          // The record's place in the blocks, found only when a worker gets it.
          let b: Block | undefined;
          let offset = 0;
          if (k !== 0 || shared) [b, offset] = place(rec);
          // The main shard's packets are decoded once, here, but fragments: only the meter's decoder reassembles.
          if (k === 0) {
            if (p.kind === 'fragment') meter.packet(rec);
            else meter.packetDecoded(rec, p);
          } else workers[k - 1].add(b!, offset, rec, 0);
          if (shared) {
            if (k !== 0) meter.observe(rec);
            for (let w = 0; w < workers.length; w++) if (w !== k - 1) workers[w].add(b!, offset, rec, FLAG_OBSERVE);
          }
          return last;
        },
        issue: issues.issue,
        deviceApp(app) {
          // Every shard needs the uid mappings (capture-wide, like DNS answers); they come before their uid's packets.
          meter.deviceApp(app);
          // The router's decoder names the main shard's packets' apps (packetDecoded), so it knows the mappings too.
          router.addDeviceApp(app);
          for (const s of workers) s.worker.postMessage({ type: 'device-app', app });
        },
        deviceProcess(proc) {
          // Apple's process blocks likewise: every shard numbers them in the same order as the packets do.
          meter.deviceProcess(proc);
          router.addDeviceProcess(proc);
          for (const s of workers) s.worker.postMessage({ type: 'device-process', proc });
        },
        drain() {
          if (failure) throw failure;
          for (const s of workers) if (s.inFlight >= MAX_IN_FLIGHT) return new Promise<void>((resolve) => (waiting = resolve));
          return opts.backlog?.();
        },
      },
      { name, onProgress, buffers },
    );
    clearInterval(sender);
    clearInterval(ticker);
    for (const s of workers) {
      s.post();
      s.worker.postMessage({ type: 'end' });
    }
    const c = meter.finish();
    local.flush();
    const done = await Promise.all(workers.map((s) => s.done));
    const counts = [countsMessage(c), ...done.map((d) => d.counts)];
    const summary = summarize(name, result, mergeCounts(counts), issues.errors, issues.warnings, started);
    const cpu = [threadCpuSec(), ...done.map((d) => d.cpuSec)];
    if (cpu.every((x) => x !== undefined)) summary.threadCpuSec = cpu as number[];
    return summary;
  } finally {
    clearInterval(sender);
    clearInterval(ticker);
    await Promise.all(workers.map((s) => s.worker.terminate()));
  }
}

/**
 * The main thread's share of flows against a worker's 1. It reads, decodes headers and routes every packet besides
 * metering its own; measured on the bench capture with every feature (docs/performance.md).
 */
export const MAIN_SHARE = 0.5;
const SLOTS = 1024;
const SLOT_MASK = SLOTS - 1;

/** Which shard each of SLOTS hash values goes to: shard 0 (the main thread) its share, the workers the rest evenly. */
export function routeSlots(shards: number, mainShare: number): Uint8Array {
  if (!(mainShare >= 0) || shards > 255) throw new RangeError(`routeSlots: ${shards} shards, main share ${mainShare}`);
  const slots = new Uint8Array(SLOTS);
  if (shards === 1) return slots;
  const main = Math.round((SLOTS * mainShare) / (mainShare + shards - 1));
  for (let i = main; i < SLOTS; i++) slots[i] = 1 + ((i - main) % (shards - 1));
  return slots;
}

/** Whether any plugin's capture-wide state learns from this packet (a loop: the router asks it of every packet). */
function sharedByAny(plugins: readonly FlowPlugin[], p: DecodedPacket): boolean {
  for (let i = 0; i < plugins.length; i++) if (plugins[i].shares!(p)) return true;
  return false;
}

/** A shard's counts as plain data (Maps as entry lists), as a worker posts them and mergeCounts takes them. */
export function countsMessage(c: MeterCounts): (ShardMessage & { type: 'done' })['counts'] {
  return { ...c, dropped: [...c.dropped.entries()], appEvidence: [...c.appEvidence.entries()] };
}

function mergeCounts(all: Array<(ShardMessage & { type: 'done' })['counts']>): MeterCounts {
  const byProto = new Float64Array(256);
  const dropped = new Map<string, number>();
  const appEvidence = new Map<string, number>();
  const out: MeterCounts = { metered: 0, records: 0, flows: 0, byProto, dropped, fragments: { ...all[0].fragments }, outOfOrder: 0, evicted: 0, continued: 0, shed: {}, memoryPeakBytes: 0, appEvidence };
  for (const k of Object.keys(out.fragments) as Array<keyof MeterCounts['fragments']>) out.fragments[k] = 0;
  for (const c of all) {
    out.metered += c.metered;
    out.records += c.records;
    out.flows += c.flows;
    out.outOfOrder += c.outOfOrder;
    out.evicted += c.evicted;
    out.continued += c.continued;
    out.memoryPeakBytes += c.memoryPeakBytes;
    for (const [k, v] of Object.entries(c.shed)) out.shed[k] = (out.shed[k] ?? 0) + v;
    for (let i = 0; i < 256; i++) byProto[i] += c.byProto[i];
    for (const [k, v] of c.dropped) dropped.set(k, (dropped.get(k) ?? 0) + v);
    for (const [k, v] of c.appEvidence) appEvidence.set(k, (appEvidence.get(k) ?? 0) + v);
    for (const k of Object.keys(out.fragments) as Array<keyof MeterCounts['fragments']>) out.fragments[k] += c.fragments[k];
  }
  return out;
}
