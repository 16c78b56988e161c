/**
 * bench/flows/shards.ts: how `--threads N` scales, on this machine and beyond its cores.
 *
 *   node --import tsx bench/flows/shards.ts [--runs 3] [--capture bench/data/flows-20k.pcap]   (needs npm run build)
 *
 * 1. The machine's own ceiling: a memory-bound probe (random access over 512 MiB, as a flow table far larger
 *    than the caches is) alone and two at once, and two whole single-threaded `cipherscope flows` runs at once
 *    against one. What two independent runs gain together is the most two shards can gain.
 * 2. Shards 1, 2, 3, 4 and 8 (more shards than cores: a simulation of a larger machine), with the main thread's
 *    share of flows 0.25, 0.5 and 1 against a worker's 1 (MAIN_SHARE). Configurations alternate run by run; medians.
 *    Each thread's CPU time is read from /proc (threadCpuSec); the busiest thread's is the run's critical path, what
 *    its wall time would be with a core per thread and nothing shared between cores (caches, memory bandwidth):
 *    "1-shard wall / critical path" is the speed-up such a machine would give. CPU times measured with more
 *    threads than cores include the slowdown of sharing them, so the estimate is low rather than high.
 */
import { execFileSync, spawn } from 'node:child_process';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, benchCapture, warmInputs } from '../common.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const opt = (name: string, dflt: string) => (args.includes(name) ? args[args.indexOf(name) + 1] : dflt);
const runs = Number(opt('--runs', '3'));
const file = args.includes('--capture') ? opt('--capture', '') : benchCapture('flows-20k.pcap', 20000, 600);

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall seconds of commands started together. */
async function together(cmds: string[][]): Promise<number> {
  const t0 = process.hrtime.bigint();
  await Promise.all(
    cmds.map(
      (c) =>
        new Promise<void>((resolve, reject) => {
          const p = spawn(c[0], c.slice(1), { stdio: ['ignore', 'ignore', 'inherit'] });
          p.on('exit', (code) => (code === 0 ? resolve() : reject(new Error(`${c.join(' ')}: exit ${code}`))));
        }),
    ),
  );
  return Number(process.hrtime.bigint() - t0) / 1e9;
}

async function ceiling(name: string, cmd: string[]): Promise<string> {
  const one: number[] = [];
  const two: number[] = [];
  for (let r = 0; r < runs; r++) {
    one.push(await together([cmd]));
    two.push(await together([cmd, cmd]));
  }
  const a = median(one);
  const b = median(two);
  return `${name}: one ${a.toFixed(2)} s, two at once ${b.toFixed(2)} s: together ${((2 * a) / b).toFixed(2)}x the work of one per second`;
}

interface Run {
  wall: number;
  cpu: number;
  threads: number[] | undefined;
}

function shardRun(shards: number, mainShare: number): Run {
  warmInputs([file]);
  const out = execFileSync(process.execPath, [join(here, 'shard-run.mjs'), file, String(shards), String(mainShare)], { encoding: 'utf8', maxBuffer: 1 << 20 });
  return JSON.parse(out) as Run;
}

const lines: string[] = [`capture: ${file}`, '', 'machine (two cores here):'];
process.stderr.write('memory probe ...\n');
lines.push('  ' + (await ceiling('memory-bound probe', [process.execPath, join(here, 'mem-probe.mjs')])));
process.stderr.write('two cipherscope runs at once ...\n');
lines.push('  ' + (await ceiling('cipherscope flows, one thread', [process.execPath, BIN, 'flows', '-q', '--no-progress', file, '-o', '/dev/null'])));

const configs: Array<[number, number]> = [[1, 1]];
for (const k of [2, 3, 4, 8]) for (const m of [0.25, 0.5, 1]) configs.push([k, m]);
const results = new Map<string, Run[]>(configs.map(([k, m]) => [`${k}/${m}`, []]));
for (let r = 0; r < runs; r++) {
  for (const [k, m] of configs) {
    process.stderr.write(`shards ${k}, main share ${m}, run ${r + 1} ...\n`);
    results.get(`${k}/${m}`)!.push(shardRun(k, m));
  }
}
const base = median(results.get('1/1')!.map((x) => x.wall));
lines.push('', 'shards | main share | wall s | vs 1 shard | process CPU s | main thread CPU s | busiest worker CPU s | critical path s | 1-shard wall / critical path');
lines.push('---:|---:|---:|---:|---:|---:|---:|---:|---:');
for (const [k, m] of configs) {
  const rs = results.get(`${k}/${m}`)!;
  const wall = median(rs.map((x) => x.wall));
  const cpu = median(rs.map((x) => x.cpu));
  const main = median(rs.map((x) => x.threads?.[0] ?? NaN));
  const worker = k === 1 ? NaN : median(rs.map((x) => Math.max(...(x.threads ?? [NaN]).slice(1))));
  const path = median(rs.map((x) => Math.max(...(x.threads ?? [NaN]))));
  lines.push(`${k} | ${k === 1 ? '-' : m} | ${wall.toFixed(2)} | ${(base / wall).toFixed(2)}x | ${cpu.toFixed(2)} | ${main.toFixed(2)} | ${Number.isNaN(worker) ? '-' : worker.toFixed(2)} | ${path.toFixed(2)} | ${(base / path).toFixed(2)}x`);
}
process.stdout.write(lines.join('\n') + '\n');
