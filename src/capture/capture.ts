import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createWriteStream, existsSync, readdirSync } from 'node:fs';
import { basename, delimiter, dirname, extname, join } from 'node:path';
import { PcapStreamRotator } from './rotate.js';

/**
 * Packet capture by a subprocess: an interface through dumpcap, tshark or tcpdump (whichever is asked for or
 * installed first), or an Android phone through `adb exec-out tcpdump -U -w -` (needs a rooted phone with tcpdump).
 * Stopping sends SIGINT (the tools then flush and close the file) and waits for the process to exit, so packets
 * captured before stop() are in the file.
 */
export type CaptureSource =
  /**
   * `iface`: one interface, or several comma-separated (dumpcap and tshark: one pcapng with an interface block each).
   * `netns`: capture inside this network namespace (`ip netns exec`), e.g. on the testbed's access point.
   */
  | { kind: 'interface'; iface: string; tool?: 'dumpcap' | 'tshark' | 'tcpdump'; filter?: string; ring?: Ring; netns?: string }
  | { kind: 'adb'; serial?: string; adb?: string; iface?: string; filter?: string; ring?: Ring };

/**
 * A ring buffer of capture files: a new file after `sizeBytes` or `seconds`, keeping the newest `files` (all when
 * absent). Interfaces rotate in dumpcap/tshark (-b); a phone's stream is rotated here, at packet boundaries.
 */
export interface Ring {
  sizeBytes?: number;
  seconds?: number;
  files?: number;
}

/** The ring's file names: FILE with its extension, as BASE_00001.EXT, BASE_00002.EXT, ... */
export function ringFileName(file: string, index: number): string {
  const ext = extname(file);
  return `${file.slice(0, file.length - ext.length)}_${String(index + 1).padStart(5, '0')}${ext || '.pcap'}`;
}

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

/**
 * What a capture tool said that explains an exit: its lines without the blank ones, a bare "tshark:", the
 * running-as-root note and the "Capturing on" / "N packets captured" bookends tshark prints around the reason.
 */
function toolWords(stderr: string): string[] {
  return stderr
    .split('\n')
    .map((l) => l.trim())
    .filter((l) => l !== '' && !/^[\w-]+:$/.test(l) && !/^Running as user/.test(l) && !/^Capturing on /.test(l) && !/^\d+ packets? (captured|received by filter|dropped)/.test(l));
}

export class CaptureProcess {
  private exited: Promise<number | null>;
  private stderr = '';
  /** stop() was called: an exit after it is ours, not the tool's failure. */
  private stopping = false;

  private constructor(
    readonly source: CaptureSource,
    readonly file: string,
    readonly command: string[],
    private readonly child: ChildProcess,
    private readonly fileDone: Promise<void>,
    private readonly rotator?: PcapStreamRotator,
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
    let rotator: PcapStreamRotator | undefined;
    let ready: (c: CaptureProcess) => Promise<void>;
    if (source.kind === 'interface') {
      const tool = source.tool ?? (['dumpcap', 'tshark', 'tcpdump'] as const).find((t) => which(t) !== undefined);
      if (tool === undefined) throw new CaptureError('no capture tool found: install dumpcap (wireshark-common), tshark or tcpdump');
      const filter = source.filter ? (tool === 'tcpdump' ? [source.filter] : ['-f', source.filter]) : [];
      const ring = source.ring;
      if (ring && tool === 'tcpdump') throw new CaptureError('a ring of capture files needs dumpcap or tshark (their -b options), not tcpdump');
      const b = ring
        ? [
            ...(ring.sizeBytes ? ['-b', `filesize:${Math.max(1, Math.ceil(ring.sizeBytes / 1000))}`] : []),
            ...(ring.seconds ? ['-b', `duration:${Math.max(1, Math.round(ring.seconds))}`] : []),
            ...(ring.files ? ['-b', `files:${ring.files}`] : []),
          ]
        : [];
      if (ring && file === '-') throw new CaptureError('a ring of capture files needs a file name, not standard output');
      const ifaces = source.iface.split(',').filter(Boolean);
      if (ifaces.length > 1 && tool === 'tcpdump') throw new CaptureError('several interfaces need dumpcap or tshark (tcpdump takes one -i)');
      const on = ifaces.flatMap((i) => ['-i', i]);
      cmd = tool === 'tcpdump' ? [tool, ...on, '-U', '-w', file, ...filter] : [tool, ...on, '-w', file, '-q', ...b, ...filter];
      // ip netns exec execs the tool itself, so SIGINT still reaches it and it still flushes on stop.
      if (source.netns !== undefined) cmd = ['ip', 'netns', 'exec', source.netns, ...cmd];
      // FILE "-": the tool writes the capture to its standard output, read through `stream` (live analysis).
      child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', file === '-' ? 'pipe' : 'ignore', 'pipe'] });
      const marker = tool === 'tcpdump' ? /listening on/ : /Capturing on/;
      ready = (c) => c.waitFor(() => marker.test(c.stderr), readyTimeoutMs);
    } else {
      const adb = source.adb ?? 'adb';
      cmd = [adb, ...(source.serial ? ['-s', source.serial] : []), 'exec-out', 'tcpdump', '-i', source.iface ?? 'any', '-U', '-w', '-', ...(source.filter ? [source.filter] : [])];
      child = spawn(cmd[0], cmd.slice(1), { stdio: ['ignore', 'pipe', 'pipe'] });
      let bytes = 0;
      child.stdout!.on('data', (d: Buffer) => (bytes += d.length));
      const ring = source.ring;
      if (ring) {
        const r = new PcapStreamRotator((i) => ringFileName(file, i), ring);
        rotator = r;
        child.stdout!.on('data', (d: Buffer) => {
          if (r.error) return;
          try {
            r.write(d);
          } catch (e) {
            r.error = e as Error;
            child.kill('SIGINT');
          }
        });
        fileDone = new Promise((resolve) => child.stdout!.once('end', () => resolve()));
      } else {
        const out = createWriteStream(file);
        child.stdout!.pipe(out);
        fileDone = new Promise((resolve, reject) => {
          out.once('finish', () => resolve());
          out.once('error', reject);
        });
      }
      // tcpdump -U writes the file header at once: the first bytes mean the phone is capturing.
      ready = (c) => c.waitFor(() => bytes >= 24, readyTimeoutMs);
    }
    const c = new CaptureProcess(source, file, cmd, child, fileDone, rotator);
    const spawnError = new Promise<never>((_, reject) =>
      child.once('error', (e: NodeJS.ErrnoException) => {
        const missing = e.code === 'ENOENT' ? (source.kind === 'adb' ? `${cmd[0]} is not installed or not on PATH (apt-get install adb, or --adb-path)` : `${cmd[0]} is not installed or not on PATH`) : undefined;
        reject(new CaptureError(missing ?? `${cmd[0]}: ${e.message}`));
      }),
    );
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

  /**
   * Why the tool ended when nobody stopped it (it was killed, lost its interface, ran out of disk): a sentence with
   * its exit code or signal and the end of what it printed; undefined while it runs or after stop().
   */
  async diedOnItsOwn(waitMs = 5000): Promise<string | undefined> {
    if (this.stopping) return undefined;
    // Its output ends a moment before the exit is reported: wait for the exit, briefly.
    await Promise.race([this.exited, new Promise((r) => setTimeout(r, waitMs).unref())]);
    if (this.stopping || (this.child.exitCode === null && this.child.signalCode === null)) return undefined;
    const how = this.child.signalCode !== null ? `killed by ${this.child.signalCode}` : `exit status ${this.child.exitCode}`;
    const said = toolWords(this.stderr).slice(-3).join(' / ');
    return `${this.command.join(' ')} ended by itself (${how})${said ? `: ${said}` : ''}`;
  }

  /** Resolves when the tool has exited, stopped or not (dumpcap says "Capturing on" before it opens a device). */
  ended(): Promise<void> {
    return this.exited.then(() => undefined);
  }

  /** The capture as it is written, when started with FILE "-" on an interface. */
  get stream(): import('node:stream').Readable {
    if (this.file !== '-' || this.source.kind !== 'interface' || !this.child.stdout) throw new CaptureError('no capture stream: start an interface capture with file "-"');
    return this.child.stdout;
  }

  /** Stop and wait until the file is complete. */
  async stop(timeoutMs = 15_000): Promise<void> {
    this.stopping = true;
    if (this.child.exitCode === null && this.child.signalCode === null) this.child.kill('SIGINT');
    const t = setTimeout(() => this.child.kill('SIGKILL'), timeoutMs);
    await this.exited;
    clearTimeout(t);
    await this.fileDone;
    if (this.rotator) {
      if (this.rotator.error) {
        this.rotator.end();
        throw new CaptureError(`${this.command.join(' ')}: ${this.rotator.error.message}`);
      }
      const { trailingBytes } = this.rotator.end();
      if (trailingBytes > 0) this.stderr += `\ncipherscope: the stream ended inside a packet record; its last ${trailingBytes} bytes were not written\n`;
    }
  }

  /**
   * The files written, oldest first: FILE itself, or the ring's files (dumpcap and tshark name them
   * BASE_NNNNN_YYYYMMDDhhmmss.EXT; a phone's ring BASE_NNNNN.EXT).
   */
  files(): string[] {
    if (this.rotator) return [...this.rotator.files];
    if (!this.source.ring) return existsSync(this.file) ? [this.file] : [];
    const ext = extname(this.file);
    const base = basename(this.file, ext);
    const dir = dirname(this.file);
    return readdirSync(dir)
      .filter((f) => f.startsWith(`${base}_`) && f.endsWith(ext) && /^_\d{5}_\d{14}$/.test(f.slice(base.length, f.length - ext.length)))
      .sort()
      .map((f) => join(dir, f));
  }

  get messages(): string {
    return this.stderr;
  }
}
