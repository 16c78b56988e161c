import { createWriteStream } from 'node:fs';
import type { CellValue, ColumnDef, NumberList } from '../flow/schema.js';
import type { RecordWriter } from './text-sink.js';
import { TOOL_VERSION } from '../common/version.js';
import { ByteBuffer, DELTA_SAFE, type ThriftStruct, bool, deltaBinaryPacked, i32, i64, list, str, struct, writeStruct } from './parquet-encoding.js';

/**
 * Parquet, encoded here (src/output/parquet-encoding.ts) one row group per `batchRows` records and streamed to the
 * file as each fills, so memory holds one row group whatever the number of flows.
 *
 * Why not a library: through apache-arrow and parquet-wasm (Arrow vectors, an IPC stream, the wasm encoder with
 * ZSTD) a run on the bench capture took 2.2-2.5x the CSV time and 336 MiB, 38 % of it inside the encoder and most
 * of that on the byte-distribution lists (512 integers a flow); its settings (no statistics, no dictionary,
 * DELTA_BINARY_PACKED, LZ4, page v2) each moved it under 15 %. hyparquet-writer, in pure JavaScript, took longer
 * (1.3-1.8 s for the same columns against the encoder's ~0.8 s). Flow records need little of Parquet: flat
 * optional columns and lists of numbers, whose levels are long runs. So: PLAIN values, DELTA_BINARY_PACKED for
 * integers (counts and sizes in a few bits each, which is what made ZSTD worth its time), RLE levels, one data page
 * per column chunk, no compression. Read back by DuckDB, pandas (through DuckDB) and parquet-wasm in the tests.
 */
export const ROW_GROUP_ROWS = 4096;
/** Bytes written and not yet taken by the file before the producer is held back (backlog). */
const MAX_PENDING_BYTES = 16 << 20;

const PARQUET = { BOOLEAN: 0, INT64: 2, DOUBLE: 5, BYTE_ARRAY: 6 } as const;
const REP = { REQUIRED: 0, OPTIONAL: 1, REPEATED: 2 } as const;
const ENC = { PLAIN: 0, RLE: 3, DELTA_BINARY_PACKED: 5 } as const;
const CONVERTED = { UTF8: 0, LIST: 3 } as const;

interface ChunkMeta {
  type: number;
  path: string[];
  encodings: number[];
  values: number;
  offset: number;
  size: number;
}

export class ParquetWriter implements RecordWriter {
  rows = 0;
  private cols: CellValue[][];
  private readonly out: NodeJS.WritableStream & { writableLength: number; once(e: 'drain', f: () => void): unknown };
  private offset = 0;
  private readonly groups: Array<{ rows: number; chunks: ChunkMeta[]; bytes: number }> = [];
  private failed: Error | undefined;
  private readonly closed: Promise<void>;
  /** The flattened values of a list column chunk, reused from chunk to chunk (see Scratch). */
  private readonly scratch: Scratch = { flat: new Float64Array(0) };

  constructor(
    target: string,
    private readonly columns: readonly ColumnDef[],
    private readonly batchRows = ROW_GROUP_ROWS,
  ) {
    this.cols = columns.map(() => []);
    const out = target === '-' ? process.stdout : createWriteStream(target);
    this.out = out as typeof this.out;
    this.closed = new Promise<void>((resolve, reject) => {
      if (target === '-') {
        this.finishStdout = resolve;
        out.on('error', reject);
      } else {
        out.on('close', resolve);
        out.on('error', (e: Error) => {
          this.failed = e;
          reject(e);
        });
      }
    });
    this.closed.catch(() => {});
    this.emit(MAGIC);
  }

  private finishStdout: (() => void) | undefined;

  private emit(bytes: Uint8Array): void {
    this.out.write(bytes);
    this.offset += bytes.length;
  }

  /** Waits while the file has not taken what was written (a slow disk or a pipe nobody reads). */
  backlog(): Promise<void> | undefined {
    if (this.out.writableLength <= MAX_PENDING_BYTES || this.failed) return undefined;
    return new Promise<void>((resolve) => this.out.once('drain', resolve));
  }

  write(row: readonly CellValue[]): void {
    for (let i = 0; i < row.length; i++) this.cols[i].push(row[i]);
    this.rows++;
    if (this.cols[0].length >= this.batchRows) this.rowGroup();
  }

  private rowGroup(): void {
    const n = this.cols[0]?.length ?? 0;
    if (n === 0) return;
    const chunks: ChunkMeta[] = [];
    let bytes = 0;
    this.columns.forEach((c, i) => {
      // Sized for the column's values (a fresh zeroed 64 KiB for each of a row group's 130 pages and headers was
      // 17 MB a row group): PLAIN doubles and levels fit n * 9 + 16 bytes; lists and strings grow from there.
      const page = new ByteBuffer(n * 9 + 16);
      const meta = encodeColumn(c, this.cols[i], page, this.scratch);
      const header = new ByteBuffer(64);
      writeStruct(header, [
        [1, i32(0)], // DATA_PAGE
        [2, i32(page.n)],
        [3, i32(page.n)],
        [5, struct([
          [1, i32(meta.levels)],
          [2, i32(meta.encoding)],
          [3, i32(ENC.RLE)],
          [4, i32(ENC.RLE)],
        ])],
      ]);
      const offset = this.offset;
      this.emit(header.view().slice());
      this.emit(page.view());
      const size = header.n + page.n;
      bytes += size;
      chunks.push({ type: meta.type, path: c.type.endsWith('[]') ? [c.name, 'list', 'element'] : [c.name], encodings: [ENC.RLE, meta.encoding], values: meta.levels, offset, size });
    });
    this.groups.push({ rows: n, chunks, bytes });
    this.cols = this.columns.map(() => []);
  }

  /** Row groups are written when full: nothing to hand over earlier. */
  flush(): void {}

  async close(): Promise<void> {
    this.rowGroup();
    const footer = new ByteBuffer();
    writeStruct(footer, [
      [1, i32(1)],
      [2, list('struct', schemaElements(this.columns))],
      [3, i64(this.rows)],
      [4, list('struct', this.groups.map((g) => [
        [1, list('struct', g.chunks.map((ch) => [
          [2, i64(ch.offset)],
          [3, struct([
            [1, i32(ch.type)],
            [2, list('i32', ch.encodings)],
            [3, list('string', ch.path)],
            [4, i32(0)], // UNCOMPRESSED
            [5, i64(ch.values)],
            [6, i64(ch.size)],
            [7, i64(ch.size)],
            [9, i64(ch.offset)],
          ])],
        ] as ThriftStruct))],
        [2, i64(g.bytes)],
        [3, i64(g.rows)],
      ] as ThriftStruct))],
      [6, str(`cipherscope ${TOOL_VERSION}`)],
    ]);
    const tail = new ByteBuffer();
    tail.u32le(footer.n);
    tail.bytes(MAGIC);
    this.emit(footer.view());
    this.emit(tail.view());
    if (this.finishStdout) {
      await new Promise<void>((resolve) => this.out.write(new Uint8Array(0), () => resolve()));
      this.finishStdout();
    } else this.out.end();
    await this.closed;
  }
}

const MAGIC = new TextEncoder().encode('PAR1');

function schemaElements(columns: readonly ColumnDef[]): ThriftStruct[] {
  const out: ThriftStruct[] = [[
    [4, str('schema')],
    [5, i32(columns.length)],
  ]];
  for (const c of columns) {
    if (c.type === 'int[]' || c.type === 'float[]') {
      out.push([[3, i32(REP.OPTIONAL)], [4, str(c.name)], [5, i32(1)], [6, i32(CONVERTED.LIST)], [10, struct([[3, struct([])]])]]);
      out.push([[3, i32(REP.REPEATED)], [4, str('list')], [5, i32(1)]]);
      out.push([[1, i32(c.type === 'int[]' ? PARQUET.INT64 : PARQUET.DOUBLE)], [3, i32(REP.OPTIONAL)], [4, str('element')]]);
      continue;
    }
    const type = physical(c);
    const el: ThriftStruct = [[1, i32(type)], [3, i32(REP.OPTIONAL)], [4, str(c.name)]];
    if (c.type === 'string') el.push([6, i32(CONVERTED.UTF8)], [10, struct([[1, struct([])]])]);
    // TIMESTAMP(isAdjustedToUTC = true, unit = NANOS); NANOS has no converted type.
    if (c.type === 'timestamp') el.push([10, struct([[8, struct([[1, bool(true)], [2, struct([[3, struct([])]])]])]])]);
    out.push(el);
  }
  return out;
}

function physical(c: ColumnDef): number {
  switch (c.type) {
    case 'int':
    case 'int64':
    case 'timestamp':
      return PARQUET.INT64;
    case 'float':
      return PARQUET.DOUBLE;
    case 'bool':
      return PARQUET.BOOLEAN;
    default:
      return PARQUET.BYTE_ARRAY;
  }
}

/**
 * A time past what 64 bits of nanoseconds hold (after year 2262), or any integer beyond int64, cannot be an
 * INT64: it is null in Parquet (CSV and JSON Lines keep the exact digits).
 */
const isInt64 = (v: CellValue): v is number | bigint => (typeof v === 'bigint' ? BigInt.asIntN(64, v) === v : typeof v === 'number' && Number.isFinite(v) && Number.isInteger(v) && Math.abs(v) < 2 ** 63);

/** One column chunk's page body: levels then values. Returns the level count and the values' encoding. */
/**
 * A column chunk's integers, or a list column chunk's elements flattened: a byte-distribution chunk is a million
 * of them (8 MB), and a fresh zeroed array for every chunk cost more in page faults than the copying into it. Grows, never shrinks, lives as
 * long as its writer.
 */
interface Scratch {
  flat: Float64Array;
}

/** The scratch array with room for n values (grown to at least twice its size when it has not). */
function room(scratch: Scratch, n: number): Float64Array {
  if (scratch.flat.length < n) scratch.flat = new Float64Array(Math.max(n, 2 * scratch.flat.length));
  return scratch.flat;
}

function encodeColumn(c: ColumnDef, vals: readonly CellValue[], page: ByteBuffer, scratch: Scratch): { type: number; levels: number; encoding: number } {
  const n = vals.length;
  if (c.type === 'int[]' || c.type === 'float[]') return encodeList(c.type === 'int[]', vals as ReadonlyArray<NumberList | null>, page, scratch);
  const def = new LevelRuns();
  const kind = c.type;
  const integral = kind === 'int' || kind === 'int64' || kind === 'timestamp';
  const present: CellValue[] = [];
  for (let i = 0; i < n; i++) {
    const v = vals[i];
    const ok = v !== null && v !== undefined && (!integral || isInt64(v));
    def.add(ok ? 1 : 0, 1);
    if (ok) present.push(v);
  }
  def.write(page, 1);
  const type = physical(c);
  if (type === PARQUET.INT64) return { type, levels: n, encoding: integers(present as Array<number | bigint>, page, scratch) };
  if (type === PARQUET.DOUBLE) {
    for (const v of present) page.f64le(typeof v === 'bigint' ? Number(v) : (v as number));
  } else if (type === PARQUET.BOOLEAN) {
    const bits = new Uint8Array((present.length + 7) >> 3);
    present.forEach((v, i) => {
      if (v) bits[i >> 3] |= 1 << (i & 7);
    });
    page.bytes(bits);
  } else for (const v of present) byteArray(page, typeof v === 'string' ? v : String(v));
  return { type, levels: n, encoding: ENC.PLAIN };
}

/** Integers DELTA_BINARY_PACKED when every one is within DELTA_SAFE, else PLAIN. */
function integers(values: ReadonlyArray<number | bigint>, page: ByteBuffer, scratch: Scratch): number {
  const f = room(scratch, values.length);
  let safe = true;
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    const x = typeof v === 'bigint' ? (v >= -BigInt(DELTA_SAFE) && v <= BigInt(DELTA_SAFE) ? Number(v) : NaN) : v;
    if (!(Math.abs(x) <= DELTA_SAFE)) {
      safe = false;
      break;
    }
    f[i] = x;
  }
  if (safe) {
    deltaBinaryPacked(page, f, values.length);
    return ENC.DELTA_BINARY_PACKED;
  }
  for (const v of values) page.i64le(v);
  return ENC.PLAIN;
}

/**
 * A list column (optional list of optional elements: max definition level 3, repetition 1): null list 0, empty
 * list 1, an element 3 (elements are never null here); the first element of each list repetition 0, the rest 1.
 * The levels go straight from the list lengths into RLE runs (a byte distribution's 256 elements are two
 * repetition runs and part of one definition run), and integer typed arrays are copied whole: no per-element
 * level bytes and no check that an element of a Uint16Array or Int32Array is an integer.
 */
function encodeList(ints: boolean, vals: ReadonlyArray<NumberList | null>, page: ByteBuffer, scratch: Scratch): { type: number; levels: number; encoding: number } {
  let total = 0;
  for (const v of vals) total += v?.length ?? 0;
  const flat = room(scratch, total);
  const rep = new LevelRuns();
  const def = new LevelRuns();
  let t = 0;
  let safe = true;
  for (const v of vals) {
    if (v === null || v === undefined) {
      rep.add(0, 1);
      def.add(0, 1);
      continue;
    }
    const k = v.length;
    if (k === 0) {
      rep.add(0, 1);
      def.add(1, 1);
      continue;
    }
    rep.add(0, 1);
    if (k > 1) rep.add(1, k - 1);
    def.add(3, k);
    if (v instanceof Uint16Array || v instanceof Int32Array) flat.set(v, t);
    else {
      for (let j = 0; j < k; j++) {
        const x = v[j];
        flat[t + j] = x;
        if (ints && !(Math.abs(x) <= DELTA_SAFE && Number.isInteger(x))) safe = false;
      }
    }
    t += k;
  }
  const levels = rep.count;
  rep.write(page, 1);
  def.write(page, 2);
  if (!ints) {
    for (let i = 0; i < total; i++) page.f64le(flat[i]);
    return { type: PARQUET.DOUBLE, levels, encoding: ENC.PLAIN };
  }
  if (safe) {
    deltaBinaryPacked(page, flat, total);
    return { type: PARQUET.INT64, levels, encoding: ENC.DELTA_BINARY_PACKED };
  }
  // Integers past what a double holds exactly or not integers at all: PLAIN, a non-integer truncated.
  for (let i = 0; i < total; i++) page.i64le(Number.isFinite(flat[i]) ? Math.trunc(flat[i]) : 0);
  return { type: PARQUET.INT64, levels, encoding: ENC.PLAIN };
}

/** Levels (values below 256) as the runs of the RLE hybrid, merged as they are added. */
class LevelRuns {
  private values: number[] = [];
  private lengths: number[] = [];
  count = 0;

  add(value: number, n: number): void {
    const last = this.values.length - 1;
    if (last >= 0 && this.values[last] === value) this.lengths[last] += n;
    else {
      this.values.push(value);
      this.lengths.push(n);
    }
    this.count += n;
  }

  /** With the 4-byte length of a data page v1; levels of `bitWidth` <= 8 bits take one byte a run value. */
  write(page: ByteBuffer, bitWidth: number): void {
    if (bitWidth > 8) throw new Error('levels wider than 8 bits');
    const at = page.n;
    page.u32le(0);
    for (let i = 0; i < this.values.length; i++) {
      page.varint(this.lengths[i] * 2);
      page.u8(this.values[i]);
    }
    new DataView(page.b.buffer).setUint32(at, page.n - at - 4, true);
  }
}

const utf8 = new TextEncoder();

/** PLAIN BYTE_ARRAY: a 4-byte length and the UTF-8 bytes (ASCII copied unit by unit; lone surrogates as U+FFFD). */
function byteArray(page: ByteBuffer, s: string): void {
  page.reserve(4 + 3 * s.length);
  const at = page.n;
  const b = page.b;
  let j = 0;
  for (; j < s.length; j++) {
    const c = s.charCodeAt(j);
    if (c >= 0x80) break;
    b[at + 4 + j] = c;
  }
  const len = j < s.length ? utf8.encodeInto(s, b.subarray(at + 4)).written : j;
  new DataView(b.buffer).setUint32(at, len, true);
  page.n = at + 4 + len;
}
