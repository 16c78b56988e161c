/**
 * What the benchmark scripts share: the generated bench captures, packet counts by `cipherscope info`, and
 * timings of whole commands through measure.py (wall time, CPU time and peak memory of the command's process tree).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { generate } from './flows/generate.js';

export const ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '..');
export const BIN = join(ROOT, 'bin/cipherscope.js');
const DATA = join(ROOT, 'bench/data');

/** bench/data/NAME, generated first if missing (deterministic: flows starting over `seconds`). */
export function benchCapture(name: string, flows: number, seconds: number): string {
  const path = join(DATA, name);
  if (!existsSync(path)) {
    mkdirSync(DATA, { recursive: true });
    process.stderr.write(`generating ${path} ...\n`);
    const r = generate(path, flows, seconds);
    process.stderr.write(`  ${r.packets} packets, ${r.flows} flows\n`);
  }
  return path;
}

/** Packets in a capture, as `cipherscope info` counts them (needs the build). */
export function packetsIn(file: string): number {
  const out = execFileSync(process.execPath, [BIN, 'info', file], { encoding: 'utf8', maxBuffer: 1 << 26 });
  return (JSON.parse(out) as { packets: number }).packets;
}

export interface Measure {
  seconds: number;
  cpu_seconds: number;
  maxrss_kib: number;
}

function measure(cmd: string[]): Measure {
  const out = execFileSync('/usr/bin/python3', [join(ROOT, 'bench/flows/measure.py'), ...cmd], { encoding: 'utf8' });
  const m = JSON.parse(out) as Measure & { status: number };
  if (m.status !== 0) throw new Error(`${cmd.join(' ')} exited with ${m.status}`);
  return m;
}

/** Over `n` runs: the median wall time (and that run's CPU time), and the largest peak memory. */
export function medianRun(cmd: string[], n: number): Measure {
  const ms = Array.from({ length: n }, () => measure(cmd)).sort((a, b) => a.seconds - b.seconds);
  const mid = ms[Math.floor(ms.length / 2)];
  return { seconds: mid.seconds, cpu_seconds: mid.cpu_seconds, maxrss_kib: Math.max(...ms.map((m) => m.maxrss_kib)) };
}
