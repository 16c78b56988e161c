import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { openDb } from '../../src/profile/db.js';
import { freePort, sleep } from '../../src/testbed/driver.js';
import { classifiedCsv } from '../helpers/classified.js';
import { ROOT, cli, trainWhatsAppModel } from '../helpers/cli.js';
import { SHARED } from '../helpers/tshark.js';
import { type TestPostgres, startPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp.js';

/**
 * Scale-out for real: redis-server and PostgreSQL on loopback, two workers in one consumer group, one killed with
 * SIGKILL as soon as it has read a batch; the totals must be exactly those of a single-process ingest.
 */
const skip = !existsSync('/usr/bin/redis-server') && process.env.CI !== 'true' ? 'redis-server not installed (scripts/setup.sh installs it)' : false;

describe('workers on Redis Streams and a shared PostgreSQL store', { skip }, () => {
  const dir = tempDir('cipherscope-workers-');
  const keyFile = join(dir, 'key');
  writeFileSync(keyFile, 'ef'.repeat(32) + '\n');
  let pg: TestPostgres;
  let redis: ChildProcess;
  let redisUrl = '';

  before(async () => {
    pg = await startPostgres();
    const admin = await openDb(pg.url);
    for (const name of ['single', 'shared', 'direct', 'sensed']) await admin.exec(`CREATE DATABASE ${name}`);
    await admin.close();
    const port = await freePort();
    redis = spawn('/usr/bin/redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    redisUrl = `redis://127.0.0.1:${port}`;
    await sleep(300);
  });
  after(() => {
    redis?.kill('SIGTERM');
    pg?.stop();
  });

  it('a Redis that is not there: publish and worker exit 1 naming the URL and the refused connection, without ioredis\'s stack', async () => {
    const closed = `redis://127.0.0.1:${await freePort()}`;
    const classified = join(dir, 'nowhere.csv');
    classifiedCsv(classified, 5, 1);
    for (const args of [['publish', classified, '--redis', closed], ['worker', '--redis', closed, '--db', join(dir, 'nowhere.db'), '--key-file', keyFile]]) {
      const r = cli(args);
      assert.equal(r.status, 1, args[0]);
      assert.match(r.stderr, new RegExp(`${closed}: cannot connect to Redis: connect ECONNREFUSED`));
      assert.doesNotMatch(r.stderr, /Unhandled error event|at TCPConnectWrap/);
    }
  });

  it('a worker killed with SIGKILL mid-batch loses and doubles nothing: the totals of a single-process ingest', { timeout: 180_000 }, async () => {
    const file = join(dir, 'flows.csv');
    classifiedCsv(file, 6_000, 11);
    const db = (name: string) => pg.url.replace(/\/postgres$/, `/${name}`);
    const single = cli(['profile', 'ingest', file, '--db', db('single'), '--key-file', keyFile]);
    assert.equal(single.status, 0, single.stderr);

    const pub = cli(['publish', file, '--redis', redisUrl]);
    assert.equal(pub.status, 0, pub.stderr);
    assert.match(pub.stderr, /6000 flows published/);
    const worker = (name: string) => {
      const p = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/run.ts'), 'worker', '--redis', redisUrl, '--db', db('shared'), '--key-file', keyFile, '--name', name, '--batch', '300', '--claim-idle', '2', '--until-empty'], { cwd: ROOT });
      let err = '';
      p.stderr!.on('data', (d: Buffer) => (err += d.toString()));
      return { p, err: () => err, done: new Promise<number | null>((r) => p.once('close', r)) };
    };
    // a reads a batch and is killed before it can acknowledge it (SIGKILL as soon as it says it has read); its
    // records stay pending in the group. b, started next, reads the rest and claims a's after 2 s of silence.
    const a = worker('a');
    while (!/worker a: read \d+/.test(a.err())) {
      if (a.p.exitCode !== null) throw new Error(`worker a ended before reading: ${a.err()}`);
      await sleep(5);
    }
    a.p.kill('SIGKILL');
    await a.done;
    assert.doesNotMatch(a.err(), /committed 300 \(300 new\), 6000/);
    const b = worker('b');
    const code = await Promise.race([b.done, sleep(150_000).then(() => 'timeout')]);
    if (code === 'timeout') b.p.kill('SIGKILL');
    assert.equal(code, 0, `worker b: ${b.err().slice(-2000)}`);
    assert.match(b.err(), /worker b: committed/);
    const exp = (name: string) => {
      const r = cli(['profile', 'export', '--db', db(name), '--key-file', keyFile]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    };
    const want = exp('single');
    assert.equal(want.length, 11);
    assert.deepEqual(exp('shared'), want);
  });

  it('`live --publish` as a sensor (2 threads): its classified flows reach the shared store through a worker, as `classify` + `profile ingest` would count them', { timeout: 180_000 }, async () => {
    const data = join(SHARED, 'datasets/whatsapp-web-actions');
    const model = trainWhatsAppModel(data, dir);
    const capture = join(data, 'userA-four-groups-mixed.pcapng');
    const db = (name: string) => pg.url.replace(/\/postgres$/, `/${name}`);
    const classified = join(dir, 'classified.csv');
    const c = cli(['classify', capture, '--model', model, '-o', classified]);
    assert.equal(c.status, 0, c.stderr);
    const direct = cli(['profile', 'ingest', classified, '--db', db('direct'), '--key-file', keyFile]);
    assert.equal(direct.status, 0, direct.stderr);
    const stream = 'cipherscope:sensor-test';
    const sensor = cli(['live', '-', '--model', model, '--publish', redisUrl, '--stream', stream, '--threads', '2', '-o', '/dev/null'], readFileSync(capture));
    assert.equal(sensor.status, 0, sensor.stderr);
    const flows = readFileSync(classified, 'utf8').trim().split('\n').length - 1;
    assert.match(sensor.stderr, new RegExp(`${flows} records`));
    const w = cli(['worker', '--redis', redisUrl, '--stream', stream, '--db', db('sensed'), '--key-file', keyFile, '--until-empty']);
    assert.equal(w.status, 0, w.stderr);
    const exp = (name: string) => {
      const r = cli(['profile', 'export', '--db', db(name), '--key-file', keyFile]);
      assert.equal(r.status, 0, r.stderr);
      return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
    };
    const want = exp('direct');
    assert.ok(want.length >= 1);
    assert.deepEqual(exp('sensed'), want);
  });
});
