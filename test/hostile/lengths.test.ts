import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { extractFlows } from '../../src/meter/meter.js';
import type { CaptureIssue } from '../../src/pcap/types.js';
import { PCAPS, haveTshark, tshark } from '../helpers/tshark.js';

/**
 * One record or block whose length runs past the end of the file must not lose the records after it: the reader
 * scans on as after other corruption, reports the length, counts the bytes it skipped, and reads the rest.
 */
const CLAIM = 60 * 1024 * 1024;

async function run(buf: Buffer) {
  const issues: CaptureIssue[] = [];
  const s = await extractFlows(Readable.from([buf]), () => {}, { onIssue: (i) => issues.push(i) });
  return { s, issues };
}

const frames = (file: string) => Number(tshark(['-r', file, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length);

describe('a length past the end of the file', { skip: !haveTshark() && 'tshark not installed' }, () => {
  it('pcap: a record claiming 60 MiB loses that record only, and the summary counts the bytes skipped', async () => {
    const file = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    const buf = Buffer.from(readFileSync(file));
    buf.writeUInt32LE(64 * 1024 * 1024 - 1, 16); // a snap length that lets a 60 MiB record through the header check
    // The 5th record header.
    let p = 24;
    for (let k = 0; k < 4; k++) p += 16 + buf.readUInt32LE(p + 8);
    const lost = 16 + buf.readUInt32LE(p + 8);
    buf.writeUInt32LE(CLAIM, p + 8);
    buf.writeUInt32LE(CLAIM, p + 12);
    const { s, issues } = await run(buf);
    assert.equal(s.packets, frames(file) - 1, 'every other record read');
    const past = issues.find((i) => i.code === 'pcap-length-past-end');
    assert.ok(past, JSON.stringify(issues.slice(0, 3)));
    assert.equal(past.offset, p);
    assert.equal(past.packet, 5);
    assert.match(past.message, new RegExp(`claims ${CLAIM} captured bytes, past the end of the file.*skipped ${lost} bytes, resumed at byte offset ${p + lost}`));
    assert.equal(s.skippedBytes, lost);
  });

  it('pcapng: a block claiming 60 MiB loses that block only', async () => {
    const file = join(PCAPS, 'pcapng-2if-comments-keylog.pcapng');
    const buf = Buffer.from(readFileSync(file));
    // Walk to the 10th enhanced packet block (type 6) and give it a length past the end of the file.
    let p = 0;
    let epbs = 0;
    for (;;) {
      const type = buf.readUInt32LE(p);
      if (type === 6 && ++epbs === 10) break;
      p += buf.readUInt32LE(p + 4);
    }
    const lost = buf.readUInt32LE(p + 4);
    buf.writeUInt32LE(CLAIM, p + 4);
    const { s, issues } = await run(buf);
    assert.equal(s.packets, frames(file) - 1);
    const past = issues.find((i) => i.code === 'pcapng-length-past-end');
    assert.ok(past, JSON.stringify(issues.slice(0, 3)));
    assert.equal(past.offset, p);
    assert.equal(s.skippedBytes, lost);
  });

  it('a file cut inside its last record is still reported as cut, with nothing to resume', async () => {
    const file = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    const buf = readFileSync(file);
    const { s, issues } = await run(buf.subarray(0, buf.length - 7));
    assert.equal(s.packets, frames(file) - 1);
    assert.ok(issues.some((i) => i.code === 'pcap-record-truncated'));
    assert.ok(!issues.some((i) => i.code === 'pcap-length-past-end'));
  });
});
