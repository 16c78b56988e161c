import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { ROOT, cli, trainWhatsAppModel } from '../helpers/cli.js';
import { type TestPostgres, startPostgres } from '../helpers/postgres.js';
import { SHARED } from '../helpers/tshark.js';
import { classifiedCsv } from '../helpers/classified.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('cipherscope-profile-cli-');
const keyFile = join(dir, 'profile.key');
writeFileSync(keyFile, 'ab'.repeat(32) + '\n');

const profile = (args: string[], db: string) => cli(['profile', ...args, '--db', db, '--key-file', keyFile]);

/** Run an ingest and SIGKILL it as soon as it reports writing flows inside its transaction. */
function killMidIngest(file: string, db: string): Promise<{ killed: boolean; stderr: string }> {
  return new Promise((resolvePromise, reject) => {
    const p = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/run.ts'), 'profile', 'ingest', file, '--db', db, '--key-file', keyFile, '--report-every', '400'], { cwd: ROOT, env: { ...process.env, CI: 'true' } });
    let stderr = '';
    let killed = false;
    p.stderr.on('data', (d: Buffer) => {
      stderr += d.toString();
      if (!killed && /ingest: \d+ flows/.test(stderr)) {
        killed = true;
        p.kill('SIGKILL');
      }
    });
    p.on('error', reject);
    p.on('close', () => resolvePromise({ killed, stderr }));
  });
}

function exported(db: string): unknown[] {
  const r = profile(['export'], db);
  assert.equal(r.status, 0, r.stderr);
  return r.stdout.trim().split('\n').map((l) => JSON.parse(l));
}

function crashSuite(dbOf: (name: string) => Promise<string>) {
  it('SIGKILL in the middle of an ingest, then ingesting again, gives exactly the totals of one clean ingest', async () => {
    const file = join(dir, 'big.csv');
    classifiedCsv(file, 12_000, 9);
    const clean = await dbOf('clean');
    assert.equal(profile(['ingest', file], clean).status, 0);
    const crashed = await dbOf('crashed');
    const k = await killMidIngest(file, crashed);
    assert.ok(k.killed, `the ingest ended before it could be killed: ${k.stderr}`);
    assert.doesNotMatch(k.stderr, /new, /, 'killed before it committed');
    // Nothing of the killed run is visible: the store is as before it.
    const mid = profile(['export'], crashed);
    assert.equal(mid.status, 0, mid.stderr);
    assert.equal(mid.stdout, '');
    const again = profile(['ingest', file], crashed);
    assert.equal(again.status, 0, again.stderr);
    assert.match(again.stderr, /12000 flows, 12000 new, 9 users updated/);
    assert.deepEqual(exported(crashed), exported(clean));
    // And once more: nothing changes.
    assert.match(profile(['ingest', file], crashed).stderr, /12000 flows, 0 new, 0 users updated/);
    assert.deepEqual(exported(crashed), exported(clean));
  });
}

describe('cipherscope profile', () => {
  it('ingest, show, train, predict, export and forget on real classified WhatsApp Web flows', () => {
    const data = join(SHARED, 'datasets/whatsapp-web-actions');
    const model = trainWhatsAppModel(data, dir);
    const classified = join(dir, 'classified.csv');
    const c = cli(['classify', join(data, 'userA-videos.pcapng'), '--model', model, '-o', classified]);
    assert.equal(c.status, 0, c.stderr);
    const lines = readFileSync(classified, 'utf8').trim().split('\n');
    const rows = lines.slice(1);
    const db = join(dir, 'wa.db');
    const a = profile(['ingest', classified], db);
    assert.equal(a.status, 0, a.stderr);
    assert.match(a.stderr, new RegExp(`${rows.length} flows, ${rows.length} new, 1 users updated`));
    const b = profile(['ingest', classified], db);
    assert.match(b.stderr, new RegExp(`${rows.length} flows, 0 new, 0 users updated`));
    // One device in this capture: its address, hashed, is the user.
    const addr = rows[0].split(',')[lines[0].split(',').indexOf('client_addr')];
    const show = profile(['show', `device:${addr}`], db);
    assert.equal(show.status, 0, show.stderr);
    const p = JSON.parse(show.stdout);
    assert.match(p.userId, /^u[0-9a-f]{31}$/);
    assert.equal(p.streams, rows.length);
    const appCounts = Object.values(p.usage.app as Record<string, number>).reduce((x, y) => x + y, 0);
    assert.equal(appCounts, rows.length);
    assert.ok(!show.stdout.includes(addr), 'the address itself is not stored');
    // list: one record per user, from the same profile, as JSON Lines with -o .jsonl.
    const listed = join(dir, 'users.jsonl');
    assert.equal(profile(['list', '-o', listed], db).status, 0);
    const [u, ...more] = readFileSync(listed, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.equal(more.length, 0);
    assert.equal(u.user, p.userId);
    assert.equal(u.streams, rows.length);
    // The store's seconds to the microsecond, written as an ISO 8601 timestamp with nine digits.
    const ns = BigInt(Math.round(p.firstSeenS * 1e6)) * 1000n;
    assert.equal(u.first_seen, `${new Date(Number(ns / 1_000_000_000n) * 1000).toISOString().slice(0, 19)}.${String(ns % 1_000_000_000n).padStart(9, '0')}Z`);
    const pairs = (u.apps as string).split(';').map((x) => x.split(':'));
    assert.deepEqual(Object.fromEntries(pairs.map(([k, n]) => [k, Number(n)])), p.usage.app);
    assert.deepEqual(pairs.map(([, n]) => Number(n)), pairs.map(([, n]) => Number(n)).sort((a, b) => b - a), 'most first');
    // A store that is not there is named, not made (with a key beside it) by a command that only reads.
    const none = join(dir, 'no-such.db');
    for (const cmd of [['list'], ['export'], ['show', p.userId], ['forget', p.userId]]) {
      const r = profile(cmd, none);
      assert.equal(r.status, 1, cmd.join(' '));
      assert.match(r.stderr, /no-such\.db: no profile store there/);
    }
    assert.equal(existsSync(none), false);

    const users = join(dir, 'users.csv');
    writeFileSync(users, `user,gender,age_group,profession\ndevice:${addr},f,25-34,student\n`);
    const tr = profile(['train', '--users', users], db);
    assert.equal(tr.status, 0, tr.stderr);
    // One labeled user: the model is degenerate, and train and predict say so.
    assert.match(tr.stderr, /warning: trained on 1 labeled user\(s\), fewer than 10/);
    assert.match(tr.stderr, /warning: trait gender: every labeled user has "f"/);
    const pr = profile(['predict'], db);
    assert.equal(pr.status, 0, pr.stderr);
    assert.match(pr.stderr, /warning: nb was trained on 1 user\(s\)/);
    // Probabilities printed to 4 decimals.
    assert.ok([...pr.stdout.matchAll(/:(\d\.\d+)/g)].every((m) => m[1].length <= 6), pr.stdout);
    const pred = JSON.parse(pr.stdout.trim());
    assert.deepEqual(pred.traits.gender, { f: 1 }, 'one labeled user: the only value seen');
    const shown = JSON.parse(profile(['show', p.userId], db).stdout);
    assert.deepEqual(shown.traits, { gender: 'f', age_group: '25-34', profession: 'student' });
    assert.ok(shown.predictions.length >= 3);

    const f = profile(['forget', `device:${addr}`], db);
    assert.equal(f.status, 0, f.stderr);
    assert.match(f.stderr, /users 1, ingested \d+, usage \d+, stream_stats 3, user_traits 1, trait_predictions 3, models 1/);
    assert.equal(profile(['export'], db).stdout, '');
    const g = profile(['show', `device:${addr}`], db);
    assert.equal(g.status, 1);
    assert.match(g.stderr, /no profile for user/);
    const h = profile(['forget', p.userId], db);
    assert.equal(h.status, 1);
    assert.match(h.stderr, /no rows of user/);
  });

  describe('on SQLite', () => crashSuite(async (name) => join(dir, `${name}.db`)));

  describe('on PostgreSQL', () => {
    let pg: TestPostgres;
    before(async () => {
      pg = await startPostgres();
      for (const name of ['clean', 'crashed']) {
        const r = cli(['profile', 'export', '--db', pg.url, '--key-file', keyFile]); // the server answers
        assert.equal(r.status, 0, r.stderr);
        const { openDb } = await import('../../src/profile/db.js');
        const admin = await openDb(pg.url);
        await admin.exec(`CREATE DATABASE ${name}`);
        await admin.close();
      }
    });
    after(() => pg?.stop());
    crashSuite(async (name) => pg.url.replace(/\/postgres$/, `/${name}`));
  });
});

describe('profile ingest --user-from', () => {
  it("two users behind one address become two profiles, as the action log names them", () => {
    const db = join(dir, 'user-from.db');
    const head = 'first_seen_ns,last_seen_ns,protocol,client_addr,client_port,server_addr,server_port,packets,bytes,predicted_app,predicted_action';
    const row = (first: number, port: number) => `${first},${first + 1000},6,127.0.0.1,${port},127.0.0.5,443,10,1000,feed,post`;
    const classified = join(dir, 'two-users.csv');
    writeFileSync(classified, [head, row(1_000_000, 40001), row(2_000_000, 40002), row(9_000_000, 40003), row(9_500_000, 40004)].join('\n') + '\n');
    const log = join(dir, 'two-users.jsonl');
    const line = (user: string, start: number, end: number, seq: number) => JSON.stringify({ user, device: `${user}-browser`, app: 'feed', action: 'post', start_ns: String(start), end_ns: String(end), scenario: 's', repetition: 0, seq, client_addr: '127.0.0.1' });
    writeFileSync(log, [line('userA', 0, 5_000_000, 0), line('userB', 8_000_000, 10_000_000, 1)].join('\n') + '\n');
    const r = profile(['ingest', classified, '--user-from', log], db);
    assert.equal(r.status, 0, r.stderr);
    const users = profile(['export'], db).stdout.trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as { userId: string; streams: number });
    assert.equal(users.length, 2, 'two profiles');
    assert.deepEqual(users.map((u) => u.streams).sort(), [2, 2]);
    // Without the log: one profile, the address's.
    const one = join(dir, 'user-from-none.db');
    assert.equal(profile(['ingest', classified], one).status, 0);
    assert.equal(profile(['export'], one).stdout.trim().split('\n').filter(Boolean).length, 1);
    assert.notEqual(profile(['ingest', classified, '--user', 'x', '--user-from', log], join(dir, 'both.db')).status, 0);
  });
});
