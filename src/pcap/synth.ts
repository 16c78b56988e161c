/**
 * Build Ethernet/IPv4 and IPv6 TCP/UDP frames and classic pcap files in memory: deterministic captures for
 * tests and benchmarks (where the exact answer must be known), not a traffic generator.
 */

export interface SynthPacket {
  /** Seconds and nanoseconds since the epoch. */
  sec: number;
  nsec: number;
  src: string;
  dst: string;
  sport: number;
  dport: number;
  proto: 'tcp' | 'udp';
  /** TCP flags byte (FIN 1, SYN 2, RST 4, PSH 8, ACK 16). */
  flags?: number;
  seq?: number;
  payload?: number;
  /** IPv4 identification / fragment fields, for fragment tests. */
  ipId?: number;
}

function v4(s: string): number[] {
  return s.split('.').map(Number);
}

function v6(s: string): number[] {
  const [h, t] = s.split('::');
  const head = h ? h.split(':') : [];
  const tail = t !== undefined && t !== '' ? t.split(':') : [];
  const groups = [...head, ...new Array(8 - head.length - tail.length).fill('0'), ...tail].map((g) => parseInt(g, 16));
  return groups.flatMap((g) => [g >> 8, g & 255]);
}

/** One Ethernet frame carrying the packet; payload bytes are a deterministic pattern. */
export function synthFrame(p: SynthPacket): Uint8Array {
  const isV6 = p.src.includes(':');
  const l4h = p.proto === 'tcp' ? 20 : 8;
  const payload = p.payload ?? 0;
  const ipH = isV6 ? 40 : 20;
  const frame = new Uint8Array(14 + ipH + l4h + payload);
  const dv = new DataView(frame.buffer);
  frame.set([0x02, 0, 0, 0, 0, 2, 0x02, 0, 0, 0, 0, 1], 0);
  dv.setUint16(12, isV6 ? 0x86dd : 0x0800);
  const o = 14;
  const protoNum = p.proto === 'tcp' ? 6 : 17;
  if (isV6) {
    frame[o] = 0x60;
    dv.setUint16(o + 4, l4h + payload);
    frame[o + 6] = protoNum;
    frame[o + 7] = 64;
    frame.set(v6(p.src), o + 8);
    frame.set(v6(p.dst), o + 24);
  } else {
    frame[o] = 0x45;
    dv.setUint16(o + 2, ipH + l4h + payload);
    dv.setUint16(o + 4, p.ipId ?? 0);
    frame[o + 8] = 64;
    frame[o + 9] = protoNum;
    frame.set(v4(p.src), o + 12);
    frame.set(v4(p.dst), o + 16);
  }
  const t = o + ipH;
  dv.setUint16(t, p.sport);
  dv.setUint16(t + 2, p.dport);
  if (p.proto === 'tcp') {
    dv.setUint32(t + 4, p.seq ?? 1);
    frame[t + 12] = 5 << 4;
    frame[t + 13] = p.flags ?? 0x10;
    dv.setUint16(t + 14, 65535);
  } else dv.setUint16(t + 4, 8 + payload);
  for (let i = 0; i < payload; i++) frame[t + l4h + i] = (i * 31 + 7) & 255;
  return frame;
}

/** A little-endian classic pcap (nanosecond magic, Ethernet) of the given packets, in the given order. */
export function synthPcap(packets: readonly SynthPacket[]): Uint8Array {
  const frames = packets.map(synthFrame);
  const total = 24 + frames.reduce((n, f) => n + 16 + f.length, 0);
  const out = new Uint8Array(total);
  const dv = new DataView(out.buffer);
  dv.setUint32(0, 0xa1b23c4d, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, 262144, true);
  dv.setUint32(20, 1, true);
  let o = 24;
  frames.forEach((f, i) => {
    dv.setUint32(o, packets[i].sec, true);
    dv.setUint32(o + 4, packets[i].nsec, true);
    dv.setUint32(o + 8, f.length, true);
    dv.setUint32(o + 12, f.length, true);
    out.set(f, o + 16);
    o += 16 + f.length;
  });
  return out;
}
