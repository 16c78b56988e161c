import { LinkType, type PacketRecord, normalizeLinkType } from '../pcap/types.js';
import { DEFAULT_REASSEMBLY_LIMITS, FragmentReassembler, type Reassembled, type ReassemblyLimits } from './fragments.js';
import { DecodedPacket, IPPROTO } from './packet.js';
import { TRAILER_V1_BYTES, type DeviceApp, readTrailer } from '../pcap/pcapdroid.js';
import type { DeviceProcess } from '../pcap/darwin.js';
import { type WlanBody, avsLength, prismLength, radiotapLength, wlanBody } from './wlan.js';
import { INNER_ETHERNET, INNER_IP, INNER_WLAN, INNER_WLAN_SWAPPED_FC, type TunnelHeader, gre, udpTunnel } from './tunnels.js';
import { readU32BE, readU32LE } from '../common/bytes.js';
import { type LinkPayload, ciscoHdlc, enc, ipnet, nflog, pflog, pktap, ppi, ppp, pppHdlc, pppPppd, pppoe } from './links.js';

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;
const ETH_ARP = 0x0806;
const ETH_VLAN = 0x8100;
const ETH_QINQ = 0x88a8;
const ETH_QINQ_OLD = 0x9100;
const ETH_PPPOE_SESSION = 0x8864;
const ETH_MPLS = 0x8847;
const ETH_MPLS_MC = 0x8848;
/** Stacked tags beyond this many are treated as malformed (a loop guard; real networks use one or two). */
const MAX_TAGS = 8;
/** Tunnels looked into, one inside another, at most (a loop guard; GRE in VXLAN is already rare). */
const MAX_TUNNELS = 3;
const IPPROTO_IPIP = 4;
const IPPROTO_IPV6 = 41;
const IPPROTO_GRE = 47;

/** Names for non-IP ethertypes that show up in phone and LAN captures. */
const ETHERTYPE_NAMES: Record<number, string> = {
  0x0806: 'arp',
  0x8035: 'rarp',
  0x88cc: 'lldp',
  0x888e: 'eapol',
  0x8863: 'pppoe-discovery',
  0x88e1: 'homeplug',
  0x893a: 'ieee1905',
  0x9000: 'loopback',
  0x22f0: 'avtp',
};

export interface DecoderOptions {
  reassembly?: Partial<ReassemblyLimits>;
  /**
   * false: return every fragment as kind 'fragment' (addresses, protocol and VLAN set) without holding it for
   * reassembly. For routing packets to shards, where only the addresses matter and another decoder reassembles.
   */
  reassemble?: boolean;
  /**
   * false: do not look inside tunnels (decode/tunnels.ts): a GTP-U, VXLAN, Geneve, GRE, ERSPAN, IP-in-IP, TZSP or
   * CAPWAP packet is then a packet between the tunnel's end points, as nfstream's decode_tunnels=False meters it.
   * Default true.
   */
  tunnels?: boolean;
}

/**
 * Decodes captured frames down to the transport header: Ethernet (with 802.1Q / 802.1ad tag stacks, LLC/SNAP,
 * PPPoE session and MPLS), Linux cooked SLL and SLL2, raw IP, BSD and OpenBSD loopback, 802.11 data frames (with or
 * without radiotap), PPP, Cisco HDLC, pflog, NFLOG and PKTAP (decode/links.ts); IPv4 with options, IPv6 with
 * extension headers; IPv4 and IPv6 fragments reassembled; TCP, UDP, SCTP ports, ICMP and ICMPv6 type/code; and
 * through GTP-U, VXLAN, Geneve, GRE, ERSPAN, IP-in-IP, TZSP and CAPWAP tunnels to the packet inside
 * (decode/tunnels.ts).
 *
 * Every length field is checked against the bytes actually present: a header that claims more than was
 * captured yields `kind = 'malformed'` with a reason, never an out-of-bounds read.
 */
export class Decoder {
  readonly out = new DecodedPacket();
  readonly reassembler: FragmentReassembler;

  private readonly reassemble: boolean;
  private readonly tunnels: boolean;
  /** Tunnels the packet being decoded is inside, so far; the outer packets kept at each. */
  private depth = 0;
  // The packet as decoded up to each tunnel header, kept while the decoder looks inside: when the inside is not IP
  // (ARP over VXLAN, a cut inner header), the packet is the outer one again, as it was before the look.
  private readonly outer = Array.from({ length: MAX_TUNNELS }, () => new DecodedPacket());
  private readonly header: TunnelHeader = { inner: 0, end: 0, next: 0, id: -1 };
  private readonly wlanOut: WlanBody = { snap: -1, reason: '' };
  private readonly linkOut: LinkPayload = { at: -1, end: 0, type: -1, reason: '', malformed: false };

  constructor(opts: DecoderOptions = {}) {
    this.reassemble = opts.reassemble !== false;
    this.tunnels = opts.tunnels !== false;
    this.reassembler = new FragmentReassembler({ ...DEFAULT_REASSEMBLY_LIMITS, ...opts.reassembly });
  }

  /** PCAPdroid uid mappings of the capture (pcapng custom blocks), which packets' uids are looked up in. */
  readonly deviceApps = new Map<number, DeviceApp>();

  addDeviceApp(app: DeviceApp): void {
    this.deviceApps.set(app.uid, app);
  }

  /** Apple's process blocks of the capture (pcapng), which packets' process indexes point into. */
  readonly deviceProcesses: DeviceProcess[] = [];

  addDeviceProcess(proc: DeviceProcess): void {
    this.deviceProcesses.push(proc);
  }

  /** Decode one record into `this.out` (reused) and return it. */
  decode(rec: PacketRecord): DecodedPacket {
    const p = this.out;
    p.deviceUid = rec.deviceUid;
    p.deviceNameOffset = -1;
    p.pktapOffset = -1;
    p.deviceApps = this.deviceApps;
    p.deviceProcess = rec.deviceProcess;
    p.deviceProcesses = this.deviceProcesses;
    p.number = rec.number;
    p.tsSec = rec.tsSec;
    p.tsNsec = rec.tsNsec;
    p.frameLen = rec.origLen;
    p.vlan = 0;
    p.vlanTags = 0;
    p.tunnel = '';
    p.tunnelId = -1;
    this.depth = 0;
    p.reason = '';
    p.ipVersion = 0;
    p.truncated = false;
    p.reassembled = false;
    p.fragments = 0;
    p.srcPort = 0;
    p.dstPort = 0;
    p.tcpFlags = 0;
    p.data = rec.data;
    const d = rec.data;
    const start = rec.dataOffset;
    const end = start + rec.capLen;
    p.capturedEnd = end;
    return this.link(rec.linkType, d, start, end, true);
  }

  /** The frame at d[start..end) of link type `linkType`; `top`: not inside another link-layer header (PKTAP). */
  private link(linkType: number, d: Uint8Array, start: number, end: number, top: boolean): DecodedPacket {
    const p = this.out;
    switch (linkType) {
      case LinkType.ETHERNET: {
        if (end - start < 14) return this.malformed('ethernet-truncated');
        this.ethertype(d, start + 14, end, (d[start + 12] << 8) | d[start + 13], 0);
        // PCAPdroid's trailer follows the IP packet in a frame whose MAC addresses are zero (src/pcap/pcapdroid.ts).
        if (p.kind === 'ip' && !p.reassembled && d[start] === 0 && end - (p.l4Offset + p.l4Len) >= TRAILER_V1_BYTES) {
          const t = readTrailer(d, start, end, p.l4Offset + p.l4Len);
          if (t !== undefined) {
            p.deviceUid = t.uid;
            p.deviceNameOffset = t.nameOffset;
            p.deviceNameBytes = t.nameBytes;
          }
        }
        return p;
      }
      case LinkType.LINUX_SLL:
        if (end - start < 16) return this.malformed('sll-truncated');
        return this.ethertype(d, start + 16, end, (d[start + 14] << 8) | d[start + 15], 0);
      case LinkType.LINUX_SLL2:
        if (end - start < 20) return this.malformed('sll2-truncated');
        return this.ethertype(d, start + 20, end, (d[start] << 8) | d[start + 1], 0);
      case LinkType.RAW:
        return this.ipByVersion(d, start, end);
      case LinkType.IEEE802_11:
        return this.wlan(d, start, end);
      case LinkType.IEEE802_11_RADIOTAP: {
        const rt = radiotapLength(d, start, end);
        return rt < 0 ? this.malformed('radiotap-truncated') : this.wlan(d, start + rt, end);
      }
      case LinkType.IEEE802_11_PRISM: {
        const rh = prismLength(d, start, end);
        return rh < 0 ? this.malformed('prism-truncated') : this.wlan(d, start + rh, end);
      }
      case LinkType.IEEE802_11_AVS: {
        const rh = avsLength(d, start, end);
        return rh < 0 ? this.malformed('avs-truncated') : this.wlan(d, start + rh, end);
      }
      case LinkType.IPV4:
        return this.ipv4(d, start, end);
      case LinkType.IPV6:
        return this.ipv6(d, start, end);
      case LinkType.NULL:
      case LinkType.LOOP: {
        if (end - start < 4) return this.malformed('loopback-truncated');
        // DLT_NULL's family is in the writer's byte order: a value above 0xffff means the other order.
        let fam = linkType === LinkType.LOOP ? readU32BE(d, start) : readU32LE(d, start);
        if (fam > 0xffff) fam = readU32BE(d, start);
        if (fam === 2) return this.ipv4(d, start + 4, end);
        if (fam === 24 || fam === 28 || fam === 30 || fam === 10 || fam === 23) return this.ipv6(d, start + 4, end);
        return this.nonIp(`loopback-family-${fam}`);
      }
      case LinkType.PPP:
        return this.linkPayload(d, ppp(d, start, end, this.linkOut));
      case LinkType.PPP_PPPD:
        return this.linkPayload(d, pppPppd(d, start, end, this.linkOut));
      case LinkType.PPP_WITH_DIR:
        // The direction byte, then PPP (a frame with nothing after it is ppp-truncated, as ppp() finds).
        return this.linkPayload(d, ppp(d, start + 1, end, this.linkOut));
      case LinkType.PPP_HDLC:
        return this.linkPayload(d, pppHdlc(d, start, end, this.linkOut));
      case LinkType.PPP_ETHER:
        return this.linkPayload(d, pppoe(d, start, end, this.linkOut));
      case LinkType.C_HDLC:
        return this.linkPayload(d, ciscoHdlc(d, start, end, this.linkOut));
      case LinkType.ENC:
        return this.linkPayload(d, enc(d, start, end, this.linkOut));
      case LinkType.IPNET:
        return this.linkPayload(d, ipnet(d, start, end, this.linkOut));
      case LinkType.PFLOG:
        return this.linkPayload(d, pflog(d, start, end, this.linkOut));
      case LinkType.NFLOG:
        return this.linkPayload(d, nflog(d, start, end, this.linkOut));
      case LinkType.PKTAP: {
        const h = pktap(d, start, end, this.linkOut);
        if (h.at < 0) return this.linkPayload(d, h);
        const inner = normalizeLinkType(h.type);
        // One PKTAP header per frame: another inside would be a loop, not a capture.
        if (!top || inner === LinkType.PKTAP) return this.malformed('pktap-nested');
        this.link(inner, d, h.at, end, false);
        p.pktapOffset = start;
        p.pktapData = d;
        return p;
      }
      case LinkType.PPI: {
        const h = ppi(d, start, end, this.linkOut);
        if (h.at < 0) return this.linkPayload(d, h);
        const inner = normalizeLinkType(h.type);
        // As with PKTAP: a PPI header inside another link-layer header would be a loop, not a capture.
        if (!top || inner === LinkType.PPI || inner === LinkType.PKTAP) return this.malformed('ppi-nested');
        return this.link(inner, d, h.at, end, false);
      }
      default:
        p.kind = 'unsupported-link';
        p.reason = `linktype-${linkType}`;
        return p;
    }
  }

  /** What a links.ts reader found: the network layer by its ethertype, or why there is none. */
  private linkPayload(d: Uint8Array, l: LinkPayload): DecodedPacket {
    if (l.at >= 0) return this.ethertype(d, l.at, l.end, l.type, 0);
    return l.malformed ? this.malformed(l.reason) : this.nonIp(l.reason);
  }

  /** Call at the end of the input so fragments that never completed are counted. */
  finish(): void {
    this.reassembler.finish();
  }

  private malformed(reason: string): DecodedPacket {
    this.out.kind = 'malformed';
    this.out.reason = reason;
    return this.out;
  }

  private fragment(reason: string): DecodedPacket {
    this.out.kind = 'fragment';
    this.out.reason = reason;
    return this.out;
  }

  private nonIp(reason: string): DecodedPacket {
    this.out.kind = 'non-ip';
    this.out.reason = reason;
    return this.out;
  }

  private ethertype(d: Uint8Array, o: number, end: number, type: number, depth: number): DecodedPacket {
    for (;;) {
      if (type === ETH_IPV4) return this.ipv4(d, o, end);
      if (type === ETH_IPV6) return this.ipv6(d, o, end);
      if (type === ETH_VLAN || type === ETH_QINQ || type === ETH_QINQ_OLD) {
        if (++depth > MAX_TAGS) return this.malformed('too-many-vlan-tags');
        if (end - o < 4) return this.malformed('vlan-truncated');
        this.out.vlan = this.out.vlan * 4096 + (((d[o] << 8) | d[o + 1]) & 0x0fff);
        this.out.vlanTags++;
        type = (d[o + 2] << 8) | d[o + 3];
        o += 4;
        continue;
      }
      if (type === ETH_PPPOE_SESSION) {
        // PPPoE header (6 bytes) then the 2-byte PPP protocol.
        return this.linkPayload(d, pppoe(d, o, end, this.linkOut));
      }
      if (type === ETH_MPLS || type === ETH_MPLS_MC) {
        // Pop labels to the bottom of the stack, then guess the payload from the IP version nibble.
        for (let n = 0; ; n++) {
          if (n >= MAX_TAGS * 2) return this.malformed('too-many-mpls-labels');
          if (end - o < 4) return this.malformed('mpls-truncated');
          const bottom = (d[o + 2] & 1) === 1;
          o += 4;
          if (bottom) break;
        }
        return this.ipByVersion(d, o, end);
      }
      if (type < 0x0600) {
        // IEEE 802.3 length field: LLC follows; only SNAP with an ethertype can carry IP.
        if (end - o >= 8 && d[o] === 0xaa && d[o + 1] === 0xaa && d[o + 2] === 0x03) {
          type = (d[o + 6] << 8) | d[o + 7];
          o += 8;
          continue;
        }
        return this.nonIp('llc');
      }
      return this.nonIp(ETHERTYPE_NAMES[type] ?? `ethertype-0x${type.toString(16).padStart(4, '0')}`);
    }
  }

  /** An 802.11 frame: a data frame's LLC/SNAP body by its ethertype; anything else named by what it is. */
  private wlan(d: Uint8Array, o: number, end: number, swappedFc = false): DecodedPacket {
    const w = wlanBody(d, o, end, this.wlanOut, true, swappedFc);
    if (w.snap < 0) return w.reason === 'wlan-truncated' ? this.malformed(w.reason) : this.nonIp(w.reason);
    return this.ethertype(d, w.snap + 8, end, (d[w.snap + 6] << 8) | d[w.snap + 7], 0);
  }

  private ipByVersion(d: Uint8Array, o: number, end: number): DecodedPacket {
    if (o >= end) return this.malformed('ip-missing');
    const v = d[o] >> 4;
    if (v === 4) return this.ipv4(d, o, end);
    if (v === 6) return this.ipv6(d, o, end);
    return this.malformed(`ip-version-${v}`);
  }

  private ipv4(d: Uint8Array, o: number, end: number): DecodedPacket {
    const p = this.out;
    if (end - o < 20) return this.malformed('ipv4-header-truncated');
    if (d[o] >> 4 !== 4) return this.malformed('ipv4-bad-version');
    const hl = (d[o] & 0x0f) * 4;
    if (hl < 20) return this.malformed('ipv4-bad-header-length');
    if (end - o < hl) return this.malformed('ipv4-options-truncated');
    let total = (d[o + 2] << 8) | d[o + 3];
    if (total === 0) total = end - o; // TSO/LSO captures write 0; Wireshark uses the captured length too
    if (total < hl) return this.malformed('ipv4-total-length-below-header');
    p.ipVersion = 4;
    p.ttl = d[o + 8];
    p.proto = d[o + 9];
    p.src0 = p.src1 = p.src2 = 0;
    p.dst0 = p.dst1 = p.dst2 = 0;
    p.src3 = readU32BE(d, o + 12);
    p.dst3 = readU32BE(d, o + 16);
    p.ipLen = total;
    // Ethernet padding lies beyond the IP total length; a short snap length ends before it.
    const ipEnd = Math.min(end, o + total);
    p.truncated = o + total > end;
    p.capturedEnd = ipEnd;
    const fragField = (d[o + 6] << 8) | d[o + 7];
    const more = (fragField & 0x2000) !== 0;
    const fragOffset = (fragField & 0x1fff) * 8;
    if (more || fragOffset !== 0) {
      if (!this.reassemble) return this.fragment('ipv4-fragment');
      if (p.truncated) return this.malformed('ipv4-fragment-truncated');
      const id = (d[o + 4] << 8) | d[o + 5];
      const key = `4|${p.src3}|${p.dst3}|${p.proto}|${id}|${p.vlan}`;
      const r = this.reassembler.add(key, p.tsSec + p.tsNsec / 1e9, fragOffset, more, d.subarray(o + hl, ipEnd), hl, p.frameLen);
      if (r === undefined) {
        p.kind = 'fragment';
        p.reason = 'ipv4-fragment';
        return p;
      }
      return this.reassembled(r);
    }
    return this.transport(d, o + hl, ipEnd, total - hl);
  }

  private ipv6(d: Uint8Array, o: number, end: number): DecodedPacket {
    const p = this.out;
    if (end - o < 40) return this.malformed('ipv6-header-truncated');
    if (d[o] >> 4 !== 6) return this.malformed('ipv6-bad-version');
    let plen = (d[o + 4] << 8) | d[o + 5];
    if (plen === 0) plen = end - o - 40; // jumbogram or TSO: use what was captured
    p.ipVersion = 6;
    p.ttl = d[o + 7];
    p.src0 = readU32BE(d, o + 8);
    p.src1 = readU32BE(d, o + 12);
    p.src2 = readU32BE(d, o + 16);
    p.src3 = readU32BE(d, o + 20);
    p.dst0 = readU32BE(d, o + 24);
    p.dst1 = readU32BE(d, o + 28);
    p.dst2 = readU32BE(d, o + 32);
    p.dst3 = readU32BE(d, o + 36);
    p.ipLen = 40 + plen;
    const ipEnd = Math.min(end, o + 40 + plen);
    p.truncated = o + 40 + plen > end;
    p.capturedEnd = ipEnd;
    let next = d[o + 6];
    let q = o + 40;
    // Walk extension headers. Each length is checked against the captured bytes.
    for (let n = 0; ; n++) {
      if (n > 16) return this.malformed('ipv6-too-many-extension-headers');
      if (next === 0 || next === 43 || next === 60 || next === 135 || next === 139 || next === 140) {
        if (ipEnd - q < 8) return this.malformed('ipv6-extension-truncated');
        const len = (d[q + 1] + 1) * 8;
        if (ipEnd - q < len) return this.malformed('ipv6-extension-truncated');
        next = d[q];
        q += len;
        continue;
      }
      if (next === 51) {
        // Authentication header: length in 4-byte units, minus 2.
        if (ipEnd - q < 8) return this.malformed('ipv6-ah-truncated');
        const len = (d[q + 1] + 2) * 4;
        if (ipEnd - q < len) return this.malformed('ipv6-ah-truncated');
        next = d[q];
        q += len;
        continue;
      }
      if (next === 44) {
        if (ipEnd - q < 8) return this.malformed('ipv6-fragment-header-truncated');
        const inner = d[q];
        if (!this.reassemble) {
          p.proto = inner;
          return this.fragment('ipv6-fragment');
        }
        if (p.truncated) return this.malformed('ipv6-fragment-truncated');
        const field = (d[q + 2] << 8) | d[q + 3];
        const fragOffset = field & 0xfff8;
        const more = (field & 1) === 1;
        const id = readU32BE(d, q + 4);
        const headerLen = q + 8 - o;
        if (fragOffset === 0 && !more) {
          // An atomic fragment (RFC 6946): not really fragmented.
          next = inner;
          q += 8;
          continue;
        }
        const key = `6|${p.src0}|${p.src1}|${p.src2}|${p.src3}|${p.dst0}|${p.dst1}|${p.dst2}|${p.dst3}|${id}|${p.vlan}`;
        const r = this.reassembler.add(key, p.tsSec + p.tsNsec / 1e9, fragOffset, more, d.subarray(q + 8, ipEnd), headerLen - 8, p.frameLen);
        if (r === undefined) {
          p.kind = 'fragment';
          p.reason = 'ipv6-fragment';
          return p;
        }
        // The next-header value of the fragment header names the reassembled payload's protocol.
        p.proto = inner;
        return this.reassembled(r);
      }
      break;
    }
    p.proto = next;
    return this.transport(d, q, ipEnd, o + 40 + plen - q);
  }

  /** Continue with a datagram the reassembler completed: its payload becomes the packet's bytes. */
  private reassembled(r: Reassembled): DecodedPacket {
    const p = this.out;
    p.reassembled = true;
    p.fragments = r.fragments;
    p.frameLen = r.frameLen;
    p.ipLen = r.headerLen + r.payload.length;
    p.data = r.payload;
    p.capturedEnd = r.payload.length;
    return this.transport(r.payload, 0, r.payload.length, r.payload.length);
  }

  /** `o..end` are the captured transport bytes; `l4Len` is the transport length the IP header states. */
  private transport(d: Uint8Array, o: number, end: number, l4Len: number): DecodedPacket {
    const p = this.out;
    p.l4Offset = o;
    p.l4Len = l4Len;
    p.kind = 'ip';
    switch (p.proto) {
      case IPPROTO.TCP: {
        if (end - o < 20 || l4Len < 20) return this.malformed('tcp-header-truncated');
        const hl = (d[o + 12] >> 4) * 4;
        if (hl < 20) return this.malformed('tcp-bad-header-length');
        if (hl > l4Len) return this.malformed('tcp-header-exceeds-segment');
        if (end - o < hl) return this.malformed('tcp-options-truncated');
        p.srcPort = (d[o] << 8) | d[o + 1];
        p.dstPort = (d[o + 2] << 8) | d[o + 3];
        p.tcpSeq = readU32BE(d, o + 4);
        p.tcpAck = readU32BE(d, o + 8);
        p.tcpFlags = d[o + 13] | ((d[o + 12] & 1) << 8);
        p.tcpWindow = (d[o + 14] << 8) | d[o + 15];
        p.tcpHeaderLen = hl;
        p.payloadOffset = o + hl;
        p.payloadLen = l4Len - hl;
        return p;
      }
      case IPPROTO.UDP: {
        if (end - o < 8 || l4Len < 8) return this.malformed('udp-header-truncated');
        const sp = (p.srcPort = (d[o] << 8) | d[o + 1]);
        const dp = (p.dstPort = (d[o + 2] << 8) | d[o + 3]);
        p.payloadOffset = o + 8;
        p.payloadLen = l4Len - 8;
        // Tunnels by port, either way: the lower port first, as Wireshark's UDP port table is tried.
        if (this.tunnels && this.depth < MAX_TUNNELS) {
          const t = udpTunnel(sp < dp ? sp : dp) ?? udpTunnel(sp < dp ? dp : sp);
          if (t !== undefined && t.parse(d, o + 8, Math.min(end, o + l4Len), this.header)) return this.inside(t.name, d);
        }
        return p;
      }
      case IPPROTO.SCTP: {
        if (end - o < 12 || l4Len < 12) return this.malformed('sctp-header-truncated');
        p.srcPort = (d[o] << 8) | d[o + 1];
        p.dstPort = (d[o + 2] << 8) | d[o + 3];
        p.payloadOffset = o + 12;
        p.payloadLen = l4Len - 12;
        return p;
      }
      case IPPROTO.ICMP:
      case IPPROTO.ICMPV6: {
        if (end - o < 4 || l4Len < 4) return this.malformed('icmp-header-truncated');
        p.icmpType = d[o];
        p.icmpCode = d[o + 1];
        p.payloadOffset = o + 4;
        p.payloadLen = l4Len - 4;
        return p;
      }
      default:
        p.payloadOffset = o;
        p.payloadLen = l4Len;
        if (this.tunnels && this.depth < MAX_TUNNELS) {
          const h = this.header;
          const stop = Math.min(end, o + l4Len);
          if (p.proto === IPPROTO_GRE) {
            const kind = gre(d, o, stop, h);
            if (kind !== '') return this.inside(kind, d);
          } else if (p.proto === IPPROTO_IPIP || p.proto === IPPROTO_IPV6) {
            h.inner = o;
            h.end = stop;
            h.next = INNER_IP;
            h.id = -1;
            if (o < stop) return this.inside('ip-in-ip', d);
          }
        }
        return p;
    }
  }

  /**
   * Decode the packet inside a tunnel whose header is `this.header`: kept when it is IP (or a fragment of it);
   * otherwise the packet is the outer one again.
   */
  private inside(kind: string, d: Uint8Array): DecodedPacket {
    const p = this.out;
    const h = this.header;
    const saved = this.outer[this.depth];
    saved.copyLayers(p);
    if (this.depth === 0) p.tunnelId = h.id;
    p.tunnel = this.depth === 0 ? kind : `${p.tunnel}/${kind}`;
    // The inner transport sets its own: an inner ICMP packet must not keep the outer UDP ports (they key flows).
    p.srcPort = 0;
    p.dstPort = 0;
    this.depth++;
    const { inner, end, next } = h;
    let r: DecodedPacket;
    if (next === INNER_IP) r = this.ipByVersion(d, inner, end);
    else if (next === INNER_WLAN || next === INNER_WLAN_SWAPPED_FC) r = this.wlan(d, inner, end, next === INNER_WLAN_SWAPPED_FC);
    else if (next === INNER_ETHERNET) r = end - inner < 14 ? this.malformed('tunnel-ethernet-truncated') : this.ethertype(d, inner + 14, end, (d[inner + 12] << 8) | d[inner + 13], 0);
    else r = this.ethertype(d, inner, end, next, 0);
    this.depth--;
    if (r.kind === 'ip' || r.kind === 'fragment') return r;
    p.copyLayers(saved);
    p.kind = 'ip';
    p.reason = '';
    p.tcpFlags = 0;
    return p;
  }
}
