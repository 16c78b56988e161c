import { readFileSync, writeFileSync } from 'node:fs';
import { rewriteEthernetPcap } from './rewrite.js';
import { dataFrame } from './wlan.js';

/**
 * Captures in tunnels, written byte by byte from a real Ethernet capture (classic pcap): every IP packet (or, for
 * the tunnels that carry frames, every frame) put inside the tunnel as a mobile core, a cloud mirror or a VPN would
 * send it, with outer IPv4 headers whose checksums are right. tshark reads the results as the tunnels they are; the
 * tests compare its view of the inner conversations with ours.
 */
export type TunnelWrap = 'gtp-u' | 'gtp-u-ext' | 'vxlan' | 'geneve' | 'gre-key' | 'erspan2' | 'erspan3' | 'ipip' | 'pptp' | 'vxlan-gre' | 'tzsp' | 'tzsp-wlan' | 'capwap' | 'capwap-wlan';

export const TUNNEL_WRAPS: readonly TunnelWrap[] = ['gtp-u', 'gtp-u-ext', 'vxlan', 'geneve', 'gre-key', 'erspan2', 'erspan3', 'ipip', 'pptp', 'vxlan-gre', 'tzsp', 'tzsp-wlan', 'capwap', 'capwap-wlan'];

/** The ids the wrapper writes: uplink and downlink TEIDs, the VNI, GRE key, ERSPAN session, PPTP call id. */
export const TEID_UP = 0x1001;
export const TEID_DOWN = 0x2002;
export const VNI = 4242;
export const GRE_KEY = 0xbeef;
export const ERSPAN_SESSION = 0x123;
export const PPTP_CALL = 7;
export const CAPWAP_RADIO = 1;

const ENB = [10, 200, 0, 1];
const SGW = [10, 200, 0, 2];

function ipv4Header(proto: number, payload: number, src: number[], dst: number[], id: number): Buffer {
  const h = Buffer.alloc(20);
  h[0] = 0x45;
  h.writeUInt16BE(20 + payload, 2);
  h.writeUInt16BE(id & 0xffff, 4);
  h.writeUInt16BE(0x4000, 6);
  h[8] = 64;
  h[9] = proto;
  Buffer.from(src).copy(h, 12);
  Buffer.from(dst).copy(h, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += h.readUInt16BE(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >> 16);
  h.writeUInt16BE(~sum & 0xffff, 10);
  return h;
}

function udpHeader(sport: number, dport: number, payload: number): Buffer {
  const h = Buffer.alloc(8);
  h.writeUInt16BE(sport, 0);
  h.writeUInt16BE(dport, 2);
  h.writeUInt16BE(8 + payload, 4);
  return h; // checksum 0: none, as IPv4 allows
}

const ETH_OUTER = Buffer.from('02000000000102000000000208' + '00', 'hex');

/** Wrap one IP packet (`ip`) or Ethernet frame (`frame`) of direction `up` (client side first seen). */
function wrapOne(kind: TunnelWrap, frame: Buffer, ip: Buffer | undefined, up: boolean, n: number): Buffer | undefined {
  const [src, dst] = up ? [ENB, SGW] : [SGW, ENB];
  const outer = (proto: number, body: Buffer) => Buffer.concat([ETH_OUTER, ipv4Header(proto, body.length, src, dst, n), body]);
  const udp = (dport: number, body: Buffer) => outer(17, Buffer.concat([udpHeader(49152 + (n % 7), dport, body.length), body]));
  const ipEthertype = (p: Buffer) => (p[0] >> 4 === 6 ? 0x86dd : 0x0800);
  switch (kind) {
    case 'gtp-u':
    case 'gtp-u-ext': {
      if (ip === undefined) return undefined;
      const teid = up ? TEID_UP : TEID_DOWN;
      let opt = Buffer.alloc(0);
      let flags = 0x30;
      if (kind === 'gtp-u-ext') {
        // Every other packet: sequence number only; else a PDU session container extension (5G N3), then the end.
        if (n % 2 === 0) {
          flags |= 0x02;
          opt = Buffer.from([n >> 8, n & 255, 0, 0]);
        } else {
          flags |= 0x04;
          opt = Buffer.from([0, 0, 0, 0x85, 1, up ? 0x10 : 0x00, 9, 0]);
        }
      }
      const g = Buffer.alloc(8);
      g[0] = flags;
      g[1] = 0xff;
      g.writeUInt16BE(opt.length + ip.length, 2);
      g.writeUInt32BE(teid, 4);
      const body = Buffer.concat([g, opt, ip]);
      // GTP-U goes from port 2152 to port 2152.
      return outer(17, Buffer.concat([udpHeader(2152, 2152, body.length), body]));
    }
    case 'vxlan': {
      const v = Buffer.alloc(8);
      v[0] = 0x08;
      v.writeUIntBE(VNI, 4, 3);
      return udp(4789, Buffer.concat([v, frame]));
    }
    case 'geneve': {
      // Two option words: one option (class 0x0103, type 0x80) with 4 bytes of data.
      const g = Buffer.from([0x02, 0x00, 0x65, 0x58, 0, 0, 0, 0, 0x01, 0x03, 0x80, 0x01, 0xde, 0xad, 0xbe, 0xef]);
      g.writeUIntBE(VNI, 4, 3);
      return udp(6081, Buffer.concat([g, frame]));
    }
    case 'gre-key': {
      if (ip === undefined) return undefined;
      const g = Buffer.alloc(8);
      g.writeUInt16BE(0x2000, 0);
      g.writeUInt16BE(ipEthertype(ip), 2);
      g.writeUInt32BE(GRE_KEY, 4);
      return outer(47, Buffer.concat([g, ip]));
    }
    case 'erspan2':
    case 'erspan3': {
      const three = kind === 'erspan3';
      const g = Buffer.alloc(8);
      g.writeUInt16BE(0x1000, 0);
      g.writeUInt16BE(three ? 0x22eb : 0x88be, 2);
      g.writeUInt32BE(n, 4);
      const e = Buffer.alloc(three ? 12 : 8);
      e[0] = three ? 0x20 : 0x10;
      e.writeUInt16BE(ERSPAN_SESSION, 2);
      return outer(47, Buffer.concat([g, e, frame]));
    }
    case 'ipip':
      if (ip === undefined) return undefined;
      return outer(ip[0] >> 4 === 6 ? 41 : 4, ip);
    case 'pptp': {
      if (ip === undefined) return undefined;
      const ppp = Buffer.from([0xff, 0x03, 0x00, ip[0] >> 4 === 6 ? 0x57 : 0x21]);
      // Enhanced GRE: key (payload length, call id) and sequence; every third packet also acknowledges.
      const ack = n % 3 === 2;
      const g = Buffer.alloc(ack ? 16 : 12);
      g.writeUInt16BE(0x3001 | (ack ? 0x0080 : 0), 0);
      g.writeUInt16BE(0x880b, 2);
      g.writeUInt16BE(ppp.length + ip.length, 4);
      g.writeUInt16BE(PPTP_CALL, 6);
      g.writeUInt32BE(n, 8);
      if (ack) g.writeUInt32BE(n - 1, 12);
      return outer(47, Buffer.concat([g, ppp, ip]));
    }
    case 'tzsp':
    case 'tzsp-wlan': {
      // Version 1, received packet, Ethernet (1) or 802.11 (18); a signal tag (10, one byte), padding, then END.
      const w = kind === 'tzsp-wlan';
      const t = Buffer.from([1, 0, 0, w ? 18 : 1, 10, 1, 0xd8, 0, 1]);
      return udp(37008, Buffer.concat([t, w ? dataFrame(frame, up, n) : frame]));
    }
    case 'capwap':
    case 'capwap-wlan': {
      // Preamble 0, HLEN 2 words, radio id, binding 1 (802.11), T set for a native 802.11 frame; no fragment.
      const w = kind === 'capwap-wlan';
      const c = Buffer.alloc(8);
      c[1] = (2 << 3) | (CAPWAP_RADIO >> 2);
      c[2] = ((CAPWAP_RADIO & 3) << 6) | (1 << 1) | (w ? 1 : 0);
      // A native frame's frame control bytes swapped, as Cisco controllers send them (and Wireshark reads them).
      const inner = w ? dataFrame(frame, up, n) : frame;
      if (w) [inner[0], inner[1]] = [inner[1], inner[0]];
      return udp(5247, Buffer.concat([c, inner]));
    }
    case 'vxlan-gre': {
      // GRE (with the key) carrying the IP packet, itself in a frame inside VXLAN.
      const inner = wrapOne('gre-key', frame, ip, up, n);
      return inner === undefined ? undefined : wrapOne('vxlan', inner, undefined, up, n);
    }
  }
}

/**
 * Write `out`, a classic pcap (little-endian, Ethernet) of `src`'s packets in `kind` tunnels. Frames that are not IP
 * go in unchanged where the tunnel carries IP only, and inside it where it carries frames.
 */
export function wrapCapture(src: string, out: string, kind: TunnelWrap): { packets: number } {
  const { bytes, packets } = wrapPcap(readFileSync(src), kind, src);
  writeFileSync(out, bytes);
  return { packets };
}

/** wrapCapture in memory: the pcap `b` (named `name` in errors) with its packets in `kind` tunnels. */
export function wrapPcap(b: Buffer, kind: TunnelWrap, name = 'capture'): { bytes: Buffer; packets: number } {
  let first: string | undefined;
  return rewriteEthernetPcap(b, name, 1, (frame, n) => {
    const type = frame.readUInt16BE(12);
    const ip = type === 0x0800 || type === 0x86dd ? frame.subarray(14) : undefined;
    // The client's side: the source of the first IP packet (its address bytes, IPv4 or IPv6).
    const srcAddr = ip === undefined ? '' : ip[0] >> 4 === 6 ? ip.subarray(8, 24).toString('hex') : ip.subarray(12, 16).toString('hex');
    first ??= srcAddr || undefined;
    return [wrapOne(kind, frame, ip, srcAddr === first, n) ?? frame];
  });
}
