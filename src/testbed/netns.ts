import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';

/**
 * The testbed's network: what a phone on Wi-Fi looks like to the access point that serves it (the seed paper's
 * "authoritative/compromised access point serving a targeted device"), built from Linux network namespaces.
 *
 *   device 1 ns ──veth d/ap1──┐
 *   device 2 ns ──veth d/ap2──┤ access point ns ──veth wan── servers ns (the apps' public addresses)
 *   ...                       ┘  (routes, 1,500-byte MTU, link profile; the capture is taken here)
 *
 * Each device has its own address, its own default route through the access point, and its own resolver file
 * (/etc/netns/NS/resolv.conf, which `ip netns exec` mounts over /etc/resolv.conf). A management link per device
 * (root ns to device ns, a /30 of 169.254.0.0/16) carries only the WebDriver session, as USB carries adb to a real
 * phone: it never crosses the access point, so it is never in the capture. Namespaces and management links are
 * named after a per-run id, so two testbeds on one machine never see each other's packets.
 */

/** Link shape between each device and the access point. */
export interface LinkProfile {
  name: string;
  /** One-way delay added on the device link, each direction (ms), and its jitter (ms). Needs tc netem. */
  delayMs: number;
  jitterMs: number;
  /** Packet loss each direction (%). Needs tc netem. */
  lossPct: number;
  /** Rate of the device link each direction (Mbit/s; tc tbf); 0 = unlimited. */
  rateMbit: number;
  source: string;
}

export const LINK_PROFILES: Record<string, LinkProfile> = {
  none: { name: 'none', delayMs: 0, jitterMs: 0, lossPct: 0, rateMbit: 0, source: 'no shaping: the veth pair as it is' },
  wifi: { name: 'wifi', delayMs: 4, jitterMs: 2, lossPct: 0, rateMbit: 50, source: 'a home 802.11n/ac link: a few ms of air time each way, tens of Mbit/s (Ookla Speedtest global median fixed broadband, 2024, rounded down)' },
  lte: { name: 'lte', delayMs: 25, jitterMs: 8, lossPct: 0.1, rateMbit: 20, source: 'LTE radio access: 20-30 ms one way (3GPP TR 36.913 targets; OpenSignal 2023 LTE latency medians near 50 ms round trip), 20 Mbit/s' },
};

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

function run(cmd: string, args: readonly string[]): string {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] });
  } catch (e) {
    const err = e as { stderr?: string; message: string };
    throw new TestbedNetworkError(`${cmd} ${args.join(' ')}: ${(err.stderr ?? err.message).trim()}`);
  }
}

/** Whether this kernel has the netem queueing discipline (tc netem delay/loss). */
export function haveNetem(ns: string, iface: string): boolean {
  try {
    execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'add', 'dev', iface, 'root', 'netem', 'delay', '1ms'], { stdio: 'ignore' });
    execFileSync('ip', ['netns', 'exec', ns, 'tc', 'qdisc', 'del', 'dev', iface, 'root'], { stdio: 'ignore' });
    return true;
  } catch {
    return false;
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

export class TestbedNetwork {
  readonly ap: string;
  readonly servers: string;
  readonly devices: NetworkDevice[] = [];
  /** What the link profile could apply on this kernel (netem may be missing). */
  readonly shaping: { profile: string; applied: string[]; missing: string[] };
  private readonly namespaces: string[] = [];

  private constructor(
    readonly id: string,
    readonly profile: LinkProfile,
  ) {
    this.ap = `cs${id}-ap`;
    this.servers = `cs${id}-srv`;
    this.shaping = { profile: profile.name, applied: [], missing: [] };
  }

  /** Build the namespaces, links, addresses and routes; undone by destroy() (also when building fails). */
  static create(o: NetworkOptions): TestbedNetwork {
    if (o.devices < 1 || o.devices > 60) throw new TestbedNetworkError(`devices: ${o.devices}: 1 to 60`);
    // Unique per process (its id) and per network made in it (a counter): names of 2 testbeds never meet.
    const id = o.id ?? (process.pid % 46656).toString(36).padStart(3, '0') + (made++ % 1296).toString(36).padStart(2, '0');
    const net = new TestbedNetwork(id, o.profile ?? LINK_PROFILES.none);
    try {
      net.build(o);
    } catch (e) {
      net.destroy();
      throw e;
    }
    return net;
  }

  private addNs(name: string): void {
    run('ip', ['netns', 'add', name]);
    this.namespaces.push(name);
    run('ip', ['-n', name, 'link', 'set', 'lo', 'up']);
  }

  /** A veth pair with one end in each namespace (root: undefined), up, with the MTU and no segmentation offload. */
  private veth(a: { ns?: string; name: string }, b: { ns?: string; name: string }): void {
    const args = [...(a.ns ? ['-n', a.ns] : []), 'link', 'add', a.name, 'mtu', String(MTU), 'type', 'veth', 'peer', 'name', b.name, 'mtu', String(MTU), ...(b.ns ? ['netns', b.ns] : [])];
    run('ip', args);
    for (const end of [a, b]) {
      // GSO/GRO would hand the capture 64 kB super-packets that never exist on a Wi-Fi link: one MTU per segment.
      run('ip', [...(end.ns ? ['-n', end.ns] : []), 'link', 'set', end.name, 'gso_max_size', String(MTU), 'gso_max_segs', '1', 'gro_max_size', String(MTU), 'up']);
    }
  }

  private build(o: NetworkOptions): void {
    const ap = this.ap;
    const srv = this.servers;
    this.addNs(ap);
    this.addNs(srv);
    this.veth({ ns: ap, name: 'wan' }, { ns: srv, name: 'wan' });
    run('ip', ['-n', ap, 'addr', 'add', '10.255.0.1/30', 'dev', 'wan']);
    run('ip', ['-n', srv, 'addr', 'add', '10.255.0.2/30', 'dev', 'wan']);
    for (const a of o.serverAddrs) {
      run('ip', ['-n', srv, 'addr', 'add', `${a}/32`, 'dev', 'lo']);
      run('ip', ['-n', ap, 'route', 'replace', `${a}/32`, 'via', '10.255.0.2']);
    }
    run('ip', ['-n', srv, 'route', 'add', '10.0.0.0/16', 'via', '10.255.0.1']);
    run('ip', ['netns', 'exec', ap, 'sh', '-c', 'echo 1 > /proc/sys/net/ipv4/ip_forward']);
    const mgmtNet = freeLinkLocalOctet();
    const netem = this.profile.delayMs > 0 || this.profile.lossPct > 0;
    for (let i = 1; i <= o.devices; i++) {
      const ns = `cs${this.id}-d${i}`;
      this.addNs(ns);
      this.veth({ ns, name: 'wlan0' }, { ns: ap, name: `ap${i}` });
      run('ip', ['-n', ns, 'addr', 'add', `10.0.${i}.2/24`, 'dev', 'wlan0']);
      run('ip', ['-n', ap, 'addr', 'add', `10.0.${i}.1/24`, 'dev', `ap${i}`]);
      run('ip', ['-n', ns, 'route', 'add', 'default', 'via', `10.0.${i}.1`]);
      const root = `cs${this.id}m${i}`;
      this.veth({ name: root }, { ns, name: 'usb0' });
      const base = (i - 1) * 4;
      run('ip', ['addr', 'add', `169.254.${mgmtNet}.${base + 1}/30`, 'dev', root]);
      run('ip', ['-n', ns, 'addr', 'add', `169.254.${mgmtNet}.${base + 2}/30`, 'dev', 'usb0']);
      const dir = join('/etc/netns', ns);
      mkdirSync(dir, { recursive: true });
      writeFileSync(join(dir, 'resolv.conf'), `nameserver ${o.resolver ?? o.serverAddrs[0]}\n`);
      this.devices.push({ ns, addr: `10.0.${i}.2`, apIface: `ap${i}`, mgmtAddr: `169.254.${mgmtNet}.${base + 2}`, mgmtRootAddr: `169.254.${mgmtNet}.${base + 1}` });
      // Both directions of the device link: the device's uplink, and the access point's downlink to it.
      if (i === 1 && netem && !haveNetem(ns, 'wlan0')) this.shaping.missing.push('delay, jitter and loss: this kernel has no tc netem (CONFIG_NET_SCH_NETEM)');
      for (const [where, iface] of [[ns, 'wlan0'], [ap, `ap${i}`]] as const) this.shape(where, iface, netem && this.shaping.missing.length === 0);
    }
    if (this.profile.rateMbit > 0) this.shaping.applied.push(`rate ${this.profile.rateMbit} Mbit/s each way (tbf)`);
    if (netem && this.shaping.missing.length === 0) this.shaping.applied.push(`delay ${this.profile.delayMs} ms +- ${this.profile.jitterMs} ms, loss ${this.profile.lossPct}% each way (netem)`);
  }

  private shape(ns: string, iface: string, netem: boolean): void {
    const p = this.profile;
    const tc = (args: string[]) => run('ip', ['netns', 'exec', ns, 'tc', ...args]);
    if (netem) {
      tc(['qdisc', 'add', 'dev', iface, 'root', 'handle', '1:', 'netem', 'delay', `${p.delayMs}ms`, `${p.jitterMs}ms`, 'distribution', 'normal', 'loss', `${p.lossPct}%`]);
      if (p.rateMbit > 0) tc(['qdisc', 'add', 'dev', iface, 'parent', '1:1', 'handle', '10:', 'tbf', 'rate', `${p.rateMbit}mbit`, 'burst', '32kbit', 'latency', '400ms']);
    } else if (p.rateMbit > 0) tc(['qdisc', 'add', 'dev', iface, 'root', 'tbf', 'rate', `${p.rateMbit}mbit`, 'burst', '32kbit', 'latency', '400ms']);
  }

  /** The command line that runs `cmd` inside namespace `ns`. */
  static inNs(ns: string, cmd: string[]): string[] {
    return ['ip', 'netns', 'exec', ns, ...cmd];
  }

  /** Delete every namespace (their links go with them), the management links and the resolver files. */
  destroy(): void {
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

/** A third octet of 169.254.X.0/24 that no interface of the root namespace uses yet. */
function freeLinkLocalOctet(): number {
  const used = new Set([...run('ip', ['-4', '-o', 'addr', 'show']).matchAll(/inet 169\.254\.(\d+)\./g)].map((m) => Number(m[1])));
  for (let x = 1 + (process.pid % 200); x < 1 + (process.pid % 200) + 250; x++) {
    const k = (x % 253) + 1;
    if (!used.has(k)) return k;
  }
  throw new TestbedNetworkError('no free 169.254.X.0/24 for the management links');
}
