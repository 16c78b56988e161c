import type { MemoryBudget } from '../common/memory-budget.js';

/**
 * IPv4 and IPv6 fragment reassembly in a bounded buffer. Held datagrams are limited in number and bytes and
 * expire after a timeout of capture time (default 30 s, Linux's ipfrag_time; Zeek waits 5 min). Every
 * fragment that never becomes part of a datagram is counted, by cause, never dropped silently.
 */

export interface ReassemblyLimits {
  timeoutSec: number;
  maxDatagrams: number;
  maxBytes: number;
  /**
   * Fragments one datagram may have (default 256): an MTU of 576 cuts the largest datagram into 120, so more is an
   * attack (40,000 8-byte pieces of one datagram), dropped and counted as `inconsistent`.
   */
  maxPieces?: number;
}

/**
 * Heap bytes a held piece costs beyond its payload (the piece object, its Uint8Array and backing store header),
 * and a held datagram beyond its pieces (the Pending object, its Map entry and key): charged to the memory budget.
 */
const PIECE_OVERHEAD_BYTES = 200;
const DATAGRAM_OVERHEAD_BYTES = 300;

export const DEFAULT_REASSEMBLY_LIMITS: ReassemblyLimits = { timeoutSec: 30, maxDatagrams: 4096, maxBytes: 16 * 1024 * 1024, maxPieces: 256 };

/** No IP datagram carries more than 65,535 bytes after its fixed header (IPv4 total length, IPv6 payload length). */
const MAX_DATAGRAM_PAYLOAD = 65535;

interface Piece {
  offset: number;
  bytes: Uint8Array;
  /** Arrival order: where fragments overlap, the earlier one wins. */
  seq: number;
}

interface Pending {
  key: string;
  firstSeen: number;
  pieces: Piece[];
  /** Total payload length once the last fragment (MF = 0) has been seen, else -1. */
  total: number;
  bytes: number;
  frameLen: number;
  /** Header length of the fragment at offset 0 (IPv4 header, or IPv6 header + unfragmentable part), -1 until seen. */
  headerLen: number;
}

export interface Reassembled {
  payload: Uint8Array;
  headerLen: number;
  frameLen: number;
  fragments: number;
}

export interface ReassemblyStats {
  fragments: number;
  datagrams: number;
  /** Fragments dropped because their datagram timed out, was evicted for space, was still open at the end, or was inconsistent. */
  expired: number;
  evicted: number;
  unfinished: number;
  inconsistent: number;
  /** Datagrams completed although some fragment ran past the end the last fragment set (the excess is cut off). */
  overlong: number;
  /** Of the inconsistent: fragments of datagrams past maxPieces, or reaching beyond 65,535 bytes. */
  tooManyPieces: number;
  oversized: number;
}

export class FragmentReassembler {
  private readonly pending = new Map<string, Pending>();
  private heldBytes = 0;
  readonly stats: ReassemblyStats = { fragments: 0, datagrams: 0, expired: 0, evicted: 0, unfinished: 0, inconsistent: 0, overlong: 0, tooManyPieces: 0, oversized: 0 };

  private budget: MemoryBudget | undefined;

  constructor(private readonly limits: ReassemblyLimits = DEFAULT_REASSEMBLY_LIMITS) {}

  /**
   * Charge what is held to the run's memory budget, and let the budget free the oldest datagram (counted as evicted)
   * when the flows alone cannot bring it back under.
   */
  useBudget(budget: MemoryBudget): void {
    this.budget = budget;
    budget.register({
      name: 'fragments',
      relieve: () => {
        if (this.pending.size === 0) return false;
        this.evictOldest();
        return true;
      },
    });
  }

  /**
   * Add one fragment. `payload` is copied. Returns the datagram's payload when this fragment completes it.
   * `headerLen` is this fragment's IP header length (used for the datagram's IP length when offset is 0).
   */
  add(key: string, nowSec: number, offset: number, more: boolean, payload: Uint8Array, headerLen: number, frameLen: number): Reassembled | undefined {
    this.stats.fragments++;
    this.expire(nowSec);
    let d = this.pending.get(key);
    if (d === undefined) {
      while (this.pending.size >= this.limits.maxDatagrams || (this.heldBytes + payload.length > this.limits.maxBytes && this.pending.size > 0)) {
        this.evictOldest();
      }
      d = { key, firstSeen: nowSec, pieces: [], total: -1, bytes: 0, frameLen: 0, headerLen: -1 };
      this.pending.set(key, d);
      this.charge(DATAGRAM_OVERHEAD_BYTES);
    }
    // Kept sorted by offset (binary search, insertion after equal offsets): no re-sort of every piece per fragment.
    const pieces = d.pieces;
    let lo = 0;
    let hi = pieces.length;
    while (lo < hi) {
      const mid = (lo + hi) >> 1;
      if (pieces[mid].offset <= offset) lo = mid + 1;
      else hi = mid;
    }
    pieces.splice(lo, 0, { offset, bytes: payload.slice(), seq: pieces.length });
    d.bytes += payload.length;
    d.frameLen += frameLen;
    this.heldBytes += payload.length;
    this.charge(payload.length + PIECE_OVERHEAD_BYTES);
    if (offset === 0) d.headerLen = headerLen;
    if (pieces.length > (this.limits.maxPieces ?? Infinity)) {
      this.stats.tooManyPieces += pieces.length;
      this.drop(d, 'inconsistent');
      return undefined;
    }
    if (offset + payload.length > MAX_DATAGRAM_PAYLOAD) {
      this.stats.oversized += pieces.length;
      this.drop(d, 'inconsistent');
      return undefined;
    }
    if (!more) {
      const total = offset + payload.length;
      if (d.total >= 0 && d.total !== total) {
        this.drop(d, 'inconsistent');
        return undefined;
      }
      d.total = total;
    }
    if (d.total < 0 || d.headerLen < 0) {
      if (this.budget?.over) this.budget.relieve();
      return undefined;
    }
    // Complete when the pieces cover [0, total) without a gap. Pieces beyond the end make it inconsistent.
    let covered = 0;
    for (const pc of pieces) {
      if (pc.offset > covered) return undefined;
      covered = Math.max(covered, pc.offset + pc.bytes.length);
    }
    if (covered < d.total) return undefined;
    // Bytes past the end the last fragment set are cut off (and counted), as Wireshark does, rather than
    // throwing the whole datagram away.
    if (covered > d.total) this.stats.overlong++;
    const out = new Uint8Array(d.total);
    // Earlier fragments win where fragments overlap: copy in reverse arrival order.
    const byArrival = pieces.slice().sort((a, b) => b.seq - a.seq);
    for (const pc of byArrival) {
      if (pc.offset < d.total) out.set(pc.offset + pc.bytes.length > d.total ? pc.bytes.subarray(0, d.total - pc.offset) : pc.bytes, pc.offset);
    }
    this.remove(d);
    this.stats.datagrams++;
    return { payload: out, headerLen: d.headerLen, frameLen: d.frameLen, fragments: d.pieces.length };
  }

  /** Drop datagrams older than the timeout. Map iteration order is insertion order, so the oldest come first. */
  expire(nowSec: number): void {
    for (const d of this.pending.values()) {
      if (nowSec - d.firstSeen < this.limits.timeoutSec) break;
      this.drop(d, 'expired');
    }
  }

  /** At the end of the input: whatever is still held never completed. */
  finish(): void {
    for (const d of [...this.pending.values()]) this.drop(d, 'unfinished');
  }

  get held(): number {
    return this.pending.size;
  }

  private evictOldest(): void {
    const first = this.pending.values().next();
    if (!first.done) this.drop(first.value, 'evicted');
  }

  private drop(d: Pending, why: 'expired' | 'evicted' | 'unfinished' | 'inconsistent'): void {
    this.stats[why] += d.pieces.length;
    this.remove(d);
  }

  private remove(d: Pending): void {
    this.heldBytes -= d.bytes;
    this.pending.delete(d.key);
    this.charge(-(d.bytes + d.pieces.length * PIECE_OVERHEAD_BYTES + DATAGRAM_OVERHEAD_BYTES));
  }

  private charge(bytes: number): void {
    this.budget?.charge(bytes);
  }
}
