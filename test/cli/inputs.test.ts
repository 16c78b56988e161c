import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { PCAPS, tshark } from '../helpers/tshark.js';

/**
 * Inputs as tshark reads them: gzip, zstd and xz captures transparently (by magic, not name), and directories of
 * captures recursively in sorted order; a corrupt compressed file keeps the packets before the damage and says
 * where it broke.
 */
const dir = mkdtempSync(join(tmpdir(), 'cs-inputs-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const A = join(PCAPS, 'tls12-sni-chrome34-google.pcap');
const B = join(PCAPS, 'pcapng-2-interfaces-dns.pcapng');
const body = (stdout: string, name: string) => stdout.replaceAll(name, 'X');

describe('compressed and directory inputs', () => {
  const plain = cli(['flows', A, '-q']).stdout;

  for (const [tool, ext] of [['gzip', 'gz'], ['zstd', 'zst'], ['xz', 'xz']] as const) {
    it(`a ${tool} capture gives the records of the plain one`, () => {
      const z = join(dir, `a.pcap.${ext}`);
      writeFileSync(z, execFileSync(tool, ['-c', A]));
      const r = cli(['flows', z, '-q']);
      assert.equal(r.status, 0, r.stderr);
      assert.equal(body(r.stdout, z), body(plain, A));
      // Known by content, not by name.
      const renamed = join(dir, `${tool}-named.pcap`);
      copyFileSync(z, renamed);
      assert.equal(body(cli(['flows', renamed, '-q']).stdout, renamed), body(plain, A));
      // Piped in, as `zcat`-able captures go to tshark -r -.
      const piped = cli(['flows', '-', '-q'], readFileSync(z));
      assert.equal(piped.status, 0, piped.stderr);
      assert.equal(body(piped.stdout, '<stdin>'), body(plain, A));
      assert.match(cli(['info', '-'], readFileSync(z)).stdout, new RegExp(`Number of packets: +${tshark(['-r', A, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length}\n`));
      // The file type says what it was compressed with, as capinfos -t does (this capinfos reads gzip and zstd).
      const type = (t: string) => /^File type: .*?(\(\w+ compressed\))$/m.exec(t)?.[1];
      assert.equal(type(cli(['info', z]).stdout), `(${tool} compressed)`);
      assert.equal(type(cli(['info', '-'], readFileSync(z)).stdout), `(${tool} compressed)`);
      if (tool !== 'xz') assert.equal(type(execFileSync('capinfos', ['-t', z], { encoding: 'utf8' })), `(${tool} compressed)`);
      assert.equal(type(cli(['info', A]).stdout), undefined);
    });
  }

  it('a FIFO (a pipe by name, as <(...) gives): read as a stream, the records of the file; a pass that must read twice says so', () => {
    const fifo = join(dir, 'fifo');
    execFileSync('mkfifo', [fifo]);
    // The writer blocks until the command opens the FIFO; it runs beside the synchronous cli() call.
    const feed = (file: string) => spawn('sh', ['-c', 'cat "$0" > "$1"', file, fifo], { stdio: 'ignore' });
    feed(A);
    const r = cli(['flows', fifo, '-q']);
    assert.equal(r.status, 0, r.stderr);
    assert.equal(body(r.stdout, fifo), body(plain, A));
    const z = join(dir, 'through-fifo.pcap.gz');
    writeFileSync(z, execFileSync('gzip', ['-c', A]));
    feed(z);
    assert.equal(body(cli(['flows', fifo, '-q']).stdout, fifo), body(plain, A), 'compressed, through a FIFO');
    // label counts keep-alives and learns addresses as it goes on a stream: the same labels as from the file.
    const W = join(PCAPS, '../datasets/whatsapp-web-actions/userA-pictures.pcapng');
    const labeled = (input: string, out: string) => {
      if (input === fifo) feed(W);
      const l = cli(['label', input, '--capture-action', 'WhatsApp/picture', '-o', out, '-q']);
      assert.equal(l.status, 0, l.stderr);
      return readFileSync(out, 'utf8').split('\n').map((line) => line.slice(line.indexOf(',') + 1));
    };
    const fromFifo = labeled(fifo, join(dir, 'labeled-fifo.csv'));
    assert.ok(fromFifo.length > 50);
    assert.deepEqual(fromFifo, labeled(W, join(dir, 'labeled-file.csv')));
    feed(A);
    const info = JSON.parse(cli(['info', fifo, '--json']).stdout);
    assert.equal(info.packets, tshark(['-r', A, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length);
    assert.equal(info.fileBytes, null, 'a pipe has no size');
    assert.equal(info.sha256, null, 'nor a digest once read');
    const twice = cli(['filter', fifo, '--app', 'WhatsApp', '-o', join(dir, 'app.pcap')]);
    assert.equal(twice.status, 1);
    assert.match(twice.stderr, /--app reads the capture twice and needs a regular file, not .*fifo \(a pipe or device\)/);
  });

  it('a compressed stream cut short on standard input: the packets before the cut, and an error naming <stdin>', () => {
    for (const tool of ['gzip', 'xz']) {
      const z = execFileSync(tool, ['-c', A]);
      const r = cli(['flows', '-', '--strict'], z.subarray(0, Math.floor(z.length * 0.6)));
      assert.equal(r.status, 2, `${tool}: ${r.stderr}`);
      assert.match(r.stderr, new RegExp(`<stdin>: error at byte offset \\d+, packet \\d+: .*${tool === 'gzip' ? 'gzip' : 'xz'} data is corrupt or cut short`));
      assert.ok(r.stdout.trim().split('\n').length - 1 >= 1, `${tool}: records before the cut`);
    }
  });

  it('a gzip file cut short: the records of the packets before the cut, an error naming the file and offset, exit 2 with --strict', () => {
    const z = execFileSync('gzip', ['-c', A]);
    const cut = join(dir, 'cut.pcap.gz');
    writeFileSync(cut, z.subarray(0, Math.floor(z.length * 0.6)));
    const r = cli(['flows', cut, '--strict']);
    assert.equal(r.status, 2, r.stderr);
    assert.match(r.stderr, /cut\.pcap\.gz: error at byte offset \d+, packet \d+: .*gzip data is corrupt or cut short/);
    const rows = r.stdout.trim().split('\n').length - 1;
    assert.ok(rows >= 1, `${rows} records before the cut`);
  });

  it('a directory: its captures, recursively, in sorted order, the same as naming them', () => {
    const d = join(dir, 'tree');
    mkdirSync(join(d, 'b-sub'), { recursive: true });
    copyFileSync(A, join(d, 'a.pcap'));
    copyFileSync(B, join(d, 'b-sub', 'c.pcapng'));
    writeFileSync(join(d, 'notes.txt'), 'not a capture');
    writeFileSync(join(d, '.hidden.pcap'), 'not read');
    const viaDir = cli(['flows', d, '-q', '--features', 'none']);
    assert.equal(viaDir.status, 0, viaDir.stderr);
    const named = cli(['flows', join(d, 'a.pcap'), join(d, 'b-sub', 'c.pcapng'), '-q', '--features', 'none']);
    assert.equal(viaDir.stdout, named.stdout);
    assert.ok(viaDir.stdout.includes(join(d, 'b-sub', 'c.pcapng')));
    const empty = join(dir, 'empty');
    mkdirSync(empty);
    const e = cli(['flows', empty, '-q']);
    assert.equal(e.status, 1);
    assert.match(e.stderr, /empty: a directory without capture files/);
  });

  it('a directory given to a one-capture command is an error naming it, not EISDIR', () => {
    const r = cli(['info', PCAPS]);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /is a directory, not a capture file/);
    assert.doesNotMatch(r.stderr, /EISDIR/);
    assert.equal(readFileSync(A).length > 0, true);
  });
});
