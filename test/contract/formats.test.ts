import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import '../../docs/examples/tsv-format.js';
import { readRecordsCsv } from '../../src/dataset/records.js';
import type { CellValue, ColumnDef } from '../../src/flow/schema.js';
import { parseRecordJson } from '../../src/output/codec.js';
import { encodedSink, formatFromPath, openRecordWriter, recordFormats } from '../../src/output/writers.js';
import { tempDir } from '../helpers/temp.js';

/**
 * The contract every registered record format keeps (the example TSV format of docs/architecture.md among them):
 * every record written comes back with its values, nulls, 64-bit integers and lists included; a format with an
 * encoder gives the same bytes when rows are encoded elsewhere and passed through; its extensions name it.
 * Each format is read back by a reader of its own here, so a format without one fails this test.
 */
const COLUMNS: ColumnDef[] = [
  { name: 't', type: 'int64', unit: 'ns', description: '' },
  { name: 'n', type: 'int', unit: '', description: '' },
  { name: 'x', type: 'float', unit: '', description: '' },
  { name: 's', type: 'string', unit: '', description: '' },
  { name: 'b', type: 'bool', unit: '', description: '' },
  { name: 'l', type: 'int[]', unit: '', description: '' },
];
const ROWS: CellValue[][] = [
  [1733011200123456789n, 1, 0.5, 'a,b "c"', true, Uint16Array.from([3, 0, 9])],
  [1733011200123456790n, -2, null, null, false, []],
  [0n, 0, 1e-9, 'é', null, null],
];
const plain = (v: CellValue): unknown => (ArrayBuffer.isView(v) ? Array.from(v as ArrayLike<number>) : v);
const EXPECTED = ROWS.map((r) => r.map(plain));

type Reader = (path: string) => Promise<unknown[][]>;
const READERS: Record<string, Reader> = {
  csv: async (path) => readRecordsCsv(path, COLUMNS).rows.map((r) => r.map(plain)),
  jsonl: async (path) =>
    readFileSync(path, 'utf8')
      .trim()
      .split('\n')
      .map((line) => parseRecordJson(line, COLUMNS)[1].map(plain)),
  parquet: async (path) => {
    const arrow = await import('apache-arrow');
    const { readParquet } = await import('parquet-wasm/node');
    const table = arrow.tableFromIPC(readParquet(readFileSync(path)).intoIPCStream());
    return table.toArray().map((r) => {
      const o = r.toJSON();
      return COLUMNS.map((c) => {
        const v = o[c.name];
        if (v === null || v === undefined) return null;
        if (c.type === 'int64') return BigInt(v);
        if (c.type === 'int') return Number(v);
        if (c.type === 'int[]') return Array.from(v.toArray() as BigInt64Array, Number);
        return v;
      });
    });
  },
  tsv: async (path) =>
    readFileSync(path, 'utf8')
      .split('\n')
      .slice(1, -1)
      .map((line) =>
        line.split('\t').map((f, i) => {
          const c = COLUMNS[i];
          if (f === '') return null;
          if (c.type === 'int64') return BigInt(f);
          if (c.type === 'int' || c.type === 'float') return Number(f);
          if (c.type === 'bool') return f === 'true';
          if (c.type === 'int[]') return JSON.parse(f);
          return f;
        }),
      ),
};

const dir = tempDir('cipherscope-formats-');

describe('record format contract', () => {
  for (const format of recordFormats()) {
    describe(`format ${format.name}`, () => {
      it('every record comes back with its values', async () => {
        const read = READERS[format.name];
        assert.ok(read, `a reader for ${format.name} in this test`);
        const path = join(dir, `all${format.extensions[0]}`);
        const w = openRecordWriter(format.name, path, COLUMNS);
        for (const r of ROWS) w.write(r);
        await w.close();
        assert.equal(w.rows, ROWS.length);
        assert.deepEqual(await read(path), EXPECTED);
      });

      it('its extensions ask for it', () => {
        for (const e of format.extensions) assert.equal(formatFromPath(`x/flows${e.toUpperCase()}`), format.name);
      });

      it('rows encoded elsewhere and passed through give the same file', { skip: format.encoder === undefined ? 'no encoder: rows cross threads as arrays' : false }, async () => {
        const direct = join(dir, `direct${format.extensions[0]}`);
        const passed = join(dir, `passed${format.extensions[0]}`);
        const w = openRecordWriter(format.name, direct, COLUMNS);
        for (const r of ROWS) w.write(r);
        await w.close();
        const out = openRecordWriter(format.name, passed, COLUMNS);
        const chunks: Uint8Array[] = [];
        const enc = encodedSink(format.name, COLUMNS, (b) => chunks.push(b));
        for (const r of ROWS) {
          enc.write(r);
          enc.flush();
        }
        for (const c of chunks) out.writeEncoded!(c, 1);
        await out.close();
        assert.equal(out.rows, ROWS.length);
        assert.deepEqual(readFileSync(passed), readFileSync(direct));
      });
    });
  }
});
