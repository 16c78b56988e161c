import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { childReady, stopChild } from '../common/child.js';

/**
 * The testbed's network: what a phone on Wi-Fi looks like to the access point that serves it (the seed paper's
 * "authoritative/compromised access point serving a targeted device"), built from Linux network namespaces.
 *
 *   device 1 ns wlan0 ─(radio: air)─ ap1 ┐
 *   device 2 ns wlan0 ─(radio: air)─ ap2 ┤ access point ns ─(radio: wan)─ servers ns (the apps' public addresses)
 *   ...                                  ┘  (routes, 1,500-byte MTU; the capture is taken on ap1, ap2, ...)
 *
 * "(radio)" is a link through the radio's namespace, where radio.py delays, jitters, drops and rate-limits each
 * frame as the link profile says (a plain veth pair when the profile shapes nothing).
 *
 * Each device has its own address, its own default route through the access point, and its own resolver file
 * (/etc/netns/NS/resolv.conf, which `ip netns exec` mounts over /etc/resolv.conf). A management link per device
 * (root ns to device ns, a /30 of 169.254.0.0/16) carries only the WebDriver session, as USB carries adb to a real
 * phone: it never crosses the access point, so it is never in the capture. Namespaces and management links are
 * named after a per-run id, so two testbeds on one machine never see each other's packets.
 */

/** Shape of one link, the same each direction. */
export interface LinkShape {
  /** One-way delay (ms) and the standard deviation of its normal jitter (ms). */
  delayMs: number;
  jitterMs: number;
  /** Frames lost at random (%). */
  lossPct: number;
  /** Rate (Mbit/s); 0 = unlimited. */
  rateMbit: number;
}

/**
 * A link profile: the radio link between each device and the access point, and the access point's uplink to the
 * servers (the Internet path to a nearby CDN edge). Applied by the testbed's radio (radio.py), not tc netem, which
 * this kernel and many CI kernels lack. A TCP handshake seen at the access point takes about
 * 2 x (air delay + wan delay): expectedHandshakeRttMs.
 */
export interface LinkProfile {
  name: string;
  air: LinkShape;
  wan: LinkShape;
  source: string;
}

const FLAT: LinkShape = { delayMs: 0, jitterMs: 0, lossPct: 0, rateMbit: 0 };

export const LINK_PROFILES: Record<string, LinkProfile> = {
  none: { name: 'none', air: FLAT, wan: FLAT, source: 'no shaping: plain veth pairs, no radio' },
  wifi: {
    name: 'wifi',
    air: { delayMs: 3, jitterMs: 1.5, lossPct: 0, rateMbit: 50 },
    wan: { delayMs: 8, jitterMs: 1, lossPct: 0, rateMbit: 0 },
    source:
      'a home 802.11n/ac link to a fixed-line ISP: a few ms of air time each way (802.11 retries hide radio loss from IP), tens of Mbit/s, a CDN edge about 16 ms away; round trip about 22 ms. Chosen to be typical, not measured here',
  },
  lte: {
    name: 'lte',
    air: { delayMs: 20, jitterMs: 6, lossPct: 0.1, rateMbit: 20 },
    wan: { delayMs: 8, jitterMs: 1, lossPct: 0, rateMbit: 0 },
    source: 'LTE radio access: about 20 ms each way over the air and core (LTE round trips are typically near 50 ms), 0.1 % loss, 20 Mbit/s; round trip about 56 ms. Chosen to be typical, not measured here',
  },
};

/** The round trip a TCP handshake takes at the access point under a profile (ms), jitter and queueing aside. */
export function expectedHandshakeRttMs(p: LinkProfile): number {
  return 2 * (p.air.delayMs + p.wan.delayMs);
}

const shaped = (s: LinkShape) => s.delayMs > 0 || s.jitterMs > 0 || s.lossPct > 0 || s.rateMbit > 0;

export class TestbedNetworkError extends Error {}

export interface NetworkDevice {
  /** Namespace of the device (its browser runs here). */
  ns: string;
  /** The device's address on its link, as the access point sees it. */
  addr: string;
  /** The access point's interface toward this device (in the access point's namespace). */
  apIface: string;
  /** The WebDriver server of this device listens here (management link, root side reaches it). */
  mgmtAddr: string;
  mgmtRootAddr: string;
}

export interface NetworkOptions {
  devices: number;
  /** Public addresses the servers' namespace answers on (the apps' addresses). */
  serverAddrs: readonly string[];
  /** Resolver for the devices (written to their resolv.conf); default: the first server address. */
  resolver?: string;
  profile?: LinkProfile;
  /** Run id in namespace names (default: from the process id and time). */
  id?: string;
}

const MTU = 1500;
let made = 0;
const RADIO_SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '../../src/testbed/radio.py');

function run(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new TestbedNetworkError(`${cmd} ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** Whether network namespaces can be made here (root, iproute2). */
export function namespacesAvailable(): boolean {
  const probe = `csprobe${process.pid.toString(36)}`;
  try {
    execFileSync('ip', ['netns', 'add', probe], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'del', probe], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
  }
}

/** One end of a veth pair: its namespace (undefined: the root namespace) and name. */
interface End {
  ns?: string;
  name: string;
}

/** Counters of one direction of a radio link, as radio.py reports them when it stops. */
export interface RadioCounts {
  frames: number;
  bytes: number;
  lost: number;
  queue_drops: number;
  send_errors: number;
}

export class TestbedNetwork {
  readonly ap: string;
  readonly servers: string;
  /** Namespace of the radio links (radio.py), when the profile shapes anything. */
  readonly radio: string;
  readonly devices: NetworkDevice[] = [];
  /** What the link profile applied, and how (the radio's counters once the network is destroyed). */
  readonly shaping: { profile: string; applied: string[]; by: string; counts?: Record<string, RadioCounts> };
  private readonly namespaces: string[] = [];
  private radioChild: ChildProcess | undefined;
  private radioOut: () => string = () => '';

  private constructor(
    readonly id: string,
    readonly profile: LinkProfile,
  ) {
    this.ap = `cs${id}-ap`;
    this.servers = `cs${id}-srv`;
    this.radio = `cs${id}-air`;
    this.shaping = { profile: profile.name, applied: [], by: 'nothing: plain veth pairs' };
  }

  /** Build the namespaces, links, addresses, routes and radio; undone by destroy() (also when building fails). */
  static async create(o: NetworkOptions): Promise<TestbedNetwork> {
    if (o.devices < 1 || o.devices > 60) throw new TestbedNetworkError(`devices: ${o.devices}: 1 to 60`);
    // Unique per process (its id) and per network made in it (a counter): names of 2 testbeds never meet.
    const id = o.id ?? (process.pid % 46656).toString(36).padStart(3, '0') + (made++ % 1296).toString(36).padStart(2, '0');
    const net = new TestbedNetwork(id, o.profile ?? LINK_PROFILES.none);
    try {
      const links = net.build(o);
      if (links.length > 0) await net.startRadio(links);
    } catch (e) {
      await net.destroy();
      throw e;
    }
    return net;
  }

  private addNs(name: string): void {
    run('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }

  /**
   * A veth pair with one end in each namespace, up, with the MTU and no segmentation offload; with `softwareCsum`,
   * checksums computed when sent (no offload), which frames relayed by the radio need: a checksum left for the
   * hardware to fill in never gets filled in once the frame has been read from a packet socket and written again.
   */
  private veth(a: End, b: End, softwareCsum: boolean): void {
    const args = [...(a.ns ? ['-n', a.ns] : []), 'link', 'add', a.name, 'mtu', String(MTU), 'type', 'veth', 'peer', 'name', b.name, 'mtu', String(MTU), ...(b.ns ? ['netns', b.ns] : [])];
    run('ip', args);
    for (const end of [a, b]) {
      // GSO/GRO would hand the capture 64 kB super-packets that never exist on a Wi-Fi link: one MTU per segment.
      run('ip', [...(end.ns ? ['-n', end.ns] : []), 'link', 'set', end.name, 'gso_max_size', String(MTU), 'gso_max_segs', '1', 'gro_max_size', String(MTU), 'up']);
      const ethtool = ['ethtool', '-K', end.name, 'tx', 'off', 'rx', 'off', 'gro', 'off'];
      if (softwareCsum) run(end.ns ? 'ip' : ethtool[0], end.ns ? ['netns', 'exec', end.ns, ...ethtool] : ethtool.slice(1));
    }
  }

  /**
   * A link between two namespaces: a plain veth pair, or, when `shape` shapes anything, two pairs through the radio's
   * namespace whose ends there (no address) radio.py relays. Returns the radio link, if any.
   */
  private link(a: End, b: End, shape: LinkShape, name: string, radioPorts: [string, string]): RadioLink | undefined {
    if (!shaped(shape)) {
      this.veth(a, b, false);
      return undefined;
    }
    this.veth(a, { ns: this.radio, name: radioPorts[0] }, true);
    this.veth({ ns: this.radio, name: radioPorts[1] }, b, true);
    const s = { delay_ms: shape.delayMs, jitter_ms: shape.jitterMs, loss_pct: shape.lossPct, rate_mbit: shape.rateMbit };
    return { name, a: radioPorts[0], b: radioPorts[1], ab: s, ba: s };
  }

  private build(o: NetworkOptions): RadioLink[] {
    const ap = this.ap;
    const srv = this.servers;
    const p = this.profile;
    const links: RadioLink[] = [];
    this.addNs(ap);
    this.addNs(srv);
    if (shaped(p.air) || shaped(p.wan)) {
      this.addNs(this.radio);
      // The radio's ports carry others' frames only: no IPv6 link-local address, so no neighbour discovery of its own.
      run('ip', ['netns', 'exec', this.radio, 'sysctl', '-q', '-w', 'net.ipv6.conf.all.disable_ipv6=1', 'net.ipv6.conf.default.disable_ipv6=1']);
    }
    const wan = this.link({ ns: ap, name: 'wan' }, { ns: srv, name: 'wan' }, p.wan, 'wan', ['wan-ap', 'wan-srv']);
    if (wan) links.push(wan);
    run('ip', ['-n', ap, 'addr', 'add', '10.255.0.1/30', 'dev', 'wan']);
    run('ip', ['-n', srv, 'addr', 'add', '10.255.0.2/30', 'dev', 'wan']);
    for (const a of o.serverAddrs) {
      run('ip', ['-n', srv, 'addr', 'add', `${a}/32`, 'dev', 'lo']);
      run('ip', ['-n', ap, 'route', 'replace', `${a}/32`, 'via', '10.255.0.2']);
    }
    run('ip', ['-n', srv, 'route', 'add', '10.0.0.0/16', 'via', '10.255.0.1']);
    run('ip', ['netns', 'exec', ap, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    const mgmtNet = freeLinkLocalOctet();
    for (let i = 1; i <= o.devices; i++) {
      const ns = `cs${this.id}-d${i}`;
      this.addNs(ns);
      const air = this.link({ ns, name: 'wlan0' }, { ns: ap, name: `ap${i}` }, p.air, `device ${i}`, [`d${i}`, `a${i}`]);
      if (air) links.push(air);
      run('ip', ['-n', ns, 'addr', 'add', `10.0.${i}.2/24`, 'dev', 'wlan0']);
      run('ip', ['-n', ap, 'addr', 'add', `10.0.${i}.1/24`, 'dev', `ap${i}`]);
      run('ip', ['-n', ns, 'route', 'add', 'default', 'via', `10.0.${i}.1`]);
      const root = `cs${this.id}m${i}`;
      this.veth({ name: root }, { ns, name: 'usb0' }, false);
      const base = (i - 1) * 4;
      run('ip', ['addr', 'add', `169.254.${mgmtNet}.${base + 1}/30`, 'dev', root]);
      run('ip', ['-n', ns, 'addr', 'add', `169.254.${mgmtNet}.${base + 2}/30`, 'dev', 'usb0']);
      const dir = join('/etc/netns', ns);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'resolv.conf'), `nameserver ${o.resolver ?? o.serverAddrs[0]}\n`);
      this.devices.push({ ns, addr: `10.0.${i}.2`, apIface: `ap${i}`, mgmtAddr: `169.254.${mgmtNet}.${base + 2}`, mgmtRootAddr: `169.254.${mgmtNet}.${base + 1}` });
    }
    const say = (where: string, s: LinkShape) =>
      shaped(s) && this.shaping.applied.push(`${where}: ${s.delayMs} ms +- ${s.jitterMs} ms each way, ${s.lossPct} % loss, ${s.rateMbit > 0 ? `${s.rateMbit} Mbit/s` : 'no rate limit'}`);
    say('device links (air)', p.air);
    say('access point to servers (wan)', p.wan);
    if (links.length > 0) this.shaping.by = `radio.py in ${this.radio}: a user-space delay line (this kernel has no tc netem)`;
    return links;
  }

  private async startRadio(links: RadioLink[]): Promise<void> {
    // At a higher priority (nice -10): the delay it adds is only as exact as it is scheduled, and the browsers,
    // servers and capture around it compete for the same cores.
    const child = spawn('ip', ['netns', 'exec', this.radio, 'nice', '-n', '-10', '/usr/bin/python3', RADIO_SCRIPT, JSON.stringify({ seed: 1, links })], { stdio: ['ignore', 'pipe', 'pipe'] });
    this.radioChild = child;
    try {
      this.radioOut = await childReady(child, 'radio.py', 10_000);
    } catch (e) {
      throw new TestbedNetworkError((e as Error).message);
    }
  }

  /** The command line that runs `cmd` inside namespace `ns`. */
  static inNs(ns: string, cmd: string[]): string[] {
    return ['ip', 'netns', 'exec', ns, ...cmd];
  }

  /** Stop the radio (its counters go to `shaping.counts`), delete every namespace (their links go with them), the management links and the resolver files. */
  async destroy(): Promise<void> {
    if (this.radioChild) {
      await stopChild(this.radioChild);
      this.radioChild = undefined;
      const last = this.radioOut().trim().split('\n').pop() ?? '';
      try {
        if (last.startsWith('{')) this.shaping.counts = JSON.parse(last) as Record<string, RadioCounts>;
      } catch {
        // a radio killed before it could report: no counters
      }
    }
    for (const ns of this.namespaces.splice(0).reverse()) {
      try {
        execFileSync('ip', ['netns', 'del', ns], { stdio: 'ignore' });
      } catch {
        // already gone
      }
      rmSync(join('/etc/netns', ns), { recursive: true, force: true });
    }
  }
}

interface RadioLink {
  name: string;
  a: string;
  b: string;
  ab: { delay_ms: number; jitter_ms: number; loss_pct: number; rate_mbit: number };
  ba: { delay_ms: number; jitter_ms: number; loss_pct: number; rate_mbit: number };
}

/** A third octet of 169.254.X.0/24 that no interface of the root namespace uses yet. */
function freeLinkLocalOctet(): number {
  const used = new Set([...run('ip', ['-4', '-o', 'addr', 'show']).matchAll(/inet 169\.254\.(\d+)\./g)].map((m) => Number(m[1])));
  for (let x = 1 + (process.pid % 200); x < 1 + (process.pid % 200) + 250; x++) {
    const k = (x % 253) + 1;
    if (!used.has(k)) return k;
  }
  throw new TestbedNetworkError('no free 169.254.X.0/24 for the management links');
}
