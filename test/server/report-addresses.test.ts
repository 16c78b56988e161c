import assert from 'node:assert/strict';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { cli } from '../helpers/cli.js';
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
});
