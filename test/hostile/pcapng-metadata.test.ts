import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { readCapture } from '../../src/pcap/reader.js';
import type { CaptureIssue } from '../../src/pcap/types.js';
import { cli } from '../helpers/cli.js';
import { tempDir } from '../helpers/temp.js';
import { pcapngBlock as block, pcapngOption as opt, u32 } from '../helpers/pcapng.js';

/**
 * A pcapng made of nothing but self-description (interfaces, statistics, name records, one address with thousands
 * of names, section comments) must not fill the memory: each kind is kept up to a bound, said once, and the packet
 * after them is still read.
 */
function flood(n: number): Buffer {
  const comments = Buffer.concat(Array.from({ length: n }, () => opt(1, Buffer.from('c'))));
  const parts = [block(0x0a0d0d0a, Buffer.concat([u32(0x1a2b3c4d), Buffer.from([1, 0, 0, 0]), Buffer.alloc(8, 0xff), comments, Buffer.alloc(4)]))];
  // Interface 0 is Ethernet; n more after it.
  for (let i = 0; i <= n; i++) parts.push(block(1, Buffer.from([1, 0, 0, 0, 0, 0, 0, 0])));
  for (let i = 0; i < n; i++) parts.push(block(5, Buffer.concat([u32(0), u32(0), u32(i), Buffer.alloc(4)])));
  // n addresses with a name each, then one address with n names.
  for (let i = 0; i < n; i++) {
    const rec = Buffer.concat([Buffer.from([1, 0, 8, 0]), u32(0x0a000000 + i).reverse(), Buffer.from('h\0\0\0')]);
    parts.push(block(4, Buffer.concat([rec, Buffer.alloc(4)])));
  }
  const many = Buffer.concat(Array.from({ length: 4096 }, () => Buffer.from('x\0')));
  parts.push(block(4, Buffer.concat([Buffer.from([1, 0, (4 + many.length) & 0xff, (4 + many.length) >> 8]), Buffer.from([192, 0, 2, 1]), many, Buffer.alloc(4)])));
  // One packet on interface 0: a UDP datagram.
  const frame = Buffer.from('ffffffffffff02000000000108004500001c0000400040110000c0000201c000020204d2162e00080000', 'hex');
  const epb = Buffer.concat([u32(0), u32(0), u32(1000), u32(frame.length), u32(frame.length), frame, Buffer.alloc((4 - (frame.length % 4)) % 4)]);
  parts.push(block(6, epb));
  return Buffer.concat(parts);
}

describe('pcapng metadata floods', () => {
  it('interfaces, statistics, name records and comments are kept up to 65,536 each, said once each; the packet is read', async () => {
    const n = 70_000;
    const issues: CaptureIssue[] = [];
    let packets = 0;
    const r = await readCapture(Readable.from([flood(n)]), { packet: () => void packets++, issue: (i) => issues.push(i) }, { name: 'flood' });
    assert.equal(packets, 1);
    assert.equal(r.metadata.interfaces.length, 65536);
    assert.equal(r.metadata.statistics.length, 65536);
    assert.equal(r.metadata.comments.length, 65536);
    assert.equal(r.metadata.names.size, 65536);
    const bounds = issues.filter((i) => i.code === 'pcapng-metadata-bound');
    assert.deepEqual(bounds.map((i) => i.message.replace(/^more than 65536 (.+?):.*$/, '$1')).sort(), ['interface statistics', 'interfaces', 'name-resolution addresses', 'section comments']);
    assert.equal(issues.length, bounds.length, JSON.stringify(issues.filter((i) => i.code !== 'pcapng-metadata-bound').slice(0, 3)));
  });

  it('one address with thousands of names keeps 64 of them; info lists the first 1,000 issues and counts the rest', async () => {
    const r = await readCapture(Readable.from([flood(10)]), { packet: () => undefined }, { name: 'flood' });
    assert.equal(r.metadata.names.get('192.0.2.1')?.length, 64);
    // A file of 3,000 packet blocks that name an interface it does not have: 3,000 errors.
    const bad = Buffer.concat([flood(1), ...Array.from({ length: 3000 }, () => block(6, Buffer.concat([u32(9), u32(0), u32(0), u32(0), u32(0)])))]);
    const file = join(tempDir('cs-pcapng-flood-'), 'bad.pcapng');
    writeFileSync(file, bad);
    const info = cli(['info', '--json', file]);
    const listed = (JSON.parse(info.stdout) as { issues: string[] }).issues;
    assert.equal(listed.length, 1001);
    assert.match(listed[1000], /^2000 more issue\(s\) not listed$/);
  });
});
