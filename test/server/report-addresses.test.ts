import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { spawnSync } from 'node:child_process';
import { ROOT, cli } from '../helpers/cli.js';
import { captureLabel } from '../../src/server/flow-store.js';
import { PCAPS, tshark } from '../helpers/tshark.js';

/** Reports hide the devices' addresses unless asked (the privacy promise): none of the clients' addresses is in the HTML. */
const dir = mkdtempSync(join(tmpdir(), 'cs-report-addr-'));
after(() => rmSync(dir, { recursive: true, force: true }));

describe('report and device addresses', () => {
  it('by default every client address is device-N; --show-addresses shows them', () => {
    const file = join(PCAPS, 'sll-mixed-tcp-dns-arp.pcap');
    // The clients, as tshark names the senders of SYNs and of DNS queries.
    const clients = new Set(tshark(['-r', file, '-Y', '(tcp.flags.syn==1 && tcp.flags.ack==0) || (dns.flags.response==0)', '-T', 'fields', '-e', 'ip.src']).trim().split('\n').filter(Boolean));
    assert.ok(clients.size >= 2, [...clients].join(' '));
    const hidden = join(dir, 'hidden.html');
    assert.equal(cli(['report', file, '-o', hidden]).status, 0);
    const html = readFileSync(hidden, 'utf8');
    for (const a of clients) assert.ok(!html.includes(`>${a}<`) && !html.includes(`"${a}"`), `${a} is in the report`);
    assert.match(html, /device-1/);
    const shown = join(dir, 'shown.html');
    assert.equal(cli(['report', file, '-o', shown, '--show-addresses']).status, 0);
    const text = readFileSync(shown, 'utf8');
    assert.ok([...clients].some((a) => text.includes(a)));
    assert.doesNotMatch(text, /device-1/);
  });

  it('a capture given through a pipe is named by its path, not by the descriptor number alone', () => {
    assert.equal(captureLabel('/dev/fd/63'), '/dev/fd/63');
    assert.equal(captureLabel('-'), '<stdin>');
    assert.equal(captureLabel(join(PCAPS, 'rawip-tcp.pcap')), 'rawip-tcp.pcap');
    const out = join(dir, 'piped.html');
    const r = spawnSync('bash', ['-c', `"${process.execPath}" --import tsx src/cli/run.ts report <(cat "${join(PCAPS, 'rawip-tcp.pcap')}") -o "${out}"`], { cwd: ROOT, encoding: 'utf8' });
    assert.equal(r.status, 0, r.stderr);
    assert.match(readFileSync(out, 'utf8'), /\/dev\/fd\/\d+/);
  });
});
