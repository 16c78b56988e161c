// A feature plugin of one's own: the smallest and largest IP TTL (IPv6 hop limit) each side sent. TTLs tell an
// Android phone (64) from a Windows laptop (128) behind one access point, and a middlebox by a changed hop count.
// docs/architecture.md walks through it; test/contract/examples.test.ts runs it on 1 and 2 threads.
import type { DecodedPacket } from '../../src/decode/packet.js';
import type { Direction, Flow, FlowPlugin } from '../../src/flow/flow.js';
import { type CellValue, columnIndex, defineColumns } from '../../src/flow/schema.js';
import { registerPlugin } from '../../src/features/registry.js';

const COLUMNS = defineColumns([
  { name: 'client_ttl_min', type: 'int', unit: 'hops', description: 'Smallest IPv4 TTL / IPv6 hop limit of client-to-server packets; null without one.' },
  { name: 'client_ttl_max', type: 'int', unit: 'hops', description: 'Largest IPv4 TTL / IPv6 hop limit of client-to-server packets.' },
  { name: 'server_ttl_min', type: 'int', unit: 'hops', description: 'Smallest IPv4 TTL / IPv6 hop limit of server-to-client packets.' },
  { name: 'server_ttl_max', type: 'int', unit: 'hops', description: 'Largest IPv4 TTL / IPv6 hop limit of server-to-client packets.' },
]);
const C = columnIndex(COLUMNS);

/** Per flow: min and max per direction, 256 = none seen yet. */
type TtlState = Int16Array;

export const ttlPlugin: FlowPlugin<TtlState> = {
  name: 'ttl',
  columns: COLUMNS,
  init: () => Int16Array.of(256, -1, 256, -1),
  update(s: TtlState, _flow: Flow, p: DecodedPacket, dir: Direction): void {
    const at = dir * 2;
    if (p.ttl < s[at]) s[at] = p.ttl;
    if (p.ttl > s[at + 1]) s[at + 1] = p.ttl;
  },
  write(s: TtlState, _flow: Flow, row: CellValue[], at: number): void {
    row[at + C.client_ttl_min] = s[0] === 256 ? null : s[0];
    row[at + C.client_ttl_max] = s[1] < 0 ? null : s[1];
    row[at + C.server_ttl_min] = s[2] === 256 ? null : s[2];
    row[at + C.server_ttl_max] = s[3] < 0 ? null : s[3];
  },
};

// `module` lets a shard worker import this file, which registers the plugin in that thread too.
registerPlugin({ name: 'ttl', description: 'IP TTL / hop limit range per direction', defaultOn: false, module: import.meta.url, create: () => ttlPlugin as FlowPlugin });
