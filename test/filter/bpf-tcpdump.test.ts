import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { compileBpf } from '../../src/filter/bpf.js';
import { readCapture } from '../../src/pcap/reader.js';
import { sharedPcaps } from '../helpers/tshark.js';
import { type SynthPacket, synthPcap } from '../../src/pcap/synth.js';
import { writeFileSync } from 'node:fs';

/**
 * The capture filter (-f / --bpf) keeps exactly the packets tcpdump keeps, on every shared capture tcpdump reads,
 * for the expressions people use: each kept packet compared by time (ns) and lengths, in order.
 */
const TCPDUMP = ['/usr/bin/tcpdump', '/usr/sbin/tcpdump'].find((p) => existsSync(p));

export const EXPRESSIONS = [
  'tcp',
  'udp',
  'icmp',
  'icmp6',
  'ip',
  'ip6',
  'arp',
  'port 53',
  'udp port 53',
  'tcp port 443',
  'src port 443',
  'dst port 53',
  'tcp dst port 80 or tcp src port 80',
  'portrange 1-1023',
  'tcp portrange 440-450',
  'not port 53',
  'not tcp and not udp',
  'host 10.0.0.138',
  'src host 10.0.0.8',
  'dst host 192.168.1.1',
  'net 10.0.0.0/8',
  'net 192.168.0.0 mask 255.255.0.0',
  'net 192.168',
  'src net 172.16.0.0/12 or dst net 172.16.0.0/12',
  'ip6 and udp',
  'ip6 net 2001:db8::/32',
  'host ::1',
  'net fe80::/10',
  'proto 17',
  'ip proto 6',
  'ip6 proto 17',
  'ip proto \\udp',
  'tcp and (port 80 or port 443)',
  '(udp and port 443) or (tcp and not port 443)',
  'not (host 10.0.0.138 or arp)',
  'less 100',
  'greater 1000',
  'len > 600',
  'vlan',
  'vlan and tcp',
  'host 127.0.0.1 and udp',
  'src or dst port 53',
  'host 10.0.0.8 or 10.0.0.138',
  'tcp port 80 or 443',
];

type Row = [number, number, number, number];

async function ours(file: string, expr: string): Promise<Row[]> {
  const keep = compileBpf(expr);
  const out: Row[] = [];
  await readCapture(file, {
    packet: (r) => {
      if (keep({ data: r.data, offset: r.dataOffset, capLen: r.capLen, wireLen: r.origLen, linkType: r.linkType })) out.push([r.tsSec, r.tsNsec, r.capLen, r.origLen]);
    },
  });
  return out;
}

/** tcpdump's kept packets; 'unreadable' for a capture libpcap cannot read, 'n/a' for a filter its link type lacks. */
async function theirs(file: string, expr: string, dir: string): Promise<Row[] | 'unreadable' | 'n/a'> {
  const out = join(dir, 'out.pcap');
  try {
    execFileSync(TCPDUMP!, ['--time-stamp-precision=nano', '-r', file, '-w', out, expr], { stdio: ['ignore', 'ignore', 'pipe'] });
  } catch (e) {
    const err = String((e as { stderr?: Buffer }).stderr ?? '');
    // libpcap proves at compile time that nothing can match (arp on raw IP): nothing kept.
    if (/expression rejects all packets/.test(err)) return [];
    // A filter the link type has no field for (vlan on raw IP): libpcap refuses it, so there is nothing to compare.
    if (/not supported|no VLAN support|not a valid/.test(err)) return 'n/a';
    // A capture libpcap cannot read whole (interfaces of several link types, a cut-short file): not compared.
    if (/different from the type of the first interface|truncated|bogus|unknown file format|pcap_loop|bad dump file/.test(err)) return 'unreadable';
    throw new Error(`tcpdump -r ${file} "${expr}": ${err}`);
  }
  const rows: Row[] = [];
  await readCapture(out, { packet: (r) => void rows.push([r.tsSec, r.tsNsec, r.capLen, r.origLen]) });
  return rows;
}

describe('the capture filter against tcpdump', { skip: TCPDUMP === undefined ? 'tcpdump is not installed (scripts/setup.sh installs it)' : false }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-bpf-'));
  it(`${EXPRESSIONS.length} expressions on every shared capture tcpdump reads: the same packets kept`, { timeout: 600_000 }, async () => {
    let compared = 0;
    let kept = 0;
    const files = sharedPcaps();
    for (const file of files) {
      for (const expr of EXPRESSIONS) {
        const t = await theirs(file, expr, dir);
        if (t === 'unreadable') break;
        if (t === 'n/a') continue;
        const o = await ours(file, expr);
        assert.deepEqual(o, t, `${file.split('/').pop()}: "${expr}": ${o.length} kept here, ${t.length} by tcpdump`);
        compared++;
        kept += t.length;
      }
    }
    process.stderr.write(`bpf: ${compared} (capture, expression) pairs compared, ${kept} packets kept\n`);
    assert.ok(compared >= 40 * EXPRESSIONS.length, `${compared} (capture, expression) pairs compared`);
    assert.ok(kept > 10_000, `${kept} packets kept in all`);
  });

  it('VLAN tags (802.1Q, QinQ), fragments and IPv6 on a generated capture: the same packets kept', { timeout: 120_000 }, async () => {
    // Frames of every kind, some tagged once (VLAN 100) or twice (88a8 200, then 8100 100), some fragments.
    const base: SynthPacket[] = [];
    for (let i = 0; i < 60; i++) {
      const v6 = i % 5 === 4;
      base.push({ sec: 1_700_000_000, nsec: i * 1000, src: v6 ? `2001:db8::${i + 1}` : `10.0.${i % 3}.${i + 1}`, dst: v6 ? '2001:db8::ffff' : '192.168.1.1', sport: 1000 + i, dport: [53, 80, 443][i % 3], proto: i % 2 ? 'udp' : 'tcp', payload: 10 * (i % 7), ipId: i });
    }
    const plain = Buffer.from(synthPcap(base));
    const frames: Buffer[] = [];
    let at = 24;
    for (let i = 0; i < base.length; i++) {
      const len = plain.readUInt32LE(at + 8);
      let f = Buffer.from(plain.subarray(at + 16, at + 16 + len));
      if (i % 11 === 3 && f.readUInt16BE(12) === 0x0800) f.writeUInt16BE(0x2000 | (i % 4), 20); // a fragment (MF, offset)
      const tag = (tpid: number, vid: number) => Buffer.from([tpid >> 8, tpid & 255, (vid >> 8) & 15, vid & 255]);
      if (i % 4 === 1) f = Buffer.concat([f.subarray(0, 12), tag(0x8100, 100), f.subarray(12)]);
      if (i % 4 === 2) f = Buffer.concat([f.subarray(0, 12), tag(0x88a8, 200), tag(0x8100, 100), f.subarray(12)]);
      const h = Buffer.alloc(16);
      h.writeUInt32LE(1_700_000_000, 0);
      h.writeUInt32LE(i * 1000, 4);
      h.writeUInt32LE(f.length, 8);
      h.writeUInt32LE(f.length, 12);
      frames.push(h, f);
      at += 16 + len;
    }
    const file = join(dir, 'vlan.pcap');
    writeFileSync(file, Buffer.concat([plain.subarray(0, 24), ...frames]));
    const exprs = [...EXPRESSIONS, 'vlan 100', 'vlan 200', 'vlan and vlan 100 and udp', 'vlan 100 and port 53', 'not vlan', 'vlan and ip6', 'vlan and not vlan and tcp', 'net 10.0.1.0/24 or vlan', 'ip and vlan'];
    let compared = 0;
    for (const expr of exprs) {
      const t = await theirs(file, expr, dir);
      if (typeof t === 'string') continue;
      assert.deepEqual(await ours(file, expr), t, `"${expr}"`);
      compared++;
    }
    assert.ok(compared >= exprs.length - 2, `${compared} of ${exprs.length} compared`);
    rmSync(dir, { recursive: true, force: true });
  });
});
