import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import type { CellValue, ColumnDef, NumberList } from '../flow/schema.js';
import type { RecordWriter } from './text-sink.js';

/**
 * Parquet through apache-arrow (columns to Arrow IPC) and parquet-wasm (IPC to Parquet, streamed). Rows are
 * buffered into record batches of `batchRows`, so memory stays bounded for any number of flows.
 */
/**
 * Rows a row group holds at most, one batch: the encoder keeps a whole row group in memory. Its default (1,048,576
 * rows) held every record of a 20,000-flow run, and its memory grew to 166 MiB; 16,384 rows gave the same, 4,096
 * rows 100 MiB (bench/data/flows-20k.pcap, all features).
 */
const ROW_GROUP_ROWS = 4096;
/** Row-group batches that may wait for the encoder before the producer is held back (backlog). */
const MAX_QUEUED_BATCHES = 2;

export class ParquetWriter implements RecordWriter {
  rows = 0;
  private cols: CellValue[][];
  private controller!: ReadableStreamDefaultController<unknown>;
  private done: Promise<void>;
  private arrow!: typeof import('apache-arrow');
  private pq!: typeof import('parquet-wasm/node');
  private ready: Promise<void>;

  constructor(
    target: string,
    private readonly columns: readonly ColumnDef[],
    private readonly batchRows = 4096,
  ) {
    this.cols = columns.map(() => []);
    let start!: () => void;
    const started = new Promise<void>((r) => (start = r));
    const ready = (async () => {
      this.arrow = await import('apache-arrow');
      this.pq = await import('parquet-wasm/node');
    })();
    this.ready = ready;
    const batches = new ReadableStream<unknown>({
      start: (c) => {
        this.controller = c;
        start();
      },
      // The encoder took a batch: a producer waiting in backlog() may go on.
      pull: () => this.release(),
    });
    this.done = (async () => {
      await ready;
      await started;
      const props = new this.pq.WriterPropertiesBuilder().setCompression(this.pq.Compression.ZSTD).setMaxRowGroupSize(ROW_GROUP_ROWS).build();
      const bytes = await this.pq.transformParquetStream(batches as ReadableStream, props);
      const out = target === '-' ? Writable.toWeb(process.stdout) : Writable.toWeb(createWriteStream(target));
      await bytes.pipeTo(out as WritableStream);
    })();
  }

  /** Batches being made (waiting for the modules), and producers waiting in backlog(). */
  private building = 0;
  private waiters: Array<() => void> = [];

  private release(): void {
    if (this.waiting() <= MAX_QUEUED_BATCHES) for (const w of this.waiters.splice(0)) w();
  }

  /** Batches made or being made and not yet taken by the encoder (the stream's queue is 1 - desiredSize). */
  private waiting(): number {
    return this.building + Math.max(0, 1 - (this.controller?.desiredSize ?? 1));
  }

  /** Waits while more than MAX_QUEUED_BATCHES batches wait for the encoder, so memory holds a few row groups only. */
  backlog(): Promise<void> | undefined {
    if (this.waiting() <= MAX_QUEUED_BATCHES) return undefined;
    return new Promise<void>((resolve) => this.waiters.push(resolve));
  }

  write(row: readonly CellValue[]): void {
    for (let i = 0; i < row.length; i++) this.cols[i].push(row[i]);
    this.rows++;
    if (this.cols[0].length >= this.batchRows) void this.flushBatch();
  }

  private async flushBatch(force = false): Promise<void> {
    this.building++;
    try {
      await this.ready;
      this.encodeBatch(force);
    } finally {
      this.building--;
    }
  }

  private encodeBatch(force: boolean): void {
    if (this.cols[0].length === 0 && !force) return;
    const A = this.arrow;
    const vectors: Record<string, import('apache-arrow').Vector> = {};
    this.columns.forEach((c, i) => {
      vectors[c.name] = columnVector(A, c, this.cols[i]);
    });
    this.cols = this.columns.map(() => []);
    const table = new A.Table(vectors);
    const wasmTable = this.pq.Table.fromIPCStream(A.tableToIPC(table, 'stream'));
    for (const b of wasmTable.recordBatches()) this.controller.enqueue(b);
  }

  /** Row groups are written when full: nothing to hand over earlier. */
  flush(): void {}

  async close(): Promise<void> {
    // An empty output still gets the schema: one empty batch.
    await this.flushBatch(this.rows === 0);
    this.controller.close();
    await this.done;
  }
}

type Arrow = typeof import('apache-arrow');
type Vector = import('apache-arrow').Vector;

/**
 * One column of a batch as an Arrow vector of the schema's type: int and int64 as Int64, timestamp as
 * Timestamp(NANOSECOND, "UTC"), float as Float64, bool as Bool, string as Utf8, int[] as List<Int64> and float[] as
 * List<Float64>, nulls in the validity bitmap. The numeric ones are built straight from typed buffers: Arrow's
 * generic builder took a BigInt per integer and seconds and hundreds of MiB for the 256-count byte distributions
 * of 20,000 flows.
 */
function columnVector(A: Arrow, c: ColumnDef, vals: CellValue[]): Vector {
  switch (c.type) {
    case 'int':
    case 'int64':
      return scalarVector(A, new A.Int64(), vals, 'int');
    case 'timestamp':
      return scalarVector(A, new A.TimestampNanosecond('UTC'), vals, 'int');
    case 'float':
      return scalarVector(A, new A.Float64(), vals, 'float');
    case 'int[]':
      return listVector(A, new A.Int64(), vals as Array<NumberList | null>);
    case 'float[]':
      return listVector(A, new A.Float64(), vals as Array<NumberList | null>);
    case 'bool':
      return boolVector(A, vals);
    default:
      return utf8Vector(A, vals);
  }
}

/** Booleans as Arrow lays them out: a value bitmap beside the validity bitmap (Arrow's generic builder took 8 % of a run). */
function boolVector(A: Arrow, vals: CellValue[]): Vector {
  const n = vals.length;
  const data = new Uint8Array((n + 7) >> 3);
  const { valid, nulls } = validity(vals, isCell, (i, v) => {
    if (v) data[i >> 3] |= 1 << (i & 7);
  });
  return A.makeVector(A.makeData({ type: new A.Bool(), length: n, nullCount: nulls, nullBitmap: valid, data } as never));
}

const utf8 = new TextEncoder();

/**
 * Strings as one UTF-8 buffer and offsets. ASCII (nearly every host name, fingerprint and address) is copied code
 * unit by code unit; a string with any other character goes through TextEncoder.encodeInto, which writes lone
 * surrogates as U+FFFD as Arrow's builder does.
 */
function utf8Vector(A: Arrow, vals: CellValue[]): Vector {
  const n = vals.length;
  const offsets = new Int32Array(n + 1);
  let buf = new Uint8Array(Math.max(1024, n * 8));
  let len = 0;
  const valid = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = vals[i];
    if (v === null || v === undefined) {
      nulls++;
      offsets[i + 1] = len;
      continue;
    }
    valid[i >> 3] |= 1 << (i & 7);
    const str = typeof v === 'string' ? v : String(v);
    if (len + 3 * str.length > buf.length) {
      const bigger = new Uint8Array(Math.max(buf.length * 2, len + 3 * str.length));
      bigger.set(buf.subarray(0, len));
      buf = bigger;
    }
    let j = 0;
    for (; j < str.length; j++) {
      const c = str.charCodeAt(j);
      if (c >= 0x80) break;
      buf[len + j] = c;
    }
    len += j < str.length ? utf8.encodeInto(str, buf.subarray(len)).written : j;
    offsets[i + 1] = len;
  }
  return A.makeVector(A.makeData({ type: new A.Utf8(), length: n, nullCount: nulls, nullBitmap: valid, valueOffsets: offsets, data: buf.subarray(0, len) } as never));
}

const TWO_32 = 4294967296;

/**
 * A 64-bit integer into words[2k] (low) and words[2k+1] (high), little-endian as Arrow lays an Int64 out: a double
 * below 2^53 splits exactly (ToUint32 takes it modulo 2^32), a bigint by masking.
 */
function putInt64(words: Int32Array, k: number, v: number | bigint): void {
  if (typeof v === 'bigint') {
    words[2 * k] = Number(BigInt.asIntN(32, v));
    words[2 * k + 1] = Number(BigInt.asIntN(32, v >> 32n));
  } else {
    words[2 * k] = v >>> 0;
    words[2 * k + 1] = Math.floor(v / TWO_32) | 0;
  }
}

/** A batch column's validity bitmap: `put(i, v)` for each cell `present` accepts; the others are null. */
function validity<T>(vals: readonly T[], present: (v: T) => boolean, put: (i: number, v: T) => void): { valid: Uint8Array; nulls: number } {
  const valid = new Uint8Array((vals.length + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < vals.length; i++) {
    const v = vals[i];
    if (!present(v)) {
      nulls++;
      continue;
    }
    valid[i >> 3] |= 1 << (i & 7);
    put(i, v);
  }
  return { valid, nulls };
}

/**
 * A capture's clock can put a time past what 64 bits of nanoseconds hold (after year 2262): Parquet's INT64
 * cannot carry it, so it is null there (CSV and JSON Lines keep the exact digits).
 */
const isInt64 = (v: CellValue): boolean => v !== null && v !== undefined && (typeof v === 'bigint' ? BigInt.asIntN(64, v) === v : typeof v === 'number' && Number.isFinite(v));
/** NaN and infinities are values in Parquet's DOUBLE; only a missing cell is null. */
const isCell = (v: CellValue): boolean => v !== null && v !== undefined;

function scalarVector(A: Arrow, type: import('apache-arrow').DataType, vals: CellValue[], kind: 'int' | 'float'): Vector {
  const n = vals.length;
  let data: BigInt64Array | Float64Array;
  let bits: { valid: Uint8Array; nulls: number };
  if (kind === 'int') {
    const words = new Int32Array(2 * n);
    bits = validity(vals, isInt64, (i, v) => putInt64(words, i, v as number | bigint));
    data = new BigInt64Array(words.buffer);
  } else {
    const f = new Float64Array(n);
    bits = validity(vals, isCell, (i, v) => (f[i] = typeof v === 'bigint' ? Number(v) : (v as number)));
    data = f;
  }
  return A.makeVector(A.makeData({ type, length: n, nullCount: bits.nulls, nullBitmap: bits.valid, data } as never));
}

/** A list vector built straight from offsets and one values array of Int64 (two words each) or Float64. */
function listVector(A: Arrow, item: import('apache-arrow').Int64 | import('apache-arrow').Float64, vals: Array<NumberList | null>): Vector {
  const n = vals.length;
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += vals[i]?.length ?? 0;
    offsets[i + 1] = total;
  }
  const int = item instanceof A.Int64;
  const words = int ? new Int32Array(2 * total) : null;
  const floats = int ? null : new Float64Array(total);
  const { valid, nulls } = validity(vals, isCell as (v: NumberList | null) => boolean, (i, v) => {
    if (floats !== null) floats.set(v!, offsets[i]);
    else for (let j = 0, k = offsets[i]; j < v!.length; j++, k++) putInt64(words!, k, v![j]);
  });
  const child = A.makeData({ type: item, length: total, data: int ? new BigInt64Array(words!.buffer) : floats! } as never);
  const type = new A.List(new A.Field('item', item, true));
  return A.makeVector(A.makeData({ type, length: n, nullCount: nulls, nullBitmap: valid, valueOffsets: offsets, child } as never));
}
