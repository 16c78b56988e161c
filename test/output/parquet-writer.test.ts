import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { type DuckDBConnection, DuckDBInstance } from '@duckdb/node-api';
import fc from 'fast-check';
import type { CellValue, ColumnDef } from '../../src/flow/schema.js';
import { ByteBuffer, deltaBinaryPacked } from '../../src/output/parquet-encoding.js';
import { ParquetWriter } from '../../src/output/parquet.js';

/**
 * The hand-written Parquet writer read back by DuckDB, an independent Parquet reader: random rows of every column
 * type (nulls, empty lists, integers on both sides of the DELTA_BINARY_PACKED range and past int64, any Unicode,
 * NaN and infinities) across row groups of a few rows, and DELTA_BINARY_PACKED at every bit width up to 53.
 */
const COLS: ColumnDef[] = [
  { name: 'i', type: 'int', unit: '', description: '' },
  { name: 't', type: 'timestamp', unit: '', description: '' },
  { name: 'f', type: 'float', unit: '', description: '' },
  { name: 'b', type: 'bool', unit: '', description: '' },
  { name: 's', type: 'string', unit: '', description: '' },
  { name: 'li', type: 'int[]', unit: '', description: '' },
  { name: 'lf', type: 'float[]', unit: '', description: '' },
];

const dir = mkdtempSync(join(tmpdir(), 'cs-parquet-'));
let db: DuckDBConnection;
before(async () => {
  db = await (await DuckDBInstance.create(':memory:')).connect();
});
after(() => rmSync(dir, { recursive: true, force: true }));

async function readBack(path: string): Promise<unknown[][]> {
  const r = await db.runAndReadAll(`select i::varchar, epoch_us(t)::varchar, f::varchar, b, s, li::varchar[], lf::varchar[] from read_parquet('${path}')`);
  return r.getRowsJson() as unknown[][];
}

/** Row k of an Int64-backed column (Timestamp included) as its raw 64-bit value. */
function getRawInt64(v: import('apache-arrow').Vector, k: number): bigint {
  let i = k;
  for (const d of v.data) {
    if (i < d.length) return (d.values as unknown as BigInt64Array)[d.offset + i];
    i -= d.length;
  }
  throw new Error(`row ${k}`);
}

const fnum = (x: number) => (Number.isNaN(x) ? 'nan' : x === Infinity ? 'inf' : x === -Infinity ? '-inf' : String(x));

describe('Parquet writer read by DuckDB', () => {
  it('DESCRIBE gives the schema types', async () => {
    const path = join(dir, 'd.parquet');
    const w = new ParquetWriter(path, COLS);
    await w.close();
    const r = await db.runAndReadAll(`describe select * from read_parquet('${path}')`);
    assert.deepEqual(
      r.getRowsJson().map((x) => x[1]),
      ['BIGINT', 'TIMESTAMP WITH TIME ZONE', 'DOUBLE', 'BOOLEAN', 'VARCHAR', 'BIGINT[]', 'DOUBLE[]'],
    );
  });

  it('random rows come back as written', async () => {
    const big = fc.oneof(fc.integer(), fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), fc.nat(40), fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }));
    const dbl = fc.oneof(fc.double(), fc.integer());
    const ints = fc.oneof(fc.array(fc.nat(30), { maxLength: 300 }), fc.array(fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), { maxLength: 20 }));
    const row = fc.tuple(
      fc.option(big, { nil: null }),
      fc.option(fc.bigInt({ min: 0n, max: 2n ** 63n - 1n }), { nil: null }),
      fc.option(dbl, { nil: null }),
      fc.option(fc.boolean(), { nil: null }),
      fc.option(fc.oneof(fc.string(), fc.string({ unit: 'binary' })), { nil: null }),
      fc.option(fc.oneof(ints, ints.map((l) => Int32Array.from(l, (x) => x | 0)), ints.map((l) => Uint16Array.from(l, (x) => x & 0xffff))), { nil: null }),
      fc.option(fc.array(dbl, { maxLength: 30 }), { nil: null }),
    );
    await fc.assert(
      fc.asyncProperty(fc.array(row, { maxLength: 40 }), fc.integer({ min: 1, max: 9 }), async (rows, groupRows) => {
        const path = join(dir, 'p.parquet');
        const w = new ParquetWriter(path, COLS, groupRows);
        for (const r of rows) w.write(r as CellValue[]);
        await w.close();
        const got = await readBack(path);
        const inInt64 = (v: number | bigint) => BigInt.asIntN(64, BigInt(v)) === BigInt(v);
        const want = rows.map(([i, t, f, b, s, li, lf]) => [
          i === null || !inInt64(i) ? null : BigInt(i).toString(),
          // DuckDB reads TIMESTAMP(NANOS, UTC) as microseconds, and INT64_MAX as its 'infinity' (epoch_us null);
          // the exact nanoseconds are checked through parquet-wasm below.
          t === null || t === 2n ** 63n - 1n ? null : (t / 1000n).toString(),
          f === null ? null : fnum(f),
          b,
          s === null ? null : Buffer.from(s, 'utf8').toString('utf8'),
          li === null ? null : Array.from(li, String),
          lf === null ? null : lf.map(fnum),
        ]);
        // DuckDB prints doubles its own way: compare them as numbers.
        const num = (c: unknown) => {
          const t = String(c).toLowerCase();
          return fnum(t === 'inf' || t === 'infinity' ? Infinity : t === '-inf' || t === '-infinity' ? -Infinity : t === 'nan' || t === '-nan' ? NaN : Number(t));
        };
        const norm = (rs: unknown[][]) => rs.map((r) => r.map((c, k) => (c === null ? null : k === 2 ? num(c) : k === 6 ? (c as unknown[]).map(num) : c)));
        assert.deepEqual(norm(got), want);
        // The nanoseconds themselves, through parquet-wasm and Arrow (the reader `cipherscope` itself uses).
        const arrow = await import('apache-arrow');
        const { readParquet } = await import('parquet-wasm/node');
        const table = arrow.tableFromIPC(readParquet(readFileSync(path)).intoIPCStream());
        const ts = table.getChild('t')!;
        assert.deepEqual(
          Array.from({ length: table.numRows }, (_, k) => (ts.isValid(k) ? getRawInt64(ts, k).toString() : null)),
          rows.map((r) => (r[1] === null ? null : r[1].toString())),
        );
      }),
      { numRuns: 80 },
    );
  });

  it('DELTA_BINARY_PACKED at every width from 0 to 53 bits, with partial blocks and miniblocks', async () => {
    for (const width of [0, 1, 2, 7, 8, 9, 16, 17, 23, 24, 25, 26, 31, 32, 33, 40, 52, 53]) {
      for (const n of [1, 2, 33, 129, 300]) {
        const values = new Float64Array(n);
        let x = 1;
        for (let i = 0; i < n; i++) {
          x = (x * 1103515245 + 12345) % 2147483648;
          const spread = width === 0 ? 0 : 2 ** Math.min(width - 1, 51);
          values[i] = i % 2 === 0 ? Math.floor((x / 2147483648) * spread) : -Math.floor((x / 2147483648) * spread);
        }
        const path = join(dir, `d${width}-${n}.parquet`);
        const w = new ParquetWriter(path, [COLS[0]], 1000);
        for (const v of values) w.write([v]);
        await w.close();
        const r = await db.runAndReadAll(`select i::varchar from read_parquet('${path}')`);
        assert.deepEqual(r.getRowsJson().map((c) => c[0]), Array.from(values, String), `width ${width}, ${n} values`);
      }
    }
    // The encoder on its own: a header and nothing else for no values.
    const b = new ByteBuffer();
    deltaBinaryPacked(b, new Float64Array(0), 0);
    assert.deepEqual(Array.from(b.view()), [0x80, 0x01, 4, 0, 0]);
  });
});
