import type { DecodedPacket } from '../decode/packet.js';

/**
 * What the flow table remembers of a flow it evicted (written early because the memory budget or --max-flows was
 * reached), so that a later packet of the same connection continues it: the next record has the same flow id, the
 * next segment number and the same client ('inherited'), as after an active timeout. Without it a connection
 * evicted mid-way would come back as a new flow with its client guessed again.
 *
 * The latest `capacity` evictions, exactly: a ring of entries on a typed array (the oldest overwritten), and an index
 * from the keyed flow hash to its ring slot (a Map of at most `capacity` numbers; a lookup is one get and one key
 * comparison, whatever the input). Two remembered flows with the same 32-bit hash keep only the later. Fixed size,
 * allocated at the first eviction: a power of two of entries, at most TOMBSTONE_CAPACITY (about 9 MiB with the
 * index), of FIELDS doubles each; the table sizes it to its memory budget (tombstoneCapacity) and reserves it there.
 */
export const TOMBSTONE_CAPACITY = 1 << 16;
const FIELDS = 18;
/** Bytes of one entry and its index entry. */
export const TOMBSTONE_ENTRY_BYTES = FIELDS * 8 + 48;

/** Entries for a budget of `limitBytes`: about 1/32 of it, a power of two from 1,024 to TOMBSTONE_CAPACITY. */
export function tombstoneCapacity(limitBytes: number): number {
  let n = 1024;
  while (n < TOMBSTONE_CAPACITY && n * 2 * TOMBSTONE_ENTRY_BYTES * 32 <= limitBytes) n *= 2;
  return n;
}

// Field offsets within an entry. Addresses are stored as doubles: exact for every 32-bit word, signed or not.
const F_USED = 0;
const F_PROTO = 1;
const F_VLAN = 2;
const F_VERSION = 3;
const F_C = 4; // c0..c3
const F_CPORT = 8;
const F_S = 9; // s0..s3
const F_SPORT = 13;
const F_ID = 14;
const F_SEGMENT = 15;
const F_LAST = 16;
const F_HASH = 17;

/** The parts of an evicted flow a continuation takes over. */
export interface Evicted {
  flowId: number;
  segment: number;
  c0: number;
  c1: number;
  c2: number;
  c3: number;
  cPort: number;
}

export interface EvictedFlow extends Evicted {
  hash: number;
  proto: number;
  vlan: number;
  ipVersion: number;
  s0: number;
  s1: number;
  s2: number;
  s3: number;
  sPort: number;
  lastT: number;
}

export class Tombstones {
  private readonly e: Float64Array;
  private readonly index = new Map<number, number>();
  /** The ring slot the next eviction takes. */
  private next = 0;
  /** Continuations found. */
  continued = 0;
  private readonly found: Evicted = { flowId: 0, segment: 0, c0: 0, c1: 0, c2: 0, c3: 0, cPort: 0 };

  /** `capacity`: a power of two (tombstoneCapacity). */
  constructor(readonly capacity: number = TOMBSTONE_CAPACITY) {
    this.e = new Float64Array(capacity * FIELDS);
  }

  remember(f: EvictedFlow): void {
    const e = this.e;
    const slot = this.next;
    this.next = (slot + 1) % this.capacity;
    const at = slot * FIELDS;
    // The oldest entry goes: out of the index too, unless a later one of the same hash took its place there.
    if (e[at + F_USED] !== 0 && this.index.get(e[at + F_HASH] | 0) === slot) this.index.delete(e[at + F_HASH] | 0);
    // Keys as int32 (`| 0`): small integers to V8, where a uint32 above 2^31 is a boxed number (slower Map keys).
    this.index.set(f.hash | 0, slot);
    e[at + F_USED] = 1;
    e[at + F_PROTO] = f.proto;
    e[at + F_VLAN] = f.vlan;
    e[at + F_VERSION] = f.ipVersion;
    e[at + F_C] = f.c0;
    e[at + F_C + 1] = f.c1;
    e[at + F_C + 2] = f.c2;
    e[at + F_C + 3] = f.c3;
    e[at + F_CPORT] = f.cPort;
    e[at + F_S] = f.s0;
    e[at + F_S + 1] = f.s1;
    e[at + F_S + 2] = f.s2;
    e[at + F_S + 3] = f.s3;
    e[at + F_SPORT] = f.sPort;
    e[at + F_ID] = f.flowId;
    e[at + F_SEGMENT] = f.segment;
    e[at + F_LAST] = f.lastT;
    e[at + F_HASH] = f.hash;
  }

  /**
   * The evicted flow this packet belongs to, if it was evicted less than `idleNs` before `t` (later, it would have
   * ended idle anyway), and forget it: a connection continues once. The returned object is reused.
   */
  take(h: number, p: DecodedPacket, vlan: number, t: number, idleNs: number): Evicted | undefined {
    const slot = this.index.get(h | 0);
    if (slot === undefined) return undefined;
    const e = this.e;
    const at = slot * FIELDS;
    if (e[at + F_USED] === 0 || e[at + F_HASH] !== h || e[at + F_PROTO] !== p.proto || e[at + F_VLAN] !== vlan || e[at + F_VERSION] !== p.ipVersion) return undefined;
    const fwd = e[at + F_CPORT] === p.srcPort && e[at + F_SPORT] === p.dstPort && sameAddr(e, at + F_C, p.src0, p.src1, p.src2, p.src3) && sameAddr(e, at + F_S, p.dst0, p.dst1, p.dst2, p.dst3);
    const bwd = !fwd && e[at + F_CPORT] === p.dstPort && e[at + F_SPORT] === p.srcPort && sameAddr(e, at + F_C, p.dst0, p.dst1, p.dst2, p.dst3) && sameAddr(e, at + F_S, p.src0, p.src1, p.src2, p.src3);
    if (!fwd && !bwd) return undefined;
    e[at + F_USED] = 0;
    this.index.delete(h | 0);
    if (t - e[at + F_LAST] >= idleNs) return undefined;
    const f = this.found;
    f.flowId = e[at + F_ID];
    f.segment = e[at + F_SEGMENT];
    f.c0 = e[at + F_C];
    f.c1 = e[at + F_C + 1];
    f.c2 = e[at + F_C + 2];
    f.c3 = e[at + F_C + 3];
    f.cPort = e[at + F_CPORT];
    this.continued++;
    return f;
  }

  /** The time base moved `deltaNs` later (FlowTable.rebase): stored times move back by as much. */
  shift(deltaNs: number): void {
    for (let at = 0; at < this.e.length; at += FIELDS) if (this.e[at + F_USED] !== 0) this.e[at + F_LAST] -= deltaNs;
  }
}

function sameAddr(e: Float64Array, at: number, w0: number, w1: number, w2: number, w3: number): boolean {
  return e[at + 3] === w3 && e[at] === w0 && e[at + 1] === w1 && e[at + 2] === w2;
}
