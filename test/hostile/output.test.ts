import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { readRecordsCsv } from '../../src/dataset/records.js';
import type { ColumnDef } from '../../src/flow/schema.js';
import { openRecordWriter } from '../../src/output/writers.js';
import { checkOutputPath } from '../../src/common/atomic-file.js';
import { ROOT, cli } from '../helpers/cli.js';
import { PCAPS, tshark } from '../helpers/tshark.js';

/**
 * Outputs never clobbered and never cut: write-then-rename (a failed, or killed, run leaves an existing file as it
 * was), unknown extensions refused, and CSV strings that cannot end a row, hide characters or run as a formula.
 */
const dir = mkdtempSync(join(tmpdir(), 'cipherscope-hostile-out-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const OLD = 'an earlier run\n';
const leftovers = () => readdirSync(dir).filter((f) => f.endsWith('.part'));

describe('outputs are written atomically', () => {
  it('a run on a missing input leaves the existing output as it was, and no temporary file', () => {
    const out = join(dir, 'missing.csv');
    writeFileSync(out, OLD);
    const r = cli(['flows', join(dir, 'no-such.pcap'), '-o', out]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /no-such\.pcap/);
    assert.equal(readFileSync(out, 'utf8'), OLD);
    assert.deepEqual(leftovers(), []);
  });

  it('a run killed with SIGKILL in the middle leaves the existing output as it was', async () => {
    const out = join(dir, 'killed.csv');
    writeFileSync(out, OLD);
    const capture = readFileSync(join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap'));
    const child = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/run.ts'), 'flows', '-', '-o', out], { cwd: ROOT, stdio: ['pipe', 'ignore', 'pipe'] });
    // Half the capture, then nothing: the run is in the middle of its input when it is killed.
    child.stdin.write(capture.subarray(0, capture.length >> 1));
    const partSeen = await new Promise<boolean>((done) => {
      const started = Date.now();
      const poll = setInterval(() => {
        if (leftovers().length > 0 || Date.now() - started > 20_000) {
          clearInterval(poll);
          done(leftovers().length > 0);
        }
      }, 50);
    });
    assert.ok(partSeen, 'the run writes under a temporary name');
    await new Promise((r) => setTimeout(r, 300));
    child.kill('SIGKILL');
    await new Promise((r) => child.once('exit', r));
    assert.equal(readFileSync(out, 'utf8'), OLD, 'the old file, whole');
    for (const f of leftovers()) rmSync(join(dir, f)); // SIGKILL runs no exit handler: the documented leftover
  });

  it('a finished run replaces the output whole; a failing writer leaves nothing at the name', async () => {
    const out = join(dir, 'done.csv');
    writeFileSync(out, OLD);
    const r = cli(['flows', join(PCAPS, 'tls12-sni-chrome34-google.pcap'), '-o', out, '-q']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(out, 'utf8'), /^capture,flow_id,/);
    assert.deepEqual(leftovers(), []);
    const fresh = join(dir, 'never.csv');
    const w = openRecordWriter('csv', fresh, [{ name: 'a', type: 'string', unit: '', description: '' }]);
    w.write(['x']);
    assert.equal(existsSync(fresh), false, 'nothing at the final name before close');
    await w.close();
    assert.equal(readFileSync(fresh, 'utf8'), 'a\nx\n');
  });

  it('filter -o writes atomically too: in place on its own input, and a failed run leaves the old file', () => {
    const src = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    const elsewhere = join(dir, 'filtered-elsewhere.pcap');
    assert.equal(cli(['filter', src, '-o', elsewhere, '-q']).status, 0);
    const inPlace = join(dir, 'in-place.pcap');
    writeFileSync(inPlace, readFileSync(src));
    const r = cli(['filter', inPlace, '-o', inPlace]);
    assert.equal(r.status, 0, r.stderr);
    const written = Number(/(\d+) written/.exec(r.stderr)?.[1]);
    assert.ok(written > 0 && written < Number(/(\d+) packets read/.exec(r.stderr)?.[1]), r.stderr);
    assert.deepEqual(readFileSync(inPlace), readFileSync(elsewhere), 'the same packets as filtering into another file');
    assert.equal(tshark(['-r', inPlace, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length, written, 'tshark reads every packet written');
    const kept = join(dir, 'kept.pcap');
    writeFileSync(kept, OLD);
    const missing = cli(['filter', join(dir, 'no-such.pcap'), '-o', kept]);
    assert.notEqual(missing.status, 0);
    assert.equal(readFileSync(kept, 'utf8'), OLD);
    assert.deepEqual(leftovers(), []);
  });

  it('an output that cannot be written is named and refused before any packet is read', () => {
    const src = join(PCAPS, 'tls-quic-ipv6-cloudflare.pcap');
    const aFile = join(dir, 'a-file');
    writeFileSync(aFile, OLD);
    const cases: Array<[string[], RegExp]> = [
      [['flows', src, '-o', dir], /is a directory/],
      [['flows', src, '-o', join(dir, 'no-dir', 'x.csv')], /no-dir\/x\.csv: cannot write it: the directory .*no-dir does not exist/],
      [['flows', src, '-o', join(dir, 'no-dir', 'x.parquet')], /x\.parquet: cannot write it: the directory .*no-dir does not exist/],
      [['flows', src, '-o', join(aFile, 'x.jsonl')], /a-file\/x\.jsonl: cannot write it: .*a-file is not a directory/],
      [['filter', src, '-o', join(dir, 'no-dir', 'x.pcap')], /x\.pcap: cannot write it: the directory .*no-dir does not exist/],
      // Reports written at the end of a long run are checked at its start.
      [['label', src, '--capture-action', 'app/action', '-o', join(dir, 'labeled.csv'), '--report', join(dir, 'no-dir', 'r.json')], /r\.json: cannot write it/],
      [['evaluate', join(dir, 'labeled.csv'), '--html', join(dir, 'no-dir', 'e.html')], /e\.html: cannot write it/],
      // A model directory, before training.
      [['train', join(dir, 'labeled.csv'), '--model', aFile], /a-file: is a file, not a directory/],
      [['train', join(dir, 'labeled.csv'), '--model', join(aFile, 'model')], /a-file\/model: cannot make the model directory: .*a-file is a file/],
    ];
    for (const [args, message] of cases) {
      const r = cli(args);
      assert.equal(r.status, 1, args.join(' '));
      assert.match(r.stderr, message);
      assert.doesNotMatch(r.stderr, /\.part|packets/, 'neither a temporary name nor a summary of a capture that was read');
    }
    assert.equal(readFileSync(aFile, 'utf8'), OLD);
    assert.equal(existsSync(join(dir, 'labeled.csv')), false);
    // What passes: standard output, a device, a new file in a directory that exists.
    for (const ok of ['-', '/dev/null', join(dir, 'new.csv')]) assert.doesNotThrow(() => checkOutputPath(ok));
  });

  it('refuses output extensions no format writes, instead of writing CSV under them', () => {
    for (const name of ['x.xlsx', 'x.csv.gz']) {
      const r = cli(['flows', join(PCAPS, 'tls12-sni-chrome34-google.pcap'), '-o', join(dir, name), '-q']);
      assert.notEqual(r.status, 0);
      assert.match(r.stderr, new RegExp(`${name.replace('.', '\\.')}: no record format writes`));
      assert.equal(existsSync(join(dir, name)), false);
    }
  });
});

describe('CSV strings from the wire', () => {
  const cols: ColumnDef[] = [
    { name: 'tls_sni', type: 'string', unit: '', description: '' },
    { name: 'n', type: 'int', unit: '', description: '' },
  ];
  const hostile = ['=HYPERLINK("http://x","y")', '+1+cmd|/C calc', '-2+3', '@SUM(A1)', "'=already guarded", 'a\u0000b\u001bc', 'evil\u202egnp.exe', 'line\nbreak\r', 'back\\slash', 'tab\there', 'plain.example.com', 'x,y "q"', ''];

  it('escapes control and bidirectional characters, guards formulas, and reads back to the same strings', async () => {
    const out = join(dir, 'strings.csv');
    const w = openRecordWriter('csv', out, cols);
    hostile.forEach((s, i) => w.write([s, i]));
    await w.close();
    const text = readFileSync(out, 'utf8');
    assert.equal(text.split('\n').length, hostile.length + 2, 'one line a record: no raw line break');
    assert.doesNotMatch(text, /[\u0000-\u0009\u000b-\u001f\u007f\u202a-\u202e\u2066-\u2069]/);
    const cells = text.split('\n').slice(1, -1).map((l) => (l.startsWith('"') ? l.slice(1, l.lastIndexOf('"')) : l.slice(0, l.lastIndexOf(','))));
    for (const c of cells) assert.doesNotMatch(c, /^[=+\-@]/, `a cell a spreadsheet would evaluate: ${c}`);
    assert.ok(text.includes('evil\\u202egnp.exe') && text.includes('a\\x00b\\x1bc') && text.includes('line\\nbreak\\r') && text.includes('back\\\\slash'), text);
    // Read back (train, evaluate), every string is the one written.
    const back = readRecordsCsv(out, cols);
    assert.deepEqual(back.rows.map((r) => r[0] ?? ''), hostile);
  });

  it('--csv-raw writes them as they came (quoted where RFC 4180 needs it); JSON Lines keeps them raw', async () => {
    const out = join(dir, 'raw.csv');
    const w = openRecordWriter('csv', out, cols, { rawStrings: true });
    w.write([hostile[0], 0]);
    w.write([hostile[6], 1]);
    await w.close();
    assert.equal(readFileSync(out, 'utf8'), `tls_sni,n\n"=HYPERLINK(""http://x"",""y"")",0\nevil\u202egnp.exe,1\n`);
    const j = join(dir, 'raw.jsonl');
    const jw = openRecordWriter('jsonl', j, cols);
    jw.write([hostile[5], 0]);
    await jw.close();
    assert.equal(JSON.parse(readFileSync(j, 'utf8')).tls_sni, hostile[5]);
  });
});

describe('outputs that are not regular files are written in place', () => {
  it('-o /dev/null stays the null device; a symbolic link stays a link and its file gets the records; a FIFO is written through', async () => {
    const { execFileSync } = await import('node:child_process');
    const { lstatSync, symlinkSync, statSync } = await import('node:fs');
    const file = join(PCAPS, 'tls12-sni-chrome34-google.pcap');
    assert.equal(cli(['flows', file, '-q', '-o', '/dev/null']).status, 0);
    assert.equal(cli(['label', file, '--capture-action', 'x/y', '-q', '-o', '/dev/null', '--report', '/dev/null']).status, 0);
    const st = statSync('/dev/null');
    assert.ok(st.isCharacterDevice(), '/dev/null is still the null device');
    assert.equal(readdirSync('/dev').filter((f) => f.endsWith('.part')).length, 0);
    // A link: the rename replaces the file it points to, not the link.
    const real = join(dir, 'real.csv');
    const link = join(dir, 'link.csv');
    writeFileSync(real, OLD);
    symlinkSync(real, link);
    assert.equal(cli(['flows', file, '-q', '-o', link]).status, 0);
    assert.ok(lstatSync(link).isSymbolicLink());
    assert.match(readFileSync(real, 'utf8'), /^capture,/);
    // A FIFO: read by another process while the run writes it.
    const fifo = join(dir, 'fifo.csv');
    execFileSync('mkfifo', [fifo]);
    const copy = join(dir, 'from-fifo.csv');
    const reader = spawn('sh', ['-c', 'cat "$1" > "$2"', 'sh', fifo, copy], { stdio: 'ignore' });
    const done = new Promise((r) => reader.on('close', r));
    assert.equal(cli(['flows', file, '-q', '-o', fifo]).status, 0);
    await done;
    assert.match(readFileSync(copy, 'utf8'), /^capture,/);
    assert.ok(lstatSync(fifo).isFIFO());
  });
});
