import { type ChildProcess, spawn } from 'node:child_process';
import { childReady, stopChild } from '../common/child.js';

/**
 * What a phone's operating system sends on its own, whatever app is in front: the namespaced testbed runs it on
 * every device (os-process.ts "device") against services in the servers' namespace (os-process.ts "services").
 *
 *   - time sync: SNTP (RFC 4330) over UDP port 123, at start and then every `ntpEverySec` (Android asks
 *     time.android.com on boot, on network changes and periodically);
 *   - connectivity check: a plain HTTP GET of /generate_204 on port 80 answered 204 (Android's captive-portal
 *     probe of connectivitycheck.gstatic.com), at start and every `checkEverySec`;
 *   - push channel: one long-lived TLS connection to port 5228 (Firebase Cloud Messaging's mtalk.google.com) with
 *     a heartbeat every `heartbeatSec` and messages the server pushes at log-normal intervals.
 *
 * Intervals are much shorter than a phone's (its push heartbeat is minutes apart) so that a short run holds some
 * of each; they are options. None of these names is an app's: their flows are background, `impertinent`.
 */
export interface OsHost {
  host: string;
  addr: string;
  what: string;
}

export const OS_HOSTS: readonly OsHost[] = [
  { host: 'time.os.testbed', addr: '192.0.2.40', what: 'SNTP server, UDP 123' },
  { host: 'connectivitycheck.os.testbed', addr: '192.0.2.41', what: 'connectivity check, HTTP 80 /generate_204' },
  { host: 'mtalk.os.testbed', addr: '192.0.2.42', what: 'push channel, TLS 5228' },
];

export const OS_PORTS = { ntp: 123, check: 80, push: 5228 } as const;

export interface DeviceBackgroundOptions {
  seed: number;
  ntpEverySec?: number;
  checkEverySec?: number;
  heartbeatSec?: number;
}

export interface DeviceBackgroundReport {
  ntp: number;
  checks: number;
  heartbeats: number;
  pushes: number;
  errors: string[];
}

/** The loader of this process (tsx for .ts, plain for built .js) and the entry of os-process. */
function entry(): string[] {
  const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
  return [process.execPath, ...process.execArgv, new URL(`./os-process.${ext}`, import.meta.url).pathname];
}

/** The OS services (SNTP, connectivity check, push) in the servers' namespace. */
export class OsServices {
  private constructor(private readonly child: ChildProcess) {}

  static async start(netns: string, seed: number): Promise<OsServices> {
    const child = spawn('ip', ['netns', 'exec', netns, ...entry(), 'services', JSON.stringify({ seed })], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      await childReady(child, `OS services in ${netns}`);
    } catch (e) {
      await stopChild(child);
      throw e;
    }
    return new OsServices(child);
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}

/** One device's OS background, in the device's namespace; stop() returns what it sent. */
export class DeviceBackground {
  private constructor(
    private readonly child: ChildProcess,
    private readonly output: () => string,
  ) {}

  static async start(netns: string, o: DeviceBackgroundOptions): Promise<DeviceBackground> {
    const child = spawn('ip', ['netns', 'exec', netns, ...entry(), 'device', JSON.stringify(o)], { stdio: ['ignore', 'pipe', 'pipe'] });
    try {
      return new DeviceBackground(child, await childReady(child, `OS background in ${netns}`));
    } catch (e) {
      await stopChild(child);
      throw e;
    }
  }

  async stop(): Promise<DeviceBackgroundReport> {
    await stopChild(this.child);
    const last = this.output().trim().split('\n').pop() ?? '';
    try {
      return JSON.parse(last) as DeviceBackgroundReport;
    } catch {
      return { ntp: 0, checks: 0, heartbeats: 0, pushes: 0, errors: ['the background process ended without a report'] };
    }
  }
}
