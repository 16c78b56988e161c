import assert from 'node:assert/strict';
import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createServer } from 'node:http';
import { tmpdir } from 'node:os';
import { basename, join, resolve } from 'node:path';
import { after, describe, it } from 'node:test';
import { ROOT, cli } from '../helpers/cli.js';
import { flowsOf } from '../helpers/flows.js';
import { PCAPS, haveTshark, tshark, tsharkConversations } from '../helpers/tshark.js';
import { parseCsv } from '../helpers/csv.js';

/**
 * A packet count, as tshark -c and tcpdump -c: reading stops after N packets (of those the capture filter passes),
 * and the flows open then end as at the end of the input. Checked against tshark's conversations of its first N
 * frames, tcpdump's first N matching packets written out, and the byte offset of the N-th record counted by hand.
 */
const TCPDUMP = ['/usr/bin/tcpdump', '/usr/sbin/tcpdump'].find((p) => existsSync(p));
const dir = mkdtempSync(join(tmpdir(), 'cs-count-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Captures without pcapng custom blocks (tshark numbers those as frames; -c counts packets). */
const FILES = ['tcp-retransmissions.pcap', 'pcapng-11-interfaces.pcapng', 'tls12-https-heise-offers13.pcap', 'quic-chromium115-cirrus.pcap', 'sll-mixed-tcp-dns-arp.pcap'].map((f) => join(PCAPS, f));

const records = (text: string) => {
  const [head, ...body] = parseCsv(text);
  return body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
};

/** Frames each way per conversation, oriented by address text so both sides compare. */
function frameKey(a: string, b: string, ab: number, ba: number): string {
  return a < b ? `${a}|${b}|${ab}|${ba}` : `${b}|${a}|${ba}|${ab}`;
}

describe('-c: stop after N packets', () => {
  it('flows -c N has the TCP and UDP conversations tshark -c N has, frames each way, on five captures', { skip: !haveTshark() && 'tshark not installed' }, () => {
    let compared = 0;
    for (const file of FILES) {
      const total = tshark(['-r', file, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length;
      assert.ok(total > 3, `${basename(file)}: ${total} frames`);
      for (const n of [1, Math.ceil(total / 3), total - 1, total + 5]) {
        const r = cli(['flows', file, '-c', String(n), '--features', 'none', '--length', 'frame', '--idle-timeout', '1e9', '--active-timeout', '1e9', '--tcp-close-grace', '1e9']);
        assert.equal(r.status, 0, r.stderr);
        assert.match(r.stderr, new RegExp(`: ${Math.min(n, total)} packets, `), `${basename(file)} -c ${n}`);
        const ours = records(r.stdout);
        const theirs = tsharkConversations(file, ['-c', String(n)]);
        for (const [proto, num] of [
          ['tcp', '6'],
          ['udp', '17'],
        ] as const) {
          const mine = ours.filter((x) => x.protocol === num).map((x) => frameKey(`${x.client_addr}:${x.client_port}`, `${x.server_addr}:${x.server_port}`, Number(x.fwd_packets), Number(x.bwd_packets)));
          const want = theirs[proto].map((c) => frameKey(c.a, c.b, c.framesAB, c.framesBA));
          assert.deepEqual(mine.sort(), want.sort(), `${basename(file)} -c ${n}: ${proto} conversations`);
          compared += want.length;
        }
      }
    }
    assert.ok(compared > 40, `${compared} conversations compared`);
  });

  it('filter -f EXPR -c N writes the packets tcpdump -r FILE -c N -w OUT EXPR writes, byte for byte (the count is of matching packets)', { skip: TCPDUMP === undefined && 'tcpdump is not installed' }, () => {
    const file = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    for (const [expr, n] of [
      ['udp port 53', 3],
      ['tcp', 5],
      ['', 7],
    ] as const) {
      const ours = join(dir, 'ours.pcap');
      const theirs = join(dir, 'theirs.pcap');
      const r = cli(['filter', file, ...(expr ? ['-f', expr] : []), '-c', String(n), '--keep-noise', '-o', ours]);
      assert.equal(r.status, 0, r.stderr);
      execFileSync(TCPDUMP!, ['--time-stamp-precision=nano', '-r', file, '-c', String(n), '-w', theirs, ...(expr ? [expr] : [])], { stdio: 'ignore' });
      const got = readFileSync(ours).subarray(24);
      assert.ok(got.length > 16 * n, `${expr || 'no filter'}: ${got.length} bytes`);
      assert.deepEqual(got, readFileSync(theirs).subarray(24), `-f "${expr}" -c ${n}`);
      assert.match(r.stderr, new RegExp(`, ${n} written,`));
    }
  });

  it('the library stops reading right after the N-th record: packets and bytes read are those up to it, counted by hand', async () => {
    const file = join(PCAPS, 'tcp-retransmissions.pcap');
    const bytes = readFileSync(file);
    const dv = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    // Classic pcap, little-endian: a 24-byte file header, then 16-byte record headers with the captured length at +8.
    const ends: number[] = [];
    for (let at = 24; at + 16 <= bytes.length; ) {
      at += 16 + dv.getUint32(at + 8, true);
      ends.push(at);
    }
    for (const n of [1, 2, 10, ends.length - 1]) {
      const { rows, summary } = await flowsOf(file, { maxPackets: n });
      assert.equal(summary.packets, n);
      assert.equal(summary.bytesRead, ends[n - 1], `-c ${n}: bytes read`);
      assert.equal(
        rows.reduce((s, r) => s + (r.packets as number), 0),
        n,
      );
      // The flows open at the N-th packet end as at the end of the input.
      assert.ok(rows.every((r) => r.expiry_reason === 'end-of-input' || r.expiry_reason === 'tcp-fin' || r.expiry_reason === 'tcp-rst'));
    }
    const all = await flowsOf(file, { maxPackets: ends.length + 100 });
    assert.equal(all.summary.bytesRead, bytes.length);
  });

  it('flows -c N -f EXPR counts only the matching packets, on one thread, two shards, and two captures at once alike', () => {
    const file = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    const other = join(PCAPS, 'tls12-https-heise-offers13.pcap');
    const body = (csv: string) => records(csv).map((x) => [x.capture, x.client_addr, x.client_port, x.server_addr, x.server_port, x.protocol, x.packets, x.bytes, x.expiry_reason].join(' ')).sort();
    const one = cli(['flows', file, '-f', 'udp', '-c', '4', '--features', 'none', '-q']);
    assert.equal(one.status, 0, one.stderr);
    const udp = records(one.stdout);
    assert.ok(udp.length >= 1 && udp.every((x) => x.protocol === '17'));
    assert.equal(
      udp.reduce((s, x) => s + Number(x.packets), 0),
      4,
    );
    const sharded = cli(['flows', file, '-f', 'udp', '-c', '4', '--features', 'none', '-q', '--threads', '2']);
    assert.equal(sharded.status, 0, sharded.stderr);
    assert.deepEqual(body(sharded.stdout), body(one.stdout), 'two shards');
    // Several captures: N in each, whether metered one after the other or two at once.
    const serial = cli(['flows', file, other, '-c', '9', '-q']);
    const parallel = cli(['flows', file, other, '-c', '9', '-q', '--threads', '2']);
    assert.equal(serial.status, 0, serial.stderr);
    assert.equal(parallel.stdout, serial.stdout, 'two captures at once: the same text');
    for (const f of [file, other])
      assert.equal(
        records(serial.stdout)
          .filter((x) => x.capture === f)
          .reduce((s, x) => s + Number(x.packets), 0),
        9,
        basename(f),
      );
  });

  it('a bad count is a usage error naming the option', () => {
    for (const bad of ['0', '-3', '1.5', 'ten']) {
      const r = cli(['flows', join(PCAPS, 'tcp-retransmissions.pcap'), '-c', bad, '-q']);
      assert.equal(r.status, 1, bad);
      assert.match(r.stderr, /option '-c, --count <packets>' argument .* is invalid/);
      assert.equal(r.stdout, '');
    }
  });

  it('live -c N: a pipe replay gives the records of flows -c N; on an interface, live ends by itself after N packets', { timeout: 60_000 }, async () => {
    const file = join(PCAPS, 'tls12-https-heise-offers13.pcap');
    const cut = (csv: string) => records(csv).map((x) => [x.client_addr, x.client_port, x.server_addr, x.server_port, x.packets, x.bytes, x.tls_sni].join(' '));
    const want = cli(['flows', file, '-c', '25', '-q']);
    for (const threads of ['1', '2']) {
      const live = cli(['live', '-', '-c', '25', '-o', '-', '--threads', threads], readFileSync(file));
      assert.equal(live.status, 0, live.stderr);
      assert.deepEqual(cut(live.stdout), cut(want.stdout), `${threads} thread(s)`);
      assert.match(live.stderr, /live: 25 packets/);
    }
    // A real capture on loopback: traffic that goes on past N packets, and no Ctrl-C.
    const server = createServer((_, res) => res.end(Buffer.alloc(2000, 1)));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
    const port = (server.address() as { port: number }).port;
    const out = join(dir, 'live-count.csv');
    const proc: ChildProcess = spawn(process.execPath, ['--import', 'tsx', resolve(ROOT, 'src/cli/run.ts'), 'live', '-i', 'lo', '-f', `tcp port ${port}`, '-c', '12', '-o', out], { cwd: ROOT });
    let err = '';
    proc.stderr!.on('data', (d: Buffer) => (err += d.toString()));
    const closed = new Promise<number | null>((r) => proc.once('close', r));
    let code: number | null | undefined;
    void closed.then((c) => (code = c));
    while (!/live on lo/.test(err) && code === undefined) await new Promise((r) => setTimeout(r, 100));
    await new Promise((r) => setTimeout(r, 500));
    // Each request is a connection of about ten packets; keep asking until live has gone.
    for (let i = 0; i < 50 && code === undefined; i++) await fetch(`http://127.0.0.1:${port}/${i}`, { headers: { connection: 'close' } }).then((r) => r.arrayBuffer());
    const status = await Promise.race([closed, new Promise<string>((r) => setTimeout(() => r('still running'), 20_000))]);
    server.close();
    if (status === 'still running') proc.kill('SIGKILL');
    assert.equal(status, 0, err);
    assert.match(err, /live: 12 packets/);
    const rows = records(readFileSync(out, 'utf8'));
    assert.equal(
      rows.reduce((s, x) => s + Number(x.packets), 0),
      12,
    );
    assert.ok(rows.every((x) => x.server_port === String(port)));
  });
});
