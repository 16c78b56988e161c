import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { stopChild } from '../common/child.js';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TestbedHost } from './apps.js';

/**
 * Real TLS stacks in front of the testbed apps, in the servers' namespace, as real services terminate TLS in a
 * load balancer: Debian's caddy (Go's crypto/tls; HTTP/2, and HTTP/3 over QUIC announced by Alt-Svc) and Debian's
 * nginx (OpenSSL; HTTP/2, WebSocket upgrade passed through), each host on the stack TestbedHost.stack names. Each proxies to the app logic (plain HTTP, the Host header kept) on the servers' loopback.
 * Two stacks give two ServerHello fingerprints (JA3S) and both TCP and QUIC flows, as on the real Internet.
 */

export type Stack = TestbedHost['stack'];


export interface FrontendHost {
  host: string;
  /** Public address (the servers' namespace). */
  addr: string;
  /** The app logic behind it (host:port on the servers' loopback). */
  backend: string;
  /** Certificate and key of this address (one per service, so a certificate sent in the clear names only its own). */
  certPem: string;
  keyPem: string;
}

/** The certificate and key files of an address, written into `dir`. */
function tlsFiles(dir: string, h: FrontendHost): { cert: string; key: string } {
  const cert = join(dir, `${h.addr}.crt`);
  const key = join(dir, `${h.addr}.key`);
  writeFileSync(cert, h.certPem);
  writeFileSync(key, h.keyPem, { mode: 0o600 });
  return { cert, key };
}

function caddyfile(hosts: readonly FrontendHost[], port: number, dir: string): string {
  const blocks = hosts.map((h) => {
    const { cert, key } = tlsFiles(dir, h);
    return `https://${h.host}:${port} {\n\tbind ${h.addr}\n\ttls ${cert} ${key}\n\treverse_proxy ${h.backend}\n}\n`;
  });
  return `{\n\tadmin off\n\tauto_https off\n\tservers {\n\t\tprotocols h1 h2 h3\n\t}\n}\n\n${blocks.join('\n')}`;
}

function nginxConf(hosts: readonly FrontendHost[], port: number, dir: string): string {
  const byAddr = new Map<string, FrontendHost[]>();
  for (const h of hosts) byAddr.set(h.addr, [...(byAddr.get(h.addr) ?? []), h]);
  const servers = [...byAddr.entries()].map(([addr, hs]) => {
    const { cert, key } = tlsFiles(dir, hs[0]);
    return `  server {
    listen ${addr}:${port} ssl http2;
    server_name ${hs.map((h) => h.host).join(' ')};
    ssl_certificate ${cert};
    ssl_certificate_key ${key};
    # An older OpenSSL configuration, TLS 1.2 only, as many mail and enterprise servers still run: its ServerHello
    # (JA3S) differs from caddy's TLS 1.3 one, whose shape every TLS 1.3 server shares (version, cipher, 43-51).
    ssl_protocols TLSv1.2;
    location / {
      proxy_pass http://${hs[0].backend};
      proxy_http_version 1.1;
      proxy_set_header Host $host;
      proxy_set_header X-Forwarded-For $remote_addr;
      proxy_set_header Upgrade $http_upgrade;
      proxy_set_header Connection $connection_upgrade;
      proxy_read_timeout 3600s;
      proxy_buffering off;
      proxy_request_buffering off;
    }
  }`;
  });
  return `daemon off;
master_process off;
user root;
worker_processes 1;
pid ${join(dir, 'nginx.pid')};
error_log stderr warn;
events { worker_connections 1024; }
http {
  access_log off;
  client_max_body_size 64m;
  client_body_temp_path ${join(dir, 'body')};
  proxy_temp_path ${join(dir, 'proxy')};
  fastcgi_temp_path ${join(dir, 'fastcgi')};
  uwsgi_temp_path ${join(dir, 'uwsgi')};
  scgi_temp_path ${join(dir, 'scgi')};
  keepalive_timeout 75s;
  map $http_upgrade $connection_upgrade { default upgrade; '' close; }
${servers.join('\n')}
}
`;
}

/** The front ends of one testbed run; stop() ends them. */
export class Frontends {
  private constructor(private readonly children: Array<{ name: string; child: ChildProcess }>) {}

  static async start(netns: string, hosts: readonly FrontendHost[], stacks: ReadonlyMap<string, Stack>, port: number, dir: string): Promise<Frontends> {
    mkdirSync(dir, { recursive: true });
    const caddyHosts = hosts.filter((h) => stacks.get(h.host) === 'caddy');
    const nginxHosts = hosts.filter((h) => stacks.get(h.host) === 'nginx');
    const children: Array<{ name: string; child: ChildProcess }> = [];
    const fe = new Frontends(children);
    try {
      if (caddyHosts.length > 0) {
        const file = join(dir, 'Caddyfile');
        writeFileSync(file, caddyfile(caddyHosts, port, dir));
        const env = { ...process.env, HOME: dir, XDG_DATA_HOME: dir, XDG_CONFIG_HOME: dir };
        children.push({ name: 'caddy', child: spawn('ip', ['netns', 'exec', netns, '/usr/bin/caddy', 'run', '--config', file, '--adapter', 'caddyfile'], { stdio: ['ignore', 'ignore', 'pipe'], env }) });
      }
      if (nginxHosts.length > 0) {
        const file = join(dir, 'nginx.conf');
        writeFileSync(file, nginxConf(nginxHosts, port, dir));
        children.push({ name: 'nginx', child: spawn('ip', ['netns', 'exec', netns, '/usr/sbin/nginx', '-c', file, '-p', dir], { stdio: ['ignore', 'ignore', 'pipe'] }) });
      }
      await Promise.all(children.map((c) => listening(netns, c, [...new Set((c.name === 'caddy' ? caddyHosts : nginxHosts).map((h) => `${h.addr}:${port}`))])));
    } catch (e) {
      await fe.stop();
      throw e;
    }
    return fe;
  }

  async stop(): Promise<void> {
    await Promise.all(this.children.map(({ child }) => stopChild(child)));
  }
}

/** Wait until every address:port accepts TCP connections in the namespace (ss lists them), or the process dies. */
async function listening(netns: string, c: { name: string; child: ChildProcess }, want: string[], timeoutMs = 15_000): Promise<void> {
  let err = '';
  c.child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  const until = Date.now() + timeoutMs;
  for (;;) {
    if (c.child.exitCode !== null) throw new Error(`${c.name} exited with status ${c.child.exitCode}: ${err.trim()}`);
    const ss = execFileSync('ip', ['netns', 'exec', netns, 'ss', '-Hltn'], { encoding: 'utf8' });
    if (want.every((w) => ss.includes(w))) return;
    if (Date.now() > until) throw new Error(`${c.name} did not listen on ${want.join(', ')} within ${timeoutMs} ms: ${err.trim()}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}
