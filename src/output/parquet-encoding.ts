/**
 * The pieces of the Parquet format (apache/parquet-format: Encodings.md, parquet.thrift) a flow-record writer needs:
 * a byte buffer, the Thrift compact protocol for page headers and the footer, and DELTA_BINARY_PACKED values (the
 * levels' RLE runs are written in src/output/parquet.ts).
 */

/** A growable little-endian byte buffer. */
export class ByteBuffer {
  b: Uint8Array;
  n = 0;
  private dv: DataView;

  /** `size`: the bytes expected (it grows past them as needed). */
  constructor(size = 1 << 16) {
    this.b = new Uint8Array(Math.max(16, size));
    this.dv = new DataView(this.b.buffer);
  }

  reserve(k: number): void {
    if (this.n + k <= this.b.length) return;
    let size = this.b.length * 2;
    while (size < this.n + k) size *= 2;
    const nb = new Uint8Array(size);
    nb.set(this.b.subarray(0, this.n));
    this.b = nb;
    this.dv = new DataView(nb.buffer);
  }
  u8(v: number): void {
    this.reserve(1);
    this.b[this.n++] = v;
  }
  u32le(v: number): void {
    this.reserve(4);
    this.dv.setUint32(this.n, v >>> 0, true);
    this.n += 4;
  }
  f64le(v: number): void {
    this.reserve(8);
    this.dv.setFloat64(this.n, v, true);
    this.n += 8;
  }
  /** A 64-bit two's-complement integer: a safe-integer double split in words, or a bigint. */
  i64le(v: number | bigint): void {
    this.reserve(8);
    if (typeof v === 'bigint') this.dv.setBigInt64(this.n, BigInt.asIntN(64, v), true);
    else {
      this.dv.setUint32(this.n, v >>> 0, true);
      this.dv.setInt32(this.n + 4, Math.floor(v / 4294967296), true);
    }
    this.n += 8;
  }
  bytes(x: Uint8Array): void {
    this.reserve(x.length);
    this.b.set(x, this.n);
    this.n += x.length;
  }
  /** ULEB128 of a non-negative integer below 2^63 (a double up to 2^53 exactly, beyond that as a bigint). */
  varint(v: number | bigint): void {
    if (typeof v === 'bigint') {
      let x = BigInt.asUintN(64, v);
      while (x >= 0x80n) {
        this.u8(Number(x & 0x7fn) | 0x80);
        x >>= 7n;
      }
      this.u8(Number(x));
      return;
    }
    while (v >= 0x80) {
      this.u8((v % 128) | 0x80);
      v = Math.floor(v / 128);
    }
    this.u8(v);
  }
  /** Zigzag then ULEB128 (Thrift i32/i64, DELTA_BINARY_PACKED's first value and min delta). */
  zigzag(v: number | bigint): void {
    if (typeof v === 'bigint') this.varint(v >= 0n ? v << 1n : (-v << 1n) - 1n);
    else this.varint(v >= 0 ? v * 2 : -v * 2 - 1);
  }
  view(): Uint8Array {
    return this.b.subarray(0, this.n);
  }
}

/** Thrift compact protocol type ids. */
const T = { TRUE: 1, FALSE: 2, I32: 5, I64: 6, BINARY: 8, LIST: 9, STRUCT: 12 } as const;

/** A Thrift struct value: fields by id, each a tagged value. */
export type ThriftValue =
  | { t: 'i32'; v: number }
  | { t: 'i64'; v: number | bigint }
  | { t: 'bool'; v: boolean }
  | { t: 'string'; v: string }
  | { t: 'struct'; v: ThriftStruct }
  | { t: 'list'; of: 'i32' | 'string' | 'struct'; v: Array<number | string | ThriftStruct> };
export type ThriftStruct = Array<[id: number, value: ThriftValue | undefined]>;

export const i32 = (v: number): ThriftValue => ({ t: 'i32', v });
export const i64 = (v: number | bigint): ThriftValue => ({ t: 'i64', v });
export const bool = (v: boolean): ThriftValue => ({ t: 'bool', v });
export const str = (v: string): ThriftValue => ({ t: 'string', v });
export const struct = (v: ThriftStruct): ThriftValue => ({ t: 'struct', v });
export const list = (of: 'i32' | 'string' | 'struct', v: Array<number | string | ThriftStruct>): ThriftValue => ({ t: 'list', of, v });

const utf8 = new TextEncoder();
const ELEMENT = { i32: T.I32, string: T.BINARY, struct: T.STRUCT } as const;

/** A struct in the compact protocol: field headers with id deltas, then the stop byte. */
export function writeStruct(out: ByteBuffer, fields: ThriftStruct): void {
  let last = 0;
  for (const [id, value] of fields) {
    if (value === undefined) continue;
    const type = value.t === 'bool' ? (value.v ? T.TRUE : T.FALSE) : value.t === 'i32' ? T.I32 : value.t === 'i64' ? T.I64 : value.t === 'string' ? T.BINARY : value.t === 'list' ? T.LIST : T.STRUCT;
    const delta = id - last;
    if (delta > 0 && delta <= 15) out.u8((delta << 4) | type);
    else {
      out.u8(type);
      out.zigzag(id);
    }
    last = id;
    writeValue(out, value);
  }
  out.u8(0);
}

function writeValue(out: ByteBuffer, value: ThriftValue): void {
  switch (value.t) {
    case 'bool':
      return; // the value is in the field header's type
    case 'i32':
    case 'i64':
      return out.zigzag(value.v);
    case 'string': {
      const b = utf8.encode(value.v);
      out.varint(b.length);
      return out.bytes(b);
    }
    case 'struct':
      return writeStruct(out, value.v);
    case 'list': {
      const n = value.v.length;
      const et = ELEMENT[value.of];
      if (n < 15) out.u8((n << 4) | et);
      else {
        out.u8(0xf0 | et);
        out.varint(n);
      }
      for (const x of value.v) {
        if (value.of === 'i32') out.zigzag(x as number);
        else if (value.of === 'string') writeValue(out, str(x as string));
        else writeStruct(out, x as ThriftStruct);
      }
    }
  }
}

/** Integers whose deltas a double holds exactly (|v| <= 2^51: deltas below 2^52, minus the minimum below 2^53). */
export const DELTA_SAFE = 2 ** 51;
const TWO_32 = 4294967296;

/**
 * DELTA_BINARY_PACKED (Encodings.md): blocks of 128 deltas in 4 miniblocks of 32, each miniblock bit-packed at its
 * own width after the block's minimum delta is taken off. Every value must be an integer with |v| <= DELTA_SAFE.
 * Small counts and sizes pack into a few bits each, where PLAIN spends 64.
 */
export function deltaBinaryPacked(out: ByteBuffer, values: Float64Array, n: number): void {
  out.varint(128);
  out.varint(4);
  out.varint(n);
  out.zigzag(n > 0 ? values[0] : 0);
  const d = DELTAS;
  const widths = WIDTHS;
  const maxes = MAXES;
  for (let start = 1; start < n; start += 128) {
    const m = Math.min(128, n - start);
    // One pass: the deltas, the block's smallest, each miniblock's largest (max(d - min) = max(d) - min).
    let min = Infinity;
    for (let mb = 0; mb < 4; mb++) {
      let max = -Infinity;
      const to = Math.min(m, mb * 32 + 32);
      for (let i = mb * 32; i < to; i++) {
        const x = values[start + i] - values[start + i - 1];
        d[i] = x;
        if (x < min) min = x;
        if (x > max) max = x;
      }
      maxes[mb] = max;
    }
    out.zigzag(min);
    for (let mb = 0; mb < 4; mb++) {
      const span = mb * 32 < m ? maxes[mb] - min : 0;
      widths[mb] = span === 0 ? 0 : span < TWO_32 ? 32 - Math.clz32(span) : 32 + (32 - Math.clz32(Math.floor(span / TWO_32)));
    }
    out.reserve(4);
    for (let mb = 0; mb < 4; mb++) out.b[out.n++] = widths[mb];
    for (let mb = 0; mb < 4 && mb * 32 < m; mb++) {
      const w = widths[mb];
      const to = Math.min(m, mb * 32 + 32);
      if (w <= 32) bitPack32(out, d, mb * 32, to, w, min);
      else {
        for (let i = mb * 32; i < to; i++) d[i] -= min;
        bitPack(out, d, mb * 32, to, mb * 32 + 32, w);
      }
    }
  }
}

/** One block's deltas and its miniblocks' bit widths, reused (the encoder is not re-entrant). */
const DELTAS = new Float64Array(128);
const WIDTHS = new Uint8Array(4);
const MAXES = new Float64Array(4);

/**
 * A miniblock of 32 values, `min` taken off each (leaving them below 2^32), at `width` <= 32 bits each, LSB first (the common case: counts, sizes and
 * times whose deltas fit 32 bits). The bits gather in a 32-bit accumulator and leave it a byte at a time; a value
 * wider than 24 bits goes in as two halves so the accumulator never holds more than 31 bits. values[from, to),
 * zero-padded to 32 values.
 */
function bitPack32(out: ByteBuffer, values: Float64Array, from: number, to: number, width: number, min: number): void {
  if (width === 0) return;
  const total = width * 4; // 32 values of `width` bits
  out.reserve(total);
  const b = out.b;
  let at = out.n;
  const end = at + total;
  let acc = 0;
  let bits = 0;
  if (width <= 24) {
    for (let i = from; i < to; i++) {
      acc |= (values[i] - min) << bits;
      bits += width;
      while (bits >= 8) {
        b[at++] = acc & 255;
        acc >>>= 8;
        bits -= 8;
      }
    }
  } else {
    const high = width - 16;
    for (let i = from; i < to; i++) {
      const x = (values[i] - min) >>> 0;
      acc |= (x & 0xffff) << bits;
      bits += 16;
      while (bits >= 8) {
        b[at++] = acc & 255;
        acc >>>= 8;
        bits -= 8;
      }
      acc |= (x >>> 16) << bits;
      bits += high;
      while (bits >= 8) {
        b[at++] = acc & 255;
        acc >>>= 8;
        bits -= 8;
      }
    }
  }
  if (bits > 0) b[at++] = acc & 255;
  while (at < end) b[at++] = 0;
  out.n = end;
}

/** values[from, to) at `width` bits each, LSB first, zero-padded to `padTo` values (any width up to 64). */
function bitPack(out: ByteBuffer, values: Float64Array, from: number, to: number, padTo: number, width: number): void {
  if (width === 0) return;
  const total = ((padTo - from) * width) >> 3; // 32 values: a whole number of bytes
  out.reserve(total);
  const b = out.b;
  const base = out.n;
  b.fill(0, base, base + total);
  let bit = 0;
  for (let i = from; i < to; i++) {
    const x = values[i];
    let lo = x >>> 0;
    let hi = width > 32 ? Math.floor(x / TWO_32) : 0;
    let left = width;
    while (left > 0) {
      const at = base + (bit >> 3);
      const off = bit & 7;
      const take = Math.min(8 - off, left);
      b[at] |= (lo & ((1 << take) - 1)) << off;
      // shift the 64-bit (hi, lo) right by `take`
      lo = ((lo >>> take) | (hi << (32 - take))) >>> 0;
      hi >>>= take;
      bit += take;
      left -= take;
    }
  }
  out.n = base + total;
}
