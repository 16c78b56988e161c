import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AppMatcher, loadAppRules, withoutIpLists } from '../../src/features/apps.js';
import { IpOwnerTable, loadIpLists, parsePrefix, parsePrefixList, prefixText } from '../../src/features/ip-lists.js';
import { learnAddresses } from '../../src/meter/meter.js';
import { ROOT, cli } from '../helpers/cli.js';
import { flowsOf } from '../helpers/flows.js';
import { SHARED, haveTshark, tshark } from '../helpers/tshark.js';

const DATA = join(SHARED, 'datasets/whatsapp-web-actions');
const LISTS = join(ROOT, 'rules/ip-lists.json');
const dir = mkdtempSync(join(tmpdir(), 'cipherscope-iplists-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('IP ownership lists', () => {
  it('prefixes are canonical; the longest prefix wins; the same prefix in two lists goes to the first', () => {
    assert.equal(prefixText(parsePrefix('10.1.2.3/8')!), '10.0.0.0/8');
    assert.equal(prefixText(parsePrefix('2a03:2880:f22d::1/32')!), '2a03:2880::/32');
    assert.equal(prefixText(parsePrefix('2001:db8:0:0:1:0:0:1')!), '2001:db8::1:0:0:1/128');
    assert.equal(prefixText(parsePrefix('157.240.214.61/31')!), '157.240.214.60/31');
    for (const bad of ['10.0.0.0/33', '::/129', '10.0.0/8', '10.0.0.0/', 'x']) assert.equal(parsePrefix(bad), undefined, bad);
    const src = { name: 't', url: '', file: 'f', date: '2026-01-01' };
    const t = new IpOwnerTable([
      { app: 'Op', kind: 'operator', owner: 'Op', source: src, prefixes: ['157.240.0.0/16', '2a03:2880::/32', '10.0.0.0/8'] },
      { app: 'App', kind: 'app', owner: 'Op', source: src, prefixes: ['157.240.214.60/31', '2a03:2880:f22d::/48', '10.0.0.0/8'] },
    ]);
    assert.deepEqual(t.lookup('157.240.214.61'), { app: 'App', kind: 'app', prefix: '157.240.214.60/31' });
    assert.deepEqual(t.lookup('157.240.214.62'), { app: 'Op', kind: 'operator', prefix: '157.240.0.0/16' });
    assert.equal(t.lookup('2a03:2880:f22d:c5:face:b00c:0:167')?.app, 'App');
    assert.equal(t.lookup('2a03:2880:f258::1')?.app, 'Op');
    assert.equal(t.lookup('10.9.9.9')?.app, 'Op', 'the first list keeps a prefix both give');
    assert.equal(t.lookup('157.241.0.1'), undefined);
    assert.equal(t.lookup('not an address'), undefined);
  });

  it('reads the sources as published: one prefix a line, comments, nDPI lines, and counts the lines it cannot read', () => {
    const text = [
      '# a comment',
      '31.13.24.0/21',
      '2a03:2880::/32   # Meta',
      ' { 0x9DF0D63C /* 157.240.214.60/31 */, 31, NDPI_PROTOCOL_WHATSAPP },',
      'static ndpi_network list[] = {',
      '31.13.24.0/21',
      '1.2.3.4',
      '',
      '// end',
    ].join('\n');
    const p = parsePrefixList(text);
    assert.deepEqual(p.prefixes, ['1.2.3.4/32', '31.13.24.0/21', '157.240.214.60/31', '2a03:2880::/32']);
    assert.deepEqual(p.skipped, [{ line: 5, text: 'static ndpi_network list[] = {' }]);
  });

  it('the shipped lists agree with Python ipaddress on longest-prefix ownership of 3,000 addresses', { skip: existsSync('/usr/bin/python3') ? false : 'needs python3' }, () => {
    const lists = loadIpLists(LISTS);
    assert.ok(lists.lists.every((l) => l.prefixes.length > 0 && /^\d{4}-\d{2}-\d{2}$/.test(l.source.date) && l.source.name.length > 0), 'every list has prefixes, a source and a date');
    const table = new IpOwnerTable(lists.lists);
    // Addresses inside listed prefixes (near their edges, where masks go wrong) and random ones.
    let seed = 7;
    const rnd = () => ((seed = (seed * 1103515245 + 12345) >>> 0) / 2 ** 32);
    const addrs: string[] = [];
    const all = lists.lists.flatMap((l) => l.prefixes);
    for (let i = 0; i < 2000; i++) {
      const p = parsePrefix(all[Math.floor(rnd() * all.length)])!;
      const b = Uint8Array.from(p.bytes);
      // Flip one bit at or after the prefix length (stays inside) or just before it (goes outside).
      const bit = Math.min(b.length * 8 - 1, Math.max(0, p.length - 1 + Math.floor(rnd() * 3)));
      b[bit >> 3] ^= 0x80 >> (bit & 7);
      addrs.push(p.version === 4 ? b.join('.') : prefixText({ version: 6, bytes: b, length: 128 }).replace(/\/128$/, ''));
    }
    for (let i = 0; i < 1000; i++) addrs.push(`${Math.floor(rnd() * 224)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}.${Math.floor(rnd() * 256)}`);
    const ours = addrs.map((a) => table.lookup(a)?.app ?? '-');
    const py = `
import ipaddress, json, sys
lists = json.load(open(sys.argv[1]))['lists']
nets = [(ipaddress.ip_network(p), i) for i, l in enumerate(lists) for p in l['prefixes']]
by_v = {4: [n for n in nets if n[0].version == 4], 6: [n for n in nets if n[0].version == 6]}
for a in sys.stdin.read().split():
    ip = ipaddress.ip_address(a)
    hits = [(n.prefixlen, -i, lists[i]['app']) for n, i in by_v[ip.version] if ip in n]
    print(max(hits)[2] if hits else '-')
`;
    const theirs = execFileSync('/usr/bin/python3', ['-c', py, LISTS], { input: addrs.join('\n'), encoding: 'utf8', maxBuffer: 1 << 24 }).trim().split('\n');
    assert.equal(theirs.length, addrs.length);
    const differ = addrs.filter((_, i) => ours[i] !== theirs[i]);
    assert.deepEqual(differ.slice(0, 5), [], `${differ.length} of ${addrs.length} addresses differ`);
    assert.ok(new Set(ours).size >= 4, 'the sample reaches several lists');
  });

  const have = existsSync(DATA) && haveTshark();
  for (const name of ['userB-photos.pcap', 'userB-text-messages.pcap', 'userB-videos.pcap', 'userB-voice-messages.pcap', 'userB-mixed-filtered.pcap', 'userA-four-groups-mixed.pcapng']) {
    it(`${name}: at least 95 % of the bytes are named WhatsApp; each ip-list name holds the server address tshark sees`, { skip: have ? false : 'needs ../shared/datasets and tshark' }, async () => {
      const file = join(DATA, name);
      const apps = new AppMatcher(loadAppRules());
      const { rows } = await flowsOf(file, { apps, addresses: await learnAddresses(file, apps) });
      const bytes = (rs: typeof rows) => rs.reduce((n, r) => n + Number(r.bytes), 0);
      const share = bytes(rows.filter((r) => r.app === 'WhatsApp')) / bytes(rows);
      assert.ok(share >= 0.95, `WhatsApp share of bytes ${(share * 100).toFixed(1)} %`);
      const whatsapp = loadIpLists(LISTS).lists.find((l) => l.app === 'WhatsApp')!;
      // tshark's view of the servers: the destination of each TCP SYN, or of the client's packets otherwise.
      const servers = new Set(
        tshark(['-r', file, '-Y', 'tcp', '-T', 'fields', '-e', 'ip.src', '-e', 'ip.dst', '-e', 'ipv6.src', '-e', 'ipv6.dst', '-e', 'tcp.srcport', '-e', 'tcp.dstport'])
          .split('\n')
          .filter(Boolean)
          .flatMap((l) => {
            const [s4, d4, s6, d6, sp, dp] = l.split('\t');
            return Number(dp) === 443 ? [d4 || d6] : Number(sp) === 443 ? [s4 || s6] : [];
          }),
      );
      for (const r of rows.filter((x) => x.app_evidence === 'ip-list')) {
        assert.ok(servers.has(String(r.server_addr)), `${r.server_addr}: not a server in tshark's view`);
        if (r.app === 'WhatsApp') {
          assert.ok(whatsapp.prefixes.includes(String(r.app_host)), `${r.app_host} is a prefix of the WhatsApp list`);
          const len = parsePrefix(String(r.app_host))!.length;
          assert.equal(prefixText(parsePrefix(`${r.server_addr}/${len}`)!), r.app_host, 'the prefix holds the address');
        }
      }
      // Without the lists, only ip-list names go: everything else is the same.
      const plain = (await flowsOf(file, { apps: new AppMatcher(withoutIpLists(loadAppRules())), addresses: await learnAddresses(file, apps) })).rows;
      for (const [i, r] of rows.entries()) {
        if (r.app_evidence === 'ip-list') assert.equal(plain[i].app, null);
        else assert.deepEqual([r.app, r.app_evidence, r.app_host], [plain[i].app, plain[i].app_evidence, plain[i].app_host]);
      }
    });
  }

  it('the flows summary counts first-hand and second-hand names apart, on one thread and on two', { skip: have ? false : 'needs ../shared/datasets' }, () => {
    for (const threads of ['1', '2']) {
      const r = cli(['flows', join(DATA, 'userB-voice-messages.pcap'), '--apps', '-o', join(dir, 'v.csv'), '--threads', threads]);
      assert.equal(r.status, 0, r.stderr);
      assert.match(r.stderr, /apps named first-hand: sni=1; second-hand: addr=2; no app: 0$/m);
      const p = cli(['flows', join(DATA, 'userB-photos.pcap'), '--apps', '-o', join(dir, 'p.csv'), '--threads', threads]);
      assert.match(p.stderr, /apps named first-hand: none; second-hand: ip-list=1; no app: 0$/m);
    }
  });

  it('refresh rebuilds the lists from a local copy of the sources, only those asked, and writes nothing on an error', () => {
    const lists = join(dir, 'ip-lists.json');
    copyFileSync(LISTS, lists);
    const before = readFileSync(lists, 'utf8');
    mkdirSync(join(dir, 'geoip/text'), { recursive: true });
    writeFileSync(join(dir, 'geoip/text/telegram.txt'), '91.108.4.0/22\n149.154.160.0/20\n2001:b28:f23d::/48\n');
    // A missing source file is an error that names the list and leaves the file as it was.
    const bad = cli(['ip-lists', 'refresh', '--from', join(dir, 'geoip'), '--lists', lists, '--date', '2026-12-01']);
    assert.equal(bad.status, 1);
    assert.match(bad.stderr, /IP list WhatsApp: .*ndpi_whatsapp_match\.c\.inc is in none of/);
    assert.equal(readFileSync(lists, 'utf8'), before);
    const ok = cli(['ip-lists', 'refresh', '--from', join(dir, 'geoip'), '--lists', lists, '--only', 'Telegram', '--date', '2026-12-01', '--commit', 'test']);
    assert.equal(ok.status, 0, ok.stderr);
    assert.match(ok.stderr, /Telegram: 12 -> 3 prefixes \(\+\d+ -\d+\)/);
    const next = loadIpLists(lists);
    const tg = next.lists.find((l) => l.app === 'Telegram')!;
    assert.deepEqual(tg.prefixes, ['91.108.4.0/22', '149.154.160.0/20', '2001:b28:f23d::/48']);
    assert.deepEqual([tg.source.date, tg.source.commit], ['2026-12-01', 'test']);
    assert.deepEqual(next.lists.find((l) => l.app === 'Meta'), loadIpLists(LISTS).lists.find((l) => l.app === 'Meta'), 'other lists unchanged');
    const look = cli(['ip-lists', 'lookup', '149.154.167.51', '157.240.214.60', '192.0.2.1', '--lists', lists]);
    assert.equal(look.stdout, '149.154.167.51\tTelegram\tapp\t149.154.160.0/20\n157.240.214.60\tWhatsApp\tapp\t157.240.214.60/31\n192.0.2.1\t-\n');
  });
});
