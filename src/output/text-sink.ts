import { closeSync, openSync, writeSync } from 'node:fs';
import type { CellValue, NumberList } from '../flow/schema.js';
import { writeShortestDouble } from './double-text.js';
import { ISO_NS_ROOM, isoNs, writeIsoNs } from './timestamp.js';

/** Where encoded text goes: a file path, "-" for standard output, or a function that takes each filled buffer. */
export type TextTarget = string | ((bytes: Uint8Array) => void);

/**
 * A byte sink for text output: values are encoded straight into a 1 MiB buffer (integers digit by digit, strings
 * with Buffer.write), so no per-row strings pile up for the garbage collector. Files are written synchronously
 * (bounded memory whatever the input rate); stdout through its stream.
 */
export class TextSink {
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

  /** Bytes encoded once and written many times (a JSON key): one typed-array copy. */
  bytes(b: Uint8Array): void {
    this.reserve(b.length);
    this.buf.set(b, this.len);
    this.len += b.length;
  }

  byte(c: number): void {
    this.reserve(1);
    this.buf[this.len++] = c;
  }

  /** A number: safe integers digit by digit, anything else as JavaScript prints it (shortest round trip). */
  num(x: number): void {
    if (!Number.isSafeInteger(x)) {
      // Most are means and deviations: their shortest digits written in place (output/double-text.ts), String(x)
      // for what that leaves (the same text either way).
      this.reserve(25);
      const end = writeShortestDouble(this.buf, this.len, x);
      if (end >= 0) this.len = end;
      else this.push(String(x));
      return;
    }
    this.reserve(17);
    if (x < 0) {
      this.buf[this.len++] = 45; // '-'
      x = -x;
    }
    this.len = x <= INT32_MAX ? writeInt32(this.buf, this.len, x) : writeSafeInt(this.buf, this.len, x);
  }

  /** A timestamp column's nanoseconds as isoNs writes them ("2024-05-01T12:00:00.123456789Z"), encoded in place. */
  timestamp(ns: bigint): void {
    this.reserve(ISO_NS_ROOM);
    const end = writeIsoNs(this.buf, this.len, ns);
    if (end >= 0) this.len = end;
    else this.push(isoNs(ns));
  }

  /**
   * CSV cells row[i], row[i + 1], ... as long as they are numbers or absent (an empty cell), each after a comma
   * unless it is the row's first: room for all of them is reserved once and non-negative int32s (most cells: counts,
   * sizes, ports) are written in place; other numbers go through num(). Returns the index of the first cell it
   * did not write (a string, list, boolean or bigint), or row.length.
   */
  csvNumbers(row: readonly CellValue[], i: number): number {
    const n = row.length;
    this.reserve((n - i) * 12);
    let b = this.buf;
    let at = this.len;
    for (; i < n; i++) {
      const v = row[i];
      if (typeof v === 'number') {
        if (i > 0) b[at++] = 44;
        if ((v | 0) === v && v >= 0) at = writeInt32(b, at, v);
        else {
          this.len = at;
          this.num(v);
          // num() reserves for itself: it may have flushed or grown the buffer.
          this.reserve((n - i) * 12);
          b = this.buf;
          at = this.len;
        }
      } else if (v === null || v === undefined) {
        if (i > 0) b[at++] = 44;
      } else break;
    }
    this.len = at;
    return i;
  }

  /**
   * A list as `"[a,b,...]"` (the quotes make it one CSV cell), or with `json` as a JSON array `[a,b,...]` (a
   * non-finite element as null). Integer typed arrays (byte distributions) take an all-integer path with room
   * reserved once; other lists go number by number.
   */
  list(v: NumberList, json = false): void {
    if (v instanceof Uint16Array || v instanceof Int32Array) {
      this.reserve(4 + v.length * 12);
      this.len = intList(this.buf, this.view, this.len, v, json);
      return;
    }
    // Other lists (SPLT lengths and times): mostly integers, written by the integer paths; anything else as num().
    // Room for the brackets and for every element as a 12-byte int32 with its comma is reserved once; an element
    // that is not an int32 goes through num(), which reserves for itself.
    this.reserve(4 + v.length * 12);
    let b = this.buf;
    let at = this.len;
    if (!json) b[at++] = 34;
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
        if (json && !Number.isFinite(x)) this.push('null');
        else this.num(x);
        this.reserve(4 + (v.length - i) * 12);
        b = this.buf; // reserve() may have flushed into a larger buffer
        at = this.len;
      }
    }
    b[at++] = 93;
    if (!json) b[at++] = 34;
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
 * `"[a,b,...]"` (`[a,b,...]` with `json`) for a list of integers at b[at...]; returns the end. Room must be reserved (12 bytes an element).
 * Two counts below 10 in a row (most of a byte distribution's counts) are one 4-byte store of "d,d,"; other counts
 * below 1000 one store of up to "ddd,"; larger ones digit pairs.
 */
function intList(b: Uint8Array, dv: DataView, at: number, v: Uint16Array | Int32Array, json: boolean): number {
  if (!json) b[at++] = 34; // '"'
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
  if (!json) b[at++] = 34;
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


/** What every record writer offers, whatever its format. */
export interface RecordWriter {
  write(row: readonly CellValue[]): void;
  /**
   * Rows already encoded in this writer's format by a writer of the same format elsewhere (a worker thread),
   * written as they are. Only text formats have it.
   */
  writeEncoded?(bytes: Uint8Array, rows: number): void;
  /** Hand what is buffered to the file now (live output); Parquet writes whole row groups and waits. */
  flush(): void;
  /** A promise to wait for before producing more rows when the writer is behind (ExtractOptions.backlog). */
  backlog?(): Promise<void> | undefined;
  close(): Promise<void>;
  /** Give up: close, and leave the file that was at the target as it was (writers opened atomic, the default). */
  abort?(): Promise<void>;
  readonly rows: number;
}

/** A text format's writer: a TextSink, and rows encoded elsewhere passed through; subclasses encode one row. */
export abstract class TextRecordWriter implements RecordWriter {
  protected readonly sink: TextSink;
  rows = 0;
  constructor(target: TextTarget) {
    this.sink = new TextSink(target);
  }
  abstract write(row: readonly CellValue[]): void;
  /** Bytes encoded and not yet handed on. */
  get pending(): number {
    return this.sink.pending;
  }
  writeEncoded(bytes: Uint8Array, rows: number): void {
    this.sink.raw(bytes);
    this.rows += rows;
  }
  flush(): void {
    this.sink.flush();
  }
  close(): Promise<void> {
    return this.sink.close();
  }
}
