import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { rewriteEthernetPcap } from './rewrite.js';

/**
 * A real Ethernet capture rewritten byte by byte as a monitor-mode capture of the same traffic on Wi-Fi: each frame
 * an 802.11 data frame (to the AP from the client's side, from the AP otherwise) with LLC/SNAP, plain Data and QoS
 * Data in turn (some with HT control), and before it the radio header of the link type: none (LINKTYPE_IEEE802_11),
 * radiotap (127, with the frame check sequence at the end, as its flags say), PPI (192, AirPcap's and Kismet's, with
 * an 802.11-Common field saying the FCS is there), Prism (119, the 144-byte header of Linux's old wlan-ng drivers) or
 * AVS (163, the wlancap v1 header). Every tenth frame is followed by a beacon and a protected (WPA) data frame, which carry no IP.
 * tshark reads the result as the same conversations; the tests compare ours.
 */
export type WlanLink = 105 | 127 | 192 | 119 | 163;

const BSSID = Buffer.from('02aa00000001', 'hex');

function beacon(n: number): Buffer {
  const h = Buffer.alloc(24 + 12 + 2 + 4);
  h[0] = 0x80; // management, beacon
  Buffer.from('ffffffffffff', 'hex').copy(h, 4);
  BSSID.copy(h, 10);
  BSSID.copy(h, 16);
  h.writeUInt16LE((n & 0xfff) << 4, 22);
  h.writeUInt16LE(100, 32); // beacon interval
  h.writeUInt16LE(0x0431, 34); // capabilities (privacy)
  h[36] = 0; // SSID element, "cs"
  h[37] = 2;
  h.write('cs', 38, 'latin1');
  return h;
}

/** The Ethernet frame `eth` as an 802.11 data frame (to the AP or from it; plain or QoS data by `n`). */
export function dataFrame(eth: Buffer, toAp: boolean, n: number, protectedBody = false): Buffer {
  const qos = n % 2 === 1;
  const htc = qos && n % 4 === 3;
  const header = Buffer.alloc(24 + (qos ? 2 : 0) + (htc ? 4 : 0));
  header[0] = qos ? 0x88 : 0x08;
  header[1] = (toAp ? 0x01 : 0x02) | (protectedBody ? 0x40 : 0) | (htc ? 0x80 : 0);
  const [dst, src] = [eth.subarray(0, 6), eth.subarray(6, 12)];
  // To the AP: BSSID, source, destination; from it: destination, BSSID, source.
  const [a1, a2, a3] = toAp ? [BSSID, src, dst] : [dst, BSSID, src];
  a1.copy(header, 4);
  a2.copy(header, 10);
  a3.copy(header, 16);
  header.writeUInt16LE((n & 0xfff) << 4, 22);
  if (protectedBody) return Buffer.concat([header, Buffer.from('0100002000000000', 'hex'), Buffer.alloc(60, 0x5a)]);
  const snap = Buffer.from([0xaa, 0xaa, 0x03, 0, 0, 0]);
  return Buffer.concat([header, snap, eth.subarray(12)]);
}

function radiotap(frame: Buffer, n: number): Buffer {
  // Present: TSFT, flags, rate, channel, antenna signal; flags say the FCS is at the end.
  const h = Buffer.alloc(24);
  h.writeUInt16LE(24, 2);
  h.writeUInt32LE(0x2f, 4);
  h.writeBigUInt64LE(BigInt(n) * 1000n, 8);
  h[16] = 0x10;
  h[17] = 12;
  h.writeUInt16LE(2437, 18);
  h.writeUInt16LE(0x00a0, 20);
  h[22] = 256 - 40;
  return Buffer.concat([h, frame, fcsOf(frame)]);
}

function fcsOf(frame: Buffer): Buffer {
  const fcs = Buffer.alloc(4);
  fcs.writeUInt32LE(crc32(frame), 0);
  return fcs;
}

function ppi(frame: Buffer, n: number): Buffer {
  // Version 0, no flags, the header's length, DLT 105; one 802.11-Common field (type 2, 20 bytes): TSF timer, flags
  // (0x0001: the FCS is present), rate in 500 kb/s, channel frequency and flags, FHSS, signal and noise in dBm.
  const h = Buffer.alloc(8 + 4 + 20);
  h.writeUInt16LE(h.length, 2);
  h.writeUInt32LE(105, 4);
  h.writeUInt16LE(2, 8);
  h.writeUInt16LE(20, 10);
  h.writeBigUInt64LE(BigInt(n) * 1000n, 12);
  h.writeUInt16LE(0x0001, 20);
  h.writeUInt16LE(108, 22);
  h.writeUInt16LE(2437, 24);
  h.writeUInt16LE(0x00a0, 26);
  h[30] = 256 - 40;
  h[31] = 256 - 95;
  return Buffer.concat([h, frame, fcsOf(frame)]);
}

function prism(frame: Buffer, n: number): Buffer {
  // struct wlan_ng_prism2_header: message code and length, device name, then ten items (DID, status, length, value):
  // host time, MAC time, channel, RSSI, SQ, signal, noise, rate, is-TX, frame length; little-endian.
  const h = Buffer.alloc(144);
  h.writeUInt32LE(0x44, 0);
  h.writeUInt32LE(144, 4);
  h.write('wlan0', 8, 'latin1');
  const values = [n, n * 1000, 6, 40, 0, 40, 0, 108, 0, frame.length];
  values.forEach((v, i) => {
    const at = 24 + 12 * i;
    h.writeUInt32LE(((i + 1) << 12) | 0x44, at);
    h.writeUInt16LE(i === 4 ? 1 : 0, at + 4); // status: SQ not supplied
    h.writeUInt16LE(4, at + 6);
    h.writeUInt32LE(v >>> 0, at + 8);
  });
  return Buffer.concat([h, frame]);
}

function avs(frame: Buffer, n: number): Buffer {
  // The AVS (wlancap) version 1 header, big-endian: magic and version, its length (64), MAC and host times, PHY
  // type, channel, rate, antenna, priority, SSI type, signal, noise, preamble, encoding.
  const h = Buffer.alloc(64);
  h.writeUInt32BE(0x80211001, 0);
  h.writeUInt32BE(64, 4);
  h.writeBigUInt64BE(BigInt(n) * 1000n, 8);
  h.writeBigUInt64BE(BigInt(n), 16);
  [5, 6, 540, 1, 0, 2, 0xffffffd8, 0xffffffa1, 1, 1].forEach((v, i) => h.writeUInt32BE(v, 24 + 4 * i));
  return Buffer.concat([h, frame]);
}

const RADIO: Record<Exclude<WlanLink, 105>, (frame: Buffer, n: number) => Buffer> = { 127: radiotap, 192: ppi, 119: prism, 163: avs };

/** The pcap `src` (classic, little-endian, Ethernet) as a monitor-mode capture of link type `link`. */
export function wlanPcap(src: string, link: WlanLink): Buffer {
  let client: string | undefined;
  let written = 0;
  const framed = (frame: Buffer) => (link === 105 ? frame : RADIO[link](frame, ++written));
  return rewriteEthernetPcap(readFileSync(src), src, link, (eth, n) => {
    const mac = eth.subarray(6, 12).toString('hex');
    client ??= mac;
    const out = [framed(dataFrame(eth, mac === client, n, false))];
    if (n % 10 === 9) out.push(framed(beacon(n)), framed(dataFrame(eth, mac === client, n, true)));
    return out;
  }).bytes;
}
