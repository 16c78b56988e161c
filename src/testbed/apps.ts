import { randomBytes } from 'node:crypto';
import { type Server as HttpServer, type IncomingMessage, type ServerResponse, createServer as createHttpServer } from 'node:http';
import { createServer } from 'node:https';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { mulberry32 } from '../common/rng.js';
import { makeTestbedCerts } from './certs.js';
import { TESTBED_PORT } from './constants.js';
import { PAGES } from './pages.js';
import { SHAPES, VIDEO_LADDER_KBPS, VIDEO_MAX_RUNG, VIDEO_SEGMENT_SEC, VIDEO_START_RUNG, draw, hashKey, segmentBytes } from './shapes.js';

/** Who sent a request: the device behind the TLS front ends (X-Forwarded-For), else the peer address. */
function clientOf(req: IncomingMessage): string {
  const fwd = req.headers['x-forwarded-for'];
  const first = (Array.isArray(fwd) ? fwd[0] : fwd)?.split(',')[0]?.trim();
  return first || req.socket.remoteAddress || '';
}

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
  /** Address on the loopback testbed (127.0.0.8/29, which the loopback capture filter keeps). */
  addr: string;
  /** Address on the namespaced testbed: public-looking, of TEST-NET-1 (192.0.2.0/24, RFC 5737), one per service. */
  publicAddr: string;
  /** App name in the testbed rules; undefined for services no rule names (background, the shared CDN). */
  app?: string;
  page?: keyof typeof PAGES;
  /** TLS front end on the namespaced testbed: caddy (Go TLS 1.3, HTTP/2 and HTTP/3) or nginx (OpenSSL, TLS 1.2, HTTP/2). */
  stack: 'caddy' | 'nginx';
  /**
   * QUIC from the first connection (Chromium's --origin-to-force-quic-on), as for origins a real browser already
   * knows speak HTTP/3. Other caddy hosts announce HTTP/3 by Alt-Svc, so their first connection is TCP and later
   * ones may be QUIC: one app, both transports, as on the real Internet.
   */
  quic?: boolean;
}

/**
 * Hosts, their addresses and apps; rules/testbed-apps.json names the same apps and domains. Each app has several
 * names (its API, its uploads or media, its own CDN, as Facebook has facebook.com, upload.facebook.com and
 * fbcdn.net), and one CDN (static.sharedcdn.testbed: scripts, thumbnails) serves two apps, as a commercial CDN
 * does: no rule can name it, so its flows stay without an app.
 */
export const TESTBED_HOSTS: readonly TestbedHost[] = [
  { host: 'social.testbed', addr: '127.0.0.11', publicAddr: '192.0.2.11', app: 'Social', page: 'social', stack: 'caddy', quic: true },
  { host: 'upload.social.testbed', addr: '127.0.0.11', publicAddr: '192.0.2.21', app: 'Social', stack: 'caddy' },
  { host: 'img.socialcdn.testbed', addr: '127.0.0.11', publicAddr: '192.0.2.22', app: 'Social', stack: 'caddy' },
  { host: 'video.testbed', addr: '127.0.0.12', publicAddr: '192.0.2.12', app: 'Video', page: 'video', stack: 'caddy' },
  { host: 'rr1.videoplayback.testbed', addr: '127.0.0.12', publicAddr: '192.0.2.23', app: 'Video', stack: 'caddy', quic: true },
  { host: 'chat.testbed', addr: '127.0.0.13', publicAddr: '192.0.2.13', app: 'Chat', page: 'chat', stack: 'nginx' },
  { host: 'media.chat.testbed', addr: '127.0.0.13', publicAddr: '192.0.2.24', app: 'Chat', stack: 'nginx' },
  { host: 'mail.testbed', addr: '127.0.0.14', publicAddr: '192.0.2.14', app: 'Mail', page: 'mail', stack: 'caddy', quic: true },
  { host: 'attachments.mail.testbed', addr: '127.0.0.14', publicAddr: '192.0.2.25', app: 'Mail', stack: 'nginx' },
  { host: 'static.sharedcdn.testbed', addr: '127.0.0.10', publicAddr: '192.0.2.30', stack: 'nginx' },
  { host: 'telemetry.testbed', addr: '127.0.0.15', publicAddr: '192.0.2.15', stack: 'nginx' },
];

/** The hosts on the namespaced network (netns.ts): each on its public address, so nothing in the capture says loopback. */
export function networkHosts(): TestbedHost[] {
  return TESTBED_HOSTS.map((h) => ({ ...h, addr: h.publicAddr }));
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
  private readonly seed: number;
  /** One generator per (client, host, path): what a request draws does not depend on how requests interleave. */
  private readonly streams = new Map<string, () => number>();
  private nextId = 1;
  requests = 0;
  readonly port: number;

  constructor(private readonly opts: TestbedAppsOptions = {}) {
    const certs = makeTestbedCerts(TESTBED_HOSTS.map((h) => h.host));
    this.spkiSha256 = certs.spkiSha256;
    this.caPem = certs.caPem;
    this.certPem = certs.certPem;
    this.keyPem = certs.keyPem;
    this.seed = opts.seed ?? 1;
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

  /**
   * The seeded generator of one stream of draws. Keyed by the client (X-Forwarded-For behind the front ends, the
   * peer address on loopback), the host and the path, so a user's n-th video manifest is the same in every run of a
   * seed, whatever the other users and the background timers did meanwhile.
   */
  private stream(key: string): () => number {
    let r = this.streams.get(key);
    if (r === undefined) {
      if (this.streams.size > 10_000) this.streams.clear();
      r = mulberry32(hashKey(`${this.seed} ${key}`));
      this.streams.set(key, r);
    }
    return r;
  }

  private upgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (!req.headers.host?.startsWith('chat.testbed') || req.url !== '/ws') {
      socket.destroy();
      return;
    }
    const random = this.stream(`${clientOf(req)} chat.testbed /ws`);
    this.wss.handleUpgrade(req, socket, head, (ws: WebSocket) => {
      // Messages from the user's contacts, pushed at log-normal intervals: the chat's traffic while another app is
      // in front (the page acknowledges each with a read receipt).
      let timer: NodeJS.Timeout;
      const incoming = () => {
        timer = setTimeout(() => {
          if (ws.readyState !== ws.OPEN) return;
          ws.send(JSON.stringify({ type: 'message', id: this.nextId++, text: this.filler(draw(SHAPES.chatWords.dist, random) * 6), at: Date.now() }));
          incoming();
        }, draw(SHAPES.incomingChatSec.dist, random) * 1000);
      };
      incoming();
      ws.on('close', () => clearTimeout(timer));
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
        this.route(host, req.method ?? 'GET', url, body, res, clientOf(req));
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

  private route(host: string, method: string, url: URL, body: Buffer, res: ServerResponse, client: string): void {
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
    const random = this.stream(`${client} ${host} ${path}`);
    const size = (max: number) => Math.max(0, Math.min(Number(url.searchParams.get('size')) || 0, max));
    switch (`${host} ${method} ${path}`) {
      case 'social.testbed POST /api/posts':
      case 'upload.social.testbed POST /api/photos':
      case 'social.testbed POST /api/comments':
      case 'video.testbed POST /api/comments':
      case 'media.chat.testbed POST /api/media':
      case 'mail.testbed POST /api/send':
        return this.json(res, { ok: true, id: this.nextId++, received: body.length });
      case 'social.testbed GET /api/feed':
        return this.json(res, {
          posts: Array.from({ length: draw(SHAPES.feedPosts.dist, random) }, (_, i) => ({ id: i, text: this.filler(draw(SHAPES.feedTextBytes.dist, random)), image: draw(SHAPES.feedImageBytes.dist, random) })),
        });
      case 'img.socialcdn.testbed GET /img':
        return this.bytes(res, size(SHAPES.feedImageBytes.dist.max), 'image/jpeg');
      case 'static.sharedcdn.testbed GET /lib.js':
      case 'static.sharedcdn.testbed GET /thumb':
        return this.bytes(res, size(2_000_000), path === '/thumb' ? 'image/jpeg' : 'text/javascript');
      case 'video.testbed GET /api/manifest':
        return this.json(res, { video: Math.floor(random() * 2 ** 31), segments: draw(SHAPES.videoSegmentsPerPlay.dist, random), segmentSec: VIDEO_SEGMENT_SEC, ladderKbps: VIDEO_LADDER_KBPS, startRung: VIDEO_START_RUNG, maxRung: VIDEO_MAX_RUNG, thumb: draw(SHAPES.feedImageBytes.dist, random) });
      case 'rr1.videoplayback.testbed GET /seg': {
        const q = (k: string) => Number(url.searchParams.get(k)) || 0;
        // The segment's size depends on the video, its rung and its number only: a property of the content.
        return this.bytes(res, segmentBytes(q('rung'), mulberry32(hashKey(`${this.seed} ${q('video')} ${q('rung')} ${q('n')}`))), 'video/mp4');
      }
      case 'mail.testbed GET /api/inbox':
      case 'mail.testbed GET /api/sync':
        return this.json(res, { mails: Array.from({ length: 2 + Math.floor(random() * 9) }, (_, i) => ({ id: i, subject: this.filler(20 + Math.floor(random() * 60)), snippet: this.filler(80 + Math.floor(random() * 120)) })) });
      case 'mail.testbed GET /api/mail': {
        const attachment = random() < 0.3 ? draw(SHAPES.attachmentBytes.dist, random) : 0;
        return this.json(res, { body: this.filler(draw(SHAPES.mailBodyBytes.dist, random)), attachment });
      }
      case 'attachments.mail.testbed GET /att':
        return this.bytes(res, size(SHAPES.attachmentBytes.dist.max), 'application/pdf');
      case 'telemetry.testbed POST /beacon':
        res.statusCode = 204;
        res.end();
        return;
    }
    res.statusCode = 404;
    res.end('not found');
  }
}
