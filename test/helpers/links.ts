import { readFileSync } from 'node:fs';
import { rewriteEthernetPcap } from './rewrite.js';

/**
 * A real Ethernet capture rewritten byte by byte in another link-layer framing, as the tools that write these link
 * types would have captured the same traffic: PPP (9: with and without the address and control bytes, with a
 * compressed protocol field), PPP in HDLC framing (50: with Cisco HDLC frames among them), PPPoE without Ethernet
 * (51), Cisco HDLC (104), OpenBSD's enc(4) (109), OpenBSD / FreeBSD pflog (117), pppd's PPP with a direction byte (166), PPP after a
 * direction byte (204, as Wireshark writes it), Solaris IPNET (226), Linux NFLOG (239, its TLVs in the pcap's byte order) and Apple's PKTAP (258: a process's name before each frame, the frame itself
 * Ethernet, raw IP or BSD loopback in turn). Frames these framings cannot carry (ARP over PPP) are left out and
 * counted. tshark reads the result as the same conversations; the tests compare ours.
 */
export const LINK_REWRITES = [9, 50, 51, 104, 109, 117, 166, 204, 226, 239, 258] as const;
export type LinkRewrite = (typeof LINK_REWRITES)[number];

const PPP_IP = 0x0021;
const PPP_IPV6 = 0x0057;

function u16(v: number): Buffer {
  const b = Buffer.alloc(2);
  b.writeUInt16BE(v);
  return b;
}

/** The PPP protocol of an ethertype, or undefined where PPP carries no such thing here. */
function pppProtocol(type: number): number | undefined {
  return type === 0x0800 ? PPP_IP : type === 0x86dd ? PPP_IPV6 : undefined;
}

/** The process names PKTAP records carry, by packet (what macOS and iOS write for each socket's owner). */
export const PKTAP_PROCESSES = ['Safari', 'WhatsApp', 'nsurlsessiond'] as const;

function pktap(frame: Buffer, n: number): Buffer {
  // The header as macOS 10.13 and later write it: 156 bytes, little-endian; pth_comm and pth_ecomm are 17 bytes
  // padded to 20. Inner link: Ethernet, raw IP (DLT_RAW 12) or BSD loopback (DLT_NULL 0) in turn.
  const h = Buffer.alloc(156);
  const inner = n % 3;
  const dlt = inner === 0 ? 1 : inner === 1 ? 12 : 0;
  h.writeUInt32LE(156, 0);
  h.writeUInt32LE(1, 4); // a packet follows
  h.writeUInt32LE(dlt, 8);
  h.write(inner === 0 ? 'en0' : inner === 1 ? 'utun3' : 'lo0', 12, 'latin1');
  const ip = frame.subarray(14);
  const v6 = frame.readUInt16BE(12) === 0x86dd;
  h.writeUInt32LE(v6 ? 30 : 2, 40); // protocol family
  h.writeUInt32LE(inner === 0 ? 14 : inner === 2 ? 4 : 0, 44); // link-layer header length
  const proc = n % PKTAP_PROCESSES.length;
  h.writeUInt32LE(400 + proc, 52); // pid
  h.write(PKTAP_PROCESSES[proc], 56, 'latin1');
  h.writeUInt16LE(6, 80); // interface type
  h.writeUInt32LE(400 + proc, 84); // effective pid
  h.write(PKTAP_PROCESSES[proc], 88, 'latin1');
  if (inner === 0) return Buffer.concat([h, frame]);
  if (inner === 1) return Buffer.concat([h, ip]);
  const family = Buffer.alloc(4);
  family.writeUInt32LE(v6 ? 30 : 2);
  return Buffer.concat([h, family, ip]);
}

function nflog(ip: Buffer, v6: boolean, n: number): Buffer {
  // nflog_hdr (family, version, resource id in network order), then TLVs with length and type in the writer's
  // order, each padded to four bytes: NFULA_PACKET_HDR, NFULA_PREFIX, NFULA_UID, NFULA_PAYLOAD.
  const tlv = (type: number, value: Buffer) => {
    const t = Buffer.alloc(4 + value.length + ((4 - (value.length % 4)) % 4));
    t.writeUInt16LE(4 + value.length, 0);
    t.writeUInt16LE(type, 2);
    value.copy(t, 4);
    return t;
  };
  const head = Buffer.from([v6 ? 10 : 2, 0, 0, 5]);
  const hdr = Buffer.from([...u16(v6 ? 0x86dd : 0x0800), 3, 0]);
  const uid = Buffer.alloc(4);
  uid.writeUInt32BE(10000 + (n % 7));
  return Buffer.concat([head, tlv(1, hdr), tlv(10, Buffer.from('cs-log\0', 'latin1')), tlv(11, uid), tlv(9, ip)]);
}

function pflog(ip: Buffer, v6: boolean, n: number): Buffer {
  // struct pfloghdr: length 61 (the header's size before padding), address family (OpenBSD 24, FreeBSD 28 and
  // Darwin 30 for IPv6, in turn), action, reason, interface, ruleset, rule numbers...; the packet at the next
  // multiple of four.
  const h = Buffer.alloc(64);
  h[0] = 61;
  h[1] = v6 ? [24, 28, 30][n % 3] : 2;
  h.write('em0', 4, 'latin1');
  h.writeUInt32BE(n % 5, 36);
  h.writeUInt32BE(0xffffffff, 40);
  h[60] = 1 + (n % 2); // direction
  return Buffer.concat([h, ip]);
}

function rewriteFrame(link: LinkRewrite, frame: Buffer, n: number): Buffer | undefined {
  const type = frame.readUInt16BE(12);
  const ip = frame.subarray(14);
  const proto = pppProtocol(type);
  const v6 = type === 0x86dd;
  switch (link) {
    case 9: {
      if (proto === undefined) return undefined;
      // Address and control bytes, none, or none and a one-byte (compressed) protocol, in turn.
      if (n % 3 === 0) return Buffer.concat([Buffer.from([0xff, 0x03]), u16(proto), ip]);
      if (n % 3 === 1) return Buffer.concat([u16(proto), ip]);
      return Buffer.concat([Buffer.from([proto]), ip]);
    }
    case 50:
      if (n % 2 === 1) return Buffer.concat([Buffer.from([n % 4 === 1 ? 0x0f : 0x8f, 0x00]), frame.subarray(12)]);
      return proto === undefined ? undefined : Buffer.concat([Buffer.from([0xff, 0x03]), u16(proto), ip]);
    case 51: {
      if (proto === undefined) return undefined;
      const pppoe = Buffer.from([0x11, 0x00, 0x12, 0x34, 0, 0]);
      pppoe.writeUInt16BE(ip.length + 2, 4);
      return Buffer.concat([pppoe, u16(proto), ip]);
    }
    case 104:
      return Buffer.concat([Buffer.from([n % 2 === 0 ? 0x0f : 0x8f, 0x00]), frame.subarray(12)]);
    case 109: {
      // struct enchdr: address family (OpenBSD's 24 for IPv6) in the writer's order, SPI, flags.
      if (proto === undefined) return undefined;
      const h = Buffer.alloc(12);
      h.writeUInt32LE(v6 ? 24 : 2, 0);
      h.writeUInt32BE(0x1000 + (n % 3), 4);
      h.writeUInt32LE(0x0400, 8);
      return Buffer.concat([h, ip]);
    }
    case 117:
      return proto === undefined ? undefined : pflog(ip, v6, n);
    case 226: {
      // dl_ipnetinfo_t, big-endian: version 2, family (Solaris's 26 for IPv6), hardware type, packet length, ifindex,
      // group ifindex, source and destination zones.
      if (proto === undefined) return undefined;
      const h = Buffer.alloc(24);
      h[0] = 2;
      h[1] = v6 ? 26 : 2;
      h.writeUInt16BE(1, 2);
      h.writeUInt32BE(ip.length, 4);
      h.writeUInt32BE(2, 8);
      return Buffer.concat([h, ip]);
    }
    case 166:
      // The direction (0 received, 1 sent) where PPP in HDLC framing has its 0xff address byte, then control and protocol.
      return proto === undefined ? undefined : Buffer.concat([Buffer.from([n % 2, 0x03]), u16(proto), ip]);
    case 204:
      // A direction byte (0 received, non-zero sent), then PPP with and without the address and control bytes in turn.
      if (proto === undefined) return undefined;
      return Buffer.concat([Buffer.from(n % 2 === 0 ? [0] : [1, 0xff, 0x03]), u16(proto), ip]);
    case 239:
      return proto === undefined ? undefined : nflog(ip, v6, n);
    case 258:
      return proto === undefined ? undefined : pktap(frame, n);
  }
}

/** The pcap `src` (classic, little-endian, Ethernet) as a capture of `link`; `dropped`: frames it cannot carry. */
export function linkPcap(src: string, link: LinkRewrite): { bytes: Buffer; packets: number; dropped: number } {
  let dropped = 0;
  const { bytes, packets } = rewriteEthernetPcap(readFileSync(src), src, link, (frame, n) => {
    const out = rewriteFrame(link, frame, n);
    if (out === undefined) dropped++;
    return out === undefined ? [] : [out];
  });
  return { bytes, packets: packets - dropped, dropped };
}

/** The little-endian NFLOG pcap `b` as a big-endian machine writes it: every header field and attribute swapped. */
export function nflogBigEndian(b: Buffer): Buffer {
  const out = Buffer.from(b);
  const swap32 = (at: number) => out.writeUInt32BE(b.readUInt32LE(at), at);
  const swap16 = (at: number) => out.writeUInt16BE(b.readUInt16LE(at), at);
  swap32(0);
  swap16(4);
  swap16(6);
  for (const at of [8, 12, 16, 20]) swap32(at);
  for (let at = 24; at + 16 <= b.length; ) {
    const incl = b.readUInt32LE(at + 8);
    for (const f of [0, 4, 8, 12]) swap32(at + f);
    const end = at + 16 + incl;
    for (let t = at + 20; t + 4 <= end; ) {
      const len = b.readUInt16LE(t);
      swap16(t);
      swap16(t + 2);
      t += (len + 3) & ~3;
    }
    at = end;
  }
  return out;
}
