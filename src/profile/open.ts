import { openDb } from './db.js';
import { PseudonymKey } from './pseudonym.js';
import { ProfileStore } from './store.js';

export interface StoreOptions {
  /** A SQLite file, or postgresql://... */
  db: string;
  /** The pseudonym key's file (see PseudonymKey.load). */
  keyFile?: string;
}

/** The store of `db` under the key of `keyFile`. */
export async function openProfileStore(o: StoreOptions): Promise<{ store: ProfileStore; key: PseudonymKey }> {
  const key = PseudonymKey.load(o.keyFile);
  return { store: await ProfileStore.open(await openDb(o.db), key), key };
}
