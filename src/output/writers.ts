import { closeSync, createWriteStream, openSync, writeSync } from 'node:fs';
import { extname } from 'node:path';
import { Writable } from 'node:stream';
import type { CellValue, ColumnDef, NumberList } from '../flow/schema.js';

export type OutputFormat = 'csv' | 'jsonl' | 'parquet';

export interface RecordWriter {
  write(row: readonly CellValue[]): void;
  /**
   * Rows already encoded in this writer's format by an `encodedSink` writer elsewhere (a worker thread), written
   * as they are. Only text formats have it.
   */
  writeEncoded?(bytes: Uint8Array, rows: number): void;
  /** Hand what is buffered to the file now (live output); Parquet writes whole row groups and waits. */
  flush(): void;
  close(): Promise<void>;
  readonly rows: number;
}

/** Where encoded text goes: a file path, "-" for standard output, or a function that takes each filled buffer. */
export type TextTarget = string | ((bytes: Uint8Array) => void);

/**
 * A byte sink for text output: values are encoded straight into a 1 MiB buffer (integers digit by digit, strings
 * with Buffer.write), so no per-row strings pile up for the garbage collector. Files are written synchronously
 * (bounded memory whatever the input rate); stdout through its stream.
 */
class TextSink {
  private buf = Buffer.allocUnsafe(1 << 20);
  private view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
  private len = 0;
  private readonly fd: number | undefined;
  private readonly take: ((bytes: Uint8Array) => void) | undefined;

  constructor(target: TextTarget) {
    if (typeof target === 'function') this.take = target;
    else this.fd = target === '-' ? undefined : openSync(target, 'w');
  }

  /** Bytes encoded so far and not yet flushed. */
  get pending(): number {
    return this.len;
  }

  /** Write bytes encoded elsewhere, after what is buffered. */
  raw(bytes: Uint8Array): void {
    this.flush();
    this.emit(bytes);
  }

  /** Hand bytes to the target; they must not be changed afterwards (`take` and stdout keep them). */
  private emit(bytes: Uint8Array): void {
    if (this.take !== undefined) this.take(bytes);
    else if (this.fd !== undefined) {
      let off = 0;
      while (off < bytes.length) off += writeSync(this.fd, bytes, off, bytes.length - off);
    } else process.stdout.write(bytes);
  }

  /** Make room for `n` more bytes. */
  reserve(n: number): void {
    if (this.len + n <= this.buf.length) return;
    if (this.take !== undefined) {
      // Buffers handed to `take` must end at a row boundary (rows of several threads interleave), so grow instead
      // of flushing in the middle of a row; the owner flushes between rows.
      const grown = Buffer.allocUnsafe(Math.max(2 * this.buf.length, this.len + n));
      grown.set(this.buf.subarray(0, this.len));
      this.buf = grown;
      this.view = new DataView(grown.buffer, grown.byteOffset, grown.length);
      return;
    }
    this.flush();
    if (n > this.buf.length) {
      this.buf = Buffer.allocUnsafe(n);
      this.view = new DataView(this.buf.buffer, this.buf.byteOffset, this.buf.length);
    }
  }

  /**
   * Any string (UTF-8 takes at most 3 bytes per UTF-16 code unit). Short ASCII strings, nearly all of them (numbers,
   * addresses, names), are copied by a loop: Buffer.write's call into C++ costs more than the copy.
   */
  push(s: string): void {
    const n = s.length;
    this.reserve(n * 3);
    if (n <= 64) {
      const b = this.buf;
      const at = this.len;
      let i = 0;
      for (; i < n; i++) {
        const c = s.charCodeAt(i);
        if (c >= 0x80) break;
        b[at + i] = c;
      }
      if (i === n) {
        this.len = at + n;
        return;
      }
    }
    this.len += this.buf.write(s, this.len, 'utf8');
  }

  byte(c: number): void {
    this.reserve(1);
    this.buf[this.len++] = c;
  }

  /** A number: safe integers digit by digit, anything else as JavaScript prints it (shortest round trip). */
  num(x: number): void {
    if (!Number.isSafeInteger(x)) {
      this.push(String(x));
      return;
    }
    this.reserve(17);
    if (x < 0) {
      this.buf[this.len++] = 45; // '-'
      x = -x;
    }
    this.len = x <= INT32_MAX ? writeInt32(this.buf, this.len, x) : writeSafeInt(this.buf, this.len, x);
  }

  /**
   * A list as `"[a,b,...]"` (the quotes make it one CSV cell). Integer typed arrays (byte distributions) take an
   * all-integer path with room reserved once; other lists go number by number.
   */
  list(v: NumberList): void {
    if (v instanceof Uint16Array || v instanceof Int32Array) {
      this.reserve(4 + v.length * 12);
      this.len = intList(this.buf, this.view, this.len, v);
      return;
    }
    // Other lists (SPLT lengths and times): mostly integers, written by the integer paths; anything else as num().
    // Room for the brackets and for every element as a 12-byte int32 with its comma is reserved once; an element
    // that is not an int32 goes through num(), which reserves for itself.
    this.reserve(4 + v.length * 12);
    let b = this.buf;
    let at = this.len;
    b[at++] = 34;
    b[at++] = 91;
    for (let i = 0; i < v.length; i++) {
      const x = v[i];
      if (i > 0) b[at++] = 44;
      if ((x | 0) === x) {
        let y = x;
        if (y < 0) {
          b[at++] = 45;
          y = -y;
        }
        at = writeInt32(b, at, y);
      } else {
        this.len = at;
        this.num(x);
        this.reserve(4 + (v.length - i) * 12);
        b = this.buf; // reserve() may have flushed into a larger buffer
        at = this.len;
      }
    }
    b[at++] = 93;
    b[at++] = 34;
    this.len = at;
  }

  flush(): void {
    if (this.len === 0) return;
    // A file is written before the buffer is reused; stdout and `take` keep what they get, so they get a copy.
    this.emit(this.fd !== undefined ? this.buf.subarray(0, this.len) : new Uint8Array(this.buf.subarray(0, this.len)));
    this.len = 0;
  }

  async close(): Promise<void> {
    this.flush();
    if (this.fd !== undefined) closeSync(this.fd);
    else if (this.take === undefined) await new Promise<void>((resolve) => process.stdout.write('', () => resolve()));
  }
}

const INT32_MAX = 2147483647;

/**
 * 0..999 followed by a comma, as up to 4 little-endian bytes, and their lengths: a byte distribution's counts
 * (at most --byte-dist-bytes, mostly single digits) are written one 32-bit store each.
 */
const SMALL = 1000;
const SMALL_PACKED = new Uint32Array(SMALL);
const SMALL_LENGTH = new Uint8Array(SMALL);
for (let x = 0; x < SMALL; x++) {
  const text = `${x},`;
  let packed = 0;
  for (let i = 0; i < text.length; i++) packed |= text.charCodeAt(i) << (8 * i);
  SMALL_PACKED[x] = packed >>> 0;
  SMALL_LENGTH[x] = text.length;
}

/** "00".."99" as byte pairs: two digits a division, half the divisions of one digit at a time. */
const PAIRS = (() => {
  const t = new Uint8Array(200);
  for (let i = 0; i < 100; i++) {
    t[2 * i] = 48 + Math.floor(i / 10);
    t[2 * i + 1] = 48 + (i % 10);
  }
  return t;
})();

/** Decimal digits of 0 <= x <= 2^31 - 1 at b[at...]; returns the end. Integer arithmetic only. */
function writeInt32(b: Uint8Array, at: number, x: number): number {
  if (x < 10) {
    b[at] = 48 + x;
    return at + 1;
  }
  if (x < 100) {
    b[at] = PAIRS[2 * x];
    b[at + 1] = PAIRS[2 * x + 1];
    return at + 2;
  }
  const digits = x < 1000 ? 3 : x < 10000 ? 4 : x < 100000 ? 5 : x < 1000000 ? 6 : x < 10000000 ? 7 : x < 100000000 ? 8 : x < 1000000000 ? 9 : 10;
  let i = at + digits;
  let y = x;
  while (y >= 100) {
    const q = (y / 100) | 0;
    const r = 2 * (y - q * 100);
    b[--i] = PAIRS[r + 1];
    b[--i] = PAIRS[r];
    y = q;
  }
  if (y >= 10) {
    b[--i] = PAIRS[2 * y + 1];
    b[--i] = PAIRS[2 * y];
  } else b[--i] = 48 + y;
  return at + digits;
}

/** Decimal digits of a safe integer 2^31 <= x < 2^53 at b[at...]: the part above 10^9, then nine digits. */
function writeSafeInt(b: Uint8Array, at: number, x: number): number {
  const hi = Math.floor(x / 1e9);
  let lo = x - hi * 1e9;
  at = writeInt32(b, at, hi);
  for (let i = at + 8; i >= at; i--) {
    const q = (lo / 10) | 0;
    b[i] = 48 + (lo - q * 10);
    lo = q;
  }
  return at + 9;
}

/**
 * `"[a,b,...]"` for a list of integers at b[at...]; returns the end. Room must be reserved (12 bytes an element).
 * Two counts below 10 in a row (most of a byte distribution's counts) are one 4-byte store of "d,d,"; other counts
 * below 1000 one store of up to "ddd,"; larger ones digit pairs.
 */
function intList(b: Uint8Array, dv: DataView, at: number, v: Uint16Array | Int32Array): number {
  b[at++] = 34; // '"'
  b[at++] = 91; // '['
  const n = v.length;
  let i = 0;
  for (; i + 1 < n; i += 2) {
    const x = v[i];
    const y = v[i + 1];
    if (x >>> 0 < 10 && y >>> 0 < 10) {
      dv.setUint32(at, DIGIT_PAIRS_PACKED[x * 10 + y], true);
      at += 4;
    } else {
      at = intCell(b, dv, at, x);
      at = intCell(b, dv, at, y);
    }
  }
  if (i < n) at = intCell(b, dv, at, v[i]);
  if (n > 0) at--; // the last comma
  b[at++] = 93; // ']'
  b[at++] = 34;
  return at;
}

/** One integer and its comma at b[at...]; returns the end. */
function intCell(b: Uint8Array, dv: DataView, at: number, x: number): number {
  if (x >= 0 && x < SMALL) {
    // Digits and a comma in one 4-byte store; the next store or the closing bracket overwrites the slack.
    dv.setUint32(at, SMALL_PACKED[x], true);
    return at + SMALL_LENGTH[x];
  }
  if (x < 0) {
    b[at++] = 45;
    x = -x;
  }
  at = writeInt32(b, at, x);
  b[at] = 44;
  return at + 1;
}

/** "x,y," for 0 <= x, y <= 9 as 4 little-endian bytes, at x * 10 + y. */
const DIGIT_PAIRS_PACKED = (() => {
  const t = new Uint32Array(100);
  for (let x = 0; x < 10; x++) for (let y = 0; y < 10; y++) t[x * 10 + y] = ((48 + x) | (44 << 8) | ((48 + y) << 16) | (44 << 24)) >>> 0;
  return t;
})();

const COMMA = 44;
const NEWLINE = 10;

/** Write one CSV cell: nothing for null, numbers as digits, quoted strings when needed, lists as "[a,b]". */
function csvCell(out: TextSink, v: CellValue): void {
  if (v === null || v === undefined) return;
  if (typeof v === 'number') out.num(v);
  else if (typeof v === 'string') out.push(/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  else if (typeof v === 'object') out.list(v);
  else out.push(String(v));
}

/** RFC 4180 CSV with a header row; lists are written as a quoted JSON array. */
export class CsvWriter implements RecordWriter {
  private readonly sink: TextSink;
  rows = 0;
  /** `header`: false for rows that another writer's output will carry (encodedSink). */
  constructor(target: TextTarget, columns: readonly ColumnDef[], header = true) {
    this.sink = new TextSink(target);
    if (header) this.sink.push(columns.map((c) => c.name).join(',') + '\n');
  }
  get pending(): number {
    return this.sink.pending;
  }
  writeEncoded(bytes: Uint8Array, rows: number): void {
    this.sink.raw(bytes);
    this.rows += rows;
  }
  write(row: readonly CellValue[]): void {
    csvCell(this.sink, row[0]);
    for (let i = 1; i < row.length; i++) {
      this.sink.byte(COMMA);
      csvCell(this.sink, row[i]);
    }
    this.sink.byte(NEWLINE);
    this.rows++;
  }
  flush(): void {
    this.sink.flush();
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
  constructor(target: TextTarget, columns: readonly ColumnDef[]) {
    this.sink = new TextSink(target);
    this.keys = columns.map((c) => JSON.stringify(c.name));
  }
  get pending(): number {
    return this.sink.pending;
  }
  writeEncoded(bytes: Uint8Array, rows: number): void {
    this.sink.raw(bytes);
    this.rows += rows;
  }
  write(row: readonly CellValue[]): void {
    let s = '{';
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      const text =
        typeof v === 'bigint'
          ? v.toString()
          : typeof v === 'number' && !Number.isFinite(v)
            ? 'null'
            : ArrayBuffer.isView(v)
              ? `[${v.join(',')}]`
              : JSON.stringify(v ?? null);
      s += (i === 0 ? '' : ',') + this.keys[i] + ':' + text;
    }
    this.sink.push(s + '}\n');
    this.rows++;
  }
  flush(): void {
    this.sink.flush();
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
      vectors[c.name] = c.type === 'int[]' || c.type === 'float[]' ? listVector(A, vals as Array<NumberList | null>) : (A.vectorFromArray(vals, arrowType(A, c)) as import('apache-arrow').Vector);
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

/**
 * A List<Float64> vector built straight from offsets and one values array: Arrow's generic builder took seconds
 * and hundreds of MiB for the 256-count byte distributions of 20,000 flows.
 */
function listVector(A: typeof import('apache-arrow'), vals: Array<NumberList | null>): import('apache-arrow').Vector {
  const n = vals.length;
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += vals[i]?.length ?? 0;
    offsets[i + 1] = total;
  }
  const values = new Float64Array(total);
  const valid = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = vals[i];
    if (v === null || v === undefined) {
      nulls++;
      continue;
    }
    valid[i >> 3] |= 1 << (i & 7);
    values.set(v, offsets[i]);
  }
  const child = A.makeData({ type: new A.Float64(), length: total, data: values });
  const type = new A.List(new A.Field('item', new A.Float64(), true));
  return A.makeVector(A.makeData({ type, length: n, nullCount: nulls, nullBitmap: valid, valueOffsets: offsets, child }));
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
    // Lists are Float64 in Parquet: exact for every integer below 2^53, and Arrow builds them without a BigInt per
    // element (which made Parquet output 3 times slower than CSV with the 256-count byte distributions).
    case 'int[]':
    case 'float[]':
      return new A.List(new A.Field('item', new A.Float64(), true));
    default:
      return new A.Utf8();
  }
}

/**
 * A text writer whose output goes to `take` in buffers, without a CSV header: rows encoded on a worker thread, for
 * the main thread's writer of the same format to pass on with writeEncoded.
 */
export function encodedSink(format: 'csv' | 'jsonl', columns: readonly ColumnDef[], take: (bytes: Uint8Array) => void): CsvWriter | JsonlWriter {
  return format === 'csv' ? new CsvWriter(take, columns, false) : new JsonlWriter(take, columns);
}

/** The output format a file name asks for: .parquet, .jsonl / .ndjson / .json, else CSV. */
export function formatFromPath(path: string): OutputFormat {
  const e = extname(path).toLowerCase();
  if (e === '.parquet') return 'parquet';
  if (e === '.jsonl' || e === '.ndjson' || e === '.json') return 'jsonl';
  return 'csv';
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
