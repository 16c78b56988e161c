import { readU32BE } from '../common/bytes.js';

/**
 * Tunnel headers the decoder looks through to the packet inside, as Wireshark and nfstream (decode_tunnels) do:
 * GTP-U (3GPP TS 29.281, the user plane of mobile networks, UDP port 2152), VXLAN (RFC 7348, UDP 4789), Geneve
 * (RFC 8926, UDP 6081), GRE (RFC 2784 / 2890, with PPTP's enhanced GRE of RFC 2637 and ERSPAN types I-III), IP in
 * IP (protocols 4 and 41), and the two nfstream also reads from Wi-Fi gear: TZSP (UDP 37008) and CAPWAP data (RFC
 * 5415, UDP 5247), with an Ethernet or an 802.11 frame inside. Each parser reads one header, checks every length
 * against the bytes present, and says where the inner packet starts and what it is; it never throws. Only a header that parses and carries IP (or an
 * Ethernet frame) leads inward: anything else (GTP signalling, PPP control, a bad flag) leaves the outer packet as
 * it was.
 */

/** The inner packet is an Ethernet frame (VXLAN, Geneve and GRE bridging, ERSPAN). */
export const INNER_ETHERNET = -1;
/** The inner packet is IP, version from its first nibble (GTP-U, PPP in enhanced GRE). */
export const INNER_IP = -2;
/** The inner packet is an 802.11 frame (TZSP from Wi-Fi access points; decode/wlan.ts). */
export const INNER_WLAN = -3;
/**
 * An 802.11 frame with its two frame control bytes swapped, as Cisco's CAPWAP controllers send native frames and as
 * Wireshark reads every CAPWAP frame by default (packet-capwap.c, "swap frame control" on).
 */
export const INNER_WLAN_SWAPPED_FC = -4;

/** What a tunnel header says about the packet inside; reused. */
export interface TunnelHeader {
  /** Where the inner packet starts. */
  inner: number;
  /** Where it ends (the header's own length, when it has one, bounds it). */
  end: number;
  /** What follows the header: an ethertype, INNER_ETHERNET, INNER_IP, INNER_WLAN or INNER_WLAN_SWAPPED_FC. */
  next: number;
  /** The tunnel's id (TEID, VNI, GRE key, ERSPAN session, PPTP call id), -1 for none. */
  id: number;
}

export const UDP_PORT_GTPU = 2152;
export const UDP_PORT_VXLAN = 4789;
export const UDP_PORT_GENEVE = 6081;
export const UDP_PORT_CAPWAP_DATA = 5247;
export const UDP_PORT_TZSP = 37008;

/** A UDP tunnel's header parser with the name its flows get. */
export interface UdpTunnel {
  name: string;
  parse(d: Uint8Array, o: number, end: number, h: TunnelHeader): boolean;
}

/**
 * The UDP tunnel on `port`, if any. The decoder asks for the lower of the two ports first, then the higher, as
 * Wireshark's UDP dissector tries its port table.
 */
export function udpTunnel(port: number): UdpTunnel | undefined {
  switch (port) {
    case UDP_PORT_GTPU:
      return GTP_U;
    case UDP_PORT_VXLAN:
      return VXLAN;
    case UDP_PORT_GENEVE:
      return GENEVE;
    case UDP_PORT_CAPWAP_DATA:
      return CAPWAP;
    case UDP_PORT_TZSP:
      return TZSP;
    default:
      return undefined;
  }
}

const GTP_GPDU = 0xff;
const GRE_PPP = 0x880b;
const GRE_ERSPAN_2 = 0x88be;
const GRE_ERSPAN_3 = 0x22eb;
const ETH_TEB = 0x6558;
/** Extension headers followed before a GTP-U header counts as malformed (a loop guard; real ones use one or two). */
const MAX_GTP_EXTENSIONS = 16;

/** GTP-U: version 1, protocol type GTP, a G-PDU (user data); optional sequence / N-PDU / extension headers. */
export function gtpU(d: Uint8Array, o: number, end: number, h: TunnelHeader): boolean {
  if (end - o < 8) return false;
  const flags = d[o];
  if (flags >> 5 !== 1 || (flags & 0x10) === 0 || d[o + 1] !== GTP_GPDU) return false;
  // The length counts the bytes after the 8 mandatory ones (optional fields and extensions included).
  const stop = Math.min(end, o + 8 + ((d[o + 2] << 8) | d[o + 3]));
  let q = o + 8;
  if ((flags & 0x07) !== 0) {
    if (stop - q < 4) return false;
    let next = d[q + 3];
    q += 4;
    for (let n = 0; next !== 0; n++) {
      if (n >= MAX_GTP_EXTENSIONS || q >= stop) return false;
      // Length in 4-byte units, counting itself and the next-type byte that ends the header.
      const len = d[q] * 4;
      if (len === 0 || stop - q < len) return false;
      next = d[q + len - 1];
      q += len;
    }
  }
  h.inner = q;
  h.end = stop;
  h.next = INNER_IP;
  h.id = readU32BE(d, o + 4);
  return q < stop;
}

/** VXLAN: the I flag set, a 24-bit VNI, then an Ethernet frame. */
export function vxlan(d: Uint8Array, o: number, end: number, h: TunnelHeader): boolean {
  if (end - o < 8 || (d[o] & 0x08) === 0) return false;
  h.inner = o + 8;
  h.end = end;
  h.next = INNER_ETHERNET;
  h.id = (d[o + 4] << 16) | (d[o + 5] << 8) | d[o + 6];
  return true;
}

/** Geneve version 0: options skipped by their length, then the packet its protocol type names. */
export function geneve(d: Uint8Array, o: number, end: number, h: TunnelHeader): boolean {
  if (end - o < 8 || d[o] >> 6 !== 0) return false;
  const q = o + 8 + (d[o] & 0x3f) * 4;
  if (q > end) return false;
  const proto = (d[o + 2] << 8) | d[o + 3];
  h.inner = q;
  h.end = end;
  h.next = proto === ETH_TEB ? INNER_ETHERNET : proto;
  h.id = (d[o + 4] << 16) | (d[o + 5] << 8) | d[o + 6];
  return true;
}

/**
 * GRE. Version 0: checksum, key and sequence number as the flags say (no source routing), then what the protocol
 * type names: IP, MPLS or VLAN-tagged frames by ethertype, an Ethernet frame (transparent bridging), or ERSPAN
 * (type I bare, type II with its 8-byte header, type III with 12 bytes and an optional platform subheader). Version
 * 1 (PPTP): PPP, whose protocol field says IPv4 or IPv6; PPP control traffic stays outer. Returns the tunnel kind
 * ("gre", "pptp" or "erspan"), or "" when nothing inside is to be read.
 */
export function gre(d: Uint8Array, o: number, end: number, h: TunnelHeader): '' | 'gre' | 'pptp' | 'erspan' {
  if (end - o < 4) return '';
  const flags = (d[o] << 8) | d[o + 1];
  const version = flags & 0x07;
  const proto = (d[o + 2] << 8) | d[o + 3];
  let q = o + 4;
  h.id = -1;
  h.end = end;
  if (version === 1) {
    // Enhanced GRE: the key field is present (payload length, call id); sequence and acknowledgement optional.
    if (proto !== GRE_PPP || (flags & 0x2000) === 0 || (flags & 0xc000) !== 0) return '';
    if (end - q < 4) return '';
    h.id = (d[q + 2] << 8) | d[q + 3];
    const payload = (d[q] << 8) | d[q + 1];
    q += 4;
    if ((flags & 0x1000) !== 0) q += 4;
    if ((flags & 0x0080) !== 0) q += 4;
    h.end = Math.min(end, q + payload);
    // PPP: address and control (0xff 0x03) unless compressed away, then a protocol field of one byte (odd) or two.
    if (h.end - q >= 2 && d[q] === 0xff && d[q + 1] === 0x03) q += 2;
    if (q >= h.end) return '';
    let ppp: number;
    if ((d[q] & 1) === 1) ppp = d[q++];
    else {
      if (h.end - q < 2) return '';
      ppp = (d[q] << 8) | d[q + 1];
      q += 2;
    }
    if (ppp !== 0x21 && ppp !== 0x57) return '';
    h.inner = q;
    h.next = INNER_IP;
    return q < h.end ? 'pptp' : '';
  }
  if (version !== 0 || (flags & 0x4000) !== 0) return '';
  if ((flags & 0x8000) !== 0) q += 4; // checksum and reserved
  if ((flags & 0x2000) !== 0) {
    if (end - q < 4) return '';
    h.id = readU32BE(d, q);
    q += 4;
  }
  const sequenced = (flags & 0x1000) !== 0;
  if (sequenced) q += 4;
  if (q > end) return '';
  if (proto === GRE_ERSPAN_2 || proto === GRE_ERSPAN_3) {
    // Type I (no sequence number) has no ERSPAN header; II and III carry the session id in their first 4 bytes.
    if (proto === GRE_ERSPAN_2 && !sequenced) {
      h.inner = q;
      h.next = INNER_ETHERNET;
      return 'erspan';
    }
    const size = proto === GRE_ERSPAN_2 ? 8 : 12;
    if (end - q < size) return '';
    h.id = ((d[q + 2] << 8) | d[q + 3]) & 0x03ff;
    const platform = proto === GRE_ERSPAN_3 && (d[q + 11] & 0x01) !== 0 ? 8 : 0;
    h.inner = q + size + platform;
    h.next = INNER_ETHERNET;
    return h.inner <= end ? 'erspan' : '';
  }
  h.inner = q;
  h.next = proto === ETH_TEB ? INNER_ETHERNET : proto;
  return 'gre';
}

const TZSP_ETHERNET = 1;
const TZSP_IEEE_802_11 = 18;
const TZSP_TAG_PADDING = 0;
const TZSP_TAG_END = 1;

/**
 * TZSP (TaZmen Sniffer Protocol, as MikroTik's packet sniffer streams what it sees): version 1, a received or sent
 * packet, its encapsulation (Ethernet or 802.11), tagged fields up to the END tag, then the frame.
 */
export function tzsp(d: Uint8Array, o: number, end: number, h: TunnelHeader): boolean {
  if (end - o < 5 || d[o] !== 1 || d[o + 1] > 1) return false;
  const encap = (d[o + 2] << 8) | d[o + 3];
  if (encap !== TZSP_ETHERNET && encap !== TZSP_IEEE_802_11) return false;
  let q = o + 4;
  for (;;) {
    if (q >= end) return false;
    const tag = d[q];
    if (tag === TZSP_TAG_END) break;
    if (tag === TZSP_TAG_PADDING) q++;
    else {
      if (end - q < 2) return false;
      q += 2 + d[q + 1];
    }
  }
  h.inner = q + 1;
  h.end = end;
  h.next = encap === TZSP_ETHERNET ? INNER_ETHERNET : INNER_WLAN;
  h.id = -1;
  return h.inner < end;
}

/**
 * CAPWAP data channel (RFC 5415, Wi-Fi access points to their controller): a plain (not DTLS) header of HLEN 4-byte
 * words, not a fragment, carrying an 802.3 frame (T = 0) or a native 802.11 frame (T = 1 with binding 1), whose
 * frame control bytes are read swapped (INNER_WLAN_SWAPPED_FC). The id is the radio id.
 */
export function capwap(d: Uint8Array, o: number, end: number, h: TunnelHeader): boolean {
  if (end - o < 8 || d[o] !== 0) return false;
  const hlen = (d[o + 1] >> 3) * 4;
  const native = (d[o + 2] & 0x01) !== 0;
  const wbid = (d[o + 2] >> 1) & 0x1f;
  if ((d[o + 3] & 0x80) !== 0 || hlen < 8 || o + hlen >= end) return false;
  if (native && wbid !== 1) return false;
  h.inner = o + hlen;
  h.end = end;
  h.next = native ? INNER_WLAN_SWAPPED_FC : INNER_ETHERNET;
  h.id = ((d[o + 1] & 0x07) << 2) | (d[o + 2] >> 6);
  return true;
}

const GTP_U: UdpTunnel = { name: 'gtp-u', parse: gtpU };
const VXLAN: UdpTunnel = { name: 'vxlan', parse: vxlan };
const GENEVE: UdpTunnel = { name: 'geneve', parse: geneve };
const CAPWAP: UdpTunnel = { name: 'capwap', parse: capwap };
const TZSP: UdpTunnel = { name: 'tzsp', parse: tzsp };
