import { createSocket } from 'node:dgram';
import { lookup } from 'node:dns/promises';
import { createServer as createHttpServer, get as httpGet } from 'node:http';
import { randomBytes } from 'node:crypto';
import { type TLSSocket, connect as tlsConnect, createServer as createTlsServer } from 'node:tls';
import { mulberry32 } from '../common/rng.js';
import { makeTestbedCerts } from './certs.js';
import { type DeviceBackgroundOptions, type DeviceBackgroundReport, OS_HOSTS, OS_PORTS } from './os-background.js';
import { draw } from './shapes.js';

/**
 * The OS background of the namespaced testbed as processes of their own (a namespace is entered by a process):
 * argv[2] "services" (in the servers' namespace) or "device" (in a device's), argv[3] options as JSON. Prints
 * "ready" once started; on SIGTERM a device prints its counters as one JSON line. Started by os-background.ts.
 */
const [mode, json] = process.argv.slice(2);
const options = JSON.parse(json ?? '{}') as DeviceBackgroundOptions;
const addrOf = (prefix: string) => OS_HOSTS.find((h) => h.host.startsWith(prefix))!;

/** An NTP timestamp (RFC 5905: seconds since 1900 and a 32-bit fraction) of `ms` since 1970, written at `at`. */
function ntpTime(buf: Buffer, at: number, ms: number): void {
  const sec = Math.floor(ms / 1000) + 2_208_988_800;
  buf.writeUInt32BE(sec >>> 0, at);
  buf.writeUInt32BE(Math.floor(((ms % 1000) / 1000) * 2 ** 32) >>> 0, at + 4);
}

async function services(): Promise<void> {
  const random = mulberry32(options.seed);
  // SNTP server (RFC 4330 section 5): a mode-4 reply to each mode-3 request, its transmit time as our originate.
  const ntp = createSocket('udp4');
  ntp.on('message', (m, peer) => {
    if (m.length < 48 || (m[0] & 7) !== 3) return;
    const r = Buffer.alloc(48);
    r[0] = (m[0] & 0x38) | 4; // LI 0, the client's version, mode 4 (server)
    r[1] = 1; // stratum 1
    r[2] = m[2];
    r[3] = 0xec; // precision 2^-20 s
    r.write('GPS\0', 12, 'latin1'); // reference id of a stratum-1 server
    const now = Date.now();
    ntpTime(r, 16, now - 60_000);
    m.copy(r, 24, 40, 48);
    ntpTime(r, 32, now);
    ntpTime(r, 40, now);
    ntp.send(r, peer.port, peer.address);
  });
  await new Promise<void>((res) => ntp.bind(OS_PORTS.ntp, addrOf('time.').addr, res));
  // Connectivity check: 204 No Content, as Android's probe expects.
  const http = createHttpServer((req, res) => {
    res.statusCode = req.url === '/generate_204' ? 204 : 404;
    res.end();
  });
  await new Promise<void>((res) => http.listen(OS_PORTS.check, addrOf('connectivitycheck.').addr, res));
  // Push channel: answers each heartbeat and pushes a message now and then.
  const certs = makeTestbedCerts([addrOf('mtalk.').host]);
  const push = createTlsServer({ cert: certs.certPem, key: certs.keyPem }, (s: TLSSocket) => {
    let timer: NodeJS.Timeout;
    const next = () => {
      timer = setTimeout(() => {
        if (!s.writable) return;
        s.write(randomBytes(draw({ lognormal: { median: 400, sigma: 0.7 }, min: 60, max: 4000 }, random)));
        next();
      }, draw({ lognormal: { median: 60, sigma: 0.8 }, min: 5, max: 900 }, random) * 1000);
    };
    next();
    s.on('data', (d: Buffer) => s.write(Buffer.from([0x01, d.length & 0xff])));
    s.on('error', () => undefined);
    s.on('close', () => clearTimeout(timer));
  });
  await new Promise<void>((res) => push.listen(OS_PORTS.push, addrOf('mtalk.').addr, res));
  process.stdout.write('ready\n');
  const stop = () => process.exit(0);
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

async function device(): Promise<void> {
  const random = mulberry32(options.seed);
  const report: DeviceBackgroundReport = { ntp: 0, checks: 0, heartbeats: 0, pushes: 0, errors: [] };
  const fail = (what: string) => (e: unknown) => report.errors.length < 20 && report.errors.push(`${what}: ${(e as Error).message ?? String(e)}`);
  const timers: NodeJS.Timeout[] = [];
  // Every interval drawn around its mean (+-25 %), as an OS staggers its jobs.
  const every = (sec: number, f: () => void) => {
    const go = () => {
      f();
      timers.push(setTimeout(go, sec * 1000 * (0.75 + 0.5 * random())));
    };
    go();
  };
  const ntp = createSocket('udp4');
  ntp.on('message', () => report.ntp++);
  ntp.on('error', fail('ntp'));
  every(options.ntpEverySec ?? 120, () => {
    lookup(addrOf('time.').host, { family: 4 })
      .then(({ address }) => {
        const q = Buffer.alloc(48);
        q[0] = 0x23; // LI 0, version 4, mode 3 (client)
        ntpTime(q, 40, Date.now());
        ntp.send(q, OS_PORTS.ntp, address);
      })
      .catch(fail('ntp'));
  });
  every(options.checkEverySec ?? 90, () => {
    httpGet({ host: addrOf('connectivitycheck.').host, port: OS_PORTS.check, path: '/generate_204', agent: false, headers: { 'User-Agent': 'Dalvik/2.1.0 (Linux; U; Android 14)' } }, (res) => {
      res.resume();
      if (res.statusCode === 204) report.checks++;
    }).on('error', fail('connectivity check'));
  });
  let sock: TLSSocket | undefined;
  const connectPush = () => {
    sock = tlsConnect({ host: addrOf('mtalk.').host, port: OS_PORTS.push, servername: addrOf('mtalk.').host, rejectUnauthorized: false });
    sock.on('data', (d: Buffer) => {
      if (d.length > 2) report.pushes++;
    });
    sock.on('error', fail('push'));
    sock.on('close', () => timers.push(setTimeout(connectPush, 5000)));
  };
  connectPush();
  const beat = () => {
    timers.push(
      setTimeout(() => {
        if (sock?.writable) {
          sock.write(Buffer.from([0x00, 0x02, 0x08, (report.heartbeats++ & 0x7f) + 1]));
        }
        beat();
      }, (options.heartbeatSec ?? 30) * 1000),
    );
  };
  beat();
  process.stdout.write('ready\n');
  const stop = () => {
    for (const t of timers) clearTimeout(t);
    process.stdout.write(JSON.stringify(report) + '\n', () => process.exit(0));
  };
  process.once('SIGTERM', stop);
  process.once('SIGINT', stop);
}

if (mode === 'services') await services();
else if (mode === 'device') await device();
else {
  process.stderr.write(`os-process: "services" or "device", not ${mode}\n`);
  process.exit(2);
}
