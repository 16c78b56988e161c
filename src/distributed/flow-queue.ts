import type { CellValue, ColumnDef } from '../flow/schema.js';
import { jsonKeys, parseRecordJson, recordJson } from '../output/codec.js';

/**
 * Classified flow records on Redis Streams, for workers on any number of hosts (`cipherscope publish` and
 * `cipherscope worker`). Why Redis Streams: consumer groups give each record to one worker, keep what a worker
 * read but did not acknowledge as pending, and let another worker claim it after a silence (XAUTOCLAIM): delivery at
 * least once. The profile store's ingest is idempotent by flow key, so a record delivered twice counts once; a worker
 * acknowledges only after its transaction commits, so a record is never lost.
 */
export const DEFAULT_STREAM = 'cipherscope:flows';
export const DEFAULT_GROUP = 'profilers';

type Redis = import('ioredis').Redis;

export interface QueuedBatch {
  ids: string[];
  names: string[];
  rows: CellValue[][];
}

export class FlowQueue {
  private constructor(
    private readonly redis: Redis,
    readonly stream: string,
    readonly group: string,
    private readonly columns: readonly ColumnDef[],
  ) {}

  /**
   * `columns` type the records read back exactly (an int64 column is a bigint even when small); columns it does not
   * name are read as JSON gives them, integers past 2^53 as bigint.
   */
  static async connect(url: string, stream = DEFAULT_STREAM, group = DEFAULT_GROUP, columns: readonly ColumnDef[] = []): Promise<FlowQueue> {
    const { Redis } = await import('ioredis');
    const redis = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 3 });
    // Without a listener ioredis prints each connection error with its stack; the cause belongs in our message
    // (ECONNREFUSED, not "Connection is closed"), and later errors reach the caller as failed commands.
    let cause: Error | undefined;
    redis.on('error', (e: Error) => (cause = e));
    try {
      await redis.connect();
    } catch (e) {
      redis.disconnect();
      throw new Error(`${url}: cannot connect to Redis: ${(cause ?? (e as Error)).message}`);
    }
    return new FlowQueue(redis, stream, group, columns);
  }

  async publish(names: readonly string[], rows: readonly CellValue[][]): Promise<number> {
    const keys = jsonKeys(names);
    for (let i = 0; i < rows.length; i += 500) {
      const p = this.redis.pipeline();
      // Entries are records as JSON Lines carries them (output/codec.ts).
      for (const r of rows.slice(i, i + 500)) p.xadd(this.stream, '*', 'flow', recordJson(keys, r));
      await p.exec();
    }
    return rows.length;
  }

  /** Create the consumer group (from the start of the stream) unless it exists. */
  async ensureGroup(): Promise<void> {
    try {
      await this.redis.xgroup('CREATE', this.stream, this.group, '0', 'MKSTREAM');
    } catch (e) {
      if (!/BUSYGROUP/.test((e as Error).message)) throw e;
    }
  }

  /**
   * The next batch for `consumer`: first records another consumer read but has not acknowledged for `claimIdleMs`
   * (it died or hangs), then new ones, waiting up to `blockMs`. Empty when there is nothing.
   */
  async next(consumer: string, count: number, claimIdleMs: number, blockMs: number): Promise<QueuedBatch> {
    const claimed = (await this.redis.xautoclaim(this.stream, this.group, consumer, claimIdleMs, '0-0', 'COUNT', count)) as [string, Array<[string, string[]] | null>];
    let entries = (claimed[1] ?? []).filter((e): e is [string, string[]] => e !== null);
    if (entries.length === 0) {
      const r = (await this.redis.xreadgroup('GROUP', this.group, consumer, 'COUNT', count, 'BLOCK', blockMs, 'STREAMS', this.stream, '>')) as Array<[string, Array<[string, string[]]>]> | null;
      entries = r?.[0]?.[1] ?? [];
    }
    const out: QueuedBatch = { ids: [], names: [], rows: [] };
    for (const [id, fields] of entries) {
      const [names, row] = parseRecordJson(fields[fields.indexOf('flow') + 1], this.columns, `${this.stream} entry ${id}`);
      out.ids.push(id);
      out.names = names;
      out.rows.push(row);
    }
    return out;
  }

  async ack(ids: readonly string[]): Promise<void> {
    if (ids.length > 0) await this.redis.xack(this.stream, this.group, ...ids);
  }

  /** Records not yet delivered to the group, and delivered but not acknowledged. */
  async backlog(): Promise<{ undelivered: number; pending: number }> {
    const groups = (await this.redis.xinfo('GROUPS', this.stream)) as unknown[][];
    for (const g of groups) {
      const o: Record<string, unknown> = {};
      for (let i = 0; i < g.length; i += 2) o[String(g[i])] = g[i + 1];
      if (o.name === this.group) return { undelivered: Number(o.lag ?? 0), pending: Number(o.pending ?? 0) };
    }
    return { undelivered: Number(await this.redis.xlen(this.stream)), pending: 0 };
  }

  async close(): Promise<void> {
    await this.redis.quit();
  }
}
