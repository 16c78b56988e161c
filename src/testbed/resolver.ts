import { type ChildProcess, spawn } from 'node:child_process';
import { stopChild } from '../common/child.js';
import type { TestbedHost } from './apps.js';

/** The resolver's address in the servers' namespace (TEST-NET-1, beside the apps' addresses). */
export const RESOLVER_ADDR = '192.0.2.53';

/**
 * A real DNS server on the path (Debian's dnsmasq, package dnsmasq-base): it answers the apps' names, so the
 * devices resolve them as a phone does and the capture carries the DNS answers that name flows (dns_host). Every
 * other name gets NXDOMAIN (no upstream: the testbed reaches nothing outside itself).
 */
export class Resolver {
  private constructor(private readonly child: ChildProcess) {}

  static async start(netns: string, hosts: readonly Pick<TestbedHost, 'host' | 'addr'>[], binary = '/usr/sbin/dnsmasq', timeoutMs = 10_000): Promise<Resolver> {
    const records = hosts.map((h) => `--host-record=${h.host},${h.addr}`);
    const args = ['--keep-in-foreground', '--conf-file=/dev/null', '--no-resolv', '--no-hosts', '--no-poll', '--bind-interfaces', `--listen-address=${RESOLVER_ADDR}`, '--pid-file=', '--log-facility=-', '--local=/#/', ...records];
    const child = spawn('ip', ['netns', 'exec', netns, binary, ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
    let err = '';
    await new Promise<void>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`dnsmasq in ${netns} did not start within ${timeoutMs} ms: ${err.trim()}`)), timeoutMs);
      child.stderr!.on('data', (d: Buffer) => {
        err = (err + d.toString()).slice(-4000);
        if (/started, version/.test(err)) {
          clearTimeout(t);
          resolve();
        }
      });
      child.once('error', (e) => {
        clearTimeout(t);
        reject(new Error(`${binary}: ${e.message} (install dnsmasq-base: scripts/setup.sh does)`));
      });
      child.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`dnsmasq in ${netns} exited with status ${code}: ${err.trim()}`));
      });
    });
    child.removeAllListeners('exit');
    return new Resolver(child);
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}
