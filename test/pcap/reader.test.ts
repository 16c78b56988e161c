import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { CaptureFormatError, readCapture } from '../../src/pcap/reader.js';
import { synthPcap } from '../../src/pcap/synth.js';
import type { CaptureIssue } from '../../src/pcap/types.js';
import { PCAPS, haveTshark, sharedPcaps, tshark } from '../helpers/tshark.js';
import { modifiedPcap } from '../helpers/rewrite.js';

interface Rec {
  n: number;
  t: string;
  cap: number;
  len: number;
  iface: number;
  comment?: string;
  bytes: string;
}

async function readAll(input: string | Uint8Array, chunkSize?: number): Promise<{ recs: Rec[]; issues: CaptureIssue[]; meta: Awaited<ReturnType<typeof readCapture>> }> {
  const recs: Rec[] = [];
  const issues: CaptureIssue[] = [];
  const src = typeof input === 'string' ? input : Readable.from([Buffer.from(input)]);
  const meta = await readCapture(
    src,
    {
      packet(r) {
        recs.push({
          n: r.number,
          t: `${r.tsSec}.${String(r.tsNsec).padStart(9, '0')}`,
          cap: r.capLen,
          len: r.origLen,
          iface: r.interfaceId,
          comment: r.comment,
          bytes: Buffer.from(r.data.subarray(r.dataOffset, r.dataOffset + r.capLen)).toString('hex'),
        });
      },
      issue: (i) => issues.push(i),
    },
    { chunkSize, name: typeof input === 'string' ? input : 'mem' },
  );
  return { recs, issues, meta };
}

describe('capture readers', () => {
  describe('timestamps, lengths and interfaces equal tshark on every shared capture', { skip: !haveTshark() && 'tshark not installed' }, () => {
    for (const file of sharedPcaps()) {
      it(basename(file), async () => {
        const { recs } = await readAll(file);
        const lines = tshark(['-r', file, '-T', 'fields', '-E', 'separator=\t', '-e', 'frame.encap_type', '-e', 'frame.time_epoch', '-e', 'frame.cap_len', '-e', 'frame.len', '-e', 'frame.interface_id', '-e', 'frame.comment', '-e', 'frame.number'])
          .split('\n')
          .filter((l) => l.length > 0)
          .map((l) => l.split('\t'))
          .filter((f) => f[0].trim() !== ''); // pcapng custom blocks are not packets
        assert.equal(recs.length, lines.length);
        lines.forEach(([, t, cap, len, iface, comment, number], i) => {
          const r = recs[i];
          assert.equal(r.n, Number(number), `packet ${i + 1} is tshark's frame ${number}`);
          // A simple packet block has no timestamp: tshark prints nothing, we report 0.
          if (t !== '') assert.equal(r.t, t, `packet ${i + 1} time`);
          assert.equal(r.cap, Number(cap), `packet ${i + 1} caplen`);
          assert.equal(r.len, Number(len), `packet ${i + 1} length`);
          if (iface !== '' && iface !== undefined) assert.equal(r.iface, Number(iface), `packet ${i + 1} interface`);
          if (comment) assert.equal(r.comment, comment, `packet ${i + 1} comment`);
        });
      });
    }
  });

  it('reads big- and little-endian pcapng with identical content identically', async () => {
    const le = await readAll(join(PCAPS, 'pcapng-custom-nrb-isb.pcapng'));
    const be = await readAll(join(PCAPS, 'pcapng-bigendian-custom-nrb-isb.pcapng'));
    assert.equal(le.recs.length, 5);
    assert.deepEqual(be.recs, le.recs);
    assert.equal(be.meta.metadata.bigEndian, true);
    assert.equal(le.meta.metadata.bigEndian, false);
    assert.deepEqual([...be.meta.metadata.names], [...le.meta.metadata.names]);
    assert.ok(le.meta.metadata.statistics.length > 0, 'interface statistics blocks are read');
  });

  it('reads several sections, each with its own interfaces', async () => {
    const { recs, meta } = await readAll(join(PCAPS, 'pcapng-multi-section.pcapng'));
    assert.equal(meta.metadata.sections, 3);
    assert.equal(recs.length, 8);
    assert.ok(meta.metadata.interfaces.length >= 5);
  });

  it('keeps name-resolution records', async () => {
    const { meta } = await readAll(join(PCAPS, 'pcapng-nrb-spb-3if.pcapng'));
    assert.ok(meta.metadata.names.size > 0);
  });

  it('gives the same packets whatever the read chunk size (records cross chunk boundaries)', async () => {
    for (const name of ['pcapng-2if-comments-keylog.pcapng', 'tls12-https-heise-offers13.pcap', 'pcap-bigendian-usec-pptp.pcap']) {
      const whole = await readAll(join(PCAPS, name));
      const tiny = await readAll(join(PCAPS, name), 64);
      assert.deepEqual(tiny.recs, whole.recs, name);
    }
  });

  it("Kuznetzov's modified pcap (24-byte record headers, both byte orders) reads as tshark reads it, in any chunk size", { skip: !haveTshark() && 'tshark not installed' }, async () => {
    const dir = mkdtempSync(join(tmpdir(), 'cs-modified-'));
    try {
      for (const name of ['tls12-https-heise-offers13.pcap', 'pcap-bigendian-usec-pptp.pcap']) {
        const file = join(dir, name);
        writeFileSync(file, modifiedPcap(readFileSync(join(PCAPS, name))));
        assert.match(execFileSync('capinfos', ['-t', file], { encoding: 'utf8' }), /Modified tcpdump - pcap/);
        const fields = (f: string) => tshark(['-r', f, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.cap_len', '-e', 'frame.len', '-e', 'frame.protocols']);
        assert.equal(fields(file), fields(join(PCAPS, name)), `${name}: tshark reads the same frames`);
        const ours = await readAll(file);
        const original = await readAll(join(PCAPS, name));
        assert.deepEqual(ours.recs, original.recs, name);
        assert.deepEqual(ours.issues, []);
        assert.equal(ours.meta.metadata.variant, 'modified');
        assert.deepEqual((await readAll(file, 64)).recs, original.recs, `${name} in 64-byte chunks`);
      }
      // Cut inside a record header: named with the modified header's size.
      const cut = modifiedPcap(readFileSync(join(PCAPS, 'tls12-https-heise-offers13.pcap'))).subarray(0, 24 + 20);
      const r = await readAll(cut);
      assert.equal(r.recs.length, 0);
      assert.match(r.issues[0].message, /20 of 24 bytes present/);
      assert.equal(r.issues[0].offset, 24);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('a file cut short: the whole record is returned and the cut is reported with offset and packet number', async () => {
    const { recs, issues } = await readAll(join(PCAPS, 'pcap-truncated-cut-short.pcap'));
    assert.equal(recs.length, 1);
    assert.equal(issues.length, 1);
    assert.equal(issues[0].severity, 'error');
    assert.equal(issues[0].packet, 2);
    assert.equal(issues[0].offset, 24 + 16 + 200);
    assert.match(issues[0].message, /record header/);
  });

  it('an empty or foreign file is rejected with the file name', async () => {
    await assert.rejects(readAll(new Uint8Array(0)), (e: unknown) => e instanceof CaptureFormatError && /mem: byte offset 0: input is empty/.test(e.message));
    await assert.rejects(readAll(Buffer.from('GIF89a not a capture')), (e: unknown) => e instanceof CaptureFormatError && /unknown file magic 47 49 46 38/.test(e.message));
  });

  const sample = () =>
    synthPcap(
      Array.from({ length: 10 }, (_, i) => ({ sec: 1_700_000_000 + i, nsec: i * 1000, src: '10.0.0.1', dst: '10.0.0.2', sport: 1234, dport: 80, proto: 'tcp' as const, payload: 10 + i })),
    );

  it('snap lengths of 0 and 2^32-1 are warned about and the packets read', async () => {
    for (const snap of [0, 0xffffffff]) {
      const buf = sample();
      new DataView(buf.buffer).setUint32(16, snap, true);
      const { recs, issues } = await readAll(buf);
      assert.equal(recs.length, 10);
      assert.deepEqual(
        issues.map((i) => [i.severity, i.code, i.offset]),
        [['warning', 'pcap-snaplen-bogus', 16]],
      );
    }
  });

  it('a record longer than the snap length is kept with a warning', async () => {
    const buf = sample();
    new DataView(buf.buffer).setUint32(16, 60, true); // snaplen 60 < frame sizes (64..73)
    const { recs, issues } = await readAll(buf);
    assert.equal(recs.length, 10);
    assert.ok(issues.every((i) => i.code === 'pcap-caplen-exceeds-snaplen' && i.severity === 'warning'));
    assert.equal(issues.length, 10);
  });

  it('a corrupt record header mid-file: reported with its offset, every good packet before and after still read', async () => {
    const buf = sample();
    const dv = new DataView(buf.buffer);
    // Find the 5th record and give it an absurd captured length.
    let o = 24;
    for (let i = 0; i < 4; i++) o += 16 + dv.getUint32(o + 8, true);
    dv.setUint32(o + 8, 0x7fffffff, true);
    const { recs, issues } = await readAll(buf);
    assert.equal(recs.length, 9, 'all but the corrupt record');
    assert.deepEqual(recs.map((r) => r.t.slice(0, 10)), ['1700000000', '1700000001', '1700000002', '1700000003', '1700000005', '1700000006', '1700000007', '1700000008', '1700000009']);
    assert.equal(issues[0].code, 'pcap-caplen-too-large');
    assert.equal(issues[0].offset, o);
    assert.equal(issues[0].packet, 5);
    assert.equal(issues[1].code, 'pcap-skipped-bytes');
  });

  it('garbage inserted between records is skipped and reported', async () => {
    const buf = sample();
    const dv = new DataView(buf.buffer);
    let o = 24;
    for (let i = 0; i < 3; i++) o += 16 + dv.getUint32(o + 8, true);
    const garbage = Buffer.alloc(37, 0xff);
    const spliced = Buffer.concat([buf.subarray(0, o), garbage, buf.subarray(o)]);
    const { recs, issues } = await readAll(spliced, 50);
    assert.equal(recs.length, 10);
    assert.equal(issues.filter((i) => i.severity === 'error').length, 2);
    assert.equal(issues[1].message, `skipped 37 bytes of corrupt data; resumed at byte offset ${o + 37}`);
  });

  it('a pcapng block with a bad length is skipped and the blocks after it are read', async () => {
    const file = readFileSync(join(PCAPS, 'pcapng-2-interfaces-dns.pcapng'));
    const good = await readAll(file);
    // Corrupt the trailing length of the first enhanced packet block.
    const dv = new DataView(file.buffer, file.byteOffset, file.byteLength);
    let o = 0;
    while (dv.getUint32(o, true) !== 6) o += dv.getUint32(o + 4, true);
    const len = dv.getUint32(o + 4, true);
    const copy = Buffer.from(file);
    new DataView(copy.buffer, copy.byteOffset).setUint32(o + len - 4, 12345, true);
    const bad = await readAll(copy);
    assert.equal(bad.recs.length, good.recs.length - 1);
    assert.deepEqual(bad.recs.map((r) => r.t), good.recs.slice(1).map((r) => r.t));
    assert.equal(bad.issues[0].code, 'pcapng-block-length-mismatch');
  });
});
