import type { MemoryBudget } from '../../common/memory-budget.js';
import { ipv4Text, ipv6Text } from '../../common/addr.js';
import { readU32BE } from '../../common/bytes.js';

/**
 * DNS messages (RFC 1035) as far as flow attribution needs them: questions, and A, AAAA, CNAME and HTTPS/SVCB
 * answers (RFC 9460, with their ipv4hint / ipv6hint addresses). Compression pointers are followed with a hop limit
 * and must point backwards, so a crafted message cannot loop; every length is checked against the message.
 */

export const DNS_TYPE = { A: 1, CNAME: 5, AAAA: 28, SVCB: 64, HTTPS: 65 } as const;

export interface DnsAnswer {
  /** 'answer', 'authority' or 'additional' (glue records); only answers name flows. */
  section: 'answer' | 'authority' | 'additional';
  name: string;
  type: number;
  ttl: number;
  /** Address text for A / AAAA (and each SVCB/HTTPS hint), the target name for CNAME and SVCB/HTTPS. */
  data: string;
}

export interface DnsMessage {
  id: number;
  response: boolean;
  rcode: number;
  questions: Array<{ name: string; type: number }>;
  /** Resource records of all three sections, in order. */
  answers: DnsAnswer[];
  /** The message ended (snap length, a cut) before all its records; what came before is kept. */
  truncated: boolean;
}

/**
 * Thrown inside the parser when a length runs past the message, caught at its edge. A plain preallocated object:
 * an Error would capture a stack trace per malformed packet, which cost 4% of a run on non-DNS traffic to port 53.
 */
const BAD = { bad: true };

function readName(b: Uint8Array, start: number, end: number): { name: string; next: number } {
  const labels: string[] = [];
  let p = start;
  let next = -1;
  let hops = 0;
  let total = 0;
  for (;;) {
    if (p >= end) throw BAD;
    const len = b[p];
    if (len === 0) {
      p++;
      break;
    }
    if ((len & 0xc0) === 0xc0) {
      if (p + 1 >= end) throw BAD;
      const target = ((len & 0x3f) << 8) | b[p + 1];
      if (next < 0) next = p + 2;
      if (target >= p || ++hops > 32) throw BAD; // forward pointers and loops are not valid names
      p = target;
      continue;
    }
    if ((len & 0xc0) !== 0) throw BAD;
    if (p + 1 + len > end) throw BAD;
    let label = '';
    for (let i = p + 1; i <= p + len; i++) label += String.fromCharCode(b[i]);
    labels.push(label);
    total += len + 1;
    if (total > 255) throw BAD;
    p += 1 + len;
  }
  return { name: labels.join('.').toLowerCase(), next: next < 0 ? p : next };
}

function u16(b: Uint8Array, p: number): number {
  return (b[p] << 8) | b[p + 1];
}

/**
 * Parse one DNS message in b[start, end). Returns undefined when it is not a well-formed message. `complete`: the
 * whole message was captured, so header counts that could not fit in it (a question takes at least 5 bytes, a
 * record 11) reject it at once, without reading names: most non-DNS payloads on port 53 end here. A message cut
 * by the snap length is read as far as it goes instead.
 */
export function parseDns(b: Uint8Array, start = 0, end = b.length, complete = false): DnsMessage | undefined {
  try {
    if (end - start < 12) return undefined;
    const qd = u16(b, start + 4);
    const counts = [u16(b, start + 6), u16(b, start + 8), u16(b, start + 10)];
    if (complete && 12 + 5 * qd + 11 * (counts[0] + counts[1] + counts[2]) > end - start) return undefined;
    // Names are read with offsets relative to the message start: work on a view of just the message.
    const m = b.subarray(start, end);
    const n = m.length;
    const flags = u16(m, 2);
    const msg: DnsMessage = { id: u16(m, 0), response: (flags & 0x8000) !== 0, rcode: flags & 0x0f, questions: [], answers: [], truncated: false };
    try {
      readRecords(m, n, qd, counts, msg);
    } catch (e) {
      if (e !== BAD) throw e;
      // Keep what was read: a snap length often cuts the additional section.
      if (msg.questions.length === 0) return undefined;
      msg.truncated = true;
    }
    return msg;
  } catch (e) {
    if (e === BAD) return undefined;
    throw e;
  }
}

const SECTIONS = ['answer', 'authority', 'additional'] as const;

function readRecords(m: Uint8Array, n: number, qd: number, counts: number[], msg: DnsMessage): void {
    let p = 12;
    for (let i = 0; i < qd; i++) {
      const r = readName(m, p, n);
      if (r.next + 4 > n) throw BAD;
      msg.questions.push({ name: r.name, type: u16(m, r.next) });
      p = r.next + 4;
    }
    const total = counts[0] + counts[1] + counts[2];
    for (let i = 0; i < total; i++) {
      const section = SECTIONS[i < counts[0] ? 0 : i < counts[0] + counts[1] ? 1 : 2];
      const r = readName(m, p, n);
      if (r.next + 10 > n) throw BAD;
      const type = u16(m, r.next);
      const ttl = readU32BE(m, r.next + 4);
      const rdlen = u16(m, r.next + 8);
      const rd = r.next + 10;
      if (rd + rdlen > n) throw BAD;
      if (type === DNS_TYPE.A && rdlen === 4) msg.answers.push({ section, name: r.name, type, ttl, data: ipv4Text(readU32BE(m, rd)) });
      else if (type === DNS_TYPE.AAAA && rdlen === 16) msg.answers.push({ section, name: r.name, type, ttl, data: ipv6Text(readU32BE(m, rd), readU32BE(m, rd + 4), readU32BE(m, rd + 8), readU32BE(m, rd + 12)) });
      else if (type === DNS_TYPE.CNAME) msg.answers.push({ section, name: r.name, type, ttl, data: readName(m, rd, rd + rdlen).name });
      else if ((type === DNS_TYPE.HTTPS || type === DNS_TYPE.SVCB) && rdlen >= 3) {
        const target = readName(m, rd + 2, rd + rdlen);
        msg.answers.push({ section, name: r.name, type, ttl, data: target.name === '' ? r.name : target.name });
        // SvcParams: ipv4hint (4) and ipv6hint (6) carry addresses the client may connect to.
        let q = target.next;
        while (q + 4 <= rd + rdlen) {
          const key = u16(m, q);
          const len = u16(m, q + 2);
          const v = q + 4;
          if (v + len > rd + rdlen) break;
          if (key === 4) for (let k = v; k + 4 <= v + len; k += 4) msg.answers.push({ section, name: r.name, type: DNS_TYPE.A, ttl, data: ipv4Text(readU32BE(m, k)) });
          if (key === 6) for (let k = v; k + 16 <= v + len; k += 16) msg.answers.push({ section, name: r.name, type: DNS_TYPE.AAAA, ttl, data: ipv6Text(readU32BE(m, k), readU32BE(m, k + 4), readU32BE(m, k + 8), readU32BE(m, k + 12)) });
          q = v + len;
        }
      }
      p = rd + rdlen;
    }
}

/**
 * Addresses learned from DNS answers, in time order, so a flow can be named by the latest answer that came before
 * it started (the paper's attribution of SNI-less WhatsApp flows). Bounded: the oldest addresses are forgotten
 * past `maxAddresses`.
 */
export class DnsNameMap {
  /**
   * Keyed by addrKey: an IPv4 address as its 32-bit number, any other as its text. Every flow looks its server up
   * here, and for IPv4 (most flows) that is then a number's hash, with no address text built and hashed per flow
   * (both were about 2 % of a run on a capture with an answer for most flows).
   */
  private readonly byAddr = new Map<AddrKey, Array<{ t: number; name: string }>>();
  /**
   * Addresses in the order they entered byAddr, oldest at `head`: eviction is O(1). (Map.keys().next() walks over
   * the slots of deleted entries first, so with many evictions each one got slower: 300k responses took minutes.)
   */
  private order: AddrKey[] = [];
  private head = 0;

  private budget: MemoryBudget | undefined;

  constructor(private readonly maxAddresses = 200_000) {}

  /**
   * Charge what the map holds to the run's memory budget, and let the budget forget the oldest addresses when the
   * flows alone cannot bring it back under (a later flow to such an address has no dns_host).
   */
  useBudget(budget: MemoryBudget): void {
    this.budget = budget;
    budget.register({
      name: 'dns',
      relieve: () => {
        if (this.byAddr.size === 0) return false;
        this.evictOldest();
        return true;
      },
    });
  }

  private evictOldest(): void {
    const key = this.order[this.head];
    const list = this.byAddr.get(key);
    if (list !== undefined && this.budget !== undefined) {
      let bytes = addrBytes(keyText(key));
      for (const e of list) bytes += entryBytes(e.name);
      this.budget.charge(-bytes);
    }
    this.byAddr.delete(key);
    this.head++;
    // Drop the evicted prefix now and then: amortised O(1), the queue at most twice the map.
    if (this.head >= 4096 && this.head * 2 >= this.order.length) {
      this.order = this.order.slice(this.head);
      this.head = 0;
    }
  }

  /** Record that `addr` (address text) was given as an answer for `name` (the name the client asked for) at time t (relative ns). */
  add(addr: string, name: string, t: number): void {
    const key = addrKey(addr);
    let list = this.byAddr.get(key);
    if (list === undefined) {
      if (this.byAddr.size >= this.maxAddresses) this.evictOldest();
      list = [];
      this.byAddr.set(key, list);
      this.order.push(key);
      this.budget?.charge(addrBytes(addr));
    }
    const last = list[list.length - 1];
    if (last !== undefined && last.name === name) last.t = Math.max(last.t, t);
    else {
      list.push({ t, name });
      this.budget?.charge(entryBytes(name));
      if (list.length > 16) this.budget?.charge(-entryBytes(list.shift()!.name));
    }
  }

  /** The name of the latest answer for `addr` (address text) at or before time t, if any. */
  lookup(addr: string, t: number): string | undefined {
    return this.latest(addrKey(addr), t);
  }

  /** lookup() for an address as the flow table holds it (IP version and four 32-bit words, common/addr.ts). */
  lookupWords(version: number, w0: number, w1: number, w2: number, w3: number, t: number): string | undefined {
    return this.latest(version === 4 ? w3 >>> 0 : ipv6Text(w0, w1, w2, w3), t);
  }

  private latest(key: AddrKey, t: number): string | undefined {
    const list = this.byAddr.get(key);
    if (list === undefined) return undefined;
    let best: { t: number; name: string } | undefined;
    for (const e of list) if (e.t <= t && (best === undefined || e.t >= best.t)) best = e;
    return best?.name;
  }

  get size(): number {
    return this.byAddr.size;
  }

  /** The time base moved `deltaNs` later: every stored time moves back by as much, so order is kept. */
  shift(deltaNs: number): void {
    for (const list of this.byAddr.values()) for (const e of list) e.t -= deltaNs;
  }
}

/** An IPv4 address as its unsigned 32-bit number, any other address as its text. */
type AddrKey = number | string;

/**
 * The key of address text: dotted-quad IPv4 (as ipv4Text prints it, no leading zeros) as its number, anything else
 * (IPv6, including IPv4-mapped, which its text keeps apart) as the text itself. Numbers and text never meet as keys.
 */
function addrKey(text: string): AddrKey {
  const n = text.length;
  if (n < 7 || n > 15) return text;
  let value = 0;
  let part = 0;
  let digits = 0;
  let dots = 0;
  for (let i = 0; i < n; i++) {
    const c = text.charCodeAt(i);
    if (c === 46) {
      if (digits === 0 || dots === 3) return text;
      value = value * 256 + part;
      part = 0;
      digits = 0;
      dots++;
    } else if (c >= 48 && c <= 57) {
      if (digits > 0 && part === 0) return text; // a leading zero: not text ipv4Text makes
      part = part * 10 + (c - 48);
      if (++digits > 3 || part > 255) return text;
    } else return text;
  }
  if (dots !== 3 || digits === 0) return text;
  return value * 256 + part;
}

function keyText(key: AddrKey): string {
  return typeof key === 'number' ? ipv4Text(key) : key;
}

/** Heap bytes of one address in the map (its string, Map entry, list and order slot) and of one answer entry. */
const addrBytes = (addr: string): number => 120 + addr.length;
const entryBytes = (name: string): number => 60 + name.length;

/** Feed a response's answers into the map: every address (through CNAME chains) maps to the question's name. */
export function learnAnswers(map: DnsNameMap, msg: DnsMessage, t: number): void {
  if (!msg.response || msg.rcode !== 0) return;
  const asked = msg.questions[0]?.name;
  for (const a of msg.answers) {
    if (a.section === 'answer' && (a.type === DNS_TYPE.A || a.type === DNS_TYPE.AAAA)) map.add(a.data, asked ?? a.name, t);
  }
}
