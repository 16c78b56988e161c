import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { readCapture } from '../../src/pcap/reader.js';
import { PcapWriter, PcapngWriter } from '../../src/pcap/writer.js';
import { PCAPS, haveTshark, tshark } from '../helpers/tshark.js';
import { cli } from '../helpers/cli.js';

const dir = mkdtempSync(join(tmpdir(), 'cipherscope-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

async function records(file: string): Promise<string[]> {
  const out: string[] = [];
  await readCapture(file, {
    packet: (r) => void out.push(`${r.tsSec}.${r.tsNsec} ${r.linkType} ${r.capLen}/${r.origLen} ${Buffer.from(r.data.subarray(r.dataOffset, r.dataOffset + r.capLen)).toString('hex')}`),
  });
  return out;
}

describe('capture writers', () => {
  it("filter into pcapng keeps each packet's interface name and description, comment, time and length as tshark reads them", { skip: !haveTshark() && 'tshark not installed' }, () => {
    // pcapng-2if-comments-keylog's times are microseconds near 2^64 ticks: they fit only in the input's resolution.
    for (const name of ['pcapng-11-interfaces.pcapng', 'pcapng-2if-comments-keylog.pcapng', 'pcapng-2-interfaces-dns.pcapng']) {
      const out = join(dir, `kept-${name}`);
      const r = cli(['filter', join(PCAPS, name), '--keep-noise', '-o', out, '-q']);
      assert.equal(r.status, 0, r.stderr);
      const fields = (f: string) => tshark(['-r', f, '-T', 'fields', '-e', 'frame.time_epoch', '-e', 'frame.interface_name', '-e', 'frame.interface_description', '-e', 'frame.comment', '-e', 'frame.len', '-e', 'frame.protocols']);
      const want = fields(join(PCAPS, name));
      assert.ok(want.split('\n').length > 5);
      assert.equal(fields(out), want, name);
    }
  });

  it('pcap round trip keeps nanosecond timestamps, lengths and bytes', async () => {
    const src = join(PCAPS, 'pcap-bigendian-nsec-http.pcap');
    const out = join(dir, 'rt.pcap');
    const w = new PcapWriter(out);
    await readCapture(src, { packet: (r) => w.write(r) });
    await w.close();
    assert.deepEqual(await records(out), await records(src));
  });

  it('pcapng round trip keeps several link types', async () => {
    const src = join(PCAPS, 'pcapng-11-interfaces.pcapng');
    const out = join(dir, 'rt.pcapng');
    const w = new PcapngWriter(out);
    await readCapture(src, { packet: (r) => w.write(r) });
    await w.close();
    const a = await records(src);
    assert.deepEqual(await records(out), a);
    assert.ok(new Set(a.map((x) => x.split(' ')[1])).size > 1);
  });

  it('an empty pcap output is still a valid capture', async () => {
    const out = join(dir, 'empty.pcap');
    await new PcapWriter(out).close();
    assert.deepEqual(await records(out), []);
  });
});
