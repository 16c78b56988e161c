/**
 * Deterministic benchmark capture: Ethernet/IPv4 TCP connections (handshake, request/response bursts, FIN
 * teardown) and UDP exchanges, interleaved in time order, written as a classic nanosecond pcap.
 *
 *   node --import tsx bench/flows/generate.ts OUT.pcap [flows=20000] [seconds=600]
 *
 * `udpShare` of the flows are short UDP exchanges (1 gives a small capture with many flows, for the dashboard
 * test). Flows start uniformly over `seconds`, so doubling both flows and seconds doubles the file while the number of
 * flows alive at once stays the same: that is how bench/flows/run.ts checks that memory stays flat.
 */
import { openSync, writeSync, closeSync } from 'node:fs';
import { mulberry32 as rng } from '../../src/common/rng.js';

interface Pkt {
  t: number; // ns from start
  flow: number;
  fromClient: boolean;
  flags: number;
  payload: number;
}

export function generate(out: string, nFlows = 20000, seconds = 600, seed = 1, udpShare = 0.15): { packets: number; flows: number; bytes: number } {
  const r = rng(seed);
  const flows: Array<{ c: number; s: number; cp: number; sp: number; udp: boolean }> = [];
  const times: number[] = [];
  const meta: Pkt[] = [];
  for (let f = 0; f < nFlows; f++) {
    const udp = r() < udpShare;
    flows.push({ c: (10 << 24) | (Math.floor(r() * 65536) << 8) | 2, s: (93 << 24) | Math.floor(r() * 16777216), cp: 1024 + (f % 60000), sp: udp ? 53 : r() < 0.8 ? 443 : 80, udp });
    let t = Math.floor(r() * seconds * 1e9);
    const push = (fromClient: boolean, flags: number, payload: number, gap: number) => {
      t += gap;
      meta.push({ t, flow: f, fromClient, flags, payload });
      times.push(t);
    };
    if (udp) {
      const n = 1 + Math.floor(r() * 3);
      for (let i = 0; i < n; i++) {
        push(true, 0, 30 + Math.floor(r() * 40), 1e6 + Math.floor(r() * 1e8));
        push(false, 0, 60 + Math.floor(r() * 400), 5e6 + Math.floor(r() * 3e7));
      }
      continue;
    }
    const rtt = 5e6 + Math.floor(r() * 1e8);
    push(true, 0x02, 0, 0);
    push(false, 0x12, 0, rtt);
    push(true, 0x10, 0, 1e5);
    // ~56 packets per TCP flow on average: bursts of response segments with ACKs
    const bursts = 1 + Math.floor(r() * 9.5);
    for (let b = 0; b < bursts; b++) {
      push(true, 0x18, 100 + Math.floor(r() * 900), Math.floor(r() * 2e9));
      const segs = 2 + Math.floor(r() * 10);
      for (let i = 0; i < segs; i++) {
        push(false, 0x10, i === segs - 1 ? Math.floor(r() * 1448) : 1448, 1e5 + Math.floor(r() * 2e6));
        if (i % 2 === 1) push(true, 0x10, 0, 1e4);
      }
    }
    push(true, 0x11, 0, Math.floor(r() * 5e9));
    push(false, 0x11, 0, rtt);
    push(true, 0x10, 0, 1e5);
  }
  // Time order: sort packet indices by time.
  const order = Uint32Array.from(meta.keys()).sort((a, b) => times[a] - times[b]);
  const fd = openSync(out, 'w');
  const buf = new Uint8Array(8 << 20);
  const dv = new DataView(buf.buffer);
  let len = 0;
  const flush = () => {
    writeSync(fd, buf, 0, len);
    len = 0;
  };
  dv.setUint32(0, 0xa1b23c4d, true);
  dv.setUint16(4, 2, true);
  dv.setUint16(6, 4, true);
  dv.setUint32(16, 262144, true);
  dv.setUint32(20, 1, true);
  len = 24;
  let bytes = 24;
  const base = 1_700_000_000;
  const seq = new Float64Array(nFlows * 2);
  for (const i of order) {
    const p = meta[i];
    const f = flows[p.flow];
    const l4 = f.udp ? 8 : 20;
    const frameLen = 14 + 20 + l4 + p.payload;
    if (len + 16 + frameLen > buf.length) flush();
    const o = len;
    dv.setUint32(o, base + Math.floor(p.t / 1e9), true);
    dv.setUint32(o + 4, p.t % 1e9, true);
    dv.setUint32(o + 8, frameLen, true);
    dv.setUint32(o + 12, frameLen, true);
    const e = o + 16;
    buf.fill(0, e, e + frameLen);
    buf[e] = 2;
    buf[e + 6] = 2;
    buf[e + 11] = 1;
    dv.setUint16(e + 12, 0x0800);
    const ip = e + 14;
    buf[ip] = 0x45;
    dv.setUint16(ip + 2, 20 + l4 + p.payload);
    buf[ip + 8] = 64;
    buf[ip + 9] = f.udp ? 17 : 6;
    dv.setUint32(ip + 12, p.fromClient ? f.c : f.s);
    dv.setUint32(ip + 16, p.fromClient ? f.s : f.c);
    const t = ip + 20;
    dv.setUint16(t, p.fromClient ? f.cp : f.sp);
    dv.setUint16(t + 2, p.fromClient ? f.sp : f.cp);
    if (f.udp) dv.setUint16(t + 4, 8 + p.payload);
    else {
      const k = p.flow * 2 + (p.fromClient ? 0 : 1);
      dv.setUint32(t + 4, seq[k] >>> 0);
      seq[k] += p.payload + (p.flags & 0x03 ? 1 : 0);
      buf[t + 12] = 0x50;
      buf[t + 13] = p.flags;
      dv.setUint16(t + 14, 65535);
    }
    // payload bytes: a cheap deterministic pattern
    for (let j = t + l4, end = t + l4 + p.payload, x = i; j < end; j++, x = (x * 1103515245 + 12345) >>> 0) buf[j] = x >>> 24;
    len += 16 + frameLen;
    bytes += 16 + frameLen;
  }
  flush();
  closeSync(fd);
  return { packets: meta.length, flows: nFlows, bytes };
}

if (import.meta.url === `file://${process.argv[1]}`) {
  const [out, flows, secs] = process.argv.slice(2);
  const usage = 'usage: generate.ts OUT.pcap [flows=20000] [seconds=600]\n';
  if (out === '-h' || out === '--help') {
    process.stdout.write(usage);
    process.exit(0);
  }
  // An option is not a file name: without this, --help wrote a 909 MB capture named "--help".
  if (!out || out.startsWith('-') || (flows !== undefined && !/^\d+$/.test(flows)) || (secs !== undefined && !/^\d+$/.test(secs))) {
    process.stderr.write(usage);
    process.exit(1);
  }
  const r = generate(out, Number(flows ?? 20000), Number(secs ?? 600));
  process.stdout.write(`${out}: ${r.packets} packets, ${r.flows} flows, ${(r.bytes / 1e6).toFixed(1)} MB\n`);
}
