import { randomBytes } from 'node:crypto';
import type { MemoryBudget } from '../common/memory-budget.js';
import { type DecodedPacket, IPPROTO, TcpFlag } from '../decode/packet.js';
import { type Direction, type ExpiryReason, Flow, type FlowPlugin, type InitiatorRule, LENGTH_MODES, type LengthMode, SETTLE_BITS, packetLength } from './flow.js';
import { type Evicted, TOMBSTONE_CAPACITY, TOMBSTONE_ENTRY_BYTES, Tombstones, tombstoneCapacity } from './tombstones.js';

export interface FlowTableOptions {
  /** A flow silent for this long ends (seconds). nfstream and Linux conntrack use 120 s. */
  idleTimeoutSec: number;
  /** A flow older than this ends and continues as a new segment with the same flow id (seconds). */
  activeTimeoutSec: number;
  /**
   * Split a flow at a silence of at least this long (seconds; 0 = off): the next packet starts a new segment with
   * the same flow id and client, as the active timeout does. A messaging app keeps one connection open for hours
   * and each message is a burst on it; split at the gaps, each burst is a record of its own that a user action
   * can be matched to, and the keep-alives between them are records of their own. Must be below the idle timeout.
   */
  burstGapSec: number;
  /** After FIN from both sides, or RST, the flow stays open this long to absorb the last ACKs (seconds; Zeek uses 5 s). */
  tcpCloseGraceSec: number;
  /** Emit an interim status record for every live flow this often (seconds of capture time); 0 = off (Argus uses 5 s). */
  statusIntervalSec: number;
  lengthMode: LengthMode;
  /** Include the VLAN ids in the flow key (as nfstream does). */
  vlanInKey: boolean;
  /**
   * Flows held at once (default: no bound but the memory budget's). Full, a new flow first evicts the longest-idle
   * one, written with expiry_reason `evicted` and counted, as when the memory budget is reached; a later packet of
   * an evicted flow continues it as the next segment (tombstones.ts), so every packet is in some record.
   */
  maxFlows?: number;
}

export const DEFAULT_FLOW_OPTIONS: FlowTableOptions = {
  idleTimeoutSec: 120,
  activeTimeoutSec: 1800,
  burstGapSec: 0,
  tcpCloseGraceSec: 5,
  statusIntervalSec: 0,
  lengthMode: 'ip',
  vlanInKey: true,
};

/**
 * The flow table's own bytes per flow, measured with no feature group but the packet statistics (docs/memory.md):
 * the Flow object, its slots array, its packet statistics, its share of the bucket array. The plugins' fixed state
 * (FlowPlugin.flowBytes) and what they hold (Flow.heldBytes) come on top.
 */
export const FLOW_BASE_BYTES = 850;

/**
 * Bucket chain length past which the table takes a new hash key and rehashes every flow. With a keyed hash and a
 * load of at most 1 a chain this long does not happen by chance (expected longest chain about 10 at a million
 * flows); an input that makes one has found the key or a weakness of the mix, and a new key undoes it.
 */
export const MAX_CHAIN = 48;

/**
 * The options a FlowTable accepts: every duration a finite number of seconds >= 0 (Infinity only for timeouts that
 * never fire), a burst gap below the idle timeout (at or above it the idle timeout ends the flow first and no burst
 * is ever split), a known length mode. The library checks, so a caller's mistake is an error, not a silent no-op.
 */
export function checkFlowOptions(o: FlowTableOptions): void {
  for (const k of ['idleTimeoutSec', 'activeTimeoutSec', 'burstGapSec', 'tcpCloseGraceSec', 'statusIntervalSec'] as const) {
    const v = o[k];
    if (typeof v !== 'number' || Number.isNaN(v) || v < 0) throw new RangeError(`flow option ${k}: ${String(v)}: a number of seconds >= 0`);
  }
  if (o.burstGapSec > 0 && o.burstGapSec >= o.idleTimeoutSec) throw new RangeError(`flow option burstGapSec: ${o.burstGapSec} s is not below the idle timeout (${o.idleTimeoutSec} s), so no burst would ever be split`);
  if (o.maxFlows !== undefined && !(o.maxFlows >= 1)) throw new RangeError(`flow option maxFlows: ${String(o.maxFlows)}: at least 1`);
  if (!(o.lengthMode in LENGTH_MODES)) throw new RangeError(`flow option lengthMode: ${String(o.lengthMode)}: one of ${Object.keys(LENGTH_MODES).join(', ')}`);
}

export type RecordKind = 'final' | 'status';

export interface FlowSink {
  record(flow: Flow, kind: RecordKind, reason: ExpiryReason, table: FlowTable): void;
}

/**
 * Ports that mark the server side when a capture starts mid-connection (no SYN seen): the IANA well-known range
 * plus common registered service ports seen on phones and proxies (Tinyproxy 8888, Squid 3128, XMPP / Google
 * push 5222-5228, WhatsApp 4244/5222, STUN 3478, QUIC/HTTPS alternates 8443).
 */
const SERVER_PORTS = new Set([1080, 1194, 1433, 1723, 1883, 3128, 3306, 3478, 4244, 5060, 5061, 5222, 5223, 5228, 5349, 5432, 6379, 8000, 8008, 8080, 8443, 8883, 8888, 9000, 9090, 19302]);

function likelyServerPort(port: number): boolean {
  return (port > 0 && port < 1024) || SERVER_PORTS.has(port);
}

/** Relative times beyond this lose nanoseconds in a double (2^52 ns, half the exact range, to leave room). */
const EXACT_SPAN_NS = 2 ** 52;
/** How often (in capture time) the table looks for flows to expire. */
export const SCAN_INTERVAL_NS = 1e9;

interface Timed {
  flow: Flow;
  due: number;
}

/**
 * The flow table. Key = protocol + VLAN + unordered pair of (address, port); direction comes from the initiator.
 *
 * Initiator rule, in order: TCP SYN without ACK (its sender is the client); SYN+ACK (its receiver is the client);
 * ICMP echo request/reply; a likely server port on exactly one side (capture started mid-connection); else the
 * sender of the first packet seen. The rule used is written to `initiator_rule`. A flow split by the active
 * timeout or a burst gap keeps its client and server ('inherited'), fixing nfstream#125.
 *
 * Expiry: idle (`t - last >= idle`), active (`t - first >= active`), TCP FIN from both sides or RST followed by a
 * grace period, a new SYN on a closed or closing connection, a burst gap (off by default), and end of input. Idle and closing flows are found by
 * a scan every second of capture time over an LRU list and a deadline queue, so expired flows stream out and
 * memory grows with active flows only.
 *
 * Time is kept as nanoseconds relative to the first packet's second (`baseSec`), exact in a double for 104 days.
 */
export class FlowTable {
  /**
   * Open hash table of bucket chains, indexed by the low bits of the flow hash and doubled when the load passes
   * 1, so lookups stay O(1) without a Map keyed by (boxed) 32-bit numbers.
   */
  private buckets: Array<Flow | null> = new Array<Flow | null>(1024).fill(null);
  private mask = 1023;
  private lruHead: Flow | null = null;
  private lruTail: Flow | null = null;
  private closing: Timed[] = [];
  private closingHead = 0;
  private status: Timed[] = [];
  private statusHead = 0;
  private nextFlowId = 1;
  private flowIdStep = 1;
  private lastScan = -Infinity;
  private readonly idleNs: number;
  private readonly activeNs: number;
  private readonly burstNs: number;
  private readonly graceNs: number;
  private readonly statusNs: number;
  baseSec = -1;
  /** Latest capture time seen (relative ns); never goes back. */
  clock = -Infinity;
  active = 0;
  flowsEmitted = 0;
  packets = 0;
  /**
   * false: packets do not trigger the periodic scan for expired flows; only tick() does. A shard of a sharded run
   * is ticked by the router at the moments a single table would have scanned, so both expire the same flows.
   */
  scanOnAdd = true;
  /** Packets whose timestamp is earlier than an earlier packet's (capture-wide). */
  outOfOrder = 0;
  /** Flows written early (expiry_reason evicted): the memory budget or maxFlows was reached. */
  evicted = 0;
  /** Times a bucket chain passed MAX_CHAIN and the table took a new hash key. */
  rekeys = 0;
  /** Packet count at the last rekey: at most one rekey per `active` packets, so rehashing stays amortised O(1). */
  private rekeyedAt = -Infinity;
  /** Bytes charged to the budget for each flow: FLOW_BASE_BYTES and every plugin's flowBytes. */
  readonly flowBytes: number;
  /** Evicted flows a later packet may continue (allocated at the first eviction). */
  private tombstones: Tombstones | null = null;
  private readonly tombstoneCapacity: number;
  /** The flow being updated: never the one evicted to make room. */
  private current: Flow | null = null;

  /** Calls every plugin's update; see makeDispatch. */
  private readonly dispatch: (flow: Flow, p: DecodedPacket, dir: Direction, len: number) => void;
  /**
   * This table's secret in the flow hash (Zeek's keyed hashing): without it the hash is fixed and invertible, so a
   * capture of computed client addresses could put every flow in one bucket chain (60,000 such SYNs took 123 s
   * against 0.8 s). Chosen per table from the system's random source; nothing outside the table sees it.
   */
  private hashKey = randomBytes(4).readUInt32LE(0) | 1;

  /**
   * `budget`: the run's memory budget (memory-budget.ts). The table charges every flow and what its plugins hold,
   * and registers itself as the first reliever: over the budget, the longest-idle flows are written early.
   */
  constructor(
    readonly plugins: readonly FlowPlugin[],
    private readonly sink: FlowSink,
    readonly opts: FlowTableOptions = DEFAULT_FLOW_OPTIONS,
    private readonly budget?: MemoryBudget,
  ) {
    checkFlowOptions(opts);
    this.flowBytes = FLOW_BASE_BYTES + plugins.reduce((n, p) => n + (p.flowBytes ?? 0), 0);
    budget?.register({ name: 'flows', relieve: () => this.evictOne() });
    // The tombstones are reserved in the budget now (allocated at the first eviction), so that the first eviction
    // does not take a step past the limit.
    this.tombstoneCapacity = budget === undefined ? TOMBSTONE_CAPACITY : tombstoneCapacity(budget.limitBytes);
    budget?.charge(this.tombstoneCapacity * TOMBSTONE_ENTRY_BYTES);
    this.dispatch = makeDispatch(plugins);
    this.idleNs = opts.idleTimeoutSec * 1e9;
    this.activeNs = opts.activeTimeoutSec * 1e9;
    this.burstNs = opts.burstGapSec > 0 ? opts.burstGapSec * 1e9 : Infinity;
    this.graceNs = opts.tcpCloseGraceSec * 1e9;
    this.statusNs = opts.statusIntervalSec * 1e9;
  }

  /**
   * Number flows first, first + step, ... instead of 1, 2, ...: shard s of n tables numbers from s + 1 in steps
   * of n, so flow ids stay unique across the shards of one run.
   */
  numberFlows(first: number, step: number): void {
    this.nextFlowId = first;
    this.flowIdStep = step;
  }

  private takeFlowId(): number {
    const id = this.nextFlowId;
    this.nextFlowId += this.flowIdStep;
    return id;
  }

  /**
   * Set `p.t` (relative ns) as add() would, without metering the packet: for packets this table only learns from
   * (a DNS answer metered in another shard). Starts the time base if this is the first packet.
   */
  stamp(p: DecodedPacket): void {
    if (this.baseSec < 0) this.baseSec = p.tsSec;
    p.t = (p.tsSec - this.baseSec) * 1e9 + p.tsNsec;
  }

  /**
   * Relative times are exact doubles only within 2^53 ns (104 days) of the base. A capture whose first packet has
   * time 0 (a pcapng simple packet block, a broken clock) would put every later time out of that range; when such
   * a packet comes while no flow is alive (the scan just ended them), the base moves to it.
   */
  private rebase(p: DecodedPacket): void {
    this.rebaseTo(p.tsSec, p.tsNsec);
    p.t = p.tsNsec;
  }

  private rebaseTo(sec: number, nsec: number): void {
    const delta = (sec - this.baseSec) * 1e9;
    for (const plugin of this.plugins) plugin.rebase?.(delta);
    this.tombstones?.shift(delta);
    this.baseSec = sec;
    this.clock = nsec;
    this.lastScan = nsec;
  }

  /** Add one decoded packet of kind 'ip'. */
  add(p: DecodedPacket): void {
    this.stamp(p);
    let t = p.t;
    this.packets++;
    if (t < this.clock) this.outOfOrder++;
    else this.clock = t;
    if (this.scanOnAdd && this.clock - this.lastScan >= SCAN_INTERVAL_NS) this.scan(this.clock);
    if ((t > EXACT_SPAN_NS || t < -EXACT_SPAN_NS) && this.active === 0) {
      this.rebase(p);
      t = p.t;
    }

    const vlan = this.opts.vlanInKey ? p.vlan : 0;
    const h = flowHash(p, vlan, true, this.hashKey);

    let flow = this.buckets[h & this.mask];
    let dir: Direction = 0;
    let chain = 0;
    while (flow !== null) {
      chain++;
      if (flow.proto === p.proto && flow.vlan === vlan && flow.ipVersion === p.ipVersion) {
        if (flow.cPort === p.srcPort && flow.sPort === p.dstPort && flow.c3 === p.src3 && flow.s3 === p.dst3 && flow.c2 === p.src2 && flow.s2 === p.dst2 && flow.c1 === p.src1 && flow.s1 === p.dst1 && flow.c0 === p.src0 && flow.s0 === p.dst0) {
          dir = 0;
          break;
        }
        if (flow.cPort === p.dstPort && flow.sPort === p.srcPort && flow.c3 === p.dst3 && flow.s3 === p.src3 && flow.c2 === p.dst2 && flow.s2 === p.src2 && flow.c1 === p.dst1 && flow.s1 === p.src1 && flow.c0 === p.dst0 && flow.s0 === p.src0) {
          dir = 1;
          break;
        }
      }
      flow = flow.nextInBucket;
    }

    const isTcp = p.proto === IPPROTO.TCP;
    const pureSyn = isTcp && (p.tcpFlags & (TcpFlag.SYN | TcpFlag.ACK)) === TcpFlag.SYN;
    if (flow !== null) {
      let reason: ExpiryReason | undefined;
      if (t - flow.lastT >= this.idleNs) reason = 'idle';
      else if (flow.closeDeadline >= 0 && t > flow.closeDeadline) reason = flow.closeReason;
      else if (pureSyn && (flow.closeDeadline >= 0 || flow.rst || flow.fin0 || flow.fin1) && p.tcpSeq !== flow.clientIsn) reason = 'tcp-new-syn';
      else if (t - flow.lastT >= this.burstNs) reason = 'burst-gap';
      else if (t - flow.firstT >= this.activeNs) reason = 'active';
      if (reason !== undefined) {
        const old = flow;
        this.expire(old, reason);
        if (reason === 'active' || reason === 'burst-gap') {
          flow = this.create(h, p, t, vlan, old);
          dir = p.src3 === flow.c3 && p.srcPort === flow.cPort && p.src0 === flow.c0 && p.src1 === flow.c1 && p.src2 === flow.c2 ? 0 : 1;
        } else flow = null;
      }
    }
    if (flow === null) {
      if (this.active >= (this.opts.maxFlows ?? Infinity)) this.evictOne();
      // A packet of a flow evicted a moment ago continues it (not a new SYN: that is a new connection).
      const evicted = this.tombstones !== null && !pureSyn ? this.tombstones.take(h, p, vlan, t, this.idleNs) : undefined;
      flow = this.create(h, p, t, vlan, evicted ?? null);
      dir = p.src3 === flow.c3 && p.srcPort === flow.cPort && p.src0 === flow.c0 && p.src1 === flow.c1 && p.src2 === flow.c2 ? 0 : 1;
      if (chain > MAX_CHAIN && this.packets - this.rekeyedAt > this.active) this.rekey();
    } else this.touch(flow);

    const len = packetLength(p, this.opts.lengthMode);
    if (t < flow.lastT) flow.outOfOrder++;
    else {
      flow.lastT = t;
      flow.lastSec = p.tsSec;
      flow.lastNsec = p.tsNsec;
    }
    if (dir === 0) {
      flow.packets0++;
      flow.bytes0 += len;
      flow.payload0 += p.payloadLen;
    } else {
      flow.packets1++;
      flow.bytes1 += len;
      flow.payload1 += p.payloadLen;
    }
    if (p.truncated) flow.truncated++;
    if (p.reassembled) flow.reassembled++;
    const held = flow.heldBytes;
    this.dispatch(flow, p, dir, len);

    if (isTcp) this.tcpState(flow, p, dir, t, pureSyn);
    const budget = this.budget;
    if (budget !== undefined) {
      if (flow.heldBytes !== held) budget.charge(flow.heldBytes - held);
      if (budget.used > budget.limitBytes) {
        this.current = flow;
        budget.relieve();
        this.current = null;
      }
    }
  }

  /**
   * Write the longest-idle flow early (expiry_reason evicted), remember it for a continuation, and count it; never
   * the flow being updated. Returns false when there is nothing to evict. The flow table's Reliever.
   */
  private evictOne(): boolean {
    let victim = this.lruHead;
    if (victim !== null && victim === this.current) victim = victim.lruNext;
    if (victim === null) return false;
    this.tombstones ??= new Tombstones(this.tombstoneCapacity);
    this.evicted++;
    this.tombstones.remember(victim);
    this.expire(victim, 'evicted');
    return true;
  }

  /** Evicted flows a later packet continued as their next segment. */
  get continued(): number {
    return this.tombstones?.continued ?? 0;
  }

  /**
   * A bucket chain passed MAX_CHAIN: take a new key and rehash every flow, so that the input that aimed at one chain no longer does.
   * Tombstones keep their old slots; a continuation missed because of it becomes a new flow (its packets still
   * in a record).
   */
  private rekey(): void {
    this.rekeys++;
    this.rekeyedAt = this.packets;
    this.hashKey = randomBytes(4).readUInt32LE(0) | 1;
    this.rebucket(this.buckets.length, true);
  }

  private tcpState(flow: Flow, p: DecodedPacket, dir: Direction, t: number, pureSyn: boolean): void {
    const f = p.tcpFlags;
    if (pureSyn && dir === 0 && flow.clientIsn < 0) flow.clientIsn = p.tcpSeq;
    if (f & TcpFlag.RST) {
      if (!flow.rst) {
        flow.rst = true;
        this.startClosing(flow, t, 'tcp-rst');
      }
      return;
    }
    if (f & TcpFlag.FIN) {
      if (dir === 0) flow.fin0 = true;
      else flow.fin1 = true;
      if (flow.fin0 && flow.fin1 && flow.closeDeadline < 0) this.startClosing(flow, t, 'tcp-fin');
    }
  }

  private startClosing(flow: Flow, t: number, reason: ExpiryReason): void {
    // Deadlines use the monotonic clock so the closing queue stays sorted.
    const at = Math.max(t, this.clock);
    flow.closeDeadline = at + this.graceNs;
    flow.closeReason = reason;
    this.closing.push({ flow, due: flow.closeDeadline });
  }

  private create(h: number, p: DecodedPacket, t: number, vlan: number, continues: Evicted | null): Flow {
    const flow = new Flow(h, continues ? continues.flowId : this.takeFlowId(), continues ? continues.segment + 1 : 0, this.plugins.length);
    flow.ipVersion = p.ipVersion;
    flow.proto = p.proto;
    flow.vlan = vlan;
    flow.vlanTagged = this.opts.vlanInKey && p.vlanTags > 0;
    flow.tunnel = p.tunnel;
    flow.tunnelId = p.tunnelId;
    let srcIsClient: boolean;
    let rule: InitiatorRule;
    if (continues !== null) {
      srcIsClient = p.srcPort === continues.cPort && p.src3 === continues.c3 && p.src0 === continues.c0 && p.src1 === continues.c1 && p.src2 === continues.c2;
      rule = 'inherited';
    } else [srcIsClient, rule] = initiator(p);
    if (srcIsClient) {
      flow.c0 = p.src0;
      flow.c1 = p.src1;
      flow.c2 = p.src2;
      flow.c3 = p.src3;
      flow.cPort = p.srcPort;
      flow.s0 = p.dst0;
      flow.s1 = p.dst1;
      flow.s2 = p.dst2;
      flow.s3 = p.dst3;
      flow.sPort = p.dstPort;
    } else {
      flow.c0 = p.dst0;
      flow.c1 = p.dst1;
      flow.c2 = p.dst2;
      flow.c3 = p.dst3;
      flow.cPort = p.dstPort;
      flow.s0 = p.src0;
      flow.s1 = p.src1;
      flow.s2 = p.src2;
      flow.s3 = p.src3;
      flow.sPort = p.srcPort;
    }
    flow.initiator = rule;
    flow.firstT = t;
    flow.lastT = t;
    flow.firstSec = flow.lastSec = p.tsSec;
    flow.firstNsec = flow.lastNsec = p.tsNsec;
    // Insert at the head of its bucket chain and at the LRU tail.
    if (this.active >= this.buckets.length) this.grow();
    const b = h & this.mask;
    flow.nextInBucket = this.buckets[b];
    this.buckets[b] = flow;
    this.lruAppend(flow);
    this.active++;
    this.budget?.charge(this.flowBytes);
    for (let i = 0; i < this.plugins.length; i++) flow.slots[i] = this.plugins[i].init(flow, p);
    if (this.statusNs > 0) this.status.push({ flow, due: Math.max(t, this.clock) + this.statusNs });
    return flow;
  }

  private grow(): void {
    this.rebucket(this.buckets.length * 2, false);
  }

  /** Put every flow into a new bucket array of `length` chains; with `rehash`, under the current key first. */
  private rebucket(length: number, rehash: boolean): void {
    const old = this.buckets;
    this.buckets = new Array<Flow | null>(length).fill(null);
    this.mask = length - 1;
    for (let head of old) {
      while (head !== null) {
        const next = head.nextInBucket;
        if (rehash) head.hash = flowKeyHash(head, this.hashKey);
        const b = head.hash & this.mask;
        head.nextInBucket = this.buckets[b];
        this.buckets[b] = head;
        head = next;
      }
    }
  }

  /** Move to the LRU tail (most recently updated). */
  private touch(flow: Flow): void {
    if (this.lruTail === flow) return;
    this.lruUnlink(flow);
    this.lruAppend(flow);
  }

  private lruAppend(flow: Flow): void {
    flow.lruPrev = this.lruTail;
    flow.lruNext = null;
    if (this.lruTail !== null) this.lruTail.lruNext = flow;
    else this.lruHead = flow;
    this.lruTail = flow;
  }

  private lruUnlink(flow: Flow): void {
    if (flow.lruPrev !== null) flow.lruPrev.lruNext = flow.lruNext;
    else this.lruHead = flow.lruNext;
    if (flow.lruNext !== null) flow.lruNext.lruPrev = flow.lruPrev;
    else this.lruTail = flow.lruPrev;
    flow.lruPrev = flow.lruNext = null;
  }

  private expire(flow: Flow, reason: ExpiryReason): void {
    if (!flow.alive) return;
    flow.alive = false;
    // Unlink from the bucket chain.
    const b = flow.hash & this.mask;
    let cur = this.buckets[b];
    if (cur === flow) this.buckets[b] = flow.nextInBucket;
    else {
      while (cur !== null && cur.nextInBucket !== flow) cur = cur.nextInBucket;
      if (cur !== null) cur.nextInBucket = flow.nextInBucket;
    }
    flow.nextInBucket = null;
    this.lruUnlink(flow);
    this.active--;
    for (let i = 0; i < this.plugins.length; i++) this.plugins[i].expire?.(flow.slots[i], flow);
    this.flowsEmitted++;
    this.sink.record(flow, 'final', reason, this);
    this.budget?.charge(-(this.flowBytes + flow.heldBytes));
  }

  /**
   * Expire what is due at capture time `now` (relative ns): idle flows from the LRU head, closing flows whose
   * grace has passed, and status records. Live capture calls this from a timer, so flows expire even when no
   * packet arrives.
   */
  scan(now: number): void {
    this.lastScan = now;
    while (this.lruHead !== null && now - this.lruHead.lastT >= this.idleNs) this.expire(this.lruHead, 'idle');
    while (this.closingHead < this.closing.length && this.closing[this.closingHead].due < now) {
      const { flow, due } = this.closing[this.closingHead++];
      if (flow.alive && flow.closeDeadline === due) this.expire(flow, flow.closeReason);
    }
    if (this.closingHead > 1024 && this.closingHead * 2 > this.closing.length) {
      this.closing = this.closing.slice(this.closingHead);
      this.closingHead = 0;
    }
    if (this.statusNs > 0) {
      while (this.statusHead < this.status.length && this.status[this.statusHead].due <= now) {
        const item = this.status[this.statusHead++];
        if (!item.flow.alive) continue;
        this.sink.record(item.flow, 'status', 'status', this);
        this.status.push({ flow: item.flow, due: item.due + this.statusNs });
      }
      if (this.statusHead > 1024 && this.statusHead * 2 > this.status.length) {
        this.status = this.status.slice(this.statusHead);
        this.statusHead = 0;
      }
    }
  }

  /** Advance capture time to an absolute time without a packet, and expire what is due. */
  tick(nowAbsSec: number, nowAbsNsec = 0): void {
    // Before any packet: the time base starts here, as it would have at the packet that made the tick.
    if (this.baseSec < 0) this.baseSec = nowAbsSec;
    const t = (nowAbsSec - this.baseSec) * 1e9 + nowAbsNsec;
    this.tickAt(t);
    // As add() does when a packet comes this far from the base with no flow alive. A shard (sharded.ts) scans at
    // the router's ticks: the single table it stands in for rebased at the packet that made this tick, which
    // may have gone to another shard.
    if ((t > EXACT_SPAN_NS || t < -EXACT_SPAN_NS) && this.active === 0) this.rebaseTo(nowAbsSec, nowAbsNsec);
  }

  /** Advance capture time to `t` (relative ns) without a packet (live mode timers), and expire what is due. */
  tickAt(t: number): void {
    if (t > this.clock) this.clock = t;
    this.scan(this.clock);
  }

  /** End of input: every remaining flow ends, oldest update first. */
  flush(): void {
    while (this.lruHead !== null) this.expire(this.lruHead, 'end-of-input');
    this.closing = [];
    this.closingHead = 0;
    this.status = [];
    this.statusHead = 0;
  }
}

/**
 * One function that calls each plugin's `update` from its own call site. A loop over the plugins has one call site
 * that sees every plugin's function, so V8 marks it megamorphic and neither inlines nor caches the calls; with a
 * call site per plugin each one stays monomorphic. Measured on bench/flows (3 alternating runs each, all
 * features): median 2.68 s against 3.27 s for the loop.
 *
 * A plugin whose update returned true is settled for the flow (Flow.settled) and skipped from then on; the test
 * reads only the flow, which the table has just touched, not the plugin's own (cache-cold) state.
 */
function makeDispatch(plugins: readonly FlowPlugin[]): (flow: Flow, p: DecodedPacket, dir: Direction, len: number) => void {
  const args = plugins.map((_, i) => `p${i}`);
  const body = plugins
    .map((_, i) =>
      i < SETTLE_BITS
        ? `if ((done & ${1 << i}) === 0 && p${i}.update(s[${i}], flow, p, dir, len) === true) flow.settled |= ${1 << i};`
        : `p${i}.update(s[${i}], flow, p, dir, len);`,
    )
    .join('\n');
  // Generated once per table; the text holds only indices, never data from a capture.
  const make = new Function(...args, `return function dispatch(flow, p, dir, len) { const s = flow.slots; const done = flow.settled;\n${body}\n};`);
  return make(...plugins) as (flow: Flow, p: DecodedPacket, dir: Direction, len: number) => void;
}

/** Decide whether the packet's source is the client. */
function initiator(p: DecodedPacket): [boolean, InitiatorRule] {
  if (p.proto === IPPROTO.TCP) {
    const sa = p.tcpFlags & (TcpFlag.SYN | TcpFlag.ACK);
    if (sa === TcpFlag.SYN) return [true, 'syn'];
    if (sa === (TcpFlag.SYN | TcpFlag.ACK)) return [false, 'syn-ack'];
  } else if (p.proto === IPPROTO.ICMP || p.proto === IPPROTO.ICMPV6) {
    const req = p.proto === IPPROTO.ICMP ? 8 : 128;
    const rep = p.proto === IPPROTO.ICMP ? 0 : 129;
    if (p.icmpType === req) return [true, 'icmp-echo'];
    if (p.icmpType === rep) return [false, 'icmp-echo'];
  }
  const s = likelyServerPort(p.srcPort);
  const d = likelyServerPort(p.dstPort);
  if (s && !d) return [false, 'port'];
  if (d && !s) return [true, 'port'];
  return [true, 'first-packet'];
}

/**
 * The flow key's hash, the same for both directions: endpoints (address, and port when `withPorts`) mixed and
 * added, then protocol and VLAN. The flow table hashes with ports; the sharded router without them, so that a
 * datagram's fragments (no ports after the first) go where the rest of their flow goes.
 */
export function flowHash(p: DecodedPacket, vlan: number, withPorts: boolean, key = 0): number {
  const hs = endpointHash(p.src0, p.src1, p.src2, p.src3, withPorts ? p.srcPort : 0, key);
  const hd = endpointHash(p.dst0, p.dst1, p.dst2, p.dst3, withPorts ? p.dstPort : 0, key);
  return combineEndpoints(hs, hd, p.proto, vlan);
}

/** flowHash of a flow's own key (the same value its packets hash to), for rehashing under a new key. */
function flowKeyHash(f: Flow, key: number): number {
  return combineEndpoints(endpointHash(f.c0, f.c1, f.c2, f.c3, f.cPort, key), endpointHash(f.s0, f.s1, f.s2, f.s3, f.sPort, key), f.proto, f.vlan);
}

/** The two endpoints' hashes added (so either direction gives the same), then protocol and VLAN mixed in. */
function combineEndpoints(hs: number, hd: number, proto: number, vlan: number): number {
  return ((hs + hd) ^ Math.imul(proto + 1, 0x9e3779b1) ^ Math.imul(vlan + 1, 0x85ebca6b)) >>> 0;
}

/**
 * A 32-bit mix of one endpoint; the flow hash adds two of them, so it is the same for both directions. `key` enters
 * before the first multiplication and again before the last, so colliding inputs depend on it.
 */
function endpointHash(w0: number, w1: number, w2: number, w3: number, port: number, key: number): number {
  let h = Math.imul(w3 ^ 0x27d4eb2d ^ key, 0x165667b1);
  h = Math.imul(h ^ (h >>> 15) ^ w2, 0x85ebca6b);
  h = Math.imul(h ^ (h >>> 13) ^ w1, 0xc2b2ae35);
  h = Math.imul(h ^ (h >>> 16) ^ w0, 0x27d4eb2f);
  h = Math.imul(h ^ (h >>> 15) ^ port ^ Math.imul(key, 0x9e3779b1), 0x165667b1);
  return (h ^ (h >>> 16)) >>> 0;
}
