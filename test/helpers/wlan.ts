import { readFileSync } from 'node:fs';
import { crc32 } from 'node:zlib';
import { rewriteEthernetPcap } from './rewrite.js';

/**
 * A real Ethernet capture rewritten byte by byte as a monitor-mode capture of the same traffic on Wi-Fi: each frame
 * an 802.11 data frame (to the AP from the client's side, from the AP otherwise) with LLC/SNAP, plain Data and QoS
 * Data in turn (some with HT control), and, for LINKTYPE_IEEE802_11_RADIOTAP, a radiotap header and the frame check
 * sequence at the end. Every tenth frame is followed by a beacon and a protected (WPA) data frame, which carry no IP.
 * tshark reads the result as the same conversations; the tests compare ours.
 */
export type WlanLink = 105 | 127;

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
  const fcs = Buffer.alloc(4);
  fcs.writeUInt32LE(crc32(frame), 0);
  return Buffer.concat([h, frame, fcs]);
}

/** The pcap `src` (classic, little-endian, Ethernet) as a monitor-mode capture of link type `link`. */
export function wlanPcap(src: string, link: WlanLink): Buffer {
  let client: string | undefined;
  let written = 0;
  const framed = (frame: Buffer) => (link === 127 ? radiotap(frame, ++written) : frame);
  return rewriteEthernetPcap(readFileSync(src), src, link, (eth, n) => {
    const mac = eth.subarray(6, 12).toString('hex');
    client ??= mac;
    const out = [framed(dataFrame(eth, mac === client, n, false))];
    if (n % 10 === 9) out.push(framed(beacon(n)), framed(dataFrame(eth, mac === client, n, true)));
    return out;
  }).bytes;
}
