import { existsSync } from 'node:fs';
import { isPostgresUrl, openDb } from './db.js';
import { PseudonymKey } from './pseudonym.js';
import { ProfileStore } from './store.js';

export interface StoreOptions {
  /** A SQLite file, or postgresql://... */
  db: string;
  /** The pseudonym key's file (see PseudonymKey.load). */
  keyFile?: string;
  /**
   * The store must be there already (commands that only read or remove): a SQLite file that does not exist is an
   * error, not a new empty store with a new key beside it.
   */
  existing?: boolean;
}

/** The store of `db` under the key of `keyFile`. */
export async function openProfileStore(o: StoreOptions): Promise<{ store: ProfileStore; key: PseudonymKey }> {
  if (o.existing && o.db !== ':memory:' && !isPostgresUrl(o.db) && !existsSync(o.db)) throw new Error(`${o.db}: no profile store there (profile ingest, or live --db, makes one); --db names it`);
  const db = await openDb(o.db);
  try {
    // A key is only made for a new store: a mistyped --key-file must not mint a key beside an existing one.
    const started = (await ProfileStore.keyFingerprint(db)) !== undefined;
    const key = PseudonymKey.load(o.keyFile, !started);
    return { store: await ProfileStore.open(db, key), key };
  } catch (e) {
    await db.close();
    throw e;
  }
}
