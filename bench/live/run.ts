/**
 * bench/live: packets/s of `cipherscope live` on a packet stream (the bench capture piped in, as a capture
 * subprocess would pipe it), on 1 and 2 worker threads, and of the distributed mode on loopback: a sensor
 * (`live --model --publish`) and two `worker`s on Redis Streams counting into PostgreSQL.
 *
 *   npm run bench:live [-- --runs 3]
 *
 * Anchors, run in the same benchmark run so a noisy machine still compares fairly:
 * - two single-threaded `live` runs at the same time: what two cores of this machine give for this work when
 *   nothing is shared. Sharding cannot beat it; the ratio to it is the sharding's own cost.
 * - `tshark -r` reading the same stream (dissection only, output discarded).
 * Needs the build (npm run build), redis-server and PostgreSQL (bash scripts/setup.sh installs both).
 */
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Redis } from 'ioredis';
import { openDb } from '../../src/profile/db.js';
import { freePort, sleep } from '../../src/testbed/driver.js';
import { trainWhatsAppModel } from '../../test/helpers/cli.js';
import { startPostgres } from '../../test/helpers/postgres.js';
import { SHARED } from '../../test/helpers/tshark.js';
import { BIN as bin, type Measure, benchCapture, medianRun, packetsIn } from '../common.js';

const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 3;

const capture = benchCapture('flows-20k.pcap', 20000, 600);
const packets = packetsIn(capture);

/** Median wall time of a shell pipeline over the runs (see medianRun). */
const pipeline = (sh: string): Measure => medianRun(['sh', '-c', `set -e; ${sh}`], runs);

const live = (extra: string) => `cat ${capture} | ${process.execPath} ${bin} live - --no-progress -o /dev/null ${extra}`;
interface Row {
  what: string;
  m: Measure;
  /** Packets handled in m.seconds (two streams for the parallel anchor). */
  packets: number;
}
const rows: Row[] = [];
const add = (what: string, sh: string, streams = 1) => {
  process.stderr.write(`running ${what} ...\n`);
  rows.push({ what, m: pipeline(sh), packets: packets * streams });
};
add('live, 1 thread', live(''));
add('live, 2 threads (sharded)', live('--threads 2'));
add('anchor: two 1-thread live runs at once (2 streams)', `${live('')} & ${live('')} & wait`, 2);
add('anchor: tshark -r - (dissection only)', `cat ${capture} | tshark -r - -n > /dev/null`);

// The distributed mode on loopback: real redis-server and PostgreSQL, a model trained on the bundled WhatsApp captures.
const work = mkdtempSync(join(tmpdir(), 'cipherscope-bench-live-'));
const model = trainWhatsAppModel(join(SHARED, 'datasets/whatsapp-web-actions'), work);
add('live with a model (classify each flow), 1 thread', live(`--model ${model}`));
const keyFile = join(work, 'key');
writeFileSync(keyFile, '5a'.repeat(32) + '\n', { mode: 0o600 });
const pg = await startPostgres();
const redisPort = await freePort();
const redisServer = spawn('/usr/bin/redis-server', ['--port', String(redisPort), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
const redisUrl = `redis://127.0.0.1:${redisPort}`;
await sleep(300);
let distributed: { seconds: number; sensorSeconds: number; records: number } | undefined;
try {
  const admin = await openDb(pg.url);
  await admin.exec('CREATE DATABASE bench');
  await admin.close();
  const dbUrl = pg.url.replace(/\/postgres$/, '/bench');
  const stream = 'cipherscope:bench';
  const workers: ChildProcess[] = ['w1', 'w2'].map((name) =>
    spawn(process.execPath, [bin, 'worker', '--redis', redisUrl, '--stream', stream, '--db', dbUrl, '--key-file', keyFile, '--name', name, '--batch', '500'], { stdio: 'ignore' }),
  );
  const redis = new Redis(redisUrl);
  process.stderr.write('running the distributed mode (sensor live --publish --threads 2, two workers) ...\n');
  await sleep(2000); // workers connected and the group created
  const t0 = process.hrtime.bigint();
  const sensor = spawn('sh', ['-c', live(`--model ${model} --publish ${redisUrl} --stream ${stream} --threads 2`)], { stdio: ['ignore', 'ignore', 'pipe'] });
  let err = '';
  sensor.stderr!.on('data', (d: Buffer) => (err += d.toString()));
  const code = await new Promise<number | null>((r) => sensor.once('close', r));
  if (code !== 0) throw new Error(`sensor: ${err}`);
  const sensorSeconds = Number(process.hrtime.bigint() - t0) / 1e9;
  // Done when the group has read every entry and acknowledged it (each after its batch committed).
  for (;;) {
    const groups = (await redis.xinfo('GROUPS', stream)) as unknown[][];
    const g = Object.fromEntries(Array.from({ length: groups[0].length / 2 }, (_, i) => [groups[0][2 * i], groups[0][2 * i + 1]])) as Record<string, unknown>;
    if (Number(g.lag) === 0 && Number(g.pending) === 0) break;
    await sleep(20);
  }
  const seconds = Number(process.hrtime.bigint() - t0) / 1e9;
  const records = Number(/(\d+) records/.exec(err)?.[1] ?? 0);
  distributed = { seconds, sensorSeconds, records };
  for (const w of workers) w.kill('SIGTERM');
  await redis.quit();
} finally {
  redisServer.kill('SIGTERM');
  pg.stop();
}

const one = rows[0];
const fmt = (n: number) => Math.round(n).toLocaleString('en-US');
const lines = [
  `stream: ${capture} piped through cat (${packets} packets, 20000 flows); median of ${runs} run(s); ${execFileSync('nproc', { encoding: 'utf8' }).trim()} cores`,
  '',
  '| run | seconds | packets/s | CPU s | peak MiB | vs live, 1 thread |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => `| ${r.what} | ${r.m.seconds.toFixed(2)} | ${fmt(r.packets / r.m.seconds)} | ${r.m.cpu_seconds.toFixed(2)} | ${(r.m.maxrss_kib / 1024).toFixed(0)} | ${((r.packets / r.m.seconds) / (one.packets / one.m.seconds)).toFixed(2)}x |`),
];
if (distributed) {
  lines.push(
    `| distributed: sensor (2 threads, model, publish) + 2 workers into PostgreSQL, until all committed | ${distributed.seconds.toFixed(2)} | ${fmt(packets / distributed.seconds)} |  |  | ${((packets / distributed.seconds) / (one.packets / one.m.seconds)).toFixed(2)}x |`,
    '',
    `distributed: ${distributed.records} flows published; the sensor finished after ${distributed.sensorSeconds.toFixed(2)} s, the workers had committed everything ${(distributed.seconds - distributed.sensorSeconds).toFixed(2)} s later`,
  );
}
const two = rows[1];
const pair = rows[2];
lines.push(
  '',
  `2 threads / 1 thread: ${((two.packets / two.m.seconds) / (one.packets / one.m.seconds)).toFixed(2)}x; two independent runs at once / one run: ${((pair.packets / pair.m.seconds) / (one.packets / one.m.seconds)).toFixed(2)}x (what this machine's cores give without any sharing)`,
);
process.stdout.write(lines.join('\n') + '\n');
