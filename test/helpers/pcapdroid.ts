import { END_OF_OPTIONS, pcapngBlock, pcapngOption } from './pcapng.js';
import { crc32 } from 'node:zlib';

/**
 * Captures laid out as PCAPdroid writes them (app/src/main/jni/core/pcap_dump.h and pcap_dump.c in
 * emanuele-f/PCAPdroid), written here byte by byte from that layout, not with cipherscope's own writer:
 * - pcap, link type Ethernet, a zeroed Ethernet header, the IP packet, then the trailer: current layout (padding to
 *   4 bytes, magic, uid, 20-byte name, CRC-32) or the first one (no padding, 16-byte name);
 * - pcapng, link type raw IP, a custom block (PEN 62652) mapping each uid before its first packet, and a
 *   "u-<uid>" comment on every packet.
 */

export interface PhonePacket {
  /** An IPv4 or IPv6 packet. */
  ip: Uint8Array;
  uid: number;
  tsUs: number;
}

export interface PhoneApp {
  uid: number;
  packageName: string;
  appName: string;
}

const MAGIC = 0x01072021;

function ipv4(src: number[], dst: number[], proto: number, l4: Uint8Array): Uint8Array {
  const b = new Uint8Array(20 + l4.length);
  const dv = new DataView(b.buffer);
  b[0] = 0x45;
  dv.setUint16(2, b.length);
  b[8] = 64;
  b[9] = proto;
  b.set(src, 12);
  b.set(dst, 16);
  let sum = 0;
  for (let i = 0; i < 20; i += 2) sum += dv.getUint16(i);
  while (sum > 0xffff) sum = (sum & 0xffff) + (sum >>> 16);
  dv.setUint16(10, ~sum & 0xffff);
  b.set(l4, 20);
  return b;
}

function ipv6(src: number[], dst: number[], proto: number, l4: Uint8Array): Uint8Array {
  const b = new Uint8Array(40 + l4.length);
  const dv = new DataView(b.buffer);
  b[0] = 0x60;
  dv.setUint16(4, l4.length);
  b[6] = proto;
  b[7] = 64;
  b.set(src, 8);
  b.set(dst, 24);
  b.set(l4, 40);
  return b;
}

function tcp(sport: number, dport: number, flags: number, payload: number): Uint8Array {
  const b = new Uint8Array(20 + payload);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint32(4, 1000);
  b[12] = 5 << 4;
  b[13] = flags;
  dv.setUint16(14, 65535);
  for (let i = 0; i < payload; i++) b[20 + i] = (i * 7) & 0xff;
  return b;
}

function udp(sport: number, dport: number, payload: number): Uint8Array {
  const b = new Uint8Array(8 + payload);
  const dv = new DataView(b.buffer);
  dv.setUint16(0, sport);
  dv.setUint16(2, dport);
  dv.setUint16(4, b.length);
  for (let i = 0; i < payload; i++) b[8 + i] = i & 0xff;
  return b;
}

export const PHONE_APPS: PhoneApp[] = [
  { uid: 10123, packageName: 'com.whatsapp', appName: 'WhatsApp' },
  { uid: 10200, packageName: 'org.telegram.messenger', appName: 'Telegram' },
  // A name longer than the trailer's 16- and 20-byte fields: cut there.
  { uid: 10345, packageName: 'com.example.a.rather.long.package', appName: 'Example App With A Long Name' },
];

/** Three apps' flows, interleaved: TCP over IPv4 and IPv6, UDP; payload sizes 0 to 1,400 (every padding). */
export function phonePackets(): PhonePacket[] {
  const phone4 = [10, 215, 173, 1];
  const phone6 = [0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 2];
  const out: PhonePacket[] = [];
  let t = 1_700_000_000_000_000;
  for (let i = 0; i < 30; i++) {
    const size = (i * 97) % 1401;
    const even = i % 2 === 0;
    out.push({ uid: 10123, tsUs: (t += 1000), ip: even ? ipv4(phone4, [157, 240, 214, 60], 6, tcp(40000, 443, i === 0 ? 0x02 : 0x18, size)) : ipv4([157, 240, 214, 60], phone4, 6, tcp(443, 40000, 0x18, size + 1)) });
    out.push({ uid: 10200, tsUs: (t += 1000), ip: even ? ipv6(phone6, [0x20, 0x01, 0x0b, 0x28, 0xf2, 0x3d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a], 6, tcp(40001, 443, 0x18, size + 2)) : ipv6([0x20, 0x01, 0x0b, 0x28, 0xf2, 0x3d, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x0a], phone6, 6, tcp(443, 40001, 0x18, size + 3)) });
    out.push({ uid: 10345, tsUs: (t += 1000), ip: even ? ipv4(phone4, [192, 0, 2, 7], 17, udp(50000, 3478, size % 200)) : ipv4([192, 0, 2, 7], phone4, 17, udp(3478, 50000, (size + 5) % 200)) });
  }
  return out;
}

function appNameOf(uid: number): string {
  return PHONE_APPS.find((a) => a.uid === uid)!.appName;
}

/** pcap with PCAPdroid's trailer: `layout` 2 is the current one (padding, 20-byte name), 1 the first (16-byte name). */
export function trailerPcap(packets: readonly PhonePacket[], layout: 1 | 2): Buffer {
  const parts: Buffer[] = [];
  const hdr = Buffer.alloc(24);
  hdr.writeUInt32LE(0xa1b2c3d4, 0);
  hdr.writeUInt16LE(2, 4);
  hdr.writeUInt16LE(4, 6);
  hdr.writeUInt32LE(65535, 16);
  hdr.writeUInt32LE(1, 20); // LINKTYPE_ETHERNET
  parts.push(hdr);
  for (const p of packets) {
    const nameBytes = layout === 2 ? 20 : 16;
    const pad = layout === 2 ? (4 - ((14 + p.ip.length) % 4)) % 4 : 0;
    const frame = Buffer.alloc(14 + p.ip.length + pad + 12 + nameBytes);
    frame.writeUInt16BE(p.ip[0] >> 4 === 4 ? 0x0800 : 0x86dd, 12);
    frame.set(p.ip, 14);
    const t = 14 + p.ip.length + pad;
    frame.writeUInt32BE(MAGIC, t);
    frame.writeInt32BE(p.uid, t + 4);
    Buffer.from(appNameOf(p.uid), 'utf8').copy(frame, t + 8, 0, nameBytes);
    frame.writeUInt32LE(crc32(frame.subarray(0, frame.length - 4)), frame.length - 4);
    const rec = Buffer.alloc(16);
    rec.writeUInt32LE(Math.floor(p.tsUs / 1e6), 0);
    rec.writeUInt32LE(p.tsUs % 1e6, 4);
    rec.writeUInt32LE(frame.length, 8);
    rec.writeUInt32LE(frame.length, 12);
    parts.push(rec, frame);
  }
  return Buffer.concat(parts);
}

/** pcapng as PCAPdroid writes it with its extensions on: a uid mapping block before each uid's first packet. */
export function pcapdroidPcapng(packets: readonly PhonePacket[]): Buffer {
  const shb = Buffer.alloc(16);
  shb.writeUInt32LE(0x1a2b3c4d, 0);
  shb.writeUInt16LE(1, 4);
  shb.writeBigInt64LE(-1n, 8);
  const idb = Buffer.alloc(8);
  idb.writeUInt16LE(101, 0); // LINKTYPE_RAW
  idb.writeUInt32LE(65535, 4);
  const parts = [pcapngBlock(0x0a0d0d0a, shb), pcapngBlock(1, idb)];
  const mapped = new Set<number>();
  for (const p of packets) {
    if (!mapped.has(p.uid)) {
      mapped.add(p.uid);
      const a = PHONE_APPS.find((x) => x.uid === p.uid)!;
      const pkg = Buffer.from(a.packageName, 'utf8');
      const name = Buffer.from(a.appName, 'utf8');
      const body = Buffer.alloc(4 + 4 + 6 + pkg.length + name.length);
      body.writeUInt32LE(62652, 0); // PEN
      body.writeUInt16LE(1, 4); // version
      body[6] = 1; // uid mapping
      body.writeInt32LE(p.uid, 8);
      body[12] = pkg.length;
      body[13] = name.length;
      pkg.copy(body, 14);
      name.copy(body, 14 + pkg.length);
      parts.push(pcapngBlock(0x00000bad, body));
    }
    const epb = Buffer.alloc(20);
    epb.writeUInt32LE(0, 0);
    epb.writeUInt32LE(Math.floor(p.tsUs / 2 ** 32), 4);
    epb.writeUInt32LE(p.tsUs % 2 ** 32, 8);
    epb.writeUInt32LE(p.ip.length, 12);
    epb.writeUInt32LE(p.ip.length, 16);
    const data = Buffer.alloc((p.ip.length + 3) & ~3);
    data.set(p.ip);
    parts.push(pcapngBlock(6, Buffer.concat([epb, data, pcapngOption(1, Buffer.from(`u-${p.uid}`)), END_OF_OPTIONS])));
  }
  return Buffer.concat(parts);
}
