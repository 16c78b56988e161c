import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync } from 'node:fs';
import { delimiter, join } from 'node:path';

/**
 * Packet capture by a subprocess: an interface through dumpcap, tshark or tcpdump (whichever is asked for or
 * installed first), or an Android phone through `adb exec-out tcpdump -U -w -` (needs a rooted phone with tcpdump).
 * Stopping sends SIGINT (the tools then flush and close the file) and waits for the process to exit, so packets
 * captured before stop() are in the file.
 */
export type CaptureSource =
  | { kind: 'interface'; iface: string; tool?: 'dumpcap' | 'tshark' | 'tcpdump'; filter?: string }
  | { kind: 'adb'; serial?: string; adb?: string; iface?: string; filter?: string };

export class CaptureError extends Error {}

export function which(cmd: string): string | undefined {
  if (cmd.includes('/')) return existsSync(cmd) ? cmd : undefined;
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const p = join(dir, cmd);
    if (dir && existsSync(p)) return p;
  }
  return undefined;
}

/** First line of `cmd --version` (or `-v`), for manifests; undefined when the tool is missing. */
export function toolVersion(cmd: string, args = ['--version']): string | undefined {
  try {
    return execFileSync(cmd, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], timeout: 10_000 }).split('\n')[0].trim();
  } catch {
    return undefined;
  }
}

export class CaptureProcess {
  private exited: Promise<number | null>;
  private stderr = '';

  private constructor(
    readonly source: CaptureSource,
    readonly file: string,
    readonly command: string[],
    private readonly child: ChildProcess,
    private readonly fileDone: Promise<void>,
  ) {
    child.stderr?.on('data', (d: Buffer) => {
      if (this.stderr.length < 65536) this.stderr += d.toString();
    });
    this.exited = new Promise((resolve) => child.once('exit', (code) => resolve(code)));
  }

  /** Start capturing into `file` (pcapng for dumpcap/tshark, pcap for tcpdump and adb); resolves once capturing. */
  static async start(source: CaptureSource, file: string, readyTimeoutMs = 15_000): Promise<CaptureProcess> {
    let cmd: string[];
    let child: ChildProcess;
    let fileDone: Promise<void> = Promise.resolve();
    let ready: (c: CaptureProcess) => Promise<void>;
    if (source.kind === 'interface') {
      const tool = source.tool ?? (['dumpcap', 'tshark', 'tcpdump'] as const).find((t) => which(t) !== undefined);
      if (tool === undefined) throw new CaptureError('no capture tool found: install dumpcap (wireshark-common), tshark or tcpdump');
      const filter = source.filter ? (tool === 'tcpdump' ? [source.filter] : ['-f', source.filter]) : [];
      cmd = tool === 'tcpdump' ? [tool, '-i', source.iface, '-U', '-w', file, ...filter] : [tool, '-i', source.iface, '-w', file, '-q', ...filter];
      child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'ignore', 'pipe'] });
      const marker = tool === 'tcpdump' ? /listening on/ : /Capturing on/;
      ready = (c) => c.waitFor(() => marker.test(c.stderr), readyTimeoutMs);
    } else {
      const adb = source.adb ?? 'adb';
      cmd = [adb, ...(source.serial ? ['-s', source.serial] : []), 'exec-out', 'tcpdump', '-i', source.iface ?? 'any', '-U', '-w', '-', ...(source.filter ? [source.filter] : [])];
      child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      const out = createWriteStream(file);
      let bytes = 0;
      child.stdout!.on('data', (d: Buffer) => (bytes += d.length));
      child.stdout!.pipe(out);
      fileDone = new Promise((resolve, reject) => {
        out.once('finish', () => resolve());
        out.once('error', reject);
      });
      // tcpdump -U writes the file header at once: the first bytes mean the phone is capturing.
      ready = (c) => c.waitFor(() => bytes >= 24, readyTimeoutMs);
    }
    const c = new CaptureProcess(source, file, cmd, child, fileDone);
    const spawnError = new Promise<never>((_, reject) => child.once('error', (e) => reject(new CaptureError(`${cmd[0]}: ${e.message}`))));
    await Promise.race([ready(c), spawnError]);
    return c;
  }

  private async waitFor(cond: () => boolean, timeoutMs: number): Promise<void> {
    const until = Date.now() + timeoutMs;
    let exited = false;
    void this.exited.then(() => (exited = true));
    while (!cond()) {
      if (exited) throw new CaptureError(`${this.command.join(' ')} exited before capturing: ${this.stderr.trim() || 'no message'}`);
      if (Date.now() > until) {
        this.child.kill('SIGKILL');
        throw new CaptureError(`${this.command.join(' ')} did not start capturing within ${timeoutMs} ms: ${this.stderr.trim() || 'no message'}`);
      }
      await new Promise((r) => setTimeout(r, 50));
    }
  }

  /** Stop and wait until the file is complete. */
  async stop(timeoutMs = 15_000): Promise<void> {
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
    await this.fileDone;
  }

  get messages(): string {
    return this.stderr;
  }
}
