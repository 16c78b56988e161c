import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, readFileSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { CellValue } from '../../src/flow/schema.js';
import { openDb } from '../../src/profile/db.js';
import { openProfileStore } from '../../src/profile/open.js';
import { PseudonymKey } from '../../src/profile/pseudonym.js';
import { ProfileStore, classifiedFlows } from '../../src/profile/store.js';

/**
 * `profile forget` leaves no byte: the forgotten user's pseudonym is in neither the SQLite file nor its WAL
 * afterwards (secure_delete, a TRUNCATE checkpoint, VACUUM); the store's files are its owner's only; a key file
 * that is not there is never made for a store that already has a key.
 */
const dir = mkdtempSync(join(tmpdir(), 'cipherscope-forget-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const KEY = PseudonymKey.fromHex('22'.repeat(32));
const NAMES = ['capture', 'flow_id', 'segment', 'first_seen_ns', 'last_seen_ns', 'protocol', 'client_addr', 'client_port', 'server_addr', 'server_port', 'packets', 'bytes', 'predicted_app', 'app_probability', 'predicted_action', 'action_probability'];
const T0 = BigInt(Date.UTC(2026, 10, 23, 21, 0, 0)) * 1_000_000n;

/** n flows of each of two devices, apps named so their bytes are easy to find. */
function rows(n: number): CellValue[][] {
  const out: CellValue[][] = [];
  for (let i = 0; i < n; i++) {
    for (const [k, addr] of ['10.9.0.1', '10.9.0.2'].entries()) {
      const first = T0 + BigInt(i * 60 + k) * 1_000_000_000n;
      out.push([`cap-${k}.pcapng`, i * 2 + k, 0, first, first + 1_000_000_000n, 6, addr, 40000 + i, '10.0.0.1', 443, 10 + i, 1000 + i, k === 0 ? 'ForgottenApp' : 'KeptApp', 0.9, null, null]);
    }
  }
  return out;
}

const count = (bytes: Buffer, s: string) => {
  let n = 0;
  for (let at = bytes.indexOf(s); at >= 0; at = bytes.indexOf(s, at + 1)) n++;
  return n;
};

describe('profile forget leaves no byte', () => {
  it('the pseudonym and its app are gone from the SQLite file and its WAL; the files are mode 600', async () => {
    const file = join(dir, 'p.db');
    const old = process.umask(0o022);
    let store: ProfileStore;
    try {
      store = await ProfileStore.open(await openDb(file), KEY);
    } finally {
      process.umask(old);
    }
    const gone = KEY.device('10.9.0.1');
    const kept = KEY.device('10.9.0.2');
    await store.ingest(classifiedFlows(NAMES, rows(400), KEY, 'test'));
    await store.saveModel('nb', 'naive-bayes', { x: 1 }, [gone, kept]);
    const files = () => [file, `${file}-wal`, `${file}-shm`].filter(existsSync);
    for (const f of files()) assert.equal(statSync(f).mode & 0o777, 0o600, `${f} mode ${(statSync(f).mode & 0o777).toString(8)}`);
    const before = files().reduce((n, f) => n + count(readFileSync(f), gone), 0);
    assert.ok(before > 100, `the pseudonym was stored (${before} copies)`);
    const deleted = await store.forget(gone);
    assert.equal(deleted.users, 1);
    assert.deepEqual(store.forgetNotes, []);
    for (const f of files()) {
      const bytes = readFileSync(f);
      assert.equal(count(bytes, gone), 0, `${f} still holds the pseudonym`);
      assert.equal(count(bytes, 'ForgottenApp'), 0, `${f} still holds the user's app`);
    }
    assert.ok(files().reduce((n, f) => n + count(readFileSync(f), kept), 0) > 0, 'the other user stays');
    await store.close();
    for (const f of files()) assert.equal(count(readFileSync(f), gone), 0, `${f} after close`);
  });

  it('says so when a reader holds the WAL, and the bytes go at the next forget once it closes', async () => {
    const file = join(dir, 'r.db');
    const store = await ProfileStore.open(await openDb(file), KEY);
    await store.ingest(classifiedFlows(NAMES, rows(50), KEY, 'test'));
    const reader = await openDb(file);
    await reader.exec('BEGIN');
    await reader.all('SELECT count(*) FROM users');
    await store.forget(KEY.device('10.9.0.1'));
    assert.equal(store.forgetNotes.length, 1);
    assert.match(store.forgetNotes[0], /r\.db-wal: a reader holds it open/);
    await reader.exec('COMMIT');
    await reader.close();
    await store.forget(KEY.device('10.9.0.2'));
    assert.deepEqual(store.forgetNotes, []);
    await store.close();
    for (const f of [file, `${file}-wal`].filter(existsSync)) assert.equal(count(readFileSync(f), KEY.device('10.9.0.1')), 0, f);
  });

  it('a mistyped --key-file is an error for a store that has a key, and no key file is made', async () => {
    const file = join(dir, 'k.db');
    const keyFile = join(dir, 'right.key');
    const first = await openProfileStore({ db: file, keyFile });
    await first.store.close();
    assert.ok(existsSync(keyFile), 'a new store gets its key');
    assert.equal(statSync(keyFile).mode & 0o777, 0o600);
    const typo = join(dir, 'rigth.key');
    await assert.rejects(openProfileStore({ db: file, keyFile: typo }), /rigth\.key: no pseudonym key there, and the store was started with a key/);
    assert.equal(existsSync(typo), false);
  });
});
