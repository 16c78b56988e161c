import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { Decoder } from '../../src/decode/decoder.js';
import { PacketFilter, parseHostRule } from '../../src/filter/filter.js';
import { readCapture } from '../../src/pcap/reader.js';
import { cli } from '../helpers/cli.js';
import { PCAPS, haveTshark, sharedPcaps, tshark } from '../helpers/tshark.js';

async function filterCounts(file: string, opts: ConstructorParameters<typeof PacketFilter>[0]) {
  const f = new PacketFilter(opts);
  const d = new Decoder();
  await readCapture(file, { packet: (rec) => void f.verdict(d.decode(rec)) });
  return { kept: f.kept, dropped: Object.fromEntries(f.dropped) };
}

const NOISE: Array<[string, string]> = [
  ['ssdp', 'udp.port == 1900'],
  ['mdns', 'udp.port == 5353'],
  ['llmnr', 'udp.port == 5355 || tcp.port == 5355'],
  ['netbios', 'udp.port == 137 || udp.port == 138 || tcp.port == 139'],
  ['dhcp', 'udp.port == 67 || udp.port == 68'],
  ['dhcpv6', 'udp.port == 546 || udp.port == 547'],
];

describe('noise filter', () => {
  describe('drops by reason equal tshark display-filter counts on every shared capture', { skip: !haveTshark() && 'tshark not installed' }, () => {
    for (const file of sharedPcaps()) {
      it(basename(file), async () => {
        const { dropped } = await filterCounts(file, { dropNoise: true, excludeHosts: [], onlyHosts: [] });
        const count = (filter: string) => tshark(['-r', file, '-Y', filter, '-T', 'fields', '-e', 'frame.number']).split('\n').filter(Boolean).length;
        for (const [reason, filter] of NOISE) assert.equal(dropped[reason] ?? 0, count(filter), `${reason} (${filter})`);
        const nonIp = Object.entries(dropped).filter(([k]) => k.startsWith('non-ip:')).reduce((n, [, v]) => n + v, 0);
        assert.equal(nonIp, count('!ip && !ipv6 && frame.encap_type'), 'non-IP frames');
        // tshark's arp dissector also takes RARP
        assert.equal((dropped['non-ip:arp'] ?? 0) + (dropped['non-ip:rarp'] ?? 0), count('arp'), 'ARP and RARP');
      });
    }
  });

  it('host rules accept addresses and prefixes, IPv4 and IPv6', () => {
    assert.equal(parseHostRule('10.0.0.0/8').prefix, 8);
    assert.equal(parseHostRule('2001:db8::/32').version, 6);
    assert.throws(() => parseHostRule('10.0.0.0/33'), /prefix length/);
    assert.throws(() => parseHostRule('example.com'), /not an IPv4 or IPv6/);
  });

  it('--exclude-host with a prefix drops what it should', async () => {
    const file = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    const all = await filterCounts(file, { dropNoise: false, excludeHosts: [], onlyHosts: [] });
    const ex = await filterCounts(file, { dropNoise: false, excludeHosts: ['10.0.0.0/8', '192.168.0.0/16'], onlyHosts: [] });
    assert.ok((ex.dropped['excluded-host'] ?? 0) > 0);
    assert.equal(ex.kept + (ex.dropped['excluded-host'] ?? 0), all.kept);
  });
});

describe('cipherscope filter', { skip: !haveTshark() && 'tshark not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cipherscope-filter-'));
  after(() => rmSync(dir, { recursive: true, force: true }));

  it('writes a capture tshark reads, without the excluded host, and prints the drop summary', () => {
    const file = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    const hosts = tshark(['-r', file, '-T', 'fields', '-e', 'ip.src']).split('\n').filter(Boolean);
    const host = [...new Set(hosts)].sort((a, b) => hosts.filter((h) => h === b).length - hosts.filter((h) => h === a).length)[0];
    const out = join(dir, 'out.pcap');
    const r = cli(['filter', file, '-o', out, '--exclude-host', host]);
    assert.equal(r.status, 0, r.stderr);
    const expected = tshark(['-r', file, '-Y', `(ip || ipv6) && !(ip.addr == ${host}) && !(udp.port in {1900,5353,5355,137,138,67,68,546,547}) && !(tcp.port in {5355,139})`, '-T', 'fields', '-e', 'frame.len']);
    const got = tshark(['-r', out, '-T', 'fields', '-e', 'frame.len']);
    assert.equal(got, expected);
    assert.match(r.stderr, /packets read, \d+ written, dropped: .*excluded-host=\d+/);
    assert.match(r.stderr, /non-ip:arp=\d+/);
  });

  it('--only-host keeps one host; several link types go to pcapng', () => {
    const file = join(PCAPS, 'pcapng-11-interfaces.pcapng');
    const out = join(dir, 'multi.pcapng');
    const r = cli(['filter', file, '-o', out, '--keep-noise']);
    assert.equal(r.status, 0, r.stderr);
    const count = (f: string, y?: string) => tshark(['-r', f, ...(y ? ['-Y', y] : []), '-T', 'fields', '-e', 'frame.len']);
    assert.equal(count(out), count(file, '(ip || ipv6 || !(ip || ipv6)) && frame.encap_type'));
    const pcapOut = join(dir, 'multi.pcap');
    const bad = cli(['filter', file, '-o', pcapOut, '--keep-noise']);
    if (new Set(tshark(['-r', file, '-T', 'fields', '-e', 'frame.encap_type']).split('\n').filter((l) => l.trim())).size > 1) {
      assert.equal(bad.status, 1);
      assert.match(bad.stderr, /write \.pcapng instead/);
    }
  });
});
