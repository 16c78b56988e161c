import type { DecodedPacket } from '../decode/packet.js';
import type { MemoryBudget } from '../common/memory-budget.js';
import type { CellValue, ColumnDef } from './schema.js';

/** Which bytes of a packet count as its length (the accounting modes nfstream offers). */
export type LengthMode = 'ip' | 'frame' | 'transport' | 'payload';

export const LENGTH_MODES: Record<LengthMode, string> = {
  ip: 'IP header + IP payload: IPv4 total length, or 40 + IPv6 payload length (extension headers included); a reassembled datagram counts whole',
  frame: 'the whole frame as it was on the wire (original length, link-layer header included); a reassembled datagram counts the sum of its fragments',
  transport: 'transport header + transport payload (TCP/UDP segment length as the IP header states it)',
  payload: 'transport payload only (TCP/UDP data, no headers)',
};

export function packetLength(p: DecodedPacket, mode: LengthMode): number {
  switch (mode) {
    case 'ip':
      return p.ipLen;
    case 'frame':
      return p.frameLen;
    case 'transport':
      return p.l4Len;
    case 'payload':
      return p.payloadLen;
  }
}

/** Plugins that can settle (see Flow.settled): bits of a 32-bit integer, less the sign bit. */
export const SETTLE_BITS = 31;

/** Direction of a packet within its flow: 0 = forward (client to server), 1 = backward. */
export type Direction = 0 | 1;

/** How the client (initiator) of a flow was decided; written to `initiator_rule`. */
export type InitiatorRule = 'syn' | 'syn-ack' | 'icmp-echo' | 'port' | 'first-packet' | 'inherited';

export type ExpiryReason = 'idle' | 'active' | 'burst-gap' | 'tcp-fin' | 'tcp-rst' | 'tcp-new-syn' | 'evicted' | 'end-of-input' | 'status';

/**
 * One bidirectional flow. Fields are plain numbers so V8 keeps one hidden class for every flow; plugins keep
 * their state in `slots` (one entry per plugin, in plugin order).
 */
export class Flow {
  /** Bucket chain, LRU list (by last update). */
  nextInBucket: Flow | null = null;
  lruPrev: Flow | null = null;
  lruNext: Flow | null = null;
  alive = true;

  ipVersion = 0;
  proto = 0;
  vlan = 0;
  /** The flow's first packet carried a VLAN tag (vlan is then its ids, 0 for a priority tag) and VLANs key flows. */
  vlanTagged = false;
  /** The tunnels of the flow's first packet (DecodedPacket.tunnel, "" for none) and the outermost one's id (-1 none). */
  tunnel = '';
  tunnelId = -1;
  c0 = 0;
  c1 = 0;
  c2 = 0;
  c3 = 0;
  cPort = 0;
  s0 = 0;
  s1 = 0;
  s2 = 0;
  s3 = 0;
  sPort = 0;
  initiator: InitiatorRule = 'first-packet';

  /** Times are nanoseconds relative to the meter's time base (see FlowTable.baseSec). */
  firstT = 0;
  lastT = 0;
  /**
   * The same two times as the capture wrote them (seconds, nanoseconds): the record's first/last seen come from
   * these, exact whatever the time base (a capture mixing times near 0 with times of today puts some relative
   * times past a double's exact nanoseconds, and which base a table has then depends on the flows it holds).
   */
  firstSec = 0;
  firstNsec = 0;
  lastSec = 0;
  lastNsec = 0;
  packets0 = 0;
  packets1 = 0;
  bytes0 = 0;
  bytes1 = 0;
  payload0 = 0;
  payload1 = 0;
  outOfOrder = 0;
  truncated = 0;
  reassembled = 0;

  /** TCP teardown: FIN seen from client / server, RST seen; closing deadline (relative ns, -1 = open). */
  fin0 = false;
  fin1 = false;
  rst = false;
  closeDeadline = -1;
  closeReason: ExpiryReason = 'tcp-fin';
  /** Client's initial sequence number from its SYN (-1 unknown), to recognise a retransmitted SYN. */
  clientIsn = -1;

  slots: unknown[];
  /**
   * Bit i set: plugin i said it needs no more packets of this flow (its update returned true), so the meter no
   * longer calls it. Only the first SETTLE_BITS plugins have a bit; later ones are always called.
   */
  settled = 0;
  /**
   * Bytes this flow's plugins hold beyond their fixed state (stream reassembly buffers, byte counts, DNS name
   * lists): a plugin that allocates or frees such a buffer adds or subtracts its size here, and the table charges
   * the change to the memory budget after the plugin's update.
   */
  heldBytes = 0;

  constructor(
    /** The keyed flow hash; changes only when the table takes a new key (FlowTable.rekey). */
    public hash: number,
    readonly flowId: number,
    readonly segment: number,
    nPlugins: number,
  ) {
    this.slots = new Array<unknown>(nPlugins);
  }

  get packets(): number {
    return this.packets0 + this.packets1;
  }
}

/**
 * A feature plugin (nfstream's NFPlugin: on_init / on_update / on_expire). The meter calls `init` when a flow
 * starts (before `update` for its first packet), `update` for every packet with the direction and the packet
 * length in the configured accounting mode (the packet's time, relative ns, is `p.t`), and `write` to fill the
 * plugin's columns of a record (final or interim status).
 */
export interface FlowPlugin<S = unknown> {
  readonly name: string;
  readonly columns: readonly ColumnDef[];
  /**
   * The bytes of this plugin's fixed state per flow, measured (docs/memory.md): the flow table charges it to the
   * memory budget for every flow. Buffers that grow with the input are charged through Flow.heldBytes instead.
   */
  readonly flowBytes?: number;
  init(flow: Flow, p: DecodedPacket): S;
  /**
   * Return true when this flow's features are complete for this plugin (the first N packets seen, the handshake
   * read, a protocol it does not meter): the meter then stops calling update for the flow. On a busy link every
   * packet's flow state is cold in the CPU cache, so a plugin that only returns early still costs a cache miss
   * per packet; a settled bit on the flow saves it (Zeek removes an analyzer from a connection, nDPI stops
   * dissecting once detection is done, for the same reason).
   */
  update(state: S, flow: Flow, p: DecodedPacket, dir: Direction, len: number): boolean | void;
  /** Called once when the flow ends (not for status records). */
  expire?(state: S, flow: Flow): void;
  /**
   * The table's time base moved `deltaNs` later (see FlowTable.rebase; only when no flow is alive): a plugin that
   * keeps relative times across flows (the DNS name map) shifts them.
   */
  rebase?(deltaNs: number): void;
  /** Write this plugin's values into `row` starting at `at`, in `columns` order. */
  write(state: S, flow: Flow, row: CellValue[], at: number): void;
  /**
   * Capture-wide state (Zeek's scripts that see every connection's events): packets this plugin learns from beyond
   * the flows it meters, such as DNS answers that name later flows. A sharded meter copies every packet for which
   * `shares` is true to all shards; the shards that do not meter its flow hand it to `observe`. Plugins with state
   * of one flow only leave both out.
   */
  shares?(p: DecodedPacket): boolean;
  /** A shared packet of a flow another shard meters (see `shares`); `p.t` is on this meter's time base. */
  observe?(p: DecodedPacket): void;
  /**
   * The run's memory budget, for a plugin with capture-wide state that grows with the input (the DNS name map): it
   * charges what it holds and registers a reliever that forgets its oldest entries.
   */
  useBudget?(budget: MemoryBudget): void;
}
