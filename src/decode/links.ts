import { readU32LE } from '../common/bytes.js';

/**
 * Link-layer headers of the less common capture link types (https://www.tcpdump.org/linktypes.html), read to where
 * the network layer starts: PPP (9), PPP in HDLC framing (50), PPPoE without Ethernet (51), Cisco HDLC (104), pflog
 * (117), pppd's PPP with a direction byte (166), PPI (192), OpenBSD's enc(4) (109), Solaris IPNET (226), Linux NFLOG
 * (239) and Apple's PKTAP (258). Each reader checks every length against the bytes present and
 * fills a `LinkPayload`; none throws. The decoder and the capture filter (filter/bpf.ts) share them.
 */

export interface LinkPayload {
  /** Offset of the network layer (or, for PKTAP, of the inner link-layer header); -1 when there is none. */
  at: number;
  /** End of the network layer's bytes: the frame's end, or the end of NFLOG's payload attribute. */
  end: number;
  /** The network protocol as an ethertype (0x0800, 0x86dd, 0x8847 ...), or -1 with `reason` saying what it is. */
  type: number;
  /** Why there is no network layer: a truncation (`*-truncated`, `*-bad-*`) or the kind of frame (`ppp-0xc021`). */
  reason: string;
  /** With `at` -1: whether the header itself is cut short or wrong (a malformed packet), not a frame of another kind. */
  malformed: boolean;
}

const ETH_IPV4 = 0x0800;
const ETH_IPV6 = 0x86dd;

/** PPP protocol numbers (RFC 1661 and IANA's PPP DLL protocol numbers) of what the decoder reads. */
const PPP_TO_ETHERTYPE = new Map<number, number>([
  [0x0021, ETH_IPV4],
  [0x0057, ETH_IPV6],
  [0x0281, 0x8847], // MPLS unicast
  [0x0283, 0x8848], // MPLS multicast
]);

/** The ethertype of a PPP protocol number, or -1 (LCP, IPCP, compressed data and the rest are not IP). */
export function pppEthertype(protocol: number): number {
  return PPP_TO_ETHERTYPE.get(protocol) ?? -1;
}

/** A frame that is well formed but carries no network layer the decoder reads (LCP, SLARP, another family). */
function none(out: LinkPayload, reason: string): LinkPayload {
  out.at = -1;
  out.type = -1;
  out.reason = reason;
  out.malformed = false;
  return out;
}

/** A header cut short by the frame's end or with a length that cannot be. */
function bad(out: LinkPayload, reason: string): LinkPayload {
  none(out, reason);
  out.malformed = true;
  return out;
}

function found(out: LinkPayload, at: number, end: number, type: number): LinkPayload {
  out.at = at;
  out.end = end;
  out.type = type;
  out.reason = '';
  out.malformed = false;
  return out;
}

function pppName(protocol: number): string {
  return `ppp-0x${protocol.toString(16).padStart(4, '0')}`;
}

/**
 * A PPP frame at `o` (RFC 1661): the address and control bytes 0xff 0x03 when present (RFC 1662 framing; LINKTYPE_PPP
 * allows either), then the protocol, one byte when compressed (RFC 1661 6.5: an odd first byte), else two.
 */
export function ppp(d: Uint8Array, o: number, end: number, out: LinkPayload): LinkPayload {
  if (end - o >= 2 && d[o] === 0xff && d[o + 1] === 0x03) o += 2;
  if (o >= end) return bad(out, 'ppp-truncated');
  let protocol = d[o];
  if ((protocol & 1) === 1) o += 1;
  else {
    if (end - o < 2) return bad(out, 'ppp-truncated');
    protocol = (protocol << 8) | d[o + 1];
    o += 2;
  }
  const type = pppEthertype(protocol);
  return type < 0 ? none(out, pppName(protocol)) : found(out, o, end, type);
}

/** Cisco's serial line ARP, which Cisco HDLC carries under RARP's ethertype. */
const CHDLC_SLARP = 0x8035;

/** Cisco HDLC (LINKTYPE_C_HDLC): address (0x0f unicast, 0x8f broadcast), control, then an ethertype. */
export function ciscoHdlc(d: Uint8Array, o: number, end: number, out: LinkPayload): LinkPayload {
  if (end - o < 4) return bad(out, 'chdlc-truncated');
  const type = (d[o + 2] << 8) | d[o + 3];
  return type === CHDLC_SLARP ? none(out, 'chdlc-slarp') : found(out, o + 4, end, type);
}

/** LINKTYPE_PPP_HDLC: PPP in HDLC-like framing (first byte 0xff), or Cisco HDLC (0x0f, 0x8f; RFC 1547 4.3.1). */
export function pppHdlc(d: Uint8Array, o: number, end: number, out: LinkPayload): LinkPayload {
  if (o >= end) return bad(out, 'ppp-truncated');
  return d[o] === 0x0f || d[o] === 0x8f ? ciscoHdlc(d, o, end, out) : ppp(d, o, end, out);
}

/**
 * LINKTYPE_PPP_PPPD (pppd's own captures): PPP in HDLC-like framing with the 0xff address byte replaced by the
 * direction (0 in, 1 out), then the control byte and the protocol, which is read as on LINKTYPE_PPP.
 */
export function pppPppd(d: Uint8Array, o: number, end: number, out: LinkPayload): LinkPayload {
  if (end - o < 2) return bad(out, 'ppp-truncated');
  return ppp(d, d[o + 1] === 0x03 ? o + 2 : o + 1, end, out);
}

/** LINKTYPE_PPP_ETHER: a PPPoE session header (RFC 2516: 6 bytes), then the PPP protocol. */
export function pppoe(d: Uint8Array, o: number, end: number, out: LinkPayload): LinkPayload {
  if (end - o < 8) return bad(out, 'pppoe-truncated');
  const protocol = (d[o + 6] << 8) | d[o + 7];
  const type = pppEthertype(protocol);
  return type < 0 ? none(out, pppName(protocol)) : found(out, o + 8, end, type);
}

/** struct pfloghdr's shortest length (OpenBSD 3.4's layout, to the direction byte), as Wireshark requires. */
const PFLOG_MIN_HEADER = 45;

/**
 * pflog (LINKTYPE_PFLOG, OpenBSD and FreeBSD's pf): the header's length in its first byte, the address family in
 * its second (2 for IPv4; 24, 28 or 30 for IPv6 as OpenBSD, FreeBSD and Darwin number it), the packet at the next
 * multiple of four (libpcap's and Wireshark's rule).
 */
export function pflog(d: Uint8Array, o: number, end: number, out: LinkPayload): LinkPayload {
  if (end - o < 2) return bad(out, 'pflog-truncated');
  const length = d[o];
  if (length < PFLOG_MIN_HEADER) return bad(out, 'pflog-bad-header-length');
  const at = o + ((length + 3) & ~3);
  if (at > end) return bad(out, 'pflog-truncated');
  const af = d[o + 1];
  if (af === 2) return found(out, at, end, ETH_IPV4);
  if (af === 24 || af === 28 || af === 30) return found(out, at, end, ETH_IPV6);
  return none(out, `pflog-af-${af}`);
}

const NFULA_PAYLOAD = 9;

/**
 * Whether NFLOG attributes from `o` read as `littleEndian`: the first attribute with a non-zero type has a type below
 * 0x100 and every length before it is at least 4. The attributes are in the byte order of the machine that logged
 * them; Wireshark guesses it the same way (big-endian first).
 */
function nflogOrder(d: Uint8Array, o: number, end: number, littleEndian: boolean): boolean {
  while (end - o > 4) {
    const len = littleEndian ? d[o] | (d[o + 1] << 8) : (d[o] << 8) | d[o + 1];
    if (len < 4) return false;
    const type = (littleEndian ? d[o + 2] | (d[o + 3] << 8) : (d[o + 2] << 8) | d[o + 3]) & 0x7fff;
    if (type >= 0x100) return false;
    if (type !== 0) return true;
    o += (len + 3) & ~3;
  }
  return false;
}

/**
 * Linux NFLOG (LINKTYPE_NFLOG: `tcpdump -i nflog:N`, iptables' NFLOG target): a 4-byte header (address family 2 or
 * 10, version, resource id), then type-length-value attributes padded to four bytes; the packet is the value of
 * NFULA_PAYLOAD, which ends where the attribute ends, not at the frame's end.
 */
export function nflog(d: Uint8Array, o: number, end: number, out: LinkPayload): LinkPayload {
  if (end - o < 4) return bad(out, 'nflog-truncated');
  const family = d[o];
  const le = !nflogOrder(d, o + 4, end, false) && nflogOrder(d, o + 4, end, true);
  for (let t = o + 4; end - t >= 4; ) {
    const len = le ? d[t] | (d[t + 1] << 8) : (d[t] << 8) | d[t + 1];
    if (len < 4) return bad(out, 'nflog-bad-attribute-length');
    const type = (le ? d[t + 2] | (d[t + 3] << 8) : (d[t + 2] << 8) | d[t + 3]) & 0x7fff;
    if (type === NFULA_PAYLOAD) {
      // A short snap length may cut the attribute: the packet is then what was captured of it.
      const valueEnd = Math.min(end, t + len);
      if (family === 2) return found(out, t + 4, valueEnd, ETH_IPV4);
      if (family === 10) return found(out, t + 4, valueEnd, ETH_IPV6);
      return none(out, `nflog-family-${family}`);
    }
    t += (len + 3) & ~3;
  }
  return none(out, 'nflog-no-payload');
}

/** OpenBSD's struct enchdr: address family and flags in the writer's byte order, the SPI in network order. */
const ENC_HEADER = 12;

/**
 * LINKTYPE_ENC (OpenBSD's enc(4) interface: IPsec traffic before encryption or after decryption): a 12-byte header
 * whose first word is the address family in the writing machine's byte order (2 IPv4; 24, 28 or 30 IPv6 as the
 * BSDs number it), then the IP packet.
 */
export function enc(d: Uint8Array, o: number, end: number, out: LinkPayload): LinkPayload {
  if (end - o < ENC_HEADER) return bad(out, 'enc-truncated');
  let af = readU32LE(d, o);
  if (af > 0xffff) af = ((d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3]) >>> 0;
  if (af === 2) return found(out, o + ENC_HEADER, end, ETH_IPV4);
  if (af === 24 || af === 28 || af === 30) return found(out, o + ENC_HEADER, end, ETH_IPV6);
  return none(out, `enc-af-${af}`);
}

/** Solaris's dl_ipnetinfo_t: version, family, hardware type, packet length, interface and zone ids. */
const IPNET_HEADER = 24;

/**
 * LINKTYPE_IPNET (Solaris 10 and 11's ipnet observability devices, snoop/tcpdump on /dev/ipnet): a 24-byte
 * big-endian header whose second byte is the family (2 IPv4, 26 IPv6 as Solaris numbers it), then the IP packet.
 */
export function ipnet(d: Uint8Array, o: number, end: number, out: LinkPayload): LinkPayload {
  if (end - o < IPNET_HEADER) return bad(out, 'ipnet-truncated');
  const family = d[o + 1];
  if (family === 2) return found(out, o + IPNET_HEADER, end, ETH_IPV4);
  if (family === 26) return found(out, o + IPNET_HEADER, end, ETH_IPV6);
  return none(out, `ipnet-family-${family}`);
}

/** PPI's fixed header: version, flags, length (little-endian, the fields after it included) and the inner DLT. */
export const PPI_HEADER = 8;

/**
 * CACE's Per-Packet Information header (LINKTYPE_PPI: AirPcap and Kismet monitor-mode captures, mostly on Windows):
 * version 0, flags, the header's length and the link type of the frame after it (almost always 802.11, 105), all
 * little-endian; the radio fields between are not needed to find the frame. `type` is that link type.
 */
export function ppi(d: Uint8Array, o: number, end: number, out: LinkPayload): LinkPayload {
  if (end - o < PPI_HEADER) return bad(out, 'ppi-truncated');
  if (d[o] !== 0) return bad(out, `ppi-version-${d[o]}`);
  const length = d[o + 2] | (d[o + 3] << 8);
  if (length < PPI_HEADER) return bad(out, 'ppi-bad-header-length');
  if (length > end - o) return bad(out, 'ppi-truncated');
  return found(out, o + length, end, readU32LE(d, o + 4));
}

/** The shortest PKTAP header (Wireshark's MIN_PKTAP_HDR_LEN: to the effective command name). */
export const PKTAP_MIN_HEADER = 108;
/** pth_pid, pth_comm (17 bytes, NUL-terminated), pth_epid and pth_ecomm in the PKTAP header (xnu's bpf.h). */
export const PKTAP_PID = 52;
export const PKTAP_COMM = 56;
export const PKTAP_EPID = 84;
export const PKTAP_ECOMM = 88;
export const PKTAP_COMM_BYTES = 17;

/**
 * Apple's PKTAP (LINKTYPE_PKTAP: `tcpdump -i pktap` on macOS, captures of an iPhone's remote virtual interface): a
 * little-endian header whose first word is its own length, then the frame in the link type of its third word (a
 * DLT: Ethernet, raw IP, BSD loopback ...). `type` is that link type, `at` the inner frame; the header also names
 * the process that owns the socket (pktapProcess).
 */
export function pktap(d: Uint8Array, o: number, end: number, out: LinkPayload): LinkPayload {
  if (end - o < PKTAP_MIN_HEADER) return bad(out, 'pktap-truncated');
  const length = readU32LE(d, o);
  if (length < PKTAP_MIN_HEADER) return bad(out, 'pktap-bad-header-length');
  if (length > end - o) return bad(out, 'pktap-truncated');
  if (readU32LE(d, o + 4) !== 1) return none(out, 'pktap-no-packet');
  return found(out, o + length, end, readU32LE(d, o + 8));
}

/** A NUL-terminated name of at most `max` bytes at `o` (Latin-1; process names are ASCII). */
function cString(d: Uint8Array, o: number, max: number): string {
  let s = '';
  for (let i = 0; i < max && d[o + i] !== 0; i++) s += String.fromCharCode(d[o + i]);
  return s;
}

/**
 * The process a PKTAP header names: the effective one (pth_epid / pth_ecomm: the app a daemon such as nsurlsessiond
 * or mDNSResponder works for) when set, else the one that owns the socket. `undefined` when neither is named.
 */
export function pktapProcess(d: Uint8Array, o: number): { pid: number; name: string } | undefined {
  const effective = cString(d, o + PKTAP_ECOMM, PKTAP_COMM_BYTES);
  if (effective !== '') return { pid: readU32LE(d, o + PKTAP_EPID), name: effective };
  const owner = cString(d, o + PKTAP_COMM, PKTAP_COMM_BYTES);
  return owner === '' ? undefined : { pid: readU32LE(d, o + PKTAP_PID), name: owner };
}
