import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import type { CellValue } from '../../src/flow/schema.js';
import { type SqlDb, openDb } from '../../src/profile/db.js';
import { PseudonymKey } from '../../src/profile/pseudonym.js';
import { ProfileStore, USER_TABLES, classifiedFlows } from '../../src/profile/store.js';
import { type TestPostgres, startPostgres } from '../helpers/postgres.js';
import { tempDir } from '../helpers/temp.js';

const KEY = PseudonymKey.fromHex('11'.repeat(32));
const NAMES = ['capture', 'flow_id', 'segment', 'first_seen_ns', 'last_seen_ns', 'protocol', 'client_addr', 'client_port', 'server_addr', 'server_port', 'packets', 'bytes', 'predicted_app', 'app_probability', 'predicted_action', 'action_probability'];
// 2026-11-23 was a Monday; 21:00 UTC.
const T0 = BigInt(Date.UTC(2026, 10, 23, 21, 0, 0)) * 1_000_000n;

function row(i: number, addr: string, app: string, action: string | null, packets: number, bytes: number, startS: number, durS: number): CellValue[] {
  const first = T0 + BigInt(startS) * 1_000_000_000n;
  return ['cap.pcapng', i, 0, first, first + BigInt(Math.round(durS * 1e9)), 6, addr, 40000 + i, '10.0.0.1', 443, packets, bytes, app, 0.9, action, 0.8];
}

const ROWS: CellValue[][] = [
  row(1, '192.168.1.10', 'Video', 'play_video', 100, 90_000, 0, 10),
  row(2, '192.168.1.10', 'Video', 'play_video', 50, 40_000, 60, 5),
  row(3, '192.168.1.10', 'Chat', 'send_text', 6, 900, 3 * 3600, 0.5), // Tuesday 00:00
  row(4, '192.168.1.20', 'Mail', 'read_mail', 12, 5_000, 30, 1),
  row(5, '192.168.1.20', 'unknown', null, 3, 200, 40, 0),
];

async function suite(open: () => Promise<SqlDb>) {
  const a = KEY.device('192.168.1.10');
  const b = KEY.device('192.168.1.20');

  it('ingests classified flows into per-user counts, histograms and mergeable statistics', async () => {
    const store = await ProfileStore.open(await open(), KEY);
    try {
      const r = await store.ingest(classifiedFlows(NAMES, ROWS, KEY, 'test'));
      assert.deepEqual(r, { flows: 5, newFlows: 5, users: 2 });
      const p = (await store.profile(a))!;
      assert.equal(p.streams, 3);
      assert.deepEqual(p.usage.app, { Chat: 1, Video: 2 });
      assert.deepEqual(p.usage.action, { 'Chat/send_text': 1, 'Video/play_video': 2 });
      assert.deepEqual(p.usage.hour, { '0': 1, '21': 2 });
      assert.deepEqual(p.usage.weekday, { '1': 2, '2': 1 }); // Monday, Tuesday
      assert.deepEqual(p.stats.bytes, { n: 3, sum: 130_900, sumSq: 90_000 ** 2 + 40_000 ** 2 + 900 ** 2 });
      assert.deepEqual(p.stats.packets, { n: 3, sum: 156, sumSq: 100 ** 2 + 50 ** 2 + 36 });
      assert.deepEqual(p.stats.duration_ms, { n: 3, sum: 15_500, sumSq: 10_000 ** 2 + 5_000 ** 2 + 500 ** 2 });
      assert.equal(p.firstSeenS, Number(T0) / 1e9);
      assert.equal(p.lastSeenS, Number(T0) / 1e9 + 3 * 3600 + 0.5);
      const q = (await store.profile(b))!;
      assert.deepEqual(q.usage.app, { Mail: 1, unknown: 1 });
      assert.deepEqual(q.usage.action, { 'Mail/read_mail': 1 });
      assert.deepEqual((await store.userIds()).sort(), [a, b].sort());
      // Ingesting the same flows again, alone or among new ones, counts each flow once.
      assert.deepEqual(await store.ingest(classifiedFlows(NAMES, ROWS, KEY, 'test')), { flows: 5, newFlows: 0, users: 0 });
      const more = [...ROWS, row(6, '192.168.1.20', 'Mail', 'send_mail', 20, 8_000, 90, 2)];
      assert.deepEqual(await store.ingest(classifiedFlows(NAMES, more, KEY, 'test')), { flows: 6, newFlows: 1, users: 1 });
      const q2 = (await store.profile(b))!;
      assert.equal(q2.streams, 3);
      assert.deepEqual(q2.stats.bytes, { n: 3, sum: 13_200, sumSq: 5_000 ** 2 + 200 ** 2 + 8_000 ** 2 });
    } finally {
      await store.close();
    }
  });

  it('an operator id makes one user of a whole file, and the time zone moves the histograms', async () => {
    const store = await ProfileStore.open(await open(), KEY);
    try {
      await store.ingest(classifiedFlows(NAMES, ROWS.slice(0, 2), KEY, 'test', 'participant-7'), { utcOffsetHours: 5 });
      const p = (await store.profile(KEY.operator('participant-7')))!;
      assert.equal(p.streams, 2);
      assert.deepEqual(p.usage.hour, { '2': 2 }); // 21:00 UTC is 02:00 at UTC+5, on Tuesday
      assert.deepEqual(p.usage.weekday, { '2': 2 });
    } finally {
      await store.close();
    }
  });

  it('forget removes every row of the user from every table, and the trait models trained on the user', async () => {
    const store = await ProfileStore.open(await open(), KEY);
    try {
      await store.ingest(classifiedFlows(NAMES, ROWS, KEY, 'test'));
      await store.setTraits([
        { userId: a, gender: 'f', age_group: '25-34', profession: 'student' },
        { userId: b, gender: 'm', age_group: '35-44', profession: 'engineer' },
      ]);
      await store.savePredictions('nb', [
        { userId: a, trait: 'gender', value: 'f', probability: 0.7 },
        { userId: b, trait: 'gender', value: 'm', probability: 0.6 },
      ]);
      await store.saveModel('nb', 'naive-bayes', { x: 1 }, [a, b]);
      await store.saveModel('other', 'naive-bayes', { x: 2 }, [b]);
      const deleted = await store.forget(a);
      assert.equal(deleted.users, 1);
      assert.equal(deleted.ingested, 3);
      assert.equal(deleted.models, 1);
      // Every table with a user_id column, found by asking the database, holds no row of the user; no stored text
      // (models included) names the user.
      const db = store.db;
      const tables =
        db.dialect === 'sqlite'
          ? (await db.all<{ name: string }>("SELECT name FROM sqlite_master WHERE type = 'table'")).map((t) => t.name)
          : (await db.all<{ name: string }>("SELECT table_name AS name FROM information_schema.tables WHERE table_schema = 'public'")).map((t) => t.name);
      assert.deepEqual([...USER_TABLES, 'meta', 'models'].sort(), [...tables].sort());
      for (const t of tables) {
        const rows = await db.all<Record<string, unknown>>(`SELECT * FROM ${t}`);
        for (const r of rows) assert.ok(!JSON.stringify(r).includes(a), `${t} still holds ${a}: ${JSON.stringify(r)}`);
      }
      assert.ok(await store.profile(b));
      assert.equal(await store.profile(a), undefined);
      assert.ok(await store.loadModel('other'));
      assert.equal(await store.loadModel('nb'), undefined);
    } finally {
      await store.close();
    }
  });

  it('refuses a key other than the one the store was started with', async () => {
    const db = await open();
    const store = await ProfileStore.open(db, KEY);
    try {
      await assert.rejects(ProfileStore.open(db, PseudonymKey.fromHex('22'.repeat(32))), /another pseudonym key/);
    } finally {
      await store.close();
    }
  });
}

describe('profile store on SQLite', () => {
  const dir = tempDir('cipherscope-profile-');
  let n = 0;
  suite(() => openDb(join(dir, `p${n++}.db`)));
});

describe('profile store on PostgreSQL (a real server on loopback)', () => {
  let pg: TestPostgres;
  let n = 0;
  before(async () => {
    pg = await startPostgres();
  });
  after(() => pg?.stop());
  suite(async () => {
    // A database of its own for each test.
    const admin = await openDb(pg.url);
    const name = `t${n++}`;
    await admin.exec(`CREATE DATABASE ${name}`);
    await admin.close();
    return openDb(pg.url.replace(/\/postgres$/, `/${name}`));
  });
});
