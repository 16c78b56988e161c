import assert from 'node:assert/strict';
import { existsSync, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { AppMatcher, loadAppRules } from '../../src/features/apps.js';
import { AddressBook, MAX_TIMES } from '../../src/features/learned-addresses.js';
import { readRecordsCsv } from '../../src/dataset/records.js';
import { flowColumns, learnAddresses } from '../../src/meter/meter.js';
import { flowPlugins } from '../../src/features/plugins.js';
import { cli } from '../helpers/cli.js';
import { flowsOf } from '../helpers/flows.js';
import { haveTshark, tshark } from '../helpers/tshark.js';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { after } from 'node:test';

const DATA = join(import.meta.dirname, '../../../shared/datasets/whatsapp-web-actions');
const dir = mkdtempSync(join(tmpdir(), 'cipherscope-learned-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('learned server addresses', () => {
  it('the nearest evidence in time names an address and port; two apps on one make it shared; the gap has its sign', () => {
    const b = new AddressBook();
    b.add({ addr: '192.0.2.1', port: 443, timeNs: 1000n, app: 'A', host: 'a1.example' });
    b.add({ addr: '192.0.2.1', port: 443, timeNs: 5000n, app: 'A', host: 'a2.example' });
    assert.deepEqual(b.lookup('192.0.2.1', 443, 1200n), { app: 'A', host: 'a1.example', gapNs: -200n });
    assert.deepEqual(b.lookup('192.0.2.1', 443, 4000n), { app: 'A', host: 'a2.example', gapNs: 1000n });
    assert.deepEqual(b.lookup('192.0.2.1', 443, 0n), { app: 'A', host: 'a1.example', gapNs: 1000n });
    assert.equal(b.lookup('192.0.2.1', 80, 1000n), undefined, 'another port is another service');
    b.add({ addr: '192.0.2.1', port: 443, timeNs: 9000n, app: 'B', host: 'b.example' });
    assert.equal(b.lookup('192.0.2.1', 443, 1000n), 'shared');
    // What crosses to a worker thread rebuilds the same book.
    assert.equal(AddressBook.from(b.entries()).lookup('192.0.2.1', 443, 1000n), 'shared');
    const c = new AddressBook();
    for (let i = 0; i < MAX_TIMES + 10; i++) c.add({ addr: '2001:db8::1', port: 5222, timeNs: BigInt(i), app: 'A', host: null });
    assert.equal(c.dropped, 10, 'times past the budget are counted, not kept');
    assert.deepEqual(AddressBook.from(c.entries()).lookup('2001:db8::1', 5222, 3n), { app: 'A', host: null, gapNs: 0n });
  });

  const have = existsSync(DATA) && haveTshark();
  it('a real WhatsApp Web capture: the message connection open before the capture is named by address, checked with tshark', { skip: have ? false : 'needs ../shared/datasets and tshark' }, async () => {
    const file = join(DATA, 'userA-four-groups-mixed.pcapng');
    const apps = new AppMatcher(loadAppRules());
    const { rows } = await flowsOf(file, { apps, addresses: await learnAddresses(file, apps) });
    const byAddr = rows.filter((r) => r.app_evidence === 'addr');
    assert.ok(byAddr.length >= 1, 'some flow is named by its address');
    const bytes = (rs: typeof rows) => rs.reduce((n, r) => n + Number(r.bytes), 0);
    const share = bytes(rows.filter((r) => r.app === 'WhatsApp')) / bytes(rows);
    assert.ok(share >= 0.95, `WhatsApp share of bytes ${(share * 100).toFixed(1)} %`);
    // tshark: the same server address carries a WhatsApp name somewhere in the capture (SNI, or a DNS answer).
    const named = new Set<string>();
    for (const l of tshark(['-r', file, '-Y', 'tls.handshake.extensions_server_name', '-T', 'fields', '-e', 'ip.dst', '-e', 'ipv6.dst', '-e', 'tls.handshake.extensions_server_name']).split('\n').filter(Boolean)) {
      const [v4, v6, sni] = l.split('\t');
      if (apps.match(sni) === 'WhatsApp') named.add(v4 || v6);
    }
    for (const l of tshark(['-r', file, '-Y', 'dns.flags.response==1', '-T', 'fields', '-e', 'dns.qry.name', '-e', 'dns.a', '-e', 'dns.aaaa']).split('\n').filter(Boolean)) {
      const [name, a, aaaa] = l.split('\t');
      if (apps.match(name) === 'WhatsApp') for (const x of [...(a ?? '').split(','), ...(aaaa ?? '').split(',')]) if (x) named.add(x);
    }
    for (const r of byAddr) {
      assert.equal(r.app, 'WhatsApp');
      assert.ok(named.has(String(r.server_addr)), `${r.server_addr}: tshark finds no WhatsApp name for it`);
      assert.equal(typeof r.app_evidence_gap_ns, 'bigint');
    }
    // Only flows without a name of their own are named so: first-hand evidence is untouched.
    const plain = (await flowsOf(file, { apps })).rows;
    for (const [i, r] of rows.entries()) if (r.app_evidence !== 'addr') assert.deepEqual([r.app, r.app_evidence], [plain[i].app, plain[i].app_evidence]);
  });

  it('the CLI names the same flows on one thread and on two', { skip: have ? false : 'needs ../shared/datasets' }, () => {
    const file = join(DATA, 'userA-four-groups-mixed.pcapng');
    const cols = flowColumns(flowPlugins(), true);
    const read = (threads: number) => {
      const out = join(dir, `t${threads}.csv`);
      const r = cli(['flows', file, '--apps', '--threads', String(threads), '-o', out, '-q']);
      assert.equal(r.status, 0, r.stderr);
      const t = readRecordsCsv(out, cols);
      const at = (n: string) => t.names.indexOf(n);
      return t.rows.map((x) => `${x[at('client_port')]} ${x[at('server_addr')]} ${x[at('segment')]} ${x[at('app')]} ${x[at('app_evidence')]}`).sort();
    };
    const one = read(1);
    assert.ok(one.some((l) => l.endsWith('WhatsApp addr')));
    assert.deepEqual(read(2), one);
    assert.ok(readdirSync(dir).length >= 2);
  });
});
