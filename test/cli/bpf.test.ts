import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
import { PCAPS } from '../helpers/tshark.js';
import { parseCsv } from '../helpers/csv.js';

/**
 * tshark's and tcpdump's habits on the command line: -r FILE, -f 'capture filter' in every command that reads a
 * capture, the filter's kept packets equal to tcpdump's, and a bad filter a one-line usage error naming the word.
 */
const TCPDUMP = ['/usr/bin/tcpdump', '/usr/sbin/tcpdump'].find((p) => existsSync(p));
const dir = mkdtempSync(join(tmpdir(), 'cs-bpf-cli-'));
after(() => rmSync(dir, { recursive: true, force: true }));
const file = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
const EXPR = 'udp port 53 and not host 127.0.0.1';

describe('capture filter and -r on the command line', { skip: TCPDUMP === undefined ? 'tcpdump is not installed' : false }, () => {
  it('filter -r FILE -f EXPR writes the packets tcpdump -r FILE -w OUT EXPR writes, byte for byte', () => {
    const ours = join(dir, 'ours.pcap');
    const theirs = join(dir, 'theirs.pcap');
    const r = cli(['filter', '-r', file, '-f', EXPR, '--keep-noise', '-o', ours]);
    assert.equal(r.status, 0, r.stderr);
    execFileSync(TCPDUMP!, ['--time-stamp-precision=nano', '-r', file, '-w', theirs, EXPR], { stdio: 'ignore' });
    // Records (after the 24-byte file headers, whose snap length and link type may be written differently).
    assert.deepEqual(readFileSync(ours).subarray(24), readFileSync(theirs).subarray(24));
    assert.match(r.stderr, /capture-filter=\d+/);
  });

  it('flows -r FILE -f EXPR meters what tcpdump keeps: the same flows as flows on tcpdump\'s output', () => {
    const filtered = join(dir, 'kept.pcap');
    execFileSync(TCPDUMP!, ['--time-stamp-precision=nano', '-r', file, '-w', filtered, EXPR], { stdio: 'ignore' });
    const rows = (text: string) => {
      const [head, ...body] = parseCsv(text);
      return body.map((r) => Object.fromEntries(head.map((h, i) => [h, r[i]])));
    };
    const a = rows(cli(['flows', '-r', file, '-f', EXPR, '-q', '--features', 'none']).stdout);
    const b = rows(cli(['flows', filtered, '-q', '--features', 'none']).stdout);
    const key = (rs: Record<string, string>[]) => rs.map((x) => [x.client_addr, x.client_port, x.server_addr, x.server_port, x.packets, x.bytes].join(' ')).sort();
    assert.ok(a.length >= 2, `${a.length} flows`);
    assert.ok(a.every((x) => x.server_port === '53' && x.client_addr !== '127.0.0.1'));
    assert.deepEqual(key(a), key(b));
  });

  it('a bad filter is a usage error of one line naming the word, before any input is read', () => {
    const r = cli(['flows', file, '-f', 'tcp prot 80', '-q']);
    assert.notEqual(r.status, 0);
    assert.match(r.stderr, /capture filter "tcp prot 80": .*"prot"/);
    assert.equal(r.stdout, '');
  });

  it('no input at all says so', () => {
    const r = cli(['flows', '-q']);
    assert.equal(r.status, 1);
    assert.match(r.stderr, /no input/);
  });
});
