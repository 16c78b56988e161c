import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { chmodSync, existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CaptureProcess } from '../../src/capture/capture.js';
import { TESTBED_HOSTS, TestbedApps } from '../../src/testbed/apps.js';
import { CHROMIUM_FLAGS, freePort, sleep } from '../../src/testbed/driver.js';
import { cli } from '../helpers/cli.js';
import { tshark } from '../helpers/tshark.js';
import { tempDir } from '../helpers/temp.js';

/**
 * The proxy-host setup for real: Debian's tinyproxy on loopback, headless Chromium pointed at it with
 * --proxy-server, the capture taken on the proxy's side. Phones (here: Chromium) reach the apps through CONNECT
 * tunnels; the proxy's own upstream connections leave from its own address (tinyproxy's Bind, 127.0.0.2), which the
 * analysis excludes. tinyproxy resolves the apps' names itself, so it runs in a mount namespace whose /etc/hosts
 * (bind-mounted over the real one, which is never touched) maps the testbed names to their loopback addresses.
 */
const PROXY_OUT = '127.0.0.2';
const skip = !existsSync('/usr/bin/tinyproxy') && process.env.CI !== 'true' ? 'tinyproxy not installed (scripts/setup.sh installs it)' : false;

describe('capture on a proxy host', { skip }, () => {
  it('tunnelled flows get their app from the SNI after CONNECT, as tshark reads it; the proxy\'s upstream is excluded by address', { timeout: 120_000 }, async () => {
    const dir = tempDir('cipherscope-proxy-');
    chmodSync(dir, 0o777);
    const appPort = await freePort();
    const apps = new TestbedApps({ port: appPort, seed: 3 });
    await apps.start();
    const proxyPort = await freePort();
    const hosts = join(dir, 'hosts');
    writeFileSync(hosts, `127.0.0.1 localhost\n${TESTBED_HOSTS.map((h) => `${h.addr} ${h.host}`).join('\n')}\n`);
    const conf = join(dir, 'tinyproxy.conf');
    writeFileSync(
      conf,
      [`Port ${proxyPort}`, 'Listen 127.0.0.1', `Bind ${PROXY_OUT}`, 'Allow 127.0.0.1', `ConnectPort ${appPort}`, 'Timeout 30', 'MaxClients 50', 'LogLevel Error', `LogFile "${join(dir, 'tinyproxy.log')}"`, `PidFile "${join(dir, 'tinyproxy.pid')}"`, 'User nobody', 'Group nogroup', 'DisableViaHeader Yes'].join('\n') + '\n',
    );
    const capFile = join(dir, 'proxy.pcapng');
    const cap = await CaptureProcess.start({ kind: 'interface', iface: 'lo', tool: 'dumpcap', filter: `tcp port ${proxyPort} or host ${PROXY_OUT}` }, capFile);
    const proxy: ChildProcess = spawn('unshare', ['--mount', 'sh', '-c', `mount --bind ${hosts} /etc/hosts && exec /usr/bin/tinyproxy -d -c ${conf}`], { stdio: ['ignore', 'ignore', 'pipe'] });
    let proxyErr = '';
    proxy.stderr!.on('data', (d: Buffer) => (proxyErr += d.toString()));
    try {
      for (let i = 0; ; i++) {
        try {
          execFileSync('bash', ['-c', `exec 3<>/dev/tcp/127.0.0.1/${proxyPort}`], { stdio: 'ignore' });
          break;
        } catch {
          if (i > 50 || proxy.exitCode !== null) throw new Error(`tinyproxy did not start: ${proxyErr}`);
          await sleep(100);
        }
      }
      for (const page of ['social', 'video', 'mail']) {
        const host = TESTBED_HOSTS.find((h) => h.page === page)!.host;
        execFileSync('/usr/bin/chromium', [...CHROMIUM_FLAGS, `--proxy-server=http://127.0.0.1:${proxyPort}`, `--ignore-certificate-errors-spki-list=${apps.spkiSha256}`, '--virtual-time-budget=3000', '--dump-dom', `https://${host}:${appPort}/`], { stdio: 'pipe', timeout: 60_000 });
      }
      await sleep(500);
    } finally {
      proxy.kill('SIGTERM');
      await cap.stop();
      await apps.stop();
    }
    const flows = (args: string[]) => {
      const r = cli(['flows', capFile, '--apps', 'rules/testbed-apps.json', '--format', 'jsonl', '-q', ...args]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim().split('\n').map((l) => JSON.parse(l) as Record<string, string | number | null>);
    };
    const all = flows([]);
    const upstream = all.filter((f) => f.client_addr === PROXY_OUT);
    assert.ok(upstream.length > 0, 'the proxy made its own connections to the apps');
    const kept = flows(['--exclude-host', PROXY_OUT]);
    assert.equal(kept.length, all.length - upstream.length);
    assert.ok(kept.every((f) => f.client_addr !== PROXY_OUT && f.server_addr !== PROXY_OUT));
    // Every tunnelled TLS flow (client -> proxy port) carries the SNI that tshark reads inside the CONNECT tunnel,
    // and the app that SNI names.
    const tunnelled = kept.filter((f) => f.server_port === proxyPort && f.tls_sni);
    const sni = new Map(
      tshark(['-r', capFile, '-Y', `tcp.dstport==${proxyPort} && tls.handshake.type==1`, '-T', 'fields', '-e', 'tcp.srcport', '-e', 'tls.handshake.extensions_server_name'])
        .trim()
        .split('\n')
        .filter(Boolean)
        .map((l) => l.split('\t') as [string, string]),
    );
    assert.ok(sni.size > 0, 'tshark sees TLS inside the tunnels');
    assert.equal(tunnelled.length, sni.size);
    for (const f of tunnelled) {
      assert.equal(f.tls_sni, sni.get(String(f.client_port)), `SNI of the tunnel from port ${f.client_port}`);
      assert.equal(f.app, TESTBED_HOSTS.find((h) => h.host === f.tls_sni)?.app ?? null, String(f.tls_sni));
      assert.equal(f.app_evidence, f.app === null ? null : 'sni');
    }
    assert.deepEqual([...new Set(tunnelled.map((f) => f.app).filter(Boolean))].sort(), ['Mail', 'Social', 'Video']);
  });
});
