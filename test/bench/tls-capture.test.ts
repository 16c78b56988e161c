import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { generateTls } from '../../bench/flows/generate-tls.js';
import { NO_TIMEOUTS, flowsOf } from '../helpers/flows.js';
import { haveTshark, tshark } from '../helpers/tshark.js';

/**
 * The handshake-rich bench capture is what the feature-cost benchmark stands on, so its bytes are held to tshark:
 * no malformed packet or expert error with every checksum checked, and per flow the SNI (TLS and QUIC), the
 * certificate's names and the DNS questions and answers tshark reads are the ones the generator meant and the
 * ones `flows` reports. Every client port is used by one flow only, so flows are matched by it.
 */
describe('generated TLS/QUIC/DNS bench capture', { skip: !haveTshark() && 'tshark not installed' }, () => {
  const dir = mkdtempSync(join(tmpdir(), 'cs-tlsgen-'));
  after(() => rmSync(dir, { recursive: true, force: true }));
  const file = join(dir, 'tls.pcap');
  const g = generateTls(file, 400, 60, { seed: 11 });
  const portOf = (ep: string) => Number(ep.slice(ep.lastIndexOf(':') + 1));
  const truthByPort = new Map(g.truth.map((t) => [portOf(t.client), t]));
  const fields = (filter: string, f: string[], extra: string[] = []) =>
    tshark([...extra, '-r', file, '-Y', filter, '-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=,', '-E', 'occurrence=a', ...f.flatMap((x) => ['-e', x])])
      .split('\n')
      .filter(Boolean)
      .map((l) => l.split('|'));

  it('has the mix it claims: TLS 1.3 and 1.2, QUIC, DNS, HTTP, IPv6', () => {
    const kinds = new Map<string, number>();
    for (const t of g.truth) kinds.set(t.kind, (kinds.get(t.kind) ?? 0) + 1);
    for (const k of ['tls13', 'tls12', 'quic', 'dns', 'http']) assert.ok((kinds.get(k) ?? 0) >= 20, `${k}: ${kinds.get(k)}`);
    assert.ok(g.truth.filter((t) => t.client.includes(':') && t.client.split(':').length > 2).length >= 20, 'IPv6 flows');
  });

  it('tshark finds no malformed packet and no expert error, checksums checked', () => {
    const checks = ['-o', 'ip.check_checksum:TRUE', '-o', 'tcp.check_checksum:TRUE', '-o', 'udp.check_checksum:TRUE'];
    const bad = fields('_ws.malformed || _ws.expert.severity == error || ip.checksum.status == 0 || tcp.checksum.status == 0 || udp.checksum.status == 0', ['frame.number'], checks);
    assert.deepEqual(bad, []);
    assert.equal(Number(tshark(['-r', file, '-T', 'fields', '-e', 'frame.number']).trim().split('\n').length), g.packets);
  });

  it('every ClientHello (TCP and QUIC) names the server the generator meant, and flows reports it and its JA3', async () => {
    const { rows } = await flowsOf(file, { flow: NO_TIMEOUTS });
    assert.equal(rows.length, g.flows);
    const byPort = new Map(rows.map((r) => [Number(r.client_port), r]));
    const hellos = fields('tls.handshake.type == 1', ['tcp.srcport', 'udp.srcport', 'tls.handshake.extensions_server_name', 'tls.handshake.extensions_key_share_key_exchange_length', 'tls.handshake.ja3']);
    const seen = new Set<number>();
    for (const [tp, up, sni, keyLens, ja3] of hellos) {
      const port = Number(tp || up);
      if (seen.has(port)) continue; // a QUIC hello in two Initials is one hello
      seen.add(port);
      const t = truthByPort.get(port);
      assert.ok(t, `no flow of port ${port}`);
      assert.equal(sni, t.sni);
      const r = byPort.get(port)!;
      assert.equal(r.tls_sni, sni, `port ${port}`);
      assert.equal(((r.tls_key_share_lengths as number[] | null) ?? []).join(','), keyLens, `key shares of port ${port}`);
      assert.equal(r.ja3_hash, ja3, `JA3 of port ${port}`);
    }
    const withHello = g.truth.filter((t) => t.kind === 'tls13' || t.kind === 'tls12' || t.kind === 'quic');
    assert.equal(seen.size, withHello.length, 'a hello per TLS and QUIC flow');
    assert.ok(hellos.some((h) => h[3].includes('1216')), 'some hellos carry the 1,216-byte hybrid key share');
  });

  it('certificates and DNS answers equal tshark', async () => {
    const { rows } = await flowsOf(file, { flow: NO_TIMEOUTS });
    const byPort = new Map(rows.map((r) => [Number(r.client_port), r]));
    const certs = fields('tls.handshake.type == 11', ['tcp.dstport', 'x509ce.dNSName']);
    assert.ok(certs.length >= 20);
    for (const [port, names] of certs) {
      const r = byPort.get(Number(port))!;
      // tshark lists the SANs of every certificate in the chain (only the leaf has them here); the column writes
      // them as OpenSSL prints a subjectAltName.
      assert.equal(r.tls_cert_san, names.split(',').map((n) => `DNS:${n}`).join(', '), `port ${port}`);
    }
    const answers = fields('dns.flags.response == 1', ['udp.dstport', 'dns.qry.name', 'dns.a', 'dns.aaaa', 'dns.cname']);
    assert.ok(answers.length >= 20);
    for (const [port, qname, a, aaaa, cname] of answers) {
      const r = byPort.get(Number(port))!;
      assert.equal(qname, truthByPort.get(Number(port))!.sni);
      assert.equal(r.dns_queries, qname);
      assert.equal(r.dns_answer_addrs ?? '', [a, aaaa].filter(Boolean).join(','), `port ${port}`);
      assert.equal(r.dns_cnames, cname);
    }
  });
});
