/**
 * What the benchmark scripts share: the generated bench captures, packet counts by `cipherscope info`, and
 * timings of whole commands through measure.py (wall time, CPU time and peak memory of the command's process tree),
 * each with its input files read into the page cache first.
 */
import { execFileSync } from 'node:child_process';
import { closeSync, existsSync, mkdirSync, openSync, readSync, statSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './flows/generate.js';
import { generateTls } from './flows/generate-tls.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin/cipherscope.js');
const DATA = join(ROOT, 'bench/data');

/**
 * bench/data/NAME, generated first if missing (deterministic: flows starting over `seconds`). `tls` makes the
 * handshake-rich capture (bench/flows/generate-tls.ts), with its data bursts `payloadScale` times as long.
 */
export function benchCapture(name: string, flows: number, seconds: number, tls?: { payloadScale: number }): string {
  const path = join(DATA, name);
  if (!existsSync(path)) {
    mkdirSync(DATA, { recursive: true });
    process.stderr.write(`generating ${path} ...\n`);
    const r = tls ? generateTls(path, flows, seconds, tls) : generate(path, flows, seconds);
    process.stderr.write(`  ${r.packets} packets, ${r.flows} flows\n`);
  }
  return path;
}

/** Packets in a capture, as `cipherscope info` counts them (needs the build). */
export function packetsIn(file: string): number {
  const out = execFileSync(process.execPath, [BIN, 'info', '--json', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return (JSON.parse(out) as { packets: number }).packets;
}

export interface Measure {
  seconds: number;
  cpu_seconds: number;
  maxrss_kib: number;
}

const chunk = Buffer.allocUnsafe(8 << 20);

/**
 * Read every input file of `cmd` (any argument naming a file of 1 MB or more) once, so the command finds it in
 * the page cache. This machine's kernel reclaims cold pages on its own (DAMON), and a capture read from disk
 * instead of memory took 2 s more than one read from memory: an uncontrolled share of a run, now never in it.
 */
export function warmInputs(cmd: readonly string[]): void {
  for (const arg of cmd) {
    let size = 0;
    try {
      const st = statSync(arg);
      if (st.isFile()) size = st.size;
    } catch {
      continue;
    }
    if (size < 1e6) continue;
    const fd = openSync(arg, 'r');
    try {
      while (readSync(fd, chunk, 0, chunk.length, null) > 0);
    } finally {
      closeSync(fd);
    }
  }
}

function measure(cmd: string[]): Measure {
  warmInputs(cmd);
  const out = execFileSync('/usr/bin/python3', [join(ROOT, 'bench/flows/measure.py'), ...cmd], { encoding: 'utf8' });
  const m = JSON.parse(out) as Measure & { status: number };
  if (m.status !== 0) throw new Error(`${cmd.join(' ')} exited with ${m.status}`);
  return m;
}

/** Over `n` runs: the median wall time (and that run's CPU time), and the largest peak memory. */
export function medianRun(cmd: string[], n: number): Measure {
  return summarize(Array.from({ length: n }, () => measure(cmd)));
}

function summarize(runs: Measure[]): Measure {
  const ms = [...runs].sort((a, b) => a.seconds - b.seconds);
  const mid = ms[Math.floor(ms.length / 2)];
  return { seconds: mid.seconds, cpu_seconds: mid.cpu_seconds, maxrss_kib: Math.max(...ms.map((m) => m.maxrss_kib)) };
}

/** The middle value (the upper of the two middle ones for an even count). */
export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Two commands run in turn, A B A B ..., and the ratio of each pair. */
export interface PairedRuns {
  a: Measure;
  b: Measure;
  /** Median over the pairs of A's time over B's: wall time, and CPU time (user + system). */
  wallRatio: number;
  cpuRatio: number;
  /** Smallest and largest wall ratio of a pair. */
  wallRange: [number, number];
}

/**
 * `n` pairs of runs of `a` and `b`, in turn. The speed of a shared machine drifts over a benchmark; n runs of one
 * command and then n of the other can land in different phases of it, which moved a ratio of two such medians by
 * 0.3 between runs. Paired runs see the same phase, and the median of their ratios is what to quote.
 */
export function pairedRuns(a: string[], b: string[], n: number): PairedRuns {
  const as: Measure[] = [];
  const bs: Measure[] = [];
  for (let i = 0; i < n; i++) {
    as.push(measure(a));
    bs.push(measure(b));
  }
  const wall = as.map((m, i) => m.seconds / bs[i].seconds);
  return {
    a: summarize(as),
    b: summarize(bs),
    wallRatio: median(wall),
    cpuRatio: median(as.map((m, i) => m.cpu_seconds / bs[i].cpu_seconds)),
    wallRange: [Math.min(...wall), Math.max(...wall)],
  };
}
