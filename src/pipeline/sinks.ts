import type { FlowQueue } from '../distributed/flow-queue.js';
import type { CellValue } from '../flow/schema.js';
import type { RecordWriter } from '../output/writers.js';
import type { PseudonymKey } from '../profile/pseudonym.js';
import { type IngestResult, type ProfileStore, classifiedFlows } from '../profile/store.js';

/**
 * Where a pipeline's records go. `write` gets records as they are made (the pipeline's own arrays: a sink that
 * keeps them copies); `flush` hands on what is gathered (a file's buffer, a transaction of profile updates, a
 * pipeline of Redis entries), on the sink's interval for live input and once at the end; `close` ends the sink.
 */
export interface RecordSink {
  readonly name: string;
  write(rows: readonly CellValue[][]): void;
  /** For live input: flush this often (ms). */
  readonly flushEveryMs?: number;
  flush(): Promise<void> | void;
  close(): Promise<void>;
}

/** A record file (csv, jsonl, parquet: output/writers.ts), with only the columns `project` picks when given. */
export function fileSink(writer: RecordWriter, flushEveryMs = 1000, project?: (row: readonly CellValue[]) => readonly CellValue[]): RecordSink {
  return {
    name: 'file',
    flushEveryMs,
    write: project === undefined
      ? (rows) => {
          for (const r of rows) writer.write(r);
        }
      : (rows) => {
          for (const r of rows) writer.write(project(r));
        },
    flush: () => writer.flush(),
    close: () => writer.close(),
  };
}

/** Rows gathered between flushes, copied (the pipeline reuses its arrays). */
function gathering(take: (rows: CellValue[][]) => Promise<void>) {
  let pending: CellValue[][] = [];
  return {
    write(rows: readonly CellValue[][]): void {
      for (const r of rows) pending.push(r.slice());
    },
    async flush(): Promise<void> {
      if (pending.length === 0) return;
      const rows = pending;
      pending = [];
      await take(rows);
    },
  };
}

/**
 * Classified records counted into a profile store, one transaction a flush (ingest is idempotent by flow key);
 * `onCommit` hears each transaction's result.
 */
export function profileSink(store: ProfileStore, key: PseudonymKey, names: readonly string[], source: string, flushEveryMs = 5000, onCommit?: (r: IngestResult) => void): RecordSink {
  const g = gathering(async (rows) => {
    const r = await store.ingest(classifiedFlows(names, rows, key, source));
    onCommit?.(r);
  });
  return { name: 'profile store', flushEveryMs, ...g, close: async () => {} };
}

/** Classified records published to a Redis stream for `cipherscope worker`s. */
export function queueSink(queue: FlowQueue, names: readonly string[], flushEveryMs = 5000): RecordSink {
  const g = gathering(async (rows) => {
    await queue.publish(names, rows);
  });
  return { name: 'Redis stream', flushEveryMs, ...g, close: async () => {} };
}

/** Records kept in memory (the dashboard's flow store, tests). */
export function memorySink(): RecordSink & { rows: CellValue[][] } {
  const rows: CellValue[][] = [];
  return {
    name: 'memory',
    rows,
    write: (rs) => {
      for (const r of rs) rows.push(r.slice());
    },
    flush: () => undefined,
    close: async () => {},
  };
}
