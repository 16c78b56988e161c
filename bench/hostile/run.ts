/**
 * bench:hostile: the hostile captures of test/hostile at full size (millions of flows, 300,000 DNS responses,
 * 40,000 fragments), each metered by `cipherscope flows` with the default memory budget, in pairs with ordinary
 * traffic of the same file size, and again at twice the size. Prints, per case: peak RSS and time against the
 * benign capture (same run, alternating), and how time grows when the input doubles (should be <= 2.2x).
 *
 *   npm run bench:hostile [-- --quick] [-- --pairs N] [-- --case NAME]
 *
 * --quick: a tenth of the sizes (a check that the script runs). Captures go to bench/data/hostile/ (made once).
 */
import { createWriteStream, existsSync, mkdirSync, renameSync, statSync } from 'node:fs';
import { once } from 'node:events';
import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { BIN, ROOT, type Measure, pairedRuns } from '../common.js';
import { HOSTILE, benign, pcapChunks } from '../../test/helpers/hostile.js';

const args = process.argv.slice(2);
const quick = args.includes('--quick');
const pairs = Number(args[args.indexOf('--pairs') + 1]) || (quick ? 1 : 2);
const only = args.includes('--case') ? args[args.indexOf('--case') + 1] : undefined;
const DIR = join(ROOT, 'bench/data/hostile');

/** Packets of each case at full size (the size the attacks used, or more). */
const SIZES: Record<string, number> = {
  'syn-flood': 2_000_000,
  'half-open-tls': 1_800_000, // 600,000 flows
  'hash-flood': 60_000,
  'dns-answers': 300_000,
  'dns-one-flow': 50,
  fragments: 40_000,
};

async function write(path: string, n: number, make: Parameters<typeof pcapChunks>[1]): Promise<string> {
  if (existsSync(path)) return path;
  mkdirSync(DIR, { recursive: true });
  const tmp = `${path}.part`;
  const out = createWriteStream(tmp);
  for (const chunk of pcapChunks(n, make)) if (!out.write(chunk)) await once(out, 'drain');
  out.end();
  await once(out, 'finish');
  renameSync(tmp, path);
  return path;
}

/** A benign capture of about `bytes` bytes (benign packets take 250 bytes of file on average). */
async function benignOf(bytes: number): Promise<string> {
  const n = Math.max(20, Math.ceil(bytes / 250 / 20) * 20);
  return write(join(DIR, `benign-${n}.pcap`), n, benign);
}

/** Records a run writes (from the summary line), for the time per record. */
function recordsOf(file: string): number {
  const r = spawnSync(process.execPath, [BIN, 'flows', '--no-progress', file, '-o', '/dev/null'], { encoding: 'utf8' });
  const m = /(\d+) flows \((\d+) records\)/.exec(r.stderr);
  if (m === null) throw new Error(`no summary line from ${file}: ${r.stderr.slice(0, 300)}`);
  return Number(m[2]);
}

const cmd = (file: string) => [process.execPath, BIN, 'flows', '-q', '--no-progress', file, '-o', '/dev/null'];
const mib = (m: Measure) => (m.maxrss_kib / 1024).toFixed(0);

async function main(): Promise<void> {
  const rows: string[] = [];
  rows.push('| case | input | MB | records | time s | benign s (records) | time / benign | us a record: hostile / benign | peak RSS MiB | benign RSS MiB | 2x input: wall (CPU) | 2x: RSS MiB |');
  rows.push('|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const [name, c] of Object.entries(HOSTILE)) {
    if (only !== undefined && name !== only) continue;
    const n = Math.max(quick ? 5 : 1, Math.round(SIZES[name] / (quick ? 10 : 1)));
    const small = await write(join(DIR, `${name}-${n}.pcap`), n, c.make);
    const big = await write(join(DIR, `${name}-${2 * n}.pcap`), 2 * n, c.make);
    const bytes = statSync(small).size;
    const plain = await benignOf(bytes);
    process.stderr.write(`${name}: ${n} ${c.unit} (${(bytes / 1e6).toFixed(1)} MB) against ${(statSync(plain).size / 1e6).toFixed(1)} MB of benign traffic...\n`);
    const vs = pairedRuns(cmd(small), cmd(plain), pairs);
    const grow = pairedRuns(cmd(big), cmd(small), pairs);
    const recs = recordsOf(small);
    const benignRecs = recordsOf(plain);
    const us = (m: Measure, r: number) => (r > 0 ? ((m.seconds * 1e6) / r).toFixed(1) : '-');
    rows.push(
      `| ${name}: ${c.what} | ${n.toLocaleString('en')} ${c.unit} | ${(bytes / 1e6).toFixed(1)} | ${recs.toLocaleString('en')} | ${vs.a.seconds.toFixed(2)} | ${vs.b.seconds.toFixed(2)} (${benignRecs.toLocaleString('en')}) | ${vs.wallRatio.toFixed(2)} | ${us(vs.a, recs)} / ${us(vs.b, benignRecs)} | ${mib(vs.a)} | ${mib(vs.b)} | ${grow.wallRatio.toFixed(2)}x (${grow.cpuRatio.toFixed(2)}x) | ${mib(grow.a)} |`,
    );
  }
  process.stdout.write(`${rows.join('\n')}\n\n`);
  process.stdout.write(`(${pairs} alternating pair(s) each; medians of the pairs' ratios; peak RSS is the largest of the runs; default --memory; node ${process.version})\n`);
}

main().catch((e: unknown) => {
  process.stderr.write(`bench:hostile: ${e instanceof Error ? e.message : String(e)}\n`);
  process.exitCode = 1;
});
