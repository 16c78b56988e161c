import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { AppMatcher, loadAppRules } from '../../src/features/apps.js';
import { cli } from '../helpers/cli.js';
import { flowsOf } from '../helpers/flows.js';
import { PCAPS, haveTshark, tshark } from '../helpers/tshark.js';

const dir = mkdtempSync(join(tmpdir(), 'cipherscope-apps-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('app rules', () => {
  const rules = loadAppRules();
  const m = new AppMatcher(rules);

  it('ship the apps the paper names and a dozen more', () => {
    const names = rules.apps.map((a) => a.name);
    for (const n of ['Facebook', 'Instagram', 'Messenger', 'YouTube', 'Google Video', 'WhatsApp', 'Gmail']) assert.ok(names.includes(n), n);
    assert.ok(names.length >= 19, `${names.length} apps`);
    assert.ok(rules.apps.every((a) => a.source), 'every app says where its domains come from');
  });

  it('match at label boundaries, the longest rule winning', () => {
    assert.equal(m.match('media-ams4-1.cdn.whatsapp.net'), 'WhatsApp');
    assert.equal(m.match('notwhatsapp.net'), undefined);
    assert.equal(m.match('mail.google.com'), 'Gmail');
    assert.equal(m.match('www.google.com'), 'Google');
    assert.equal(m.match('rr4---sn-5hne6nzy.googlevideo.com'), 'Google Video');
    assert.equal(m.match('edge-chat.facebook.com'), 'Messenger');
    assert.equal(m.match('star.facebook.com'), 'Facebook');
    assert.equal(m.match('SCONTENT.CDNINSTAGRAM.COM.'), 'Instagram');
    assert.equal(m.match(''), undefined);
  });

  it('flows get app and evidence from SNI (TLS and QUIC)', async () => {
    const apps = m;
    const fb = (await flowsOf(join(PCAPS, 'quic-fbcdn-initial-not-first.pcap'), { apps })).rows.filter((r) => r.app !== null);
    assert.deepEqual(fb.map((r) => [r.app, r.app_evidence, r.app_host]), [['Facebook', 'sni', 'scontent-ams4-1.xx.fbcdn.net']]);
    const yt = (await flowsOf(join(PCAPS, 'tls13-googlevideo-ech.pcap'), { apps })).rows.find((r) => r.app !== null);
    assert.equal(yt?.app, 'Google Video');
  });

  it('a flow without SNI is attributed through the DNS answer before it', async () => {
    const { rows } = await flowsOf(join(PCAPS, 'pcapng-11-interfaces.pcapng'), { apps: m });
    const viaDns = rows.filter((r) => r.app_evidence === 'dns');
    for (const r of viaDns) {
      assert.equal(r.tls_sni, null);
      assert.equal(r.app, m.match(r.dns_host as string));
    }
  });

  it('rejects a malformed rules file with its path', () => {
    assert.throws(() => loadAppRules(join(PCAPS, 'SOURCES.md')), /SOURCES\.md: cannot read app rules/);
  });
});

describe('cipherscope filter --app', { skip: !haveTshark() && 'tshark not installed' }, () => {
  it("writes exactly the packets of the app's flows", () => {
    const file = join(PCAPS, 'pcapng-11-interfaces.pcapng');
    const out = join(dir, 'google.pcapng');
    const r = cli(['filter', file, '-o', out, '--app', 'Google', '--keep-noise']);
    assert.equal(r.status, 0, r.stderr);
    assert.match(r.stderr, /not-app=\d+/);
    // Independent view: tshark's streams whose TLS SNI ends in a Google domain.
    const sni = tshark(['-r', file, '-Y', 'tls.handshake.type == 1', '-T', 'fields', '-e', 'tcp.stream', '-e', 'tls.handshake.extensions_server_name']);
    const streams = sni
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'))
      .filter(([, name]) => /(^|\.)(google\.com|googleapis\.com|gstatic\.com|google\.de)$/.test(name))
      .map(([s]) => s);
    assert.ok(streams.length > 0);
    // Flows without SNI (here gQUIC to UDP 443) count when a DNS answer for a Google name gave their server address.
    const answers = tshark(['-r', file, '-Y', 'dns.flags.response == 1', '-T', 'fields', '-E', 'aggregator=,', '-e', 'dns.qry.name', '-e', 'dns.a'])
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('\t'))
      .filter(([q]) => /(^|\.)(google\.com|googleapis\.com|gstatic\.com)$/.test(q))
      .flatMap(([, a]) => (a ? a.split(',') : []));
    const udpPart = answers.length > 0 ? ` || (udp && !dns && ip.addr in {${answers.join(',')}})` : '';
    const expected = tshark(['-r', file, '-Y', `tcp.stream in {${streams.join(',')}}${udpPart}`, '-T', 'fields', '-e', 'frame.len']);
    const got = tshark(['-r', out, '-T', 'fields', '-e', 'frame.len']);
    assert.equal(got, expected);
    assert.ok(got.split('\n').filter(Boolean).length >= 40);
    const unknown = cli(['filter', file, '-o', join(dir, 'x.pcap'), '--app', 'NoSuchApp']);
    assert.equal(unknown.status, 1);
    assert.match(unknown.stderr, /no app named "NoSuchApp"/);
  });
});
