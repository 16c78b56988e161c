/**
 * Rewrite a real capture frame by frame: the tunnel, Wi-Fi and link-type tests take captures from ../shared (classic
 * pcap, little-endian, Ethernet, never cut by a snap length) and write the same traffic in another framing, which
 * tshark then reads as the same conversations.
 */

/**
 * `b` (named `name` in errors) with each Ethernet frame replaced by the frames `rewrite` gives for it (none, one or
 * several, each with the frame's time), as a pcap of `linkType` with a snap length of 65,535.
 */
export function rewriteEthernetPcap(b: Buffer, name: string, linkType: number, rewrite: (frame: Buffer, n: number) => Buffer[]): { bytes: Buffer; packets: number } {
  const magic = b.length >= 24 ? b.readUInt32LE(0) : 0;
  if ((magic !== 0xa1b2c3d4 && magic !== 0xa1b23c4d) || b.readUInt32LE(20) !== 1) throw new Error(`${name}: expected a little-endian pcap of Ethernet`);
  const head = Buffer.from(b.subarray(0, 24));
  head.writeUInt32LE(0xffff, 16);
  head.writeUInt32LE(linkType, 20);
  const parts: Buffer[] = [head];
  let n = 0;
  for (let at = 24; at + 16 <= b.length; n++) {
    const incl = b.readUInt32LE(at + 8);
    if (incl !== b.readUInt32LE(at + 12)) throw new Error(`${name}: packet ${n + 1} is cut by the snap length`);
    for (const out of rewrite(b.subarray(at + 16, at + 16 + incl), n)) {
      const h = Buffer.from(b.subarray(at, at + 16));
      h.writeUInt32LE(out.length, 8);
      h.writeUInt32LE(out.length, 12);
      parts.push(h, out);
    }
    at += 16 + incl;
  }
  return { bytes: Buffer.concat(parts), packets: n };
}

/**
 * A classic pcap (either byte order) as Alexey Kuznetzov's patched libpcap wrote it: magic 0xa1b2cd34, and after
 * each record header the interface index, protocol and packet type (8 bytes). tshark and capinfos read it.
 */
export function modifiedPcap(b: Buffer): Buffer {
  const le = b.readUInt32LE(0) === 0xa1b2c3d4;
  if (!le && b.readUInt32BE(0) !== 0xa1b2c3d4) throw new Error('expected a microsecond pcap');
  const head = Buffer.from(b.subarray(0, 24));
  if (le) head.writeUInt32LE(0xa1b2cd34, 0);
  else head.writeUInt32BE(0xa1b2cd34, 0);
  const parts: Buffer[] = [head];
  for (let at = 24; at + 16 <= b.length; ) {
    const incl = le ? b.readUInt32LE(at + 8) : b.readUInt32BE(at + 8);
    const extra = Buffer.alloc(8);
    if (le) extra.writeUInt32LE(3, 0);
    else extra.writeUInt32BE(3, 0);
    extra.writeUInt16BE(0x0800, 4);
    parts.push(b.subarray(at, at + 16), extra, b.subarray(at + 16, at + 16 + incl));
    at += 16 + incl;
  }
  return Buffer.concat(parts);
}
