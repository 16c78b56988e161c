import { type ChildProcess, spawn } from 'node:child_process';
import { stopChild } from '../common/child.js';
import type { TestbedAppsOptions } from './apps.js';

/** The testbed apps in another network namespace (apps-server.ts run through `ip netns exec`). */
export class AppsProcess {
  private constructor(
    private readonly child: ChildProcess,
    readonly spkiSha256: string,
  ) {}

  static async start(netns: string, options: TestbedAppsOptions, timeoutMs = 20_000): Promise<AppsProcess> {
    // The same module loader as this process: under tsx the .ts entry (with --import tsx), built the .js.
    const ext = import.meta.url.endsWith('.ts') ? 'ts' : 'js';
    const entry = new URL(`./apps-server.${ext}`, import.meta.url).pathname;
    const child = spawn('ip', ['netns', 'exec', netns, process.execPath, ...process.execArgv, entry, JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] });
    let out = '';
    let err = '';
    child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
    const spki = await new Promise<string>((resolve, reject) => {
      const t = setTimeout(() => reject(new Error(`testbed apps in ${netns} did not start within ${timeoutMs} ms: ${err.trim()}`)), timeoutMs);
      child.stdout!.on('data', (d: Buffer) => {
        out += d.toString();
        const line = out.split('\n')[0];
        if (out.includes('\n')) {
          clearTimeout(t);
          try {
            resolve((JSON.parse(line) as { spkiSha256: string }).spkiSha256);
          } catch {
            reject(new Error(`testbed apps in ${netns}: unexpected output ${line.slice(0, 200)}`));
          }
        }
      });
      child.once('exit', (code) => {
        clearTimeout(t);
        reject(new Error(`testbed apps in ${netns} exited with status ${code}: ${err.trim()}`));
      });
    });
    return new AppsProcess(child, spki);
  }

  stop(): Promise<void> {
    return stopChild(this.child);
  }
}
