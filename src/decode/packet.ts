/**
 * The result of decoding one captured frame. One object is reused for every packet (see `Decoder`), so the hot
 * path allocates nothing; `kind` says which fields are meaningful, like a discriminated union without the
 * allocation. Never keep a reference across packets: copy the fields you need.
 */

import { type DeviceApp, NO_UID } from '../pcap/pcapdroid.js';
import type { DeviceProcess } from '../pcap/darwin.js';

export type PacketKind =
  /** An IP packet (or a reassembled datagram) whose transport header was read. */
  | 'ip'
  /** A link-layer frame that carries no IP (ARP, LLDP, STP, ...). `reason` names it. */
  | 'non-ip'
  /** An IP fragment held for reassembly; it will count when the datagram completes. */
  | 'fragment'
  /** Bytes that do not parse; `reason` says what was wrong. */
  | 'malformed'
  /** A link type we do not decode. */
  | 'unsupported-link';

export const IPPROTO = { ICMP: 1, TCP: 6, UDP: 17, ICMPV6: 58, SCTP: 132 } as const;

export const TcpFlag = { FIN: 0x01, SYN: 0x02, RST: 0x04, PSH: 0x08, ACK: 0x10, URG: 0x20, ECE: 0x40, CWR: 0x80, NS: 0x100 } as const;

const EMPTY = new Uint8Array(0);

export class DecodedPacket {
  kind: PacketKind = 'malformed';
  /** For 'non-ip' and 'malformed': a short stable reason code, e.g. "arp", "ipv4-header-truncated". */
  reason = '';
  /** Frame number and time, copied from the capture record (time as seconds + nanoseconds). */
  number = 0;
  tsSec = 0;
  tsNsec = 0;
  /**
   * Time in nanoseconds relative to the flow meter's time base, set by the FlowTable before plugins see the
   * packet. Carried here rather than as a call argument so the hot path passes no boxed doubles.
   */
  t = 0;
  /** Wire length of the frame (for a reassembled datagram: the sum over its fragments). */
  frameLen = 0;
  /** VLAN ids from outer to inner packed as outer * 4096 + inner (0 when untagged). Part of the flow key. */
  vlan = 0;
  /** 802.1Q/802.1ad tags read: tells a priority tag of VLAN id 0 (vlan 0, one tag) from no tag. */
  vlanTags = 0;
  /**
   * The tunnels the packet came out of, outer first, joined by "/" ("gtp-u", "vxlan", "gre", "pptp", "erspan",
   * "geneve", "ip-in-ip", "tzsp", "capwap", "vxlan/gre"); "" when it came in none. The addresses, ports and lengths
   * are then the innermost IP packet's (decode/tunnels.ts).
   */
  tunnel = '';
  /**
   * The outermost tunnel's id: GTP-U TEID, VXLAN or Geneve VNI, GRE key, ERSPAN session, PPTP call id, CAPWAP
   * radio; -1 for none.
   */
  tunnelId = -1;

  ipVersion = 0;
  /** Source and destination address as four 32-bit words (IPv4 in word 3). */
  src0 = 0;
  src1 = 0;
  src2 = 0;
  src3 = 0;
  dst0 = 0;
  dst1 = 0;
  dst2 = 0;
  dst3 = 0;
  ttl = 0;
  /** Transport protocol number (after IPv6 extension headers). */
  proto = 0;
  /** IP length: IPv4 total length, or 40 + IPv6 payload length; for reassembled datagrams the whole datagram. */
  ipLen = 0;
  /** Transport segment length (transport header + payload) as the IP header states it. */
  l4Len = 0;
  /** Transport payload length as the headers state it (may exceed what was captured). */
  payloadLen = 0;
  /** Where the transport header starts in `data`, and where captured bytes end. */
  l4Offset = 0;
  payloadOffset = 0;
  capturedEnd = 0;
  data: Uint8Array = new Uint8Array(0);
  /** True when the snap length cut the packet short of its IP length. */
  truncated = false;
  /** True when this packet is a datagram reassembled from fragments. */
  reassembled = false;
  fragments = 0;

  srcPort = 0;
  dstPort = 0;
  /** TCP only. */
  tcpFlags = 0;
  tcpSeq = 0;
  tcpAck = 0;
  tcpWindow = 0;
  tcpHeaderLen = 0;
  /** ICMP/ICMPv6 only. */
  icmpType = 0;
  icmpCode = 0;

  /**
   * PCAPdroid's label of the sending app (src/pcap/pcapdroid.ts): the Linux uid from the packet's trailer or its
   * pcapng comment (NO_UID when none); with a trailer, where its name field is in `data` (-1 otherwise).
   */
  deviceUid = NO_UID;
  deviceNameOffset = -1;
  deviceNameBytes = 0;
  /**
   * Where the frame's Apple PKTAP header starts in `pktapData` (-1 when it has none; `data` may be a reassembled
   * packet's buffer instead): it names the process that owns the socket (decode/links.ts pktapProcess), read only
   * where a flow starts.
   */
  pktapOffset = -1;
  pktapData: Uint8Array = EMPTY;
  /** The capture's PCAPdroid uid mappings so far (pcapng), the same map for every packet. */
  deviceApps: ReadonlyMap<number, DeviceApp> = new Map();
  /** The packet's process in an Apple pcapng capture: an index in `deviceProcesses` (src/pcap/darwin.ts), or -1. */
  deviceProcess = -1;
  /** The capture's Apple process blocks so far, the same list for every packet. */
  deviceProcesses: readonly DeviceProcess[] = [];

  /**
   * Copy from `o` the fields a tunnel's inner packet overwrites: the decoder keeps the outer packet in a second
   * instance while it looks inside a tunnel, and puts it back when the inside is not IP.
   */
  copyLayers(o: DecodedPacket): void {
    this.ipVersion = o.ipVersion;
    this.ttl = o.ttl;
    this.proto = o.proto;
    this.src0 = o.src0;
    this.src1 = o.src1;
    this.src2 = o.src2;
    this.src3 = o.src3;
    this.dst0 = o.dst0;
    this.dst1 = o.dst1;
    this.dst2 = o.dst2;
    this.dst3 = o.dst3;
    this.ipLen = o.ipLen;
    this.truncated = o.truncated;
    this.capturedEnd = o.capturedEnd;
    this.l4Offset = o.l4Offset;
    this.l4Len = o.l4Len;
    this.srcPort = o.srcPort;
    this.dstPort = o.dstPort;
    this.payloadOffset = o.payloadOffset;
    this.payloadLen = o.payloadLen;
    this.vlan = o.vlan;
    this.vlanTags = o.vlanTags;
    this.data = o.data;
    this.reassembled = o.reassembled;
    this.fragments = o.fragments;
    this.frameLen = o.frameLen;
    this.tunnel = o.tunnel;
    this.tunnelId = o.tunnelId;
  }
}

export interface TcpOptions {
  mss?: number;
  windowScale?: number;
  sackPermitted?: boolean;
  timestamp?: [number, number];
}

/** Read TCP options of a decoded TCP packet; a length that runs past the header ends the walk. */
export function parseTcpOptions(p: DecodedPacket): TcpOptions {
  const out: TcpOptions = {};
  const d = p.data;
  let o = p.l4Offset + 20;
  const end = Math.min(p.l4Offset + p.tcpHeaderLen, p.capturedEnd);
  while (o < end) {
    const kind = d[o];
    if (kind === 0) break;
    if (kind === 1) {
      o++;
      continue;
    }
    if (o + 1 >= end) break;
    const len = d[o + 1];
    if (len < 2 || o + len > end) break;
    if (kind === 2 && len === 4) out.mss = (d[o + 2] << 8) | d[o + 3];
    else if (kind === 3 && len === 3) out.windowScale = d[o + 2];
    else if (kind === 4 && len === 2) out.sackPermitted = true;
    else if (kind === 8 && len === 10) {
      const v = (i: number) => ((d[i] << 24) | (d[i + 1] << 16) | (d[i + 2] << 8) | d[i + 3]) >>> 0;
      out.timestamp = [v(o + 2), v(o + 6)];
    }
    o += len;
  }
  return out;
}
