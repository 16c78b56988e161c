import { closeSync, existsSync, mkdirSync, openSync } from 'node:fs';
import { dirname } from 'node:path';

/**
 * The little SQL the profile store needs, over SQLite (better-sqlite3: one file, WAL) and PostgreSQL (pg), so both
 * run the same statements and migrations. Statements use $1, $2, ... each once and in order (SQLite gets them as ?).
 * Values: numbers, strings, null. Both run one transaction at a time per connection.
 */
export type SqlValue = number | string | null;

export interface SqlDb {
  readonly dialect: 'sqlite' | 'postgresql';
  /** Where the data is, for messages (a file path, or the PostgreSQL URL without its password). */
  readonly where: string;
  exec(sql: string): Promise<void>;
  /** Rows changed. */
  run(sql: string, params?: readonly SqlValue[]): Promise<number>;
  all<T = Record<string, SqlValue>>(sql: string, params?: readonly SqlValue[]): Promise<T[]>;
  /** fn's statements commit together or not at all. */
  transaction<T>(fn: () => Promise<T>): Promise<T>;
  /**
   * After deletions: leave none of the deleted bytes in the store's files. SQLite: secure_delete (on from the
   * start) zeroes freed content, a TRUNCATE checkpoint empties the WAL, VACUUM rebuilds the file. PostgreSQL:
   * VACUUM FULL rewrites the tables without the dead rows (its WAL segments and any backup keep what they kept
   * until they are recycled; the README says so). Returns what could not be done (a reader holding the WAL).
   */
  compact(tables: readonly string[]): Promise<string[]>;
  close(): Promise<void>;
}

function toSqlite(sql: string): string {
  let next = 1;
  return sql.replace(/\$(\d+)/g, (_, d: string) => {
    if (Number(d) !== next) throw new Error(`sql: parameters must be used once and in order ($${next} expected, $${d} found): ${sql}`);
    next++;
    return '?';
  });
}

class SqliteDb implements SqlDb {
  readonly dialect = 'sqlite';
  private readonly db: import('better-sqlite3').Database;
  private readonly statements = new Map<string, import('better-sqlite3').Statement>();

  constructor(
    Database: typeof import('better-sqlite3'),
    readonly where: string,
  ) {
    if (where !== ':memory:') {
      mkdirSync(dirname(where), { recursive: true });
      // Readable by its owner only; SQLite gives the WAL and shared-memory files the database file's mode.
      if (!existsSync(where)) closeSync(openSync(where, 'a', 0o600));
    }
    this.db = new Database(where);
    // Deleted rows are overwritten with zeros, not left in free pages (profile forget).
    this.db.pragma('secure_delete = ON');
    // WAL: readers (show, a dashboard) never wait for an ingest; FULL sync: a committed ingest survives power loss.
    this.db.pragma('journal_mode = WAL');
    this.db.pragma('synchronous = FULL');
    this.db.pragma('foreign_keys = ON');
    this.db.pragma('busy_timeout = 10000');
  }

  private prepare(sql: string) {
    let s = this.statements.get(sql);
    if (!s) {
      s = this.db.prepare(toSqlite(sql));
      this.statements.set(sql, s);
    }
    return s;
  }

  async exec(sql: string): Promise<void> {
    this.db.exec(sql);
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return this.prepare(sql).run(...params).changes;
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return this.prepare(sql).all(...params) as T[];
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    this.db.exec('BEGIN IMMEDIATE');
    try {
      const r = await fn();
      this.db.exec('COMMIT');
      return r;
    } catch (e) {
      this.db.exec('ROLLBACK');
      throw e;
    }
  }

  async compact(): Promise<string[]> {
    const left: string[] = [];
    const checkpoint = () => this.db.pragma('wal_checkpoint(TRUNCATE)') as Array<{ busy: number; log: number; checkpointed: number }>;
    checkpoint();
    this.db.exec('VACUUM');
    const [r] = checkpoint();
    if (r !== undefined && r.busy !== 0) left.push(`${this.where}-wal: a reader holds it open, so its ${r.log} frame(s) stay until the reader closes and the next write or forget checkpoints them`);
    return left;
  }

  async close(): Promise<void> {
    this.db.close();
  }
}

class PgDb implements SqlDb {
  readonly dialect = 'postgresql';
  constructor(
    private readonly client: import('pg').Client,
    readonly where: string,
  ) {}

  async exec(sql: string): Promise<void> {
    await this.client.query(sql);
  }

  async run(sql: string, params: readonly SqlValue[] = []): Promise<number> {
    return (await this.client.query(sql, params as SqlValue[])).rowCount ?? 0;
  }

  async all<T>(sql: string, params: readonly SqlValue[] = []): Promise<T[]> {
    return (await this.client.query(sql, params as SqlValue[])).rows as T[];
  }

  async transaction<T>(fn: () => Promise<T>): Promise<T> {
    await this.client.query('BEGIN');
    try {
      const r = await fn();
      await this.client.query('COMMIT');
      return r;
    } catch (e) {
      await this.client.query('ROLLBACK');
      throw e;
    }
  }

  async compact(tables: readonly string[]): Promise<string[]> {
    for (const t of tables) await this.client.query(`VACUUM FULL ${t}`);
    return [];
  }

  async close(): Promise<void> {
    await this.client.end();
  }
}

/** Whether `target` names a PostgreSQL server (`postgresql://...` or `postgres://...`) rather than a SQLite file. */
export function isPostgresUrl(target: string): boolean {
  return /^postgres(ql)?:\/\//.test(target);
}

/** `postgresql://...` (or `postgres://`) opens PostgreSQL; anything else is a SQLite file (`:memory:` for none). */
export async function openDb(target: string): Promise<SqlDb> {
  if (isPostgresUrl(target)) {
    const pg = (await import('pg')).default;
    // BIGINT (int8) and NUMERIC come back as numbers: the store keeps counts and times far below 2^53.
    pg.types.setTypeParser(20, (v: string) => Number(v));
    const client = new pg.Client({ connectionString: target });
    const where = target.replace(/\/\/([^:@/]+):[^@]*@/, '//$1:***@');
    try {
      await client.connect();
    } catch (e) {
      throw new Error(`${where}: cannot connect: ${(e as Error).message}`);
    }
    // Notices (e.g. "relation already exists, skipping") are not the user's business.
    client.on('notice', () => {});
    return new PgDb(client, where);
  }
  const Database = (await import('better-sqlite3')).default;
  try {
    return new SqliteDb(Database, target);
  } catch (e) {
    throw new Error(`${target}: cannot open the profile store: ${(e as Error).message}`);
  }
}
