import type { UserOf } from './users-from-actions.js';
import { createHash } from 'node:crypto';
import type { CellValue } from '../flow/schema.js';
import type { SqlDb, SqlValue } from './db.js';
import { type Moments, mergeMoments } from './moments.js';
import type { PseudonymKey } from './pseudonym.js';

/**
 * The user-profile store (001, "User Profiling"): per pseudonymous user, counts of apps, actions, hours of the day
 * and days of the week, and mergeable statistics (count, sum, sum of squares) of stream sizes, packet counts and
 * durations; first and last seen. Updated from classified flows (`cipherscope classify` output), idempotently: a
 * flow counts once however often its capture is ingested. One ingest is one transaction, so a crash leaves the
 * store as it was before or after it, never between.
 *
 * Tables (the same on SQLite and PostgreSQL; MIGRATIONS below):
 *   meta(key, value)                       schema version, key fingerprint
 *   users(user_id, streams, first_seen_s, last_seen_s)
 *   ingested(flow_key, user_id)            which flows are counted (flow_key: a hash of the flow's 5-tuple, segment and start)
 *   usage(user_id, kind, item, count)      kind: app | action | hour | weekday
 *   stream_stats(user_id, metric, n, sum, sum_sq)   metric: bytes | packets | duration_ms (whole milliseconds:
 *                                          integer sums are exact, so batches merge to the same totals in any order)
 *   user_traits(user_id, gender, age_group, profession)     labeled users, for training
 *   trait_predictions(user_id, model, trait, value, probability)
 *   models(name, kind, json, trained_on)   trained trait models; trained_on lists their users
 */
/** Migration i brings a store from schema version i to i + 1; version 0 is an empty database. */
const MIGRATIONS: string[] = [
  `CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
   CREATE TABLE IF NOT EXISTS users (user_id TEXT PRIMARY KEY, streams BIGINT NOT NULL, first_seen_s DOUBLE PRECISION NOT NULL, last_seen_s DOUBLE PRECISION NOT NULL);
   CREATE TABLE IF NOT EXISTS ingested (flow_key TEXT PRIMARY KEY, user_id TEXT NOT NULL);
   CREATE INDEX IF NOT EXISTS ingested_user ON ingested (user_id);
   CREATE TABLE IF NOT EXISTS usage (user_id TEXT NOT NULL, kind TEXT NOT NULL, item TEXT NOT NULL, count BIGINT NOT NULL, PRIMARY KEY (user_id, kind, item));
   CREATE TABLE IF NOT EXISTS stream_stats (user_id TEXT NOT NULL, metric TEXT NOT NULL, n BIGINT NOT NULL, sum DOUBLE PRECISION NOT NULL, sum_sq DOUBLE PRECISION NOT NULL, PRIMARY KEY (user_id, metric));
   CREATE TABLE IF NOT EXISTS user_traits (user_id TEXT PRIMARY KEY, gender TEXT, age_group TEXT, profession TEXT);
   CREATE TABLE IF NOT EXISTS trait_predictions (user_id TEXT NOT NULL, model TEXT NOT NULL, trait TEXT NOT NULL, value TEXT NOT NULL, probability DOUBLE PRECISION NOT NULL, PRIMARY KEY (user_id, model, trait, value));
   CREATE TABLE IF NOT EXISTS models (name TEXT PRIMARY KEY, kind TEXT NOT NULL, json TEXT NOT NULL, trained_on TEXT NOT NULL);`,
];
export const SCHEMA_VERSION = MIGRATIONS.length;

/** Tables that hold a user_id column: forget() empties each of them of the user. */
export const USER_TABLES = ['users', 'ingested', 'usage', 'stream_stats', 'user_traits', 'trait_predictions'] as const;
export const TRAITS = ['gender', 'age_group', 'profession'] as const;
export type Trait = (typeof TRAITS)[number];
export const USAGE_KINDS = ['app', 'action', 'hour', 'weekday'] as const;
export const STREAM_METRICS = ['bytes', 'packets', 'duration_ms'] as const;

/** One classified flow, as ingest reads it. */
export interface ClassifiedFlow {
  key: string;
  userId: string;
  firstSeenS: number;
  lastSeenS: number;
  /** last - first seen in whole milliseconds (from the nanosecond times, exactly). */
  durationMs: number;
  app: string;
  action: string | null;
  packets: number;
  bytes: number;
}

export interface UserProfile {
  userId: string;
  streams: number;
  firstSeenS: number;
  lastSeenS: number;
  usage: Record<string, Record<string, number>>;
  stats: Record<string, Moments>;
  traits: Partial<Record<Trait, string>>;
  predictions: Array<{ model: string; trait: string; value: string; probability: number }>;
}

export interface IngestOptions {
  /** Hours to add to UTC for the hour-of-day and day-of-week histograms (the users' time zone). */
  utcOffsetHours?: number;
  /** Called after each chunk of flows is written inside the transaction (progress; tests stop a run there). */
  onChunk?: (flowsDone: number) => void;
}

export interface IngestResult {
  flows: number;
  newFlows: number;
  users: number;
}

/** Rows of `cipherscope classify` output as flows of users: by device address (client_addr), or all one operator id. */
/**
 * `operatorId`: every flow is this user's (--user); else `userOf` names the operator id of each flow (--user-from,
 * users-from-actions.ts), and flows it cannot name are counted under their device address, as without either.
 */
function byLog(userOf: UserOf | undefined, key: PseudonymKey, addr: string, first: bigint | number, last: bigint | number): string | undefined {
  if (userOf === undefined) return undefined;
  const u = userOf(addr, BigInt(first), BigInt(last));
  return u === undefined ? undefined : key.operator(u);
}

export function classifiedFlows(names: readonly string[], rows: readonly CellValue[][], key: PseudonymKey, where: string, operatorId?: string, userOf?: UserOf): ClassifiedFlow[] {
  const need = ['first_seen_ns', 'last_seen_ns', 'protocol', 'client_addr', 'client_port', 'server_addr', 'server_port', 'packets', 'bytes', 'predicted_app', 'predicted_action'];
  const at = Object.fromEntries(need.map((n) => [n, names.indexOf(n)]));
  const missing = need.filter((n) => at[n] < 0);
  if (missing.length > 0) throw new Error(`${where}: not cipherscope classify output: no ${missing.join(', ')} column`);
  const seg = names.indexOf('segment');
  const operator = operatorId === undefined ? undefined : key.operator(operatorId);
  return rows.map((r, i) => {
    const first = r[at.first_seen_ns];
    const last = r[at.last_seen_ns];
    const addr = r[at.client_addr];
    const app = r[at.predicted_app];
    if ((typeof first !== 'bigint' && typeof first !== 'number') || (typeof last !== 'bigint' && typeof last !== 'number')) throw new Error(`${where}: record ${i + 1}: no first_seen_ns / last_seen_ns`);
    if (typeof addr !== 'string' || addr === '') throw new Error(`${where}: record ${i + 1}: no client_addr`);
    if (typeof app !== 'string' || app === '') throw new Error(`${where}: record ${i + 1}: no predicted_app`);
    const id = [first, r[at.protocol], addr, r[at.client_port], r[at.server_addr], r[at.server_port], seg >= 0 ? r[seg] : 0].map(String).join('|');
    const action = r[at.predicted_action];
    return {
      key: createHash('sha256').update(id).digest('hex').slice(0, 32),
      userId: operator ?? byLog(userOf, key, addr, first, last) ?? key.device(addr),
      firstSeenS: Number(first) / 1e9,
      lastSeenS: Number(last) / 1e9,
      durationMs: Math.max(0, Number((BigInt(last) - BigInt(first)) / 1_000_000n)),
      app,
      action: typeof action === 'string' && action !== '' ? action : null,
      packets: Number(r[at.packets] ?? 0),
      bytes: Number(r[at.bytes] ?? 0),
    };
  });
}

const CHUNK = 400;

/** "($1, $2), ($3, $4), ..." for `rows` rows of `width` parameters. */
function valuesList(rows: number, width: number): string {
  return Array.from({ length: rows }, (_, j) => `(${Array.from({ length: width }, (_, k) => `$${j * width + k + 1}`).join(', ')})`).join(', ');
}
/** Parameters per statement: below SQLite's default limit (32,766) and PostgreSQL's (65,535). */
const MAX_PARAMS = 30_000;

export class ProfileStore {
  private constructor(readonly db: SqlDb) {}

  /** Open a store and bring its schema up to date; the key must be the one the store was started with. */
  static async open(db: SqlDb, key: PseudonymKey): Promise<ProfileStore> {
    const s = new ProfileStore(db);
    await db.transaction(async () => {
      // meta is created by the first migration, which only creates what is missing: run it to read the version.
      await db.exec(MIGRATIONS[0]);
      const rows = await db.all<{ key: string; value: string }>('SELECT key, value FROM meta');
      const meta = new Map(rows.map((r) => [r.key, r.value]));
      const version = Number(meta.get('schema_version') ?? 1);
      if (version > SCHEMA_VERSION) throw new Error(`${db.where}: profile store schema version ${version}, newer than this cipherscope (${SCHEMA_VERSION})`);
      for (let v = version; v < MIGRATIONS.length; v++) await db.exec(MIGRATIONS[v]);
      if (!meta.has('schema_version')) await db.run('INSERT INTO meta (key, value) VALUES ($1, $2)', ['schema_version', String(SCHEMA_VERSION)]);
      else await db.run('UPDATE meta SET value = $1 WHERE key = $2', [String(SCHEMA_VERSION), 'schema_version']);
      const fp = key.fingerprint();
      const have = meta.get('key_fingerprint');
      if (have === undefined) await db.run('INSERT INTO meta (key, value) VALUES ($1, $2)', ['key_fingerprint', fp]);
      else if (have !== fp) throw new Error(`${db.where}: this profile store was started with another pseudonym key; ingesting with this one would split every user in two (--key-file)`);
    });
    return s;
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /** Count every flow not counted yet, in one transaction. */
  async ingest(flows: readonly ClassifiedFlow[], o: IngestOptions = {}): Promise<IngestResult> {
    const offset = (o.utcOffsetHours ?? 0) * 3600;
    return this.db.transaction(async () => {
      const fresh: ClassifiedFlow[] = [];
      for (let i = 0; i < flows.length; i += CHUNK) {
        const part = flows.slice(i, i + CHUNK);
        // Deduplicate within the chunk as well: the same flow twice in one file still counts once.
        const uniq = [...new Map(part.map((f) => [f.key, f])).values()];
        const inserted = await this.db.all<{ flow_key: string }>(`INSERT INTO ingested (flow_key, user_id) VALUES ${valuesList(uniq.length, 2)} ON CONFLICT (flow_key) DO NOTHING RETURNING flow_key`, uniq.flatMap((f) => [f.key, f.userId]));
        const got = new Set(inserted.map((r) => r.flow_key));
        for (const f of uniq) if (got.has(f.key)) fresh.push(f);
        o.onChunk?.(Math.min(i + CHUNK, flows.length));
      }
      // Aggregate the new flows per user, then one upsert per user and item.
      const users = new Map<string, { streams: number; first: number; last: number; usage: Map<string, number>; stats: Map<string, Moments> }>();
      for (const f of fresh) {
        let u = users.get(f.userId);
        if (!u) users.set(f.userId, (u = { streams: 0, first: Infinity, last: -Infinity, usage: new Map(), stats: new Map() }));
        u.streams++;
        u.first = Math.min(u.first, f.firstSeenS);
        u.last = Math.max(u.last, f.lastSeenS);
        const local = f.firstSeenS + offset;
        const day = Math.floor(local / 86400);
        const items: Array<[string, string]> = [
          ['app', f.app],
          ['hour', String(Math.floor((local - day * 86400) / 3600))],
          ['weekday', String((((day + 4) % 7) + 7) % 7)], // 1970-01-01 was a Thursday; 0 = Sunday
        ];
        if (f.action !== null) items.push(['action', `${f.app}/${f.action}`]);
        for (const [kind, item] of items) u.usage.set(`${kind}\u0000${item}`, (u.usage.get(`${kind}\u0000${item}`) ?? 0) + 1);
        for (const [metric, v] of [
          ['bytes', f.bytes],
          ['packets', f.packets],
          ['duration_ms', f.durationMs],
        ] as const)
          u.stats.set(metric, mergeMoments(u.stats.get(metric) ?? { n: 0, sum: 0, sumSq: 0 }, { n: 1, sum: v, sumSq: v * v }));
      }
      // Multi-row upserts: one statement per table and chunk, not per user and item. A store shared over the network
      // (PostgreSQL) paid a round trip per statement: 8 per user, most of a worker's time when users are many.
      const userRows: SqlValue[][] = [];
      const usageRows: SqlValue[][] = [];
      const statRows: SqlValue[][] = [];
      for (const [id, u] of users) {
        userRows.push([id, u.streams, u.first, u.last]);
        for (const [k, count] of u.usage) {
          const [kind, item] = k.split('\u0000');
          usageRows.push([id, kind, item, count]);
        }
        for (const [metric, m] of u.stats) statRows.push([id, metric, m.n, m.sum, m.sumSq]);
      }
      await this.upsertMany(
        'INSERT INTO users (user_id, streams, first_seen_s, last_seen_s) VALUES',
        userRows,
        `ON CONFLICT (user_id) DO UPDATE SET streams = users.streams + excluded.streams,
             first_seen_s = CASE WHEN excluded.first_seen_s < users.first_seen_s THEN excluded.first_seen_s ELSE users.first_seen_s END,
             last_seen_s = CASE WHEN excluded.last_seen_s > users.last_seen_s THEN excluded.last_seen_s ELSE users.last_seen_s END`,
      );
      await this.upsertMany('INSERT INTO usage (user_id, kind, item, count) VALUES', usageRows, 'ON CONFLICT (user_id, kind, item) DO UPDATE SET count = usage.count + excluded.count');
      await this.upsertMany(
        'INSERT INTO stream_stats (user_id, metric, n, sum, sum_sq) VALUES',
        statRows,
        'ON CONFLICT (user_id, metric) DO UPDATE SET n = stream_stats.n + excluded.n, sum = stream_stats.sum + excluded.sum, sum_sq = stream_stats.sum_sq + excluded.sum_sq',
      );
      return { flows: flows.length, newFlows: fresh.length, users: users.size };
    });
  }

  /**
   * `insert` VALUES (...), (...) `conflict`, in chunks that stay under both databases' limits on parameters per
   * statement. Rows must have distinct conflict keys (an upsert may not touch one row twice in a statement).
   */
  private async upsertMany(insert: string, rows: readonly SqlValue[][], conflict: string): Promise<void> {
    if (rows.length === 0) return;
    const width = rows[0].length;
    const per = Math.floor(MAX_PARAMS / width);
    for (let i = 0; i < rows.length; i += per) {
      const part = rows.slice(i, i + per);
      await this.db.run(`${insert} ${valuesList(part.length, width)} ${conflict}`, part.flat());
    }
  }

  /** Users with their stream counts and time span, most streams first. */
  async listUsers(limit = 1000): Promise<Array<{ userId: string; streams: number; firstSeenS: number; lastSeenS: number }>> {
    const rows = await this.db.all<{ user_id: string; streams: number; first_seen_s: number; last_seen_s: number }>('SELECT user_id, streams, first_seen_s, last_seen_s FROM users ORDER BY streams DESC, user_id LIMIT $1', [limit]);
    return rows.map((r) => ({ userId: r.user_id, streams: Number(r.streams), firstSeenS: Number(r.first_seen_s), lastSeenS: Number(r.last_seen_s) }));
  }

  async userIds(): Promise<string[]> {
    return (await this.db.all<{ user_id: string }>('SELECT user_id FROM users ORDER BY user_id')).map((r) => r.user_id);
  }

  async profile(userId: string): Promise<UserProfile | undefined> {
    const [u] = await this.db.all<{ streams: number; first_seen_s: number; last_seen_s: number }>('SELECT streams, first_seen_s, last_seen_s FROM users WHERE user_id = $1', [userId]);
    if (!u) return undefined;
    const usage: UserProfile['usage'] = {};
    for (const r of await this.db.all<{ kind: string; item: string; count: number }>('SELECT kind, item, count FROM usage WHERE user_id = $1 ORDER BY kind, item', [userId])) (usage[r.kind] ??= {})[r.item] = Number(r.count);
    const stats: UserProfile['stats'] = {};
    for (const r of await this.db.all<{ metric: string; n: number; sum: number; sum_sq: number }>('SELECT metric, n, sum, sum_sq FROM stream_stats WHERE user_id = $1 ORDER BY metric', [userId])) stats[r.metric] = { n: Number(r.n), sum: Number(r.sum), sumSq: Number(r.sum_sq) };
    const [t] = await this.db.all<Record<Trait, string | null>>('SELECT gender, age_group, profession FROM user_traits WHERE user_id = $1', [userId]);
    const traits: UserProfile['traits'] = {};
    if (t) for (const k of TRAITS) if (t[k] !== null && t[k] !== '') traits[k] = t[k]!;
    const predictions = (await this.db.all<{ model: string; trait: string; value: string; probability: number }>('SELECT model, trait, value, probability FROM trait_predictions WHERE user_id = $1 ORDER BY model, trait, probability DESC, value', [userId])).map((r) => ({ ...r, probability: Number(r.probability) }));
    return { userId, streams: Number(u.streams), firstSeenS: Number(u.first_seen_s), lastSeenS: Number(u.last_seen_s), usage, stats, traits, predictions };
  }

  /** Usage counts of every user, as "kind:item" tokens (the trait models' input). */
  async usageTokens(): Promise<Map<string, Map<string, number>>> {
    const out = new Map<string, Map<string, number>>();
    for (const r of await this.db.all<{ user_id: string; kind: string; item: string; count: number }>('SELECT user_id, kind, item, count FROM usage ORDER BY user_id, kind, item')) {
      let m = out.get(r.user_id);
      if (!m) out.set(r.user_id, (m = new Map()));
      m.set(`${r.kind}:${r.item}`, Number(r.count));
    }
    return out;
  }

  /** Replace the labeled users table. */
  async setTraits(rows: ReadonlyArray<{ userId: string } & Partial<Record<Trait, string>>>): Promise<void> {
    await this.db.transaction(async () => {
      await this.db.run('DELETE FROM user_traits');
      for (const r of rows) await this.db.run('INSERT INTO user_traits (user_id, gender, age_group, profession) VALUES ($1, $2, $3, $4)', [r.userId, r.gender ?? null, r.age_group ?? null, r.profession ?? null]);
    });
  }

  async traits(): Promise<Map<string, Partial<Record<Trait, string>>>> {
    const out = new Map<string, Partial<Record<Trait, string>>>();
    for (const r of await this.db.all<{ user_id: string } & Record<Trait, string | null>>('SELECT user_id, gender, age_group, profession FROM user_traits ORDER BY user_id')) {
      const t: Partial<Record<Trait, string>> = {};
      for (const k of TRAITS) if (r[k] !== null && r[k] !== '') t[k] = r[k]!;
      out.set(r.user_id, t);
    }
    return out;
  }

  async saveModel(name: string, kind: string, json: unknown, trainedOn: readonly string[]): Promise<void> {
    await this.db.run('INSERT INTO models (name, kind, json, trained_on) VALUES ($1, $2, $3, $4) ON CONFLICT (name) DO UPDATE SET kind = excluded.kind, json = excluded.json, trained_on = excluded.trained_on', [name, kind, JSON.stringify(json), JSON.stringify(trainedOn)]);
  }

  async loadModel(name: string): Promise<{ kind: string; json: unknown } | undefined> {
    const [r] = await this.db.all<{ kind: string; json: string }>('SELECT kind, json FROM models WHERE name = $1', [name]);
    return r ? { kind: r.kind, json: JSON.parse(r.json) } : undefined;
  }

  /** Replace a model's predictions for these users. */
  async savePredictions(model: string, rows: ReadonlyArray<{ userId: string; trait: string; value: string; probability: number }>): Promise<void> {
    await this.db.transaction(async () => {
      for (const id of new Set(rows.map((r) => r.userId))) await this.db.run('DELETE FROM trait_predictions WHERE user_id = $1 AND model = $2', [id, model]);
      for (const r of rows) await this.db.run('INSERT INTO trait_predictions (user_id, model, trait, value, probability) VALUES ($1, $2, $3, $4, $5)', [r.userId, model, r.trait, r.value, r.probability]);
    });
  }

  /**
   * The right to be forgotten: every row of the user in every table, and every trait model trained with the user's
   * data (they must be trained again without it). Returns the rows deleted per table.
   */
  async forget(userId: string): Promise<Record<string, number>> {
    const deleted = await this.db.transaction(async () => {
      const deleted: Record<string, number> = {};
      for (const t of USER_TABLES) deleted[t] = await this.db.run(`DELETE FROM ${t} WHERE user_id = $1`, [userId]);
      const models = await this.db.all<{ name: string; trained_on: string }>('SELECT name, trained_on FROM models');
      let n = 0;
      for (const m of models) if ((JSON.parse(m.trained_on) as string[]).includes(userId)) n += await this.db.run('DELETE FROM models WHERE name = $1', [m.name]);
      deleted.models = n;
      return deleted;
    });
    // No byte of the user left behind in free pages, the WAL or dead tuples.
    this.forgetNotes = await this.db.compact([...USER_TABLES, 'models']);
    return deleted;
  }

  /** What the last forget() could not wipe at once (SqlDb.compact). */
  forgetNotes: string[] = [];

  /** The key fingerprint a store was started with, if it exists: without a key file, no new key is made for it. */
  static async keyFingerprint(db: SqlDb): Promise<string | undefined> {
    try {
      const rows = await db.all<{ value: string }>('SELECT value FROM meta WHERE key = $1', ['key_fingerprint']);
      return rows[0]?.value;
    } catch {
      return undefined; // no meta table: a new store
    }
  }
}

export type { SqlValue };
