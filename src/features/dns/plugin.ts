import type { MemoryBudget } from '../../common/memory-budget.js';
import { type DecodedPacket, IPPROTO } from '../../decode/packet.js';
import type { Direction, Flow, FlowPlugin } from '../../flow/flow.js';
import { type CellValue, columnIndex, defineColumns } from '../../flow/schema.js';
import { DNS_TYPE, DnsNameMap, learnAnswers, parseDns } from './message.js';

export class DnsState {
  /** Name for the server address from the latest DNS answer before the flow started. */
  host: string | undefined;
  queries: Set<string> | undefined;
  addrs: Set<string> | undefined;
  cnames: Set<string> | undefined;
  rcode = -1;
  messages = 0;
}

/** The state of every flow that is neither DNS nor named by an answer; never written to. */
const NO_DNS: Readonly<DnsState> = Object.freeze(new DnsState());

const COLUMNS = defineColumns([
  { name: 'dns_host', type: 'string', unit: '', identifier: true, description: "Host name of the server address from the latest DNS answer (A, AAAA, or an HTTPS/SVCB address hint, through CNAMEs, keyed to the name the client asked for) seen before the flow started; how a flow without SNI is named." },
  { name: 'dns_queries', type: 'string', unit: '', identifier: true, description: 'DNS flows (port 53, UDP or TCP): question names in order of first appearance, comma-separated (at most 1,024).' },
  { name: 'dns_answer_addrs', type: 'string', unit: '', identifier: true, description: 'DNS flows: addresses of A and AAAA records (and HTTPS/SVCB hints) in any section (additional-section glue included, as tshark\'s dns.a), comma-separated, in order of first appearance (at most 1,024). Only answer-section records name later flows.' },
  { name: 'dns_cnames', type: 'string', unit: '', identifier: true, description: 'DNS flows: CNAME targets in any section, comma-separated (at most 1,024).' },
  { name: 'dns_rcode', type: 'int', unit: '', description: 'DNS flows: response code of the first response (0 NOERROR, 3 NXDOMAIN); null without a response.' },
  { name: 'dns_messages', type: 'int', unit: '', description: 'DNS flows: messages parsed (queries and responses).' },
]);
const C = columnIndex(COLUMNS);

/**
 * Names (or addresses) a DNS flow's list columns keep: in order of first appearance, each once (a Set: O(1) a
 * name, where a list's includes() made 50 crafted responses cost a minute), and at most this many, so a flood of
 * answers on one flow cannot grow one record without bound.
 */
export const DNS_LIST_MAX = 1024;

/** Heap bytes of a list's Set and of one of its strings (charged to the flow's heldBytes, so to the budget). */
const SET_BYTES = 150;
const itemBytes = (v: string): number => 40 + v.length;

function addUnique(flow: Flow, set: Set<string> | undefined, v: string): Set<string> {
  let s = set;
  if (s === undefined) {
    s = new Set<string>();
    flow.heldBytes += SET_BYTES;
  }
  if (s.size < DNS_LIST_MAX && !s.has(v)) {
    s.add(v);
    flow.heldBytes += itemBytes(v);
  }
  return s;
}

const joined = (s: Set<string> | undefined): string | null => (s === undefined || s.size === 0 ? null : [...s].join(','));

/**
 * Calls `fn` with the byte range of each DNS message in a port-53 packet's payload, and whether the message was
 * captured whole (not cut by the snap length).
 */
function forEachDnsMessage(p: DecodedPacket, fn: (start: number, end: number, complete: boolean) => void): void {
  const stated = p.payloadOffset + p.payloadLen;
  const end = Math.min(stated, p.capturedEnd);
  let start = p.payloadOffset;
  if (p.proto === IPPROTO.TCP) {
    // DNS over TCP: each message has a 2-byte length prefix. Whole messages in one segment are read.
    while (start + 2 <= end) {
      const len = (p.data[start] << 8) | p.data[start + 1];
      if (len < 12 || start + 2 + len > end) return;
      fn(start + 2, start + 2 + len, true);
      start += 2 + len;
    }
    return;
  }
  if (p.proto === IPPROTO.UDP && end - start >= 12) fn(start, end, end === stated);
}

export type DnsPlugin = FlowPlugin<DnsState> & {
  map: DnsNameMap;
  shares(p: DecodedPacket): boolean;
  /** Learn a DNS packet's answers into the name map without metering it (its flow belongs to another shard). */
  observe(p: DecodedPacket): void;
};

/**
 * DNS over UDP and TCP port 53: questions and answers per DNS flow, and a capture-wide, time-ordered
 * address-to-name map that names every later flow's server (`dns_host`). One map per run: create the plugin per
 * capture (flowPlugins does).
 */
export function dnsPlugin(map = new DnsNameMap()): DnsPlugin {
  return {
    name: 'dns',
    // Most flows share one empty state; a DNS flow's name lists are charged as they grow (Flow.heldBytes).
    flowBytes: 15,
    columns: COLUMNS,
    map,
    init(flow: Flow, p: DecodedPacket): DnsState {
      // No address text to build for a capture that has had no answer yet (or none at all).
      const host = map.size > 0 ? map.lookupWords(flow.ipVersion, flow.s0, flow.s1, flow.s2, flow.s3, p.t) : undefined;
      // A flow that is not DNS and has no name shares one empty state: update settles it before touching it.
      if (host === undefined && flow.sPort !== 53 && flow.cPort !== 53) return NO_DNS;
      const s = new DnsState();
      s.host = host;
      return s;
    },
    update(s: DnsState, flow: Flow, p: DecodedPacket, _dir: Direction): boolean | void {
      if (flow.sPort !== 53 && flow.cPort !== 53) return true;
      forEachDnsMessage(p, (start, end, complete) => this.one(s, flow, p, start, end, complete));
    },
    rebase(deltaNs: number): void {
      map.shift(deltaNs);
    },
    // Every DNS packet (port 53 either side, as update reads them): another shard's answer names this shard's flows.
    shares(p: DecodedPacket): boolean {
      return (p.srcPort === 53 || p.dstPort === 53) && (p.proto === IPPROTO.UDP || p.proto === IPPROTO.TCP);
    },
    observe(p: DecodedPacket): void {
      forEachDnsMessage(p, (start, end, complete) => {
        const msg = parseDns(p.data, start, end, complete);
        if (msg !== undefined) learnAnswers(map, msg, p.t);
      });
    },
    useBudget(budget: MemoryBudget): void {
      map.useBudget(budget);
    },
    one(s: DnsState, flow: Flow, p: DecodedPacket, start: number, end: number, complete: boolean): void {
      const msg = parseDns(p.data, start, end, complete);
      if (msg === undefined) return;
      s.messages++;
      for (const q of msg.questions) s.queries = addUnique(flow, s.queries, q.name);
      if (!msg.response) return;
      if (s.rcode < 0) s.rcode = msg.rcode;
      for (const a of msg.answers) {
        if (a.type === DNS_TYPE.CNAME) s.cnames = addUnique(flow, s.cnames, a.data);
        else if (a.type === DNS_TYPE.A || a.type === DNS_TYPE.AAAA) s.addrs = addUnique(flow, s.addrs, a.data);
      }
      learnAnswers(map, msg, p.t);
    },
    write(s: DnsState, _flow: Flow, row: CellValue[], at: number): void {
      row[at + C.dns_host] = s.host ?? null;
      row[at + C.dns_queries] = joined(s.queries);
      row[at + C.dns_answer_addrs] = joined(s.addrs);
      row[at + C.dns_cnames] = joined(s.cnames);
      row[at + C.dns_rcode] = s.rcode < 0 ? null : s.rcode;
      row[at + C.dns_messages] = s.messages;
    },
  } as DnsPlugin & { one(s: DnsState, flow: Flow, p: DecodedPacket, start: number, end: number, complete: boolean): void };
}
