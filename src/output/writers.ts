import { closeSync, createWriteStream, openSync, writeSync } from 'node:fs';
import { Writable } from 'node:stream';
import type { CellValue, ColumnDef } from '../flow/schema.js';

export type OutputFormat = 'csv' | 'jsonl' | 'parquet';

export interface RecordWriter {
  write(row: readonly CellValue[]): void;
  close(): Promise<void>;
  readonly rows: number;
}

/**
 * A text sink: each line is encoded straight into a 1 MiB byte buffer, so line strings die young instead of
 * piling up for a join (that cost a quarter of the run in garbage collection). Files are written synchronously
 * (bounded memory whatever the input rate); stdout through its stream.
 */
class TextSink {
  private buf = Buffer.allocUnsafe(1 << 20);
  private len = 0;
  private readonly fd: number | undefined;

  constructor(target: string) {
    this.fd = target === '-' ? undefined : openSync(target, 'w');
  }

  push(s: string): void {
    // A UTF-8 character takes at most 3 bytes per UTF-16 code unit.
    if (this.len + s.length * 3 > this.buf.length) {
      this.flush();
      if (s.length * 3 > this.buf.length) this.buf = Buffer.allocUnsafe(s.length * 3);
    }
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  flush(): void {
    if (this.len === 0) return;
    if (this.fd !== undefined) {
      let off = 0;
      while (off < this.len) off += writeSync(this.fd, this.buf, off, this.len - off);
    } else process.stdout.write(Buffer.from(this.buf.subarray(0, this.len)));
    this.len = 0;
  }

  async close(): Promise<void> {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    else await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  }
}

/** Text of small integers, made once: lists such as the 256 byte counts are mostly small numbers. */
const SMALL_INT_TEXT: string[] = Array.from({ length: 8192 }, (_, i) => String(i - 4096));

function listText(v: number[]): string {
  let s = '';
  for (let i = 0; i < v.length; i++) {
    const x = v[i];
    const t = Number.isInteger(x) && x >= -4096 && x < 4096 ? SMALL_INT_TEXT[x + 4096] : String(x);
    s += i === 0 ? t : ',' + t;
  }
  return s;
}

function csvCell(v: CellValue): string {
  if (v === null || v === undefined) return '';
  if (typeof v === 'string') return /[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v;
  if (Array.isArray(v)) return `"[${listText(v)}]"`;
  return String(v);
}

/** RFC 4180 CSV with a header row; lists are written as a quoted JSON array. */
export class CsvWriter implements RecordWriter {
  private readonly sink: TextSink;
  rows = 0;
  constructor(target: string, columns: readonly ColumnDef[]) {
    this.sink = new TextSink(target);
    this.sink.push(columns.map((c) => c.name).join(',') + '\n');
  }
  write(row: readonly CellValue[]): void {
    let line = csvCell(row[0]);
    for (let i = 1; i < row.length; i++) line += ',' + csvCell(row[i]);
    this.sink.push(line + '\n');
    this.rows++;
  }
  close(): Promise<void> {
    return this.sink.close();
  }
}

/** One JSON object per line. 64-bit timestamps are written as plain integers, exact (JSON numbers have no size limit). */
export class JsonlWriter implements RecordWriter {
  private readonly sink: TextSink;
  private readonly keys: string[];
  rows = 0;
  constructor(target: string, columns: readonly ColumnDef[]) {
    this.sink = new TextSink(target);
    this.keys = columns.map((c) => JSON.stringify(c.name));
  }
  write(row: readonly CellValue[]): void {
    let s = '{';
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      const text = typeof v === 'bigint' ? v.toString() : typeof v === 'number' && !Number.isFinite(v) ? 'null' : JSON.stringify(v ?? null);
      s += (i === 0 ? '' : ',') + this.keys[i] + ':' + text;
    }
    this.sink.push(s + '}\n');
    this.rows++;
  }
  close(): Promise<void> {
    return this.sink.close();
  }
}

/**
 * Parquet through apache-arrow (columns to Arrow IPC) and parquet-wasm (IPC to Parquet, streamed). Rows are
 * buffered into record batches of `batchRows`, so memory stays bounded for any number of flows.
 */
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
    private readonly batchRows = 16384,
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
    });
    this.done = (async () => {
      await ready;
      await started;
      const props = new this.pq.WriterPropertiesBuilder().setCompression(this.pq.Compression.ZSTD).build();
      const bytes = await this.pq.transformParquetStream(batches as ReadableStream, props);
      const out = target === '-' ? Writable.toWeb(process.stdout) : Writable.toWeb(createWriteStream(target));
      await bytes.pipeTo(out as WritableStream);
    })();
  }

  write(row: readonly CellValue[]): void {
    for (let i = 0; i < row.length; i++) this.cols[i].push(row[i]);
    this.rows++;
    if (this.cols[0].length >= this.batchRows) void this.flushBatch();
  }

  private async flushBatch(force = false): Promise<void> {
    await this.ready;
    if (this.cols[0].length === 0 && !force) return;
    const A = this.arrow;
    const vectors: Record<string, import('apache-arrow').Vector> = {};
    this.columns.forEach((c, i) => {
      let vals: unknown[] = this.cols[i];
      // Arrow's Int64 builder takes bigints.
      if (c.type === 'int') vals = vals.map((v) => (v === null || v === undefined ? null : BigInt(v as number)));
      else if (c.type === 'int[]') vals = vals.map((v) => (v === null || v === undefined ? null : (v as number[]).map((x) => BigInt(x))));
      vectors[c.name] = A.vectorFromArray(vals, arrowType(A, c)) as import('apache-arrow').Vector;
    });
    this.cols = this.columns.map(() => []);
    const table = new A.Table(vectors);
    const wasmTable = this.pq.Table.fromIPCStream(A.tableToIPC(table, 'stream'));
    for (const b of wasmTable.recordBatches()) this.controller.enqueue(b);
  }

  async close(): Promise<void> {
    // An empty output still gets the schema: one empty batch.
    await this.flushBatch(this.rows === 0);
    this.controller.close();
    await this.done;
  }
}

function arrowType(A: typeof import('apache-arrow'), c: ColumnDef): import('apache-arrow').DataType {
  switch (c.type) {
    case 'int':
    case 'int64':
      return new A.Int64();
    case 'float':
      return new A.Float64();
    case 'bool':
      return new A.Bool();
    case 'int[]':
      return new A.List(new A.Field('item', new A.Int64(), true));
    case 'float[]':
      return new A.List(new A.Field('item', new A.Float64(), true));
    default:
      return new A.Utf8();
  }
}

export function openRecordWriter(format: OutputFormat, target: string, columns: readonly ColumnDef[]): RecordWriter {
  switch (format) {
    case 'csv':
      return new CsvWriter(target, columns);
    case 'jsonl':
      return new JsonlWriter(target, columns);
    case 'parquet':
      if (target === '-' && process.stdout.isTTY) throw new Error('refusing to write binary Parquet to a terminal; give -o FILE');
      return new ParquetWriter(target, columns);
  }
}
