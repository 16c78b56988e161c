import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CellValue, ColumnDef } from '../../src/flow/schema.js';
import { CsvWriter, JsonlWriter, ParquetWriter } from '../../src/output/writers.js';
import { escapeCsvText, unescapeCsvText } from '../../src/output/csv.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('cipherscope-writers-');
const COLS: ColumnDef[] = [
  { name: 'n', type: 'float', unit: '', description: '' },
  { name: 's', type: 'string', unit: '', description: '' },
  { name: 'l', type: 'int[]', unit: '', description: '' },
];

/** Split one CSV line of this test's shape: a number, a string (maybe quoted), a quoted list. */
function csvCells(line: string): [string, string, string] {
  const m = /^([^,]*),("(?:[^"]|"")*"|[^,]*),(.*)$/.exec(line);
  assert.ok(m, line);
  return [m[1], m[2].startsWith('"') ? m[2].slice(1, -1).replace(/""/g, '"') : m[2], m[3]];
}

describe('record writers', () => {
  it('CSV prints every number as String() does and lists as [a,b]', async () => {
    // Integers of every size (the digit fast paths switch at 10, 100, 2^31 and 10^9), negatives, fractions; runs of
    // counts below 10 (written two at a time in integer typed arrays).
    const num = fc.oneof(fc.integer(), fc.integer({ min: -(2 ** 53) + 1, max: 2 ** 53 - 1 }), fc.double({ noNaN: true, noDefaultInfinity: true }), fc.nat(120), fc.nat(9));
    // 0: a plain array, 1: Int32Array, 2: Uint16Array (byte-distribution counts).
    const typedAs = (l: number[], typed: number): number[] | Int32Array | Uint16Array => (typed === 1 ? Int32Array.from(l, (x) => x | 0) : typed === 2 ? Uint16Array.from(l, (x) => x & 0xffff) : l);
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(num, fc.string(), fc.array(num, { maxLength: 40 }), fc.constantFrom(0, 1, 2))), async (rows) => {
        const path = join(dir, 'p.csv');
        const w = new CsvWriter(path, COLS);
        for (const [n, s, l, typed] of rows) {
          w.write([n, s, typedAs(l, typed)]);
        }
        await w.close();
        const lines = readFileSync(path, 'utf8').split('\n');
        assert.equal(lines[0], 'n,s,l');
        let at = 1;
        for (const [n, s, l, typed] of rows) {
          const [cn, cs, cl] = csvCells(lines[at++]);
          assert.equal(cn, String(n === 0 ? 0 : n));
          // Escaped and formula-guarded (csv.ts csvString); read back, the string written.
          assert.doesNotMatch(cs, /[\x00-\x1f\x7f]|^[=+\-@]/);
          assert.equal(unescapeCsvText(cs), s);
          const want = typed ? Array.from(typedAs(l, typed)) : l.map((x) => (x === 0 ? 0 : x));
          assert.equal(cl, `"[${want.map(String).join(',')}]"`);
        }
      }),
      { numRuns: 200, seed: 4 },
    );
  });

  it('CSV strings, escaped and raw, are written as the rule by regular expressions writes them', async () => {
    // The rule as it was written before the char-code scan (careOf): a test for anything to do, then escapes,
    // the formula guard after at most one ', and quoting by what the written text holds.
    const needs = /[",\\\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]|^'?[=+\-@]/;
    const escapable = /[\\\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]/;
    const quoteWorthy = /[",\r\n]/;
    const formula = /^[=+\-@]/;
    const rule = (v: string, raw: boolean): string => {
      if (!needs.test(v)) return v;
      let t = v;
      if (!raw) {
        t = escapable.test(v) ? escapeCsvText(v) : v;
        if (formula.test(t) || (t.charCodeAt(0) === 39 && formula.test(t.slice(1)))) t = `'${t}`;
      }
      if (!quoteWorthy.test(t)) return t;
      return t.includes('"') ? `"${t.replace(/"/g, '""')}"` : `"${t}"`;
    };
    // Each edge of each class and its neighbours, every string of up to three of them, then random ones.
    const edge = ['a', '0', ' ', '~', ',', '"', '\\', '\n', '\r', '\t', '\x00', '\x1f', '\x7f', '\x80', '\u00e9', '\u2029', '\u202a', '\u202e', '\u202f', '\u2065', '\u2066', '\u2069', '\u206a', "'", '=', '+', '-', '@', '<', '\ud83d\ude00'];
    const strings: string[] = [''];
    for (const a of edge) {
      strings.push(a);
      for (const b of edge) {
        strings.push(a + b);
        for (const c of edge) strings.push(a + b + c);
      }
    }
    fc.sample(fc.string({ unit: 'binary', maxLength: 30 }), { numRuns: 20000, seed: 7 }).forEach((v) => strings.push(v));
    const cols: ColumnDef[] = [{ name: 's', type: 'string', unit: '', description: '' }];
    for (const raw of [false, true]) {
      const path = join(dir, `rule-${raw}.csv`);
      const w = new CsvWriter(path, cols, false, raw);
      for (const v of strings) w.write([v]);
      await w.close();
      const got = readFileSync(path, 'utf8');
      const want = strings.map((v) => `${rule(v, raw)}\n`).join('');
      if (got !== want) {
        const lines = got.split('\n');
        const bad = strings.findIndex((v, i) => lines[i] !== rule(v, raw));
        assert.fail(`raw=${raw}: ${JSON.stringify(strings[bad])} written as ${JSON.stringify(lines[bad])}, the rule writes ${JSON.stringify(rule(strings[bad], raw))}`);
      }
    }
  });

  it('CSV writes a list longer than its buffer, with fractions that force a flush mid-list', async () => {
    // 200,000 entries, a third of them fractions of ~20 characters: about 2.5 MB, past the 1 MiB buffer, so num()
    // flushes and the list's writer must carry on in the new buffer.
    const list = Float64Array.from({ length: 200_000 }, (_, i) => (i % 3 === 0 ? i / 7 : -i));
    const path = join(dir, 'long.csv');
    const w = new CsvWriter(path, COLS);
    w.write([1, 'a', list]);
    w.write([2, 'b', list.subarray(5, 8)]);
    await w.close();
    const lines = readFileSync(path, 'utf8').split('\n');
    assert.equal(lines[1], `1,a,"[${Array.from(list, (x) => String(x === 0 ? 0 : x)).join(',')}]"`);
    assert.equal(lines[2], `2,b,"[-5,${String(6 / 7)},-7]"`);
  });

  it('JSON Lines writes typed-array lists as JSON arrays', async () => {
    const path = join(dir, 'a.jsonl');
    const w = new JsonlWriter(path, COLS);
    w.write([1.5, 'x"y', Int32Array.from([0, 7, 123456789, -3])]);
    w.write([null, null, [1, 2]]);
    await w.close();
    const rows = readFileSync(path, 'utf8').trim().split('\n').map((l) => JSON.parse(l));
    assert.deepEqual(rows, [
      { n: 1.5, s: 'x"y', l: [0, 7, 123456789, -3] },
      { n: null, s: null, l: [1, 2] },
    ]);
  });

  it('Parquet keeps typed-array and plain lists, nulls included', async () => {
    const path = join(dir, 'a.parquet');
    const w = new ParquetWriter(path, COLS, 2);
    const rows: CellValue[][] = [
      [1, 'a', Int32Array.from([5, 0, 9]).subarray(1)],
      [2, 'b', null],
      [3, 'c', [1, 2, 3]],
    ];
    for (const r of rows) w.write(r);
    await w.close();
    const arrow = await import('apache-arrow');
    const { readParquet } = await import('parquet-wasm/node');
    const table = arrow.tableFromIPC(readParquet(readFileSync(path)).intoIPCStream());
    const got = table.toArray().map((r) => {
      const o = r.toJSON();
      return [o.n, o.s, o.l === null ? null : Array.from(o.l.toArray() as BigInt64Array, Number)];
    });
    // int[] columns are lists of 64-bit integers, the element type the schema gives them.
    assert.equal(String(table.schema.fields[2].type), 'List<Int64>');
    assert.deepEqual(got, [
      [1, 'a', [0, 9]],
      [2, 'b', null],
      [3, 'c', [1, 2, 3]],
    ]);
  });

  it('Parquet strings and booleans: any Unicode, empty strings, nulls, across batches', async () => {
    const cols: ColumnDef[] = [
      { name: 's', type: 'string', unit: '', description: '' },
      { name: 'b', type: 'bool', unit: '', description: '' },
    ];
    await fc.assert(
      fc.asyncProperty(fc.array(fc.tuple(fc.option(fc.oneof(fc.string(), fc.string({ unit: 'binary' }), fc.string({ unit: fc.integer({ min: 0, max: 0xffff }).map((c) => String.fromCharCode(c)) })), { nil: null }), fc.option(fc.boolean(), { nil: null })), { maxLength: 60 }), async (rows) => {
        const path = join(dir, 'sb.parquet');
        const w = new ParquetWriter(path, cols, 7);
        for (const r of rows) w.write(r);
        await w.close();
        const arrow = await import('apache-arrow');
        const { readParquet } = await import('parquet-wasm/node');
        const table = arrow.tableFromIPC(readParquet(readFileSync(path)).intoIPCStream());
        assert.equal(String(table.schema.fields[0].type), 'Utf8');
        assert.equal(String(table.schema.fields[1].type), 'Bool');
        const got = table.toArray().map((r) => [r.s ?? null, r.b ?? null]);
        // Lone surrogates cannot be UTF-8: they come back as U+FFFD, as Buffer.from(s, 'utf8') writes them.
        const want = rows.map(([s, b]) => [s === null ? null : Buffer.from(s, 'utf8').toString('utf8'), b]);
        assert.deepEqual(got, want);
      }),
      { numRuns: 60 },
    );
  });
});
