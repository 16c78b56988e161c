import { randomBytes } from 'node:crypto';
import { type Server as HttpServer, type IncomingMessage, type ServerResponse, createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { mulberry32 } from '../common/rng.js';
import { makeTestbedCerts } from './certs.js';
import { TESTBED_PORT } from './constants.js';
import { PAGES } from './pages.js';

export { TESTBED_CAPTURE_FILTER, TESTBED_PORT } from './constants.js';

/**
 * The testbed's apps: small HTTPS services on their own loopback addresses that behave like the paper's apps on
 * the wire. They are a testbed, not the real apps: what they share with them is the shape of the traffic (a post
 * is one upload, a video is a run of chunk downloads, chat is one long-lived WebSocket with keep-alives and media
 * uploads to a second host, mail is a sync API), not its sizes or timing in detail.
 *
 * Every HTTP response carries `Connection: close`, so each request is a TCP connection (a flow) of its own and
 * belongs to one action; the chat WebSocket is the one long-lived connection (split into bursts for labeling).
 */


export interface TestbedHost {
  host: string;
  addr: string;
  /** App name in the testbed rules; undefined for background services no rule names. */
  app?: string;
  page?: keyof typeof PAGES;
  /** Served over HTTP/3 as well (QUIC) on the namespaced testbed, as the big platforms' apps are reached. */
  quic?: boolean;
}

/** Hosts, their loopback addresses and apps. rules/testbed-apps.json names the same apps and domains. */
export const TESTBED_HOSTS: readonly TestbedHost[] = [
  { host: 'social.testbed', addr: '127.0.0.11', app: 'Social', page: 'social', quic: true },
  { host: 'video.testbed', addr: '127.0.0.12', app: 'Video', page: 'video', quic: true },
  { host: 'chat.testbed', addr: '127.0.0.13', app: 'Chat', page: 'chat' },
  { host: 'media.chat.testbed', addr: '127.0.0.13', app: 'Chat' },
  { host: 'mail.testbed', addr: '127.0.0.14', app: 'Mail', page: 'mail' },
  { host: 'telemetry.testbed', addr: '127.0.0.15' },
];

/**
 * The hosts on the namespaced network (netns.ts): the same names on public-looking addresses of TEST-NET-1
 * (192.0.2.0/24, RFC 5737), the last octet kept, so nothing in the capture says loopback.
 */
export function networkHosts(): TestbedHost[] {
  return TESTBED_HOSTS.map((h) => ({ ...h, addr: h.addr.replace(/^127\.0\.0\./, '192.0.2.') }));
}

/**
 * Chromium flags that trust the testbed's server key and, unless the names resolve through DNS (the namespaced
 * testbed's resolver), send the host names to their addresses.
 */
export function chromiumTestbedArgs(spkiSha256: string, hosts: readonly TestbedHost[] | 'dns' = TESTBED_HOSTS, port = TESTBED_PORT): string[] {
  const trust = `--ignore-certificate-errors-spki-list=${spkiSha256}`;
  // Chromium's QUIC handshake does not consult the SPKI list (CERTIFICATE_VERIFY_FAILED in the CONNECTION_CLOSE):
  // on the namespaced testbed, whose only servers are its own, certificate errors are ignored altogether.
  if (hosts === 'dns') return [trust, '--ignore-certificate-errors', `--origin-to-force-quic-on=${TESTBED_HOSTS.filter((h) => h.quic).map((h) => `${h.host}:${port}`).join(',')}`];
  const rules = hosts.map((h) => `MAP ${h.host} ${h.addr}`).join(', ');
  return [`--host-resolver-rules=${rules}`, trust];
}

export function pageUrl(page: string, port = TESTBED_PORT): string {
  const h = TESTBED_HOSTS.find((x) => x.page === page);
  if (h === undefined) throw new Error(`no testbed page "${page}"; pages: ${TESTBED_HOSTS.filter((x) => x.page).map((x) => x.page).join(', ')}`);
  return `https://${h.host}:${port}/`;
}

export interface TestbedAppsOptions {
  seed?: number;
  /** Seconds between the chat server's WebSocket pings (keep-alives). */
  chatPingSec?: number;
  /** Port of every app (default 8443); one port on several addresses, as one service would have. */
  port?: number;
  /** Hosts and their addresses (default TESTBED_HOSTS, on loopback). */
  hosts?: readonly TestbedHost[];
  /**
   * Plain HTTP behind TLS front ends (caddy, nginx: frontends.ts) that terminate TLS and pass the Host header on,
   * as real services run their logic behind a load balancer.
   */
  behindProxy?: boolean;
}

export class TestbedApps {
  private servers: HttpServer[] = [];
  private readonly wss = new WebSocketServer({ noServer: true });
  private pingTimer: NodeJS.Timeout | undefined;
  readonly spkiSha256: string;
  readonly caPem: string;
  private readonly certPem: string;
  private readonly keyPem: string;
  private readonly random: () => number;
  private nextId = 1;
  requests = 0;
  readonly port: number;

  constructor(private readonly opts: TestbedAppsOptions = {}) {
    const certs = makeTestbedCerts(TESTBED_HOSTS.map((h) => h.host));
    this.spkiSha256 = certs.spkiSha256;
    this.caPem = certs.caPem;
    this.certPem = certs.certPem;
    this.keyPem = certs.keyPem;
    this.random = mulberry32(opts.seed ?? 1);
    this.port = opts.port ?? TESTBED_PORT;
  }

  async start(): Promise<void> {
    const addrs = [...new Set((this.opts.hosts ?? TESTBED_HOSTS).map((h) => h.addr))];
    for (const addr of addrs) {
      const onRequest = (req: IncomingMessage, res: ServerResponse) => this.handle(req, res);
      const server = this.opts.behindProxy ? createHttpServer(onRequest) : createServer({ cert: this.certPem, key: this.keyPem }, onRequest);
      server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.upgrade(req, socket, head));
      server.keepAliveTimeout = 1000;
      await new Promise<void>((resolve, reject) => {
        server.once('error', (e: NodeJS.ErrnoException) =>
          reject(
            e.code === 'EADDRINUSE'
              ? new Error(`testbed apps: ${addr}:${this.port} is in use (another testbed, or \`testbed serve\`, on this machine?): give another --port, or run with --network netns, where each testbed has addresses of its own`)
              : e,
          ),
        );
        server.listen(this.port, addr, () => resolve());
      });
      this.servers.push(server);
    }
    const every = (this.opts.chatPingSec ?? 15) * 1000;
    this.pingTimer = setInterval(() => {
      for (const ws of this.wss.clients) ws.ping();
    }, every);
  }

  async stop(): Promise<void> {
    if (this.pingTimer) clearInterval(this.pingTimer);
    for (const ws of this.wss.clients) ws.terminate();
    await Promise.all(
      this.servers.map(
        (s) =>
          new Promise<void>((resolve) => {
            s.close(() => resolve());
            s.closeAllConnections();
          }),
      ),
    );
    this.servers = [];
  }

  /** An integer in [lo, hi] from the testbed's seeded generator. */
  private between(lo: number, hi: number): number {
    return lo + Math.floor(this.random() * (hi - lo + 1));
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!req.headers.host?.startsWith('chat.testbed') || req.url !== '/ws') {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      ws.on('message', (data) => {
        let id = this.nextId++;
        try {
          const m = JSON.parse(data.toString()) as { id?: number };
          if (typeof m.id === 'number') id = m.id;
        } catch {
          // binary or malformed: acknowledged all the same
        }
        ws.send(JSON.stringify({ type: 'ack', id, at: Date.now() }));
      });
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.requests++;
    const host = (req.headers.host ?? '').replace(/:\d+$/, '');
    const url = new URL(req.url ?? '/', `https://${host}`);
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      res.setHeader('Connection', 'close');
      res.setHeader('Access-Control-Allow-Origin', '*');
      res.setHeader('Cache-Control', 'no-store');
      try {
        this.route(host, req.method ?? 'GET', url, body, res);
      } catch (e) {
        res.statusCode = 500;
        res.end(String(e));
      }
    });
  }

  private json(res: ServerResponse, v: unknown): void {
    res.setHeader('Content-Type', 'application/json');
    res.end(JSON.stringify(v));
  }

  private bytes(res: ServerResponse, n: number, type = 'application/octet-stream'): void {
    res.setHeader('Content-Type', type);
    res.end(randomBytes(n));
  }

  /** Text of about n bytes (JSON payloads of feeds and mails). */
  private filler(n: number): string {
    return randomBytes(Math.ceil((n * 3) / 4)).toString('base64').slice(0, n);
  }

  private route(host: string, method: string, url: URL, body: Buffer, res: ServerResponse): void {
    const entry = TESTBED_HOSTS.find((h) => h.host === host);
    const path = url.pathname;
    if (method === 'OPTIONS') {
      res.setHeader('Access-Control-Allow-Methods', 'GET, POST');
      res.setHeader('Access-Control-Allow-Headers', 'Content-Type');
      res.statusCode = 204;
      res.end();
      return;
    }
    if (path === '/' && entry?.page) {
      res.setHeader('Content-Type', 'text/html; charset=utf-8');
      res.end(PAGES[entry.page]);
      return;
    }
    switch (`${host} ${method} ${path}`) {
      case 'social.testbed POST /api/posts':
      case 'social.testbed POST /api/photos':
      case 'social.testbed POST /api/comments':
      case 'video.testbed POST /api/comments':
      case 'media.chat.testbed POST /api/media':
      case 'mail.testbed POST /api/send':
        return this.json(res, { ok: true, id: this.nextId++, received: body.length });
      case 'social.testbed GET /api/feed':
        return this.json(res, { posts: Array.from({ length: this.between(3, 8) }, (_, i) => ({ id: i, text: this.filler(this.between(200, 3000)) })) });
      case 'video.testbed GET /api/manifest': {
        const n = this.between(4, 9);
        return this.json(res, { segments: Array.from({ length: n }, () => this.between(60_000, 250_000)) });
      }
      case 'video.testbed GET /seg': {
        const size = Math.min(Number(url.searchParams.get('size')) || 100_000, 2_000_000);
        return this.bytes(res, size, 'video/mp4');
      }
      case 'mail.testbed GET /api/inbox':
      case 'mail.testbed GET /api/sync':
        return this.json(res, { mails: Array.from({ length: this.between(2, 10) }, (_, i) => ({ id: i, subject: this.filler(this.between(20, 80)), snippet: this.filler(this.between(80, 200)) })) });
      case 'mail.testbed GET /api/mail':
        return this.json(res, { body: this.filler(this.between(2_000, 60_000)) });
      case 'telemetry.testbed POST /beacon':
        res.statusCode = 204;
        res.end();
        return;
    }
    res.statusCode = 404;
    res.end('not found');
  }
}
