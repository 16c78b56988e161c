import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { extractFilesParallel } from '../../src/meter/parallel-files.js';
import { readRecords } from '../../src/dataset/record-files.js';
import { flowColumns } from '../../src/meter/meter.js';
import { ROOT, cli } from '../helpers/cli.js';
import { PCAPS, SHARED } from '../helpers/tshark.js';

/**
 * `flows --threads N` over several captures meters whole files at once, one a thread, and must write exactly what
 * one thread writes: records in input order (a later input that finishes first waits in a spool), the same summary
 * and issue lines in the same order, the same exit status, an unreadable input in the middle reported in its place.
 */
const dir = mkdtempSync(join(tmpdir(), 'cs-parallel-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const bad = join(dir, 'not-a-capture.pcap');
writeFileSync(bad, 'plain text, not a capture\n');
const DATA = join(SHARED, 'datasets/whatsapp-web-actions');
// The largest input first: the small ones after it finish before it does and have to wait their turn.
const INPUTS = [
  join(DATA, 'userA-four-groups-mixed.pcapng'),
  join(PCAPS, 'tls13-hello-retry-request.pcap'),
  bad,
  join(PCAPS, 'pcap-truncated-cut-short.pcap'),
  join(PCAPS, 'quicv2-http3.pcap'),
  join(DATA, 'userB-text-messages.pcap'),
  join(PCAPS, 'dns-ipv6-fragmented.pcap'),
];
/** Summary lines carry timings and rates; everything else must match. */
const untimed = (stderr: string) => stderr.replace(/[0-9.]+ s, [0-9]+ packets\/s, [0-9.]+ MB\/s/g, 'T');

describe('flows --threads N over several captures', () => {
  for (const extra of [[], ['--format', 'jsonl'], ['--columns', 'nfstream'], ['--apps', '--features', 'all'], ['--strict', '--csv-raw']]) {
    it(`writes what one thread writes (${extra.join(' ') || 'CSV'})`, () => {
      const one = cli(['flows', ...INPUTS, ...extra, '-o', '-']);
      assert.ok(one.stdout.length > 1000, one.stderr);
      for (const threads of ['2', '3']) {
        const many = cli(['flows', ...INPUTS, ...extra, '--threads', threads, '-o', '-']);
        assert.equal(many.status, one.status, many.stderr);
        assert.ok(many.stdoutBytes.equals(one.stdoutBytes), `--threads ${threads}: records differ`);
        assert.equal(untimed(many.stderr), untimed(one.stderr), `--threads ${threads}: messages differ`);
      }
      assert.equal(one.status, 1, 'the unreadable input fails the run');
      assert.match(one.stderr, /not-a-capture\.pcap: byte offset 0: unknown file magic/);
    });
  }

  it('the largest input last (started first): still in input order', () => {
    const inputs = [...INPUTS].reverse();
    const one = cli(['flows', ...inputs, '-o', '-']);
    const many = cli(['flows', ...inputs, '--threads', '2', '-o', '-']);
    assert.equal(many.status, one.status);
    assert.ok(many.stdoutBytes.equals(one.stdoutBytes), 'records differ');
    assert.equal(untimed(many.stderr), untimed(one.stderr));
  });

  it('to a file: the same bytes, and no spool left behind', () => {
    const spools = mkdtempSync(join(dir, 'tmp-'));
    const a = join(dir, 'one.csv');
    const b = join(dir, 'two.csv');
    const run = (args: string[]) => spawnSync(process.execPath, ['--import', 'tsx', join(ROOT, 'src/cli/run.ts'), ...args], { cwd: ROOT, env: { ...process.env, CI: 'true', TMPDIR: spools } });
    const good = INPUTS.filter((f) => f !== bad);
    assert.equal(run(['flows', ...good, '-q', '-o', a]).status, 0);
    const r = run(['flows', ...good, '-q', '--threads', '2', '-o', b]);
    assert.equal(r.status, 0, r.stderr.toString());
    assert.ok(readFileSync(a).equals(readFileSync(b)));
    assert.deepEqual(readdirSync(spools).filter((f) => f.startsWith('cipherscope')), [], 'spool files are removed');
  });

  for (const [where, memory] of [['in memory', undefined], ['on disk', 0]] as const) {
    it(`the library call hands text on in input order, holding what finished early ${where}`, async () => {
      const done: number[] = [];
      const chunks: Buffer[] = [];
      let rows = 0;
      const inputs = INPUTS.filter((f) => f !== bad);
      const spoolDirs = () => readdirSync(tmpdir()).filter((f) => f.startsWith('cipherscope-spool-')).length;
      const before = spoolDirs();
      const r = await extractFilesParallel(
        inputs,
        2,
        { encode: 'csv' },
        {
          onEncoded: (b, n) => {
            chunks.push(Buffer.from(b));
            rows += n;
          },
          onDone: (i, result) => {
            assert.ok('summary' in result, `input ${i}`);
            done.push(i);
          },
        },
        memory,
      );
      assert.deepEqual(done, inputs.map((_, i) => i));
      assert.equal(r.threads, 2);
      assert.ok(r.spooledBytes > 0, 'the small inputs finished while the large one ran');
      const one = cli(['flows', ...inputs, '-q', '-o', '-']);
      const body = one.stdoutBytes.subarray(one.stdoutBytes.indexOf(10) + 1);
      assert.ok(Buffer.concat(chunks).equals(body));
      assert.equal(rows, one.stdout.split('\n').length - 2);
      assert.equal(spoolDirs(), before, 'no spool directory is left');
    });
  }

  it('Parquet (no thread encodes it) meters each capture in turn, every record written in input order', async () => {
    const good = INPUTS.filter((f) => f !== bad);
    const pq = join(dir, 'several.parquet');
    const jl = join(dir, 'several.jsonl');
    assert.equal(cli(['flows', ...good, '-q', '--threads', '2', '-o', pq]).status, 0);
    assert.equal(cli(['flows', ...good, '-q', '-o', jl]).status, 0);
    const columns = flowColumns();
    const key = (t: { names: string[]; rows: unknown[][] }) => {
      const [c, f] = [t.names.indexOf('capture'), t.names.indexOf('flow_id')];
      return t.rows.map((r) => `${r[c]}#${r[f]}`);
    };
    const fromParquet = key(await readRecords(pq, columns));
    assert.ok(fromParquet.length > 10);
    assert.equal(new Set(fromParquet.map((k) => k.split('#')[0])).size, good.length);
    assert.deepEqual(fromParquet.map((k) => k.split('#')[0]), key(await readRecords(jl, columns)).map((k) => k.split('#')[0]));
  });
});
