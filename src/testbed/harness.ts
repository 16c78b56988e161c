import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { CaptureProcess, type CaptureSource, toolVersion } from '../capture/capture.js';
import { mulberry32 } from '../common/rng.js';
import { AppMatcher, loadAppRules } from '../features/apps.js';
import { type ActionRecord, ActionLogWriter } from '../label/actions.js';
import { DEFAULT_LABEL_BURST_GAP_SEC, labelCapture, labeledColumns } from '../label/label-capture.js';
import type { LabelReport } from '../label/labeler.js';
import { openRecordWriter } from '../output/writers.js';
import { TESTBED_HOSTS, type TestbedHost, TestbedApps, chromiumTestbedArgs, networkHosts } from './apps.js';
import { AppsProcess } from './apps-process.js';
import { TESTBED_PORT, testbedCaptureFilter } from './constants.js';
import { CHROMIUM_FLAGS, ChromeDriverServer, StepRunner, sleep } from './driver.js';
import { LINK_PROFILES, type LinkProfile, type NetworkDevice, TestbedNetwork, expectedHandshakeRttMs, namespacesAvailable } from './netns.js';
import { DeviceBackground, type DeviceBackgroundReport, OS_HOSTS, OsServices } from './os-background.js';
import { RESOLVER_ADDR, Resolver } from './resolver.js';
import { hashKey } from './shapes.js';
import { makeTestbedCerts } from './certs.js';
import { Frontends } from './frontends.js';
import type { Scenario, Step } from './scenario.js';

/** Port of the app logic behind the TLS front ends (the servers' loopback). */
const BACKEND_PORT = 8080;

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '../..');
export const TESTBED_RULES = join(ROOT, 'rules/testbed-apps.json');

export interface TestbedRunOptions {
  scenario: Scenario;
  scenarioPath: string;
  out: string;
  seed: number;
  capture: CaptureSource;
  /** A WebDriver server to use (Appium); default: start chromedriver. */
  webdriverUrl?: string;
  chromedriver?: string;
  chromium?: string;
  /** Override the scenario's users / repetitions (smaller runs). */
  users?: number;
  repetitions?: number;
  /** Port of the testbed apps (default 8443). */
  port?: number;
  /**
   * Where the built-in apps and browsers run: "netns" (a network namespace per device, an access point namespace
   * whose device-side interfaces are captured, the apps in a servers' namespace: netns.ts), "loopback" (everything
   * on lo), or "auto" (netns where namespaces can be made, else loopback; the manifest says which). Default
   * "loopback" for library callers; `cipherscope testbed run` asks for "auto".
   */
  network?: 'netns' | 'loopback' | 'auto';
  /** Link profile of the device links in netns mode (LINK_PROFILES: wifi, lte, none; default wifi). */
  link?: string;
  onProgress?: (done: number, total: number, a: ActionRecord) => void;
}

export interface TestbedRunResult {
  dir: string;
  actions: number;
  records: number;
  report: LabelReport;
  wallSec: number;
}

/**
 * Nanoseconds since the epoch on the capture's clock: the realtime clock read once, advanced by the monotonic
 * clock, so the action log never jumps when NTP slews the wall clock. Capture and driver run on the same host.
 */
function epochClock(): () => bigint {
  const epoch0 = BigInt(Date.now()) * 1_000_000n;
  const hr0 = process.hrtime.bigint();
  return () => epoch0 + (process.hrtime.bigint() - hr0);
}

/** The action plan: every class `repetitions` times, dealt round-robin to users, shuffled per user (seeded). */
export function plan(s: Scenario, users: number, repetitions: number, random: () => number): number[][] {
  const perUser: number[][] = Array.from({ length: users }, () => []);
  let k = 0;
  for (let r = 0; r < repetitions; r++) for (let a = 0; a < s.actions.length; a++) perUser[k++ % users].push(a);
  for (const list of perUser) {
    for (let i = list.length - 1; i > 0; i--) {
      const j = Math.floor(random() * (i + 1));
      [list[i], list[j]] = [list[j], list[i]];
    }
  }
  return perUser;
}

/**
 * The namespaced network and its servers: the namespaces (netns.ts), the resolver, the app logic on the servers'
 * loopback and the TLS front ends on the public addresses, one certificate per service address. `stop` ends them
 * and removes the namespaces, also when starting failed half-way.
 */
async function startNetwork(users: number, hosts: readonly TestbedHost[], profile: LinkProfile, seed: number, port: number, dir: string): Promise<{ net: TestbedNetwork; spki: string; stop(): Promise<void> }> {
  const net = await TestbedNetwork.create({ devices: users, serverAddrs: [...new Set([...hosts, ...OS_HOSTS].map((h) => h.addr)), RESOLVER_ADDR], resolver: RESOLVER_ADDR, profile });
  let resolver: Resolver | undefined;
  let apps: AppsProcess | undefined;
  let frontends: Frontends | undefined;
  let os: OsServices | undefined;
  const stop = async () => {
    await os?.stop();
    await frontends?.stop();
    await apps?.stop();
    await resolver?.stop();
    await net.destroy();
  };
  try {
    resolver = await Resolver.start(net.servers, [...hosts, ...OS_HOSTS]);
    os = await OsServices.start(net.servers, seed);
    apps = await AppsProcess.start(net.servers, { seed, port: BACKEND_PORT, hosts: TESTBED_HOSTS, behindProxy: true });
    const certs = new Map([...new Set(hosts.map((h) => h.addr))].map((addr) => [addr, makeTestbedCerts(hosts.filter((h) => h.addr === addr).map((h) => h.host))]));
    const backendOf = new Map(TESTBED_HOSTS.map((h) => [h.host, `${h.addr}:${BACKEND_PORT}`]));
    const front = hosts.map((h) => ({ host: h.host, addr: h.addr, backend: backendOf.get(h.host)!, certPem: certs.get(h.addr)!.certPem, keyPem: certs.get(h.addr)!.keyPem }));
    frontends = await Frontends.start(net.servers, front, new Map(hosts.map((h) => [h.host, h.stack])), port, dir);
    return { net, spki: [...certs.values()].map((c) => c.spkiSha256).join(','), stop };
  } catch (e) {
    await stop();
    throw e;
  }
}

export async function runTestbed(o: TestbedRunOptions): Promise<TestbedRunResult> {
  const started = Date.now();
  const s = o.scenario;
  const users = o.users ?? s.users;
  const reps = o.repetitions ?? s.repetitions;
  mkdirSync(o.out, { recursive: true });
  const dir = resolve(o.out);
  const capFile = join(dir, o.capture.kind === 'adb' || o.capture.tool === 'tcpdump' ? 'capture.pcap' : 'capture.pcapng');
  const tmp = mkdtempSync(join(tmpdir(), 'cipherscope-testbed-'));
  const random = mulberry32(o.seed);
  const now = epochClock();
  const log = new ActionLogWriter(join(dir, 'actions.jsonl'));
  const done: ActionRecord[] = [];
  const wanted = s.target !== 'testbed' ? 'loopback' : (o.network ?? 'loopback');
  const mode = wanted === 'auto' ? (namespacesAvailable() ? 'netns' : 'loopback') : wanted;
  const profile = LINK_PROFILES[o.link ?? 'wifi'];
  if (profile === undefined) throw new Error(`link profile ${o.link}: one of ${Object.keys(LINK_PROFILES).join(', ')}`);
  const hosts: readonly TestbedHost[] = mode === 'netns' ? networkHosts() : TESTBED_HOSTS;
  const port = o.port ?? TESTBED_PORT;
  let apps: TestbedApps | undefined;
  let net: TestbedNetwork | undefined;
  let stopNetwork: (() => Promise<void>) | undefined;
  let spki = '';
  let driver: ChromeDriverServer | undefined;
  let capture: CaptureProcess | undefined;
  const schedule = plan(s, users, reps, random);
  const total = schedule.reduce((n, l) => n + l.length, 0);
  const backgrounds: DeviceBackgroundReport[] = [];
  try {
    let source: CaptureSource = o.capture;
    if (mode === 'netns') {
      // Every packet that crosses the access point toward the devices, whatever its address (the devices' own and
      // background traffic included), on the device-side interfaces.
      if (o.capture.kind !== 'interface') throw new Error('the namespaced testbed captures on its access point: give an interface capture (the tool is used, the interface is the access point\'s)');
      const servers = await startNetwork(users, hosts, profile, o.seed, port, join(tmp, 'frontends'));
      net = servers.net;
      stopNetwork = servers.stop;
      spki = servers.spki;
      source = { kind: 'interface', iface: net.devices.map((d) => d.apIface).join(','), tool: o.capture.tool === 'tcpdump' && users > 1 ? 'dumpcap' : o.capture.tool, filter: o.capture.filter, netns: net.ap };
    } else if (s.target === 'testbed') {
      apps = new TestbedApps({ seed: o.seed, port });
      await apps.start();
      spki = apps.spkiSha256;
      // On lo the testbed's own addresses only, unless a filter ("" for none) is given.
      if (o.capture.kind === 'interface' && o.capture.iface === 'lo' && o.capture.filter === undefined) source = { ...o.capture, filter: testbedCaptureFilter(port) };
    }
    capture = await CaptureProcess.start(source, capFile);
    let url = o.webdriverUrl;
    if (url === undefined && mode === 'loopback') {
      driver = await ChromeDriverServer.start(o.chromedriver);
      url = driver.url;
    }
    const pages = [...new Set(s.actions.map((a) => a.page))];
    // Sequence numbers from the plan, not from completion order: the same seed numbers the same actions alike.
    const seqBase = schedule.map((_, u) => schedule.slice(0, u).reduce((n, l) => n + l.length, 0));
    const session = async (u: number) => {
      const user = `user${u + 1}`;
      // Each user draws from a generator of its own: think times, words and uploads do not depend on how the
      // users' actions interleave.
      const userRandom = mulberry32(hashKey(`${o.seed} ${user}`));
      // Namespaced: each user is a device of its own, with its own address, WebDriver server and background.
      const device: NetworkDevice | undefined = net?.devices[u];
      let own: ChromeDriverServer | undefined;
      let background: DeviceBackground | undefined;
      if (device) {
        own = await ChromeDriverServer.start(o.chromedriver, { ns: device.ns, host: device.mgmtAddr, client: device.mgmtRootAddr });
        background = await DeviceBackground.start(device.ns, { seed: hashKey(`${o.seed} ${user} background`) });
      }
      const caps: Record<string, unknown> =
        s.target === 'testbed'
          ? { browserName: 'chrome', 'goog:chromeOptions': { binary: o.chromium ?? '/usr/bin/chromium', args: [...CHROMIUM_FLAGS, ...chromiumTestbedArgs(spki, mode === 'netns' ? 'dns' : hosts, port), `--user-data-dir=${join(tmp, user)}`] } }
          : { ...(s.capabilities ?? {}) };
      try {
        const runner = await StepRunner.connect(own?.url ?? url!, caps, s, userRandom, tmp, port);
        try {
          await runner.openPages(pages);
          await sleep(1500); // page loads settle: their flows end before the first action
          const count = new Map<number, number>();
          for (const [k, ai] of schedule[u].entries()) {
            const a = s.actions[ai];
            await runner.show(a.page);
            await sleep(runner.between(s.thinkMs));
            const startNs = now();
            await runAction(runner, a.steps, `${user} ${a.app}/${a.action}`);
            const endNs = now();
            const rec: ActionRecord = {
              user,
              device: s.target === 'testbed' ? `chromium-${user}` : String(caps['appium:udid'] ?? caps['appium:deviceName'] ?? 'device'),
              app: a.app,
              action: a.action,
              startNs,
              endNs,
              scenario: s.name,
              repetition: count.get(ai) ?? 0,
              seq: seqBase[u] + k,
              // A device of its own: its actions label only its flows.
              ...(device ? { clientAddr: device.addr } : {}),
            };
            count.set(ai, rec.repetition + 1);
            log.write(rec);
            done.push(rec);
            o.onProgress?.(done.length, total, rec);
          }
          await sleep(runner.between(s.thinkMs));
        } finally {
          await runner.close().catch(() => undefined);
        }
      } finally {
        await own?.stop();
        if (background) backgrounds.push(await background.stop());
      }
    };
    // Devices act at the same time, as phones on one access point do; on loopback (one address for every user)
    // users take turns, so the action log's windows still say whose flow is whose.
    if (net) {
      // Every session ends (its browser and background stopped) before the network goes; the first failure is thrown.
      const failed = (await Promise.allSettled(schedule.map((_, u) => session(u)))).find((r) => r.status === 'rejected');
      if (failed) throw (failed as PromiseRejectedResult).reason;
    }
    else for (let u = 0; u < users; u++) await session(u);
    await sleep(1500); // last responses and FIN/ACKs reach the capture
  } finally {
    log.close();
    await capture?.stop();
    await driver?.stop();
    await apps?.stop();
    await stopNetwork?.();
    rmSync(tmp, { recursive: true, force: true });
  }

  // Label the capture with the actions just logged.
  const actions = done.length;
  const rules = s.rules ? resolve(dirname(o.scenarioPath), s.rules) : TESTBED_RULES;
  const writer = openRecordWriter('csv', join(dir, 'flows.csv'), labeledColumns());
  const result = await labelCapture(capFile, done, { apps: new AppMatcher(loadAppRules(rules)) }, (row) => writer.write(row));
  await writer.close();
  writeFileSync(join(dir, 'label-report.json'), JSON.stringify(result.report, null, 2) + '\n');
  const wallSec = (Date.now() - started) / 1000;
  const pkg = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string };
  const manifest = {
    what:
      s.target === 'testbed'
        ? `A labeled dataset from the cipherscope testbed: local HTTPS apps ${mode === 'netns' ? 'in a servers\' network namespace, reached by each simulated device through an access point namespace where the capture is taken' : 'on loopback addresses'} that imitate the shape of social, video, chat and mail traffic. It is a testbed, not the real apps: do not report results on it as results on Facebook, YouTube, WhatsApp or Gmail.`
        : 'A labeled dataset scripted over WebDriver on a real device or browser.',
    scenario: s.name,
    scenario_file: o.scenarioPath,
    seed: o.seed,
    users,
    repetitions_per_action: reps,
    actions,
    records: result.report.records,
    capture: { file: capFile, command: capture?.command },
    clock: 'Action times: the host realtime clock read once at start, advanced by the monotonic clock (process.hrtime); packets: the kernel timestamps of the capture on the same host.',
    determinism:
      'The seed fixes the plan (which actions, in which order, per user), think times, typed words, upload sizes, and the content each request draws (feeds, manifests, mails: per client, host and path). Not fixed: network timing (the radio\'s jitter, scheduling on this machine), hence how actions of concurrent devices interleave, which background requests fall inside an action, the video player\'s bitrate rung (it follows measured throughput) and how connections are reused or moved to QUIC.',
    labeling: { burst_gap_sec: DEFAULT_LABEL_BURST_GAP_SEC, rules, report: 'label-report.json' },
    hosts: s.target === 'testbed' ? hosts : undefined,
    network:
      s.target !== 'testbed'
        ? undefined
        : mode === 'netns'
          ? { mode, asked: wanted, namespaces: `cs${net?.id}-*`, link: profile, shaping: net?.shaping, mtu: 1500, resolver: `dnsmasq on ${RESOLVER_ADDR}: the app names, NXDOMAIN for every other`, expected_handshake_rtt_ms: expectedHandshakeRttMs(profile), servers: Object.fromEntries(hosts.map((h) => [h.host, h.stack === 'caddy' ? `caddy (Go crypto/tls; HTTP/2, HTTP/3 over QUIC${h.quic ? ' from the first connection' : ' after Alt-Svc'})` : 'nginx (OpenSSL, TLS 1.2; HTTP/2)'])), devices: net?.devices.map((d, i) => ({ user: `user${i + 1}`, addr: d.addr })), concurrent_devices: true, os_background: { hosts: OS_HOSTS, per_device: backgrounds }, capture_point: 'the access point namespace, its device-side interfaces' }
          : { mode, asked: wanted, why: wanted === 'auto' ? 'network namespaces cannot be made here (root and iproute2 are needed): everything ran on the loopback interface' : 'asked for', capture_point: 'the loopback interface' },
    tools: {
      cipherscope: pkg.version,
      node: process.version,
      chromium: s.target === 'testbed' ? toolVersion(o.chromium ?? '/usr/bin/chromium') : undefined,
      chromedriver: o.webdriverUrl === undefined ? toolVersion(o.chromedriver ?? '/usr/bin/chromedriver') : undefined,
      capture: o.capture.kind === 'interface' ? toolVersion(o.capture.tool ?? capture?.command[0] ?? 'dumpcap', ['--version']) : 'adb exec-out tcpdump',
    },
    wall_sec: wallSec,
    written: new Date().toISOString(),
  };
  writeFileSync(join(dir, 'manifest.json'), JSON.stringify(manifest, null, 2) + '\n');
  return { dir, actions, records: result.report.records, report: result.report, wallSec };
}

/** What a testbed page shows when the browser could not reach the server at all (no HTTP response). */
const NETWORK_FAILURE = /: error TypeError: Failed to fetch$/;

/**
 * An action's steps, once more from the start when the page says the browser got no response at all (a keep-alive
 * connection the server closed just as the browser reused it): a person taps again, and a long run is not lost to
 * one such race. The action's window spans both tries, so the first try's traffic is labeled with it too. Any other
 * failure, and a second network failure, ends the run.
 */
export async function runAction(runner: Pick<StepRunner, 'run'>, steps: readonly Step[], what: string): Promise<void> {
  try {
    for (const step of steps) await runner.run(step);
  } catch (e) {
    if (!NETWORK_FAILURE.test((e as Error).message)) throw e;
    process.stderr.write(`cipherscope testbed: ${what}: ${(e as Error).message}; the action runs once more\n`);
    for (const step of steps) await runner.run(step);
  }
}
