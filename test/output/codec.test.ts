import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import type { CellValue, ColumnDef } from '../../src/flow/schema.js';
import { RecordDecodeError, cellForDisplay, cellJson, jsonKeys, parseCsvCell, parseRecordJson, recordJson, timestampColumns } from '../../src/output/codec.js';
import { JsonlWriter } from '../../src/output/jsonl.js';

const COLS: ColumnDef[] = [
  { name: 't', type: 'int64', unit: 'ns', description: '' },
  { name: 'n', type: 'float', unit: '', description: '' },
  { name: 's', type: 'string', unit: '', description: '' },
  { name: 'l', type: 'int[]', unit: '', description: '' },
  { name: 'b', type: 'bool', unit: '', description: '' },
];

describe('record codec', () => {
  it('JSON records read back exactly: int64 from its digits, the rest as JSON.parse reads them', () => {
    const cell = fc.tuple(
      fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }),
      fc.oneof(fc.double({ noNaN: true, noDefaultInfinity: true }), fc.integer(), fc.constant(null)),
      fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.constant(null)),
      fc.oneof(fc.array(fc.integer()), fc.constant(null)),
      fc.oneof(fc.boolean(), fc.constant(null)),
    );
    fc.assert(
      fc.property(cell, (row) => {
        const text = recordJson(jsonKeys(COLS.map((c) => c.name)), row as CellValue[]);
        const [names, back] = parseRecordJson(text, COLS);
        assert.deepEqual(names, COLS.map((c) => c.name));
        assert.equal(back[0], row[0]);
        // -0 prints as 0 in JSON, as JSON.parse of the same text gives.
        assert.deepEqual(back.slice(1), Object.values(JSON.parse(text)).slice(1));
      }),
      { numRuns: 2000 },
    );
  });

  it('the JSON Lines writer writes exactly what recordJson does, byte for byte', async () => {
    const cols: ColumnDef[] = [...COLS, { name: 'ts', type: 'timestamp', unit: 'UTC', description: '' }, { name: 'f', type: 'float[]', unit: '', description: '' }, { name: 'u', type: 'int[]', unit: '', description: '' }];
    const cell = fc.tuple(
      fc.oneof(fc.bigInt({ min: -(2n ** 63n), max: 2n ** 63n - 1n }), fc.constant(null)),
      fc.oneof(fc.double(), fc.integer(), fc.constant(null), fc.constant(-0), fc.constant(2 ** 53 + 2)),
      fc.oneof(fc.string(), fc.string({ unit: 'grapheme' }), fc.string({ unit: 'binary' }), fc.constant('\u2028"\\'), fc.constant(null)),
      fc.oneof(fc.array(fc.integer()), fc.array(fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 })).map((a) => Int32Array.from(a)), fc.constant(null)),
      fc.oneof(fc.boolean(), fc.constant(null)),
      fc.oneof(fc.bigInt({ min: -(10n ** 20n), max: 10n ** 21n }), fc.constant(null)),
      fc.oneof(fc.array(fc.double()), fc.array(fc.double()).map((a) => Float64Array.from(a)), fc.constant(null)),
      fc.oneof(fc.array(fc.integer({ min: 0, max: 65535 })).map((a) => Uint16Array.from(a)), fc.constant(null)),
    );
    const rows = fc.sample(cell, 3000) as unknown as CellValue[][];
    const chunks: Uint8Array[] = [];
    const w = new JsonlWriter((b) => chunks.push(new Uint8Array(b)), cols);
    for (const r of rows) w.write(r);
    await w.close();
    const got = Buffer.concat(chunks).toString('utf8').split('\n');
    const keys = jsonKeys(cols.map((c) => c.name));
    const stamps = timestampColumns(cols);
    rows.forEach((r, i) => assert.equal(got[i], recordJson(keys, r, stamps), `row ${i}`));
  });

  it('integers past 2^53 in columns it was not told about stay exact; small ones are numbers', () => {
    const [, cells] = parseRecordJson('{"a":1733011200123456789,"b":12,"c":[1,-2,3.5],"d":[]}');
    assert.deepEqual(cells, [1733011200123456789n, 12, [1, -2, 3.5], []]);
    // A float column keeps a double even where the value is an integer past 2^53; an int64 column a bigint when small.
    assert.deepEqual(parseRecordJson('{"n":9007199254740992,"t":5}', COLS)[1], [9007199254740992, 5n]);
  });

  it('bad records are errors that name the offset, never a wrong value', () => {
    for (const bad of ['', '{', '{"a":}', '{"a":1,}', '{"a":1} x', '{"a":"x}', '{"a":[1,}', '{a:1}', '{"a":tru}']) {
      assert.throws(() => parseRecordJson(bad, COLS, 'entry 7'), (e: Error) => e instanceof RecordDecodeError && /^entry 7: offset \d+: /.test(e.message), bad);
    }
  });

  it('cells for JSON and for display', () => {
    assert.equal(cellJson(Number.NaN), 'null');
    assert.equal(cellJson(new Uint16Array([1, 2])), '[1,2]');
    assert.equal(cellJson(12n), '12');
    assert.equal(cellForDisplay(2n ** 60n), '1152921504606846976');
    assert.equal(cellForDisplay(Int32Array.from([3, -4])), '[3,-4]');
    assert.equal(cellForDisplay(Infinity), null);
  });

  it('CSV cells typed by their column', () => {
    assert.equal(parseCsvCell('1733011200123456789', COLS[0], 'x'), 1733011200123456789n);
    assert.deepEqual(parseCsvCell('[1,2]', COLS[3], 'x'), [1, 2]);
    assert.equal(parseCsvCell('', COLS[1], 'x'), null);
    assert.equal(parseCsvCell('true', COLS[4], 'x'), true);
    assert.throws(() => parseCsvCell('1.5', COLS[0], 'f.csv:3: column t'), /f\.csv:3: column t: "1\.5" is not an integer/);
  });
});
