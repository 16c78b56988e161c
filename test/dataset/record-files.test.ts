import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readRecords, recordFileFormat } from '../../src/dataset/record-files.js';
import { flowPlugins, ALL_GROUPS } from '../../src/features/plugins.js';
import { labeledColumns } from '../../src/label/label-capture.js';
import { cli } from '../helpers/cli.js';
import { PCAPS } from '../helpers/tshark.js';

/** Records read back from every format the commands write give the same names and cells, typed alike. */
const dir = mkdtempSync(join(tmpdir(), 'cs-records-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('records in any format', () => {
  it('label output as CSV, JSON Lines and Parquet reads back to the same table', async () => {
    const capture = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    const cols = labeledColumns(flowPlugins({ groups: ALL_GROUPS }));
    const tables = [];
    for (const ext of ['csv', 'jsonl', 'parquet']) {
      const out = join(dir, `l.${ext}`);
      const r = cli(['label', capture, '--capture-action', 'web/browse', '-q', '-o', out]);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(recordFileFormat(out), ext);
      tables.push(await readRecords(out, cols));
    }
    const [csv, jsonl, parquet] = tables;
    assert.ok(csv.rows.length > 10);
    assert.deepEqual(jsonl.names, csv.names);
    assert.deepEqual(parquet.names, csv.names);
    const norm = (v: unknown): unknown => (v !== null && typeof v === 'object' && !Array.isArray(v) && Symbol.iterator in (v as object) ? Array.from(v as Iterable<unknown>) : Array.isArray(v) ? v : v);
    for (let i = 0; i < csv.rows.length; i++) {
      for (let j = 0; j < csv.names.length; j++) {
        const c = norm(csv.rows[i][j]);
        assert.deepEqual(norm(jsonl.rows[i][j]), c, `JSON Lines row ${i + 1}, ${csv.names[j]}`);
        assert.deepEqual(norm(parquet.rows[i][j]), c, `Parquet row ${i + 1}, ${csv.names[j]}`);
      }
    }
  });
});
