import { addrText } from '../common/addr.js';
import { IPPROTO } from '../decode/packet.js';
import type { ExpiryReason, Flow } from './flow.js';
import { type CellValue, type ColumnDef, columnIndex, defineColumns } from './schema.js';
import type { RecordKind } from './table.js';

/** Columns every flow record has, before the plugins' columns. */
export const CORE_COLUMNS = defineColumns([
  { name: 'flow_id', type: 'int', unit: '', identifier: true, description: 'Flow number in this run, from 1. Segments of one connection split by the active timeout, and its status records, share it.' },
  { name: 'segment', type: 'int', unit: '', description: '0 for the first record of a connection; n after n splits (active timeout, --burst-gap, a packet after the flow was evicted).' },
  { name: 'record_kind', type: 'string', unit: '', description: '"final" when the flow (segment) ended; "status" for an interim record of a live flow (--status-interval), with counters so far.' },
  { name: 'expiry_reason', type: 'string', unit: '', description: 'Why the record was written: idle, active, burst-gap (silence of --burst-gap; the flow goes on as the next segment), tcp-fin (FIN both ways + grace), tcp-rst (RST + grace), tcp-new-syn (a new SYN reused the ports), evicted (the memory budget was reached, --memory or --max-flows: the longest-idle flow goes first, and a later packet of it continues as the next segment), end-of-input, status.' },
  { name: 'first_seen_ns', type: 'int64', unit: 'ns', identifier: true, description: 'Timestamp of the first packet, nanoseconds since the Unix epoch, at the capture\'s full resolution.' },
  { name: 'last_seen_ns', type: 'int64', unit: 'ns', identifier: true, description: 'Timestamp of the latest packet (the largest timestamp seen in the flow).' },
  { name: 'first_seen', type: 'timestamp', unit: 'UTC', identifier: true, description: 'first_seen_ns as a timestamp (UTC, nanoseconds).' },
  { name: 'last_seen', type: 'timestamp', unit: 'UTC', identifier: true, description: 'last_seen_ns as a timestamp (UTC, nanoseconds).' },
  { name: 'duration_ns', type: 'int', unit: 'ns', description: 'last_seen_ns - first_seen_ns.' },
  { name: 'ip_version', type: 'int', unit: '', artefact: true, description: '4 or 6.' },
  { name: 'protocol', type: 'int', unit: '', description: 'IP protocol number of the transport (6 TCP, 17 UDP, 1 ICMP, 58 ICMPv6, ...).' },
  { name: 'vlan', type: 'int', unit: '', identifier: true, description: 'VLAN ids of the first packet (tshark\'s vlan.id, outer to inner) packed as outer * 4096 + inner; 0 for a priority tag of VLAN id 0; null when untagged, and with --no-vlan-key.' },
  { name: 'tunnel', type: 'string', unit: '', artefact: true, description: 'The tunnels the flow\'s first packet came out of, outer first, joined by "/": gtp-u (GTP user plane, UDP port 2152), vxlan (UDP 4789), geneve (UDP 6081), gre, pptp (enhanced GRE), erspan (GRE port mirroring), ip-in-ip (IPv4 or IPv6 in IPv4 or IPv6), tzsp (UDP 37008, a sniffer streaming what it sees), capwap (UDP 5247, Wi-Fi access points to their controller); null for none. Addresses, ports and lengths are then the inner packet\'s (--length frame still counts the whole frame); --no-tunnels meters the outer packets instead.' },
  { name: 'tunnel_id', type: 'int', unit: '', identifier: true, description: 'The outermost tunnel\'s id in the flow\'s first packet: GTP-U TEID (one per direction of a bearer), VXLAN or Geneve VNI, GRE key, ERSPAN session id, PPTP call id, CAPWAP radio id; null when it has none (IP in IP, TZSP).' },
  { name: 'client_addr', type: 'string', unit: '', identifier: true, description: 'Address of the initiator (see initiator_rule). Forward = client to server.' },
  { name: 'client_port', type: 'int', unit: '', identifier: true, description: 'Port of the initiator; null for protocols without ports (ICMP, ICMPv6, ...).' },
  { name: 'server_addr', type: 'string', unit: '', identifier: true, description: 'Address of the responder.' },
  { name: 'server_port', type: 'int', unit: '', identifier: true, description: 'Port of the responder; null for protocols without ports.' },
  { name: 'initiator_rule', type: 'string', unit: '', description: 'How the client was chosen: syn (sent SYN without ACK), syn-ack (received SYN+ACK), icmp-echo, port (capture started mid-connection: the side with a well-known server port is the server), first-packet (sender of the first packet), inherited (active-timeout continuation).' },
  { name: 'packets', type: 'int', unit: 'packets', description: 'Packets in both directions. A reassembled IP datagram counts once.' },
  { name: 'bytes', type: 'int', unit: 'bytes', description: 'Sum of packet lengths in both directions, in the --length accounting mode.' },
  { name: 'fwd_packets', type: 'int', unit: 'packets', description: 'Packets from client to server (Table 1 #5).' },
  { name: 'bwd_packets', type: 'int', unit: 'packets', description: 'Packets from server to client (Table 1 #15).' },
  { name: 'fwd_bytes', type: 'int', unit: 'bytes', description: 'Sum of client-to-server packet lengths, --length mode (Table 1 #6, flow size forward).' },
  { name: 'bwd_bytes', type: 'int', unit: 'bytes', description: 'Sum of server-to-client packet lengths, --length mode (Table 1 #16).' },
  { name: 'fwd_payload_bytes', type: 'int', unit: 'bytes', description: 'Transport payload bytes client to server, as the headers state them.' },
  { name: 'bwd_payload_bytes', type: 'int', unit: 'bytes', description: 'Transport payload bytes server to client.' },
  { name: 'out_of_order_packets', type: 'int', unit: 'packets', description: 'Packets whose timestamp is earlier than the previous packet of the flow; kept in arrival order, never moved.' },
  { name: 'truncated_packets', type: 'int', unit: 'packets', description: 'Packets cut short by the snap length (lengths still come from the headers).' },
  { name: 'reassembled_datagrams', type: 'int', unit: 'packets', description: 'Packets that were IP datagrams reassembled from fragments.' },
]);
const C = columnIndex(CORE_COLUMNS);

/** Transports whose header the decoder reads ports from (decode/decoder.ts): TCP, UDP, SCTP. */
const HAS_PORTS = (() => {
  const t = new Uint8Array(256);
  for (const p of [IPPROTO.TCP, IPPROTO.UDP, IPPROTO.SCTP]) t[p] = 1;
  return t;
})();

/** Fill the core columns of a record into `row[at .. at + CORE_COLUMNS.length)`. */
export function writeCore(flow: Flow, kind: RecordKind, reason: ExpiryReason, row: CellValue[], at = 0): void {
  const v = flow.ipVersion;
  row[at + C.flow_id] = flow.flowId;
  row[at + C.segment] = flow.segment;
  row[at + C.record_kind] = kind;
  row[at + C.expiry_reason] = reason;
  const first = BigInt(flow.firstSec) * 1_000_000_000n + BigInt(flow.firstNsec);
  const last = BigInt(flow.lastSec) * 1_000_000_000n + BigInt(flow.lastNsec);
  row[at + C.first_seen_ns] = first;
  row[at + C.last_seen_ns] = last;
  row[at + C.first_seen] = first;
  row[at + C.last_seen] = last;
  row[at + C.duration_ns] = flow.lastT - flow.firstT;
  row[at + C.ip_version] = v;
  row[at + C.protocol] = flow.proto;
  row[at + C.vlan] = flow.vlanTagged ? flow.vlan : null;
  row[at + C.tunnel] = flow.tunnel === '' ? null : flow.tunnel;
  row[at + C.tunnel_id] = flow.tunnelId < 0 ? null : flow.tunnelId;
  row[at + C.client_addr] = addrText(v, flow.c0, flow.c1, flow.c2, flow.c3);
  const ports = HAS_PORTS[flow.proto] === 1;
  row[at + C.client_port] = ports ? flow.cPort : null;
  row[at + C.server_addr] = addrText(v, flow.s0, flow.s1, flow.s2, flow.s3);
  row[at + C.server_port] = ports ? flow.sPort : null;
  row[at + C.initiator_rule] = flow.initiator;
  row[at + C.packets] = flow.packets0 + flow.packets1;
  row[at + C.bytes] = flow.bytes0 + flow.bytes1;
  row[at + C.fwd_packets] = flow.packets0;
  row[at + C.bwd_packets] = flow.packets1;
  row[at + C.fwd_bytes] = flow.bytes0;
  row[at + C.bwd_bytes] = flow.bytes1;
  row[at + C.fwd_payload_bytes] = flow.payload0;
  row[at + C.bwd_payload_bytes] = flow.payload1;
  row[at + C.out_of_order_packets] = flow.outOfOrder;
  row[at + C.truncated_packets] = flow.truncated;
  row[at + C.reassembled_datagrams] = flow.reassembled;
}

/**
 * A stage over whole records, after the plugins have written theirs: columns computed from a record's other columns
 * (the app named by host rules, the label from an action log). It is made from the columns before its own, and fills
 * its columns at row[at ..] of each record in turn.
 */
export interface RecordStage {
  readonly columns: readonly ColumnDef[];
  fill(row: CellValue[], at: number): void;
}

export type RecordStageFactory = (before: readonly ColumnDef[]) => RecordStage;
