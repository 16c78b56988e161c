import assert from 'node:assert/strict';
import { readFileSync, writeFileSync } from 'node:fs';
import { gzipSync } from 'node:zlib';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { readRecords } from '../../src/dataset/record-files.js';
import { RecordFileError, readRecordsCsv } from '../../src/dataset/records.js';
import { flowColumns } from '../../src/meter/meter.js';
import { CsvWriter } from '../../src/output/writers.js';
import { cli } from '../helpers/cli.js';
import { flowsOf } from '../helpers/flows.js';
import { PCAPS } from '../helpers/tshark.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('cipherscope-records-');

describe('reading flow records back', () => {
  it('the CSV that flows writes reads back to the same typed values', async () => {
    const cols = flowColumns();
    const { rows } = await flowsOf(join(PCAPS, 'tls12-sni-chrome34-google.pcap'));
    const path = join(dir, 'flows.csv');
    const w = new CsvWriter(path, cols);
    for (const r of rows) w.write(cols.map((c) => r[c.name]));
    await w.close();
    const t = readRecordsCsv(path, cols);
    assert.deepEqual(t.names, cols.map((c) => c.name));
    assert.equal(t.rows.length, rows.length);
    t.rows.forEach((r, i) =>
      cols.forEach((c, j) => {
        const want = rows[i][c.name];
        const norm = ArrayBuffer.isView(want) ? Array.from(want as Int32Array) : want === undefined ? null : want;
        assert.deepEqual(r[j], norm, `${c.name} of row ${i}`);
      }),
    );
  });

  it('a capture given where records are read is named as one (pcap, pcapng, compressed), not parsed as CSV', async () => {
    for (const f of ['tcp-retransmissions.pcap', 'pcap-bigendian-usec-pptp.pcap', 'pcapng-empty.pcapng', 'pcapng-bigendian-custom-nrb-isb.pcapng']) {
      await assert.rejects(readRecords(join(PCAPS, f), flowColumns()), new RegExp(`${f.replace('.', '\\.')}: is a packet capture, not flow records`));
    }
    const gz = join(dir, 'capture.pcap.gz');
    writeFileSync(gz, gzipSync(readFileSync(join(PCAPS, 'tcp-retransmissions.pcap'))));
    await assert.rejects(readRecords(gz, flowColumns()), /capture\.pcap\.gz: is gzip-compressed/);
    const r = cli(['evaluate', join(PCAPS, 'tcp-retransmissions.pcap')]);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /is a packet capture, not flow records; meter it first/);
  });

  it('names the file, line and column of a bad cell', () => {
    const cols = flowColumns();
    const path = join(dir, 'bad.csv');
    writeFileSync(path, 'flow_id,first_seen_ns,splt_iat_ns\n1,123,"[1,2]"\nx,5,"[3]"\n');
    assert.throws(() => readRecordsCsv(path, cols), (e: Error) => e instanceof RecordFileError && /bad\.csv:3: column flow_id: "x" is not a number/.test(e.message));
    writeFileSync(path, 'flow_id,first_seen_ns\n1,"12\n');
    assert.throws(() => readRecordsCsv(path, cols), /bad\.csv:2: a quoted field is not closed/);
    writeFileSync(path, 'flow_id,first_seen_ns\n1\n');
    assert.throws(() => readRecordsCsv(path, cols), /bad\.csv:2: 1 fields, the header has 2/);
  });
});
