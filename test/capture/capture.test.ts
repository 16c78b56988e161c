import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { readFileSync, readdirSync } from 'node:fs';
import { createServer } from 'node:http';
import { join, resolve } from 'node:path';
import { describe, it } from 'node:test';
import { CaptureProcess } from '../../src/capture/capture.js';
import { PcapStreamRotator } from '../../src/capture/rotate.js';
import { ROOT, cli } from '../helpers/cli.js';
import { PCAPS, tshark } from '../helpers/tshark.js';
import { tempDir } from '../helpers/temp.js';

const dir = tempDir('cipherscope-capture-');
// A stand-in for adb (test/helpers/fake-adb/adb): no phone is reachable here. It streams FAKE_ADB_PCAP as a phone's
// `tcpdump -w -` would.
const FAKE_ADB = resolve(ROOT, 'test/helpers/fake-adb/adb');

/** Record bytes of a classic pcap (everything after the 24-byte global header). */
const records = (f: string) => readFileSync(f).subarray(24);
const packets = (f: string) => Number(tshark(['-r', f, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').filter(Boolean).length);

describe('capture', () => {
  it("a phone's stream over adb rotates into files that hold every record once, in order, each a capture of its own", async () => {
    const source = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    process.env.FAKE_ADB_PCAP = source;
    const file = join(dir, 'phone.pcap');
    const cap = await CaptureProcess.start({ kind: 'adb', adb: FAKE_ADB, serial: 'FAKE0001', ring: { sizeBytes: 60_000 } }, file);
    await new Promise((r) => setTimeout(r, 1500));
    await cap.stop();
    const files = cap.files();
    assert.ok(files.length >= 7, `${files.length} files`);
    assert.deepEqual(files, files.map((_, i) => join(dir, `phone_${String(i + 1).padStart(5, '0')}.pcap`)));
    assert.deepEqual(Buffer.concat(files.map(records)), records(source));
    for (const f of files) {
      assert.deepEqual(readFileSync(f).subarray(0, 24), readFileSync(source).subarray(0, 24));
      assert.ok(readFileSync(f).length <= 60_000, f);
    }
    assert.equal(files.map(packets).reduce((a, b) => a + b, 0), packets(source));
  });

  it('keeps the newest n files of a ring, and refuses a stream that is not pcap', async () => {
    const source = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    const all = new PcapStreamRotator((i) => join(dir, `all_${i}.pcap`), { sizeBytes: 50_000 });
    const kept = new PcapStreamRotator((i) => join(dir, `kept_${i}.pcap`), { sizeBytes: 50_000, files: 3 });
    const bytes = readFileSync(source);
    // Fed in odd-sized pieces: records cross chunk boundaries.
    for (let at = 0; at < bytes.length; at += 777) {
      all.write(bytes.subarray(at, at + 777));
      kept.write(bytes.subarray(at, at + 777));
    }
    assert.equal(all.end().trailingBytes, 0);
    kept.end();
    assert.deepEqual(kept.files, all.files.slice(-3).map((f) => f.replace('all_', 'kept_')));
    assert.deepEqual(readdirSync(dir).filter((f) => f.startsWith('kept_')).sort(), kept.files.map((f) => f.slice(dir.length + 1)).sort());
    const bad = new PcapStreamRotator((i) => join(dir, `bad_${i}.pcap`), {});
    assert.throws(() => bad.write(readFileSync(join(PCAPS, 'pcapng-2-interfaces-dns.pcapng'))), /not a classic pcap stream \(magic 0xa0d0d0a at byte 0\)/);
  });

  it('capture and live on an interface that does not exist: exit status 1 with the tool\'s own words, for each tool', { timeout: 60_000 }, () => {
    for (const tool of ['dumpcap', 'tshark', 'tcpdump']) {
      // dumpcap and tshark say "Capturing on" before they find there is no such device: the run must not end as
      // a capture that worked.
      const c = cli(['capture', '-i', 'nosuch0', '--tool', tool, '-w', join(dir, `nosuch-${tool}.pcapng`), '--duration', '20']);
      assert.equal(c.status, 1, `${tool}: ${c.stderr}`);
      assert.match(c.stderr, /nosuch0/);
      assert.match(c.stderr, /(no device|No such device|doesn't exist|exited before capturing)/i, tool);
      const l = cli(['live', '-i', 'nosuch0', '--tool', tool, '-o', join(dir, `nosuch-${tool}.csv`)]);
      assert.equal(l.status, 1, `${tool}: ${l.stderr}`);
      assert.match(l.stderr, /(no device|No such device|doesn't exist|exited before capturing)/i, tool);
      assert.doesNotMatch(l.stderr, /input is empty/);
    }
    const adb = cli(['capture', '--adb', '--adb-path', join(dir, 'no-adb'), '-w', join(dir, 'phone.pcap')]);
    assert.equal(adb.status, 1);
    assert.match(adb.stderr, /no-adb is not installed or not on PATH/);
    const nowhere = cli(['capture', '-i', 'lo', '-w', join(dir, 'no-dir', 'x.pcapng'), '--duration', '1']);
    assert.equal(nowhere.status, 1);
    assert.match(nowhere.stderr, /x\.pcapng: cannot write it: the directory .*no-dir does not exist/);
    assert.doesNotMatch(nowhere.stderr, /capturing \(/, 'refused before the tool starts');
  });

  it('cipherscope capture on lo: a ring of dumpcap files holds the packets a parallel tshark capture saw; Ctrl-C stops it', { timeout: 60_000 }, async () => {
    const server = createServer((_, res) => res.end(Buffer.alloc(20_000, 7)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const filter = `tcp port ${port}`;
    const ref = join(dir, 'ref.pcapng');
    const reference = await CaptureProcess.start({ kind: 'interface', iface: 'lo', tool: 'tshark', filter }, ref);
    const cli = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/run.ts'), 'capture', '-i', 'lo', '--tool', 'dumpcap', '-f', filter, '--ring-size', '0.1', '-w', join(dir, 'ring.pcapng')], { cwd: ROOT });
    let err = '';
    let out = '';
    cli.stderr.on('data', (d: Buffer) => (err += d.toString()));
    cli.stdout.on('data', (d: Buffer) => (out += d.toString()));
    while (!/capturing/.test(err)) {
      if (cli.exitCode !== null) throw new Error(err);
      await new Promise((r) => setTimeout(r, 100));
    }
    await new Promise((r) => setTimeout(r, 500));
    for (let i = 0; i < 60; i++) await fetch(`http://127.0.0.1:${port}/${i}`, { headers: { connection: 'close' } }).then((r) => r.arrayBuffer());
    await new Promise((r) => setTimeout(r, 500));
    cli.kill('SIGINT');
    const code = await new Promise<number | null>((r) => cli.once('close', r));
    await reference.stop();
    server.close();
    assert.equal(code, 0, err);
    const listed = out.trim().split('\n').map((l) => l.split('\t'));
    assert.ok(listed.length >= 3, out);
    for (const [f] of listed) assert.match(f, /ring_\d{5}_\d{14}\.pcapng$/);
    const total = listed.map(([f]) => packets(f)).reduce((a, b) => a + b, 0);
    assert.equal(total, listed.map(([, n]) => Number(n.split(' ')[0])).reduce((a, b) => a + b, 0), 'listed counts are tshark counts');
    assert.equal(total, packets(ref));
    assert.ok(total > 60 * 8, `${total} packets`);
  });
});
