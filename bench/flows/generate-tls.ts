/**
 * The handshake-rich bench capture: the same shape as bench/flows/generate.ts (flows starting uniformly over
 * `seconds`, about 53 packets a flow, time-ordered, nanosecond pcap) but carrying what real phone traffic carries:
 *
 * - TLS over TCP/443 (65 % of flows): Chrome-like TLS 1.3 ClientHellos (GREASE, permuted extensions, ECH GREASE,
 *   a third with an X25519MLKEM768 key share that spans two segments), TLS 1.3 server flights, and TLS 1.2
 *   connections with a two-certificate chain made by OpenSSL, ServerKeyExchange, ClientKeyExchange, Finished;
 *   then application-data records of up to 16 KiB cut into 1,448-byte segments;
 * - QUIC v1 on UDP/443 (10 %): sealed client and server Initials (the pq hello in two Initials), a coalesced
 *   Handshake packet, then 1-RTT packets;
 * - DNS (15 %): A, AAAA and HTTPS queries answered with a CNAME and the addresses the TLS and QUIC flows go to;
 * - plain HTTP on TCP/80 (10 %); 12 % of flows over IPv6; SYNs with MSS, SACK-permitted and window scale;
 * - client ports in Android's ephemeral range (32768-60999), one per flow up to 28,232 flows.
 *
 *   node --import tsx bench/flows/generate-tls.ts OUT.pcap [flows=20000] [seconds=600] [--payload-scale K]
 *
 * `--payload-scale` multiplies the data bursts (the payload-heavy capture). Certificates are made once with
 * `openssl` into bench/data/certs. tshark reads every packet without an error (test/bench/tls-capture.test.ts).
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readFileSync, writeSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { mulberry32 as rng } from '../../src/common/rng.js';
import { ACK_ZERO, appData, clientHello, clientKeyExchange, cryptoFrame, dnsMessage, initialKeys, quicHandshake, quicInitial, quicShort, record, serverHello, tls12ServerFlight } from './tls-bytes.js';

const here = dirname(fileURLToPath(import.meta.url));
const MSS = 1448;

const APPS = ['whatsapp.net', 'cdninstagram.com', 'fbcdn.net', 'googlevideo.com', 'gstatic.com', 'googleapis.com', 'tiktokcdn.com', 'snapchat.com', 'spotify.com', 'nflxvideo.net', 'amazonaws.com', 'akamaihd.net', 'cloudfront.net', 'telegram.org', 'twimg.com', 'youtube.com', 'icloud.com', 'office.com', 'discord.gg', 'signal.org'];
const PREFIXES = ['www', 'api', 'media', 'edge', 'static', 'mmg', 'scontent', 'chat', 'graph', 'rr3---sn-4g5e6nz7'];

/** Certificate chains (leaf, intermediate) in DER, one per app domain, made by OpenSSL once and kept. */
function certificateChains(dir: string): Uint8Array[][] {
  mkdirSync(dir, { recursive: true });
  const ssl = (args: string[]) => execFileSync('openssl', args, { stdio: ['ignore', 'ignore', 'pipe'] });
  const ca = join(dir, 'ca');
  if (!existsSync(`${ca}.der`)) {
    ssl(['req', '-x509', '-newkey', 'rsa:2048', '-nodes', '-keyout', `${ca}.key`, '-subj', '/C=US/O=Bench Trust/CN=Bench Issuing CA R3', '-days', '3650', '-out', `${ca}.pem`]);
    ssl(['x509', '-in', `${ca}.pem`, '-outform', 'DER', '-out', `${ca}.der`]);
  }
  const caDer = new Uint8Array(readFileSync(`${ca}.der`));
  return APPS.map((app) => {
    const leaf = join(dir, app);
    if (!existsSync(`${leaf}.der`)) {
      ssl(['req', '-new', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1', '-nodes', '-keyout', `${leaf}.key`, '-subj', `/CN=*.${app}`, '-out', `${leaf}.csr`]);
      const ext = `${leaf}.ext`;
      execFileSync('sh', ['-c', `printf 'subjectAltName=DNS:*.${app},DNS:${app}\\n' > '${ext}'`]);
      ssl(['x509', '-req', '-in', `${leaf}.csr`, '-CA', `${ca}.pem`, '-CAkey', `${ca}.key`, '-CAcreateserial', '-days', '90', '-extfile', ext, '-outform', 'DER', '-out', `${leaf}.der`]);
    }
    return [new Uint8Array(readFileSync(`${leaf}.der`)), caDer];
  });
}

type Kind = 'tls13' | 'tls12' | 'quic' | 'dns' | 'http';

/** What a flow is meant to be, for the test that holds the capture to tshark. */
export interface FlowTruth {
  kind: Kind;
  client: string;
  server: string;
  sni: string;
}

interface Flow {
  v6: boolean;
  c: Uint8Array;
  s: Uint8Array;
  cp: number;
  sp: number;
  udp: boolean;
}

interface Pkt {
  t: number;
  flow: number;
  fromClient: boolean;
  flags: number;
  payload: Uint8Array;
  syn: boolean;
}

const addrText = (a: Uint8Array) => (a.length === 4 ? a.join('.') : Array.from({ length: 8 }, (_, i) => ((a[2 * i] << 8) | a[2 * i + 1]).toString(16)).join(':').replace(/(^|:)0(:0)+(:|$)/, '::'));

export function generateTls(out: string, nFlows = 20000, seconds = 600, opts: { seed?: number; payloadScale?: number } = {}): { packets: number; flows: number; bytes: number; truth: FlowTruth[] } {
  const r = rng(opts.seed ?? 7);
  const scale = opts.payloadScale ?? 1;
  const chains = certificateChains(join(here, '../data/certs'));
  const names = APPS.flatMap((app, a) => PREFIXES.map((p, i) => ({ name: `${p}${i > 5 ? `-${(a * 7 + i) % 13}` : ''}.${app}`, app: a })));
  const server4 = (n: number) => Uint8Array.of(93 + (n % 60), (n * 37) & 255, (n * 11) & 255, 1 + (n % 250));
  const server6 = (n: number) => Uint8Array.of(0x20, 0x01, 0x0d, 0xb8, 0, n >> 8, n & 255, 0, 0, 0, 0, 0, 0, 0, 0, 1 + (n % 250));
  const resolver4 = Uint8Array.of(10, 0, 0, 1);
  const resolver6 = Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 1);
  const device = (d: number, v6: boolean) => (v6 ? Uint8Array.of(0xfd, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, d >> 8, d & 255) : Uint8Array.of(10, 0, d >> 8, (d & 255) | 2));

  const flows: Flow[] = [];
  const truth: FlowTruth[] = [];
  const meta: Pkt[] = [];
  const EMPTY = new Uint8Array(0);
  for (let f = 0; f < nFlows; f++) {
    const u = r();
    const kind: Kind = u < 0.15 ? 'dns' : u < 0.25 ? 'quic' : u < 0.35 ? 'http' : u < 0.58 ? 'tls12' : 'tls13';
    const v6 = r() < 0.12;
    const dev = 1 + Math.floor(r() * 300);
    const n = Math.floor(r() * names.length);
    const { name, app } = names[n];
    const udp = kind === 'dns' || kind === 'quic';
    const flow: Flow = { v6, c: device(dev, v6), s: kind === 'dns' ? (v6 ? resolver6 : resolver4) : v6 ? server6(n) : server4(n), cp: 32768 + (f % 28232), sp: kind === 'dns' ? 53 : kind === 'http' ? 80 : 443, udp };
    flows.push(flow);
    truth.push({ kind, client: `${addrText(flow.c)}:${flow.cp}`, server: `${addrText(flow.s)}:${flow.sp}`, sni: kind === 'tls12' || kind === 'tls13' || kind === 'quic' ? name : kind === 'dns' ? name : '' });
    let t = Math.floor(r() * seconds * 1e9);
    const push = (fromClient: boolean, flags: number, payload: Uint8Array, gap: number, syn = false) => {
      t += gap;
      meta.push({ t, flow: f, fromClient, flags, payload, syn });
    };
    const rtt = 5e6 + Math.floor(r() * 1e8);
    if (kind === 'dns') {
      const qtype = v6 ? 28 : r() < 0.25 ? 65 : 1;
      const id = (r() * 65536) | 0;
      const addrs = [v6 ? server6(n) : server4(n), v6 ? server6(n + 1) : server4(n + 1)];
      push(true, 0, dnsMessage(id, name, qtype, false, '', []), 0);
      push(false, 0, dnsMessage(id, name, qtype, true, `edge-${n % 17}.${APPS[app]}.cdn.net`, addrs), 2e6 + Math.floor(r() * 3e7));
      continue;
    }
    // One segment per MSS of a direction's bytes; the receiver acknowledges every second segment.
    const send = (fromClient: boolean, bytes: Uint8Array, gap: number) => {
      for (let p = 0, i = 0; p < bytes.length; p += MSS, i++) {
        push(fromClient, 0x18, bytes.subarray(p, Math.min(bytes.length, p + MSS)), i === 0 ? gap : 1e5 + Math.floor(r() * 2e6));
        if (i % 2 === 1) push(!fromClient, 0x10, EMPTY, 1e4);
      }
    };
    const bursts = 1 + Math.floor(r() * 9.5);
    const response = () => (2 + Math.floor(r() * 10)) * MSS * scale - Math.floor(r() * 1448);
    if (kind === 'quic') {
      const dcid = Uint8Array.from({ length: 8 }, () => (r() * 256) | 0);
      const scid = Uint8Array.from({ length: 8 }, () => (r() * 256) | 0);
      const serverCid = Uint8Array.from({ length: 8 }, () => (r() * 256) | 0);
      const ch = clientHello({ sni: name, client: 'chrome', pq: r() < 0.35, alpn: ['h3'], quic: true }, r);
      const ck = initialKeys(0x00000001, dcid, 'client')!;
      const sk = initialKeys(0x00000001, dcid, 'server')!;
      // A hello longer than one datagram goes in two Initials (packet numbers 0 and 1), as Chrome sends it.
      const first = Math.min(ch.length, 1100);
      push(true, 0, quicInitial(ck, dcid, scid, 0, cryptoFrame(0, ch.subarray(0, first)), 1200), 0);
      if (first < ch.length) push(true, 0, quicInitial(ck, dcid, scid, 1, cryptoFrame(first, ch.subarray(first)), 1200), 2e4);
      const sh = serverHello(true, 0x1301, new Uint8Array(0), r);
      const init = quicInitial(sk, scid, serverCid, 0, Uint8Array.from([...ACK_ZERO, ...cryptoFrame(0, sh)]));
      push(false, 0, Uint8Array.from([...init, ...quicHandshake(scid, serverCid, 1200 - init.length - 23, r)]), rtt);
      push(true, 0, quicShort(serverCid, 60 + Math.floor(r() * 40), r), 1e5);
      for (let b = 0; b < bursts; b++) {
        push(true, 0, quicShort(serverCid, 80 + Math.floor(r() * 600), r), Math.floor(r() * 2e9));
        for (let left = response(); left > 0; left -= 1250) {
          push(false, 0, quicShort(scid, Math.min(1250, Math.max(left, 40)), r), 1e5 + Math.floor(r() * 2e6));
          if (r() < 0.3) push(true, 0, quicShort(serverCid, 40, r), 1e4);
        }
      }
      continue;
    }
    push(true, 0x02, EMPTY, 0, true);
    push(false, 0x12, EMPTY, rtt, true);
    push(true, 0x10, EMPTY, 1e5);
    if (kind === 'http') {
      for (let b = 0; b < bursts; b++) {
        send(true, Buffer.from(`GET /v${b}/item?id=${f} HTTP/1.1\r\nHost: ${name}\r\nUser-Agent: okhttp/4.12.0\r\nAccept-Encoding: gzip\r\n\r\n`), Math.floor(r() * 2e9));
        const body = response();
        const head = Buffer.from(`HTTP/1.1 200 OK\r\nContent-Type: application/octet-stream\r\nContent-Length: ${body}\r\n\r\n`);
        const bytes = new Uint8Array(head.length + body);
        bytes.set(head);
        for (let i = head.length; i < bytes.length; i++) bytes[i] = (i * 2654435761) >>> 24;
        send(false, bytes, rtt);
      }
    } else {
      const tls13 = kind === 'tls13';
      const ch = clientHello({ sni: name, client: tls13 ? 'chrome' : 'legacy', pq: tls13 && r() < 0.35, alpn: r() < 0.8 ? ['h2', 'http/1.1'] : [], quic: false }, r);
      send(true, record(22, ch, 0x0301), 1e5);
      if (tls13) {
        const sid = ch.subarray(39, 39 + 32);
        const flight = Uint8Array.from([...record(22, serverHello(true, [0x1301, 0x1302, 0x1303][(r() * 3) | 0], sid, r)), ...record(20, Uint8Array.of(1)), ...appData(chains[app][0].length + chains[app][1].length + 420, r)]);
        send(false, flight, rtt);
        send(true, Uint8Array.from([...record(20, Uint8Array.of(1)), ...appData(58, r)]), 1e5);
      } else {
        const sh = serverHello(false, [0xc02f, 0xc02b, 0xc030][(r() * 3) | 0], Uint8Array.from({ length: 32 }, () => (r() * 256) | 0), r, ch.length > 200 && r() < 0.5 ? 'h2' : undefined);
        send(false, record(22, Uint8Array.from([...sh, ...tls12ServerFlight(chains[app], r)])), rtt);
        const fin = Uint8Array.from({ length: 40 }, () => (r() * 256) | 0);
        send(true, Uint8Array.from([...record(22, clientKeyExchange(r)), ...record(20, Uint8Array.of(1)), ...record(22, fin)]), 1e5);
        send(false, Uint8Array.from([...record(20, Uint8Array.of(1)), ...record(22, fin)]), rtt);
      }
      for (let b = 0; b < bursts; b++) {
        send(true, appData(100 + Math.floor(r() * 900), r), Math.floor(r() * 2e9));
        send(false, appData(response(), r), rtt);
      }
    }
    push(true, 0x11, EMPTY, Math.floor(r() * 5e9));
    push(false, 0x11, EMPTY, rtt);
    push(true, 0x10, EMPTY, 1e5);
  }
  const bytes = writePcap(out, flows, meta);
  return { packets: meta.length, flows: nFlows, bytes, truth };
}

/** Time-ordered frames (ties in the order generated), Ethernet + IPv4/IPv6 + TCP/UDP, as a nanosecond pcap. */
function writePcap(out: string, flows: readonly Flow[], meta: readonly Pkt[]): number {
  const order = Uint32Array.from(meta.keys()).sort((a, b) => meta[a].t - meta[b].t || a - b);
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
  const seq = new Float64Array(flows.length * 2);
  for (let k = 0; k < seq.length; k++) seq[k] = (k * 2654435761) % 4294967296;
  for (const i of order) {
    const p = meta[i];
    const f = flows[p.flow];
    const ipLen = f.v6 ? 40 : 20;
    const l4 = f.udp ? 8 : p.syn ? 32 : 20;
    const frameLen = 14 + ipLen + l4 + p.payload.length;
    if (len + 16 + frameLen > buf.length) flush();
    const o = len;
    dv.setUint32(o, base + Math.floor(p.t / 1e9), true);
    dv.setUint32(o + 4, p.t % 1e9, true);
    dv.setUint32(o + 8, frameLen, true);
    dv.setUint32(o + 12, frameLen, true);
    const e = o + 16;
    buf.fill(0, e, e + frameLen - p.payload.length);
    buf[e] = 2;
    buf[e + 6] = 2;
    buf[e + 11] = p.fromClient ? 1 : 3;
    buf[e + 5] = p.fromClient ? 3 : 1;
    dv.setUint16(e + 12, f.v6 ? 0x86dd : 0x0800);
    const ip = e + 14;
    const src = p.fromClient ? f.c : f.s;
    const dst = p.fromClient ? f.s : f.c;
    if (f.v6) {
      buf[ip] = 0x60;
      dv.setUint16(ip + 4, l4 + p.payload.length);
      buf[ip + 6] = f.udp ? 17 : 6;
      buf[ip + 7] = 64;
      buf.set(src, ip + 8);
      buf.set(dst, ip + 24);
    } else {
      buf[ip] = 0x45;
      dv.setUint16(ip + 2, 20 + l4 + p.payload.length);
      buf[ip + 6] = 0x40; // don't fragment
      buf[ip + 8] = 64;
      buf[ip + 9] = f.udp ? 17 : 6;
      buf.set(src, ip + 12);
      buf.set(dst, ip + 16);
    }
    const t = ip + ipLen;
    dv.setUint16(t, p.fromClient ? f.cp : f.sp);
    dv.setUint16(t + 2, p.fromClient ? f.sp : f.cp);
    if (f.udp) dv.setUint16(t + 4, 8 + p.payload.length);
    else {
      const k = p.flow * 2 + (p.fromClient ? 0 : 1);
      dv.setUint32(t + 4, seq[k] >>> 0);
      if (p.flags & 0x10) dv.setUint32(t + 8, seq[p.flow * 2 + (p.fromClient ? 1 : 0)] >>> 0);
      seq[k] = (seq[k] + p.payload.length + (p.flags & 0x03 ? 1 : 0)) % 4294967296;
      buf[t + 12] = (l4 / 4) << 4;
      buf[t + 13] = p.flags;
      dv.setUint16(t + 14, p.syn ? 65535 : 2048);
      if (p.syn) {
        // MSS 1460, NOP, window scale 7, NOP, NOP, SACK permitted
        buf.set([2, 4, 0x05, 0xb4, 1, 3, 3, 7, 1, 1, 4, 2], t + 20);
      }
    }
    buf.set(p.payload, t + l4);
    // Real checksums (UDP over IPv6 must have one): the IPv4 header, then TCP/UDP with the pseudo-header.
    if (!f.v6) dv.setUint16(ip + 10, fold(sum16(buf, ip, ip + 20, 0)));
    const segLen = l4 + p.payload.length;
    let ph = sum16(buf, ip + (f.v6 ? 8 : 12), ip + (f.v6 ? 40 : 20), 0) + (f.udp ? 17 : 6) + segLen;
    ph = sum16(buf, t, t + segLen, ph);
    const ck = fold(ph);
    dv.setUint16(t + (f.udp ? 6 : 16), f.udp && ck === 0 ? 0xffff : ck);
    len += 16 + frameLen;
    bytes += 16 + frameLen;
  }
  flush();
  closeSync(fd);
  return bytes;
}

/** The 16-bit one's-complement sum (RFC 1071) of buf[start, end), added to `acc`, not yet folded. */
function sum16(buf: Uint8Array, start: number, end: number, acc: number): number {
  let i = start;
  for (; i + 1 < end; i += 2) acc += (buf[i] << 8) | buf[i + 1];
  if (i < end) acc += buf[i] << 8;
  return acc;
}
const fold = (acc: number) => {
  while (acc > 0xffff) acc = (acc & 0xffff) + Math.floor(acc / 65536);
  return ~acc & 0xffff;
};

if (import.meta.url === `file://${process.argv[1]}`) {
  const argv = process.argv.slice(2);
  const usage = 'usage: generate-tls.ts OUT.pcap [flows=20000] [seconds=600] [--payload-scale K]\n';
  if (argv[0] === '-h' || argv[0] === '--help') {
    process.stdout.write(usage);
    process.exit(0);
  }
  const at = argv.indexOf('--payload-scale');
  const payloadScale = at >= 0 ? Number(argv.splice(at, 2)[1]) : 1;
  const [out, flows, secs] = argv;
  if (!out || out.startsWith('-') || !(payloadScale > 0) || (flows !== undefined && !/^\d+$/.test(flows)) || (secs !== undefined && !/^\d+$/.test(secs))) {
    process.stderr.write(usage);
    process.exit(1);
  }
  const g = generateTls(out, Number(flows ?? 20000), Number(secs ?? 600), { payloadScale });
  process.stdout.write(`${out}: ${g.packets} packets, ${g.flows} flows, ${(g.bytes / 1e6).toFixed(1)} MB\n`);
}
