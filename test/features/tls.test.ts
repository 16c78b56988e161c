import assert from 'node:assert/strict';
import { basename, join } from 'node:path';
import { describe, it } from 'node:test';
import { type FlowRow, NO_TIMEOUTS, flowsOf } from '../helpers/flows.js';
import { PCAPS, haveTshark, sharedPcaps, tshark } from '../helpers/tshark.js';

/**
 * TLS over TCP: SNI, ALPN, versions, cipher suites, key-share lengths, JA3 and JA3S equal
 * tshark's tls.handshake.* fields, flow by flow, on every shared capture with a TLS handshake over TCP.
 */
const hex = (xs: unknown) => (Array.isArray(xs) || xs instanceof Uint16Array ? Array.from(xs as ArrayLike<number>, (v) => `0x${Number(v).toString(16).padStart(4, '0')}`).join(',') : '');

interface Hello {
  stream: string;
  client: string;
  fields: string[];
}

/**
 * Hellos per TCP stream (or per UDP stream carrying QUIC); `client` is the client endpoint (the sender of a
 * ClientHello, the receiver of a ServerHello).
 */
function tsharkHellos(file: string, type: 1 | 2, fields: string[], transport: 'tcp' | 'quic' = 'tcp'): Hello[] {
  const l4 = transport === 'tcp' ? 'tcp' : 'udp';
  const side = type === 1 ? ['ip.src', 'ipv6.src', `${l4}.srcport`] : ['ip.dst', 'ipv6.dst', `${l4}.dstport`];
  const out = tshark(['-r', file, '-Y', `${transport} && tls.handshake.type == ${type}`, '-T', 'fields', '-E', 'separator=|', '-E', 'aggregator=,', '-E', 'occurrence=a', '-e', `${l4}.stream`, ...side.flatMap((f) => ['-e', f]), ...fields.flatMap((f) => ['-e', f])]);
  const seen = new Set<string>();
  const hellos: Hello[] = [];
  for (const line of out.split('\n')) {
    if (!line) continue;
    const [stream, s4, s6, sport, ...rest] = line.split('|');
    if (seen.has(stream)) continue; // we describe the first hello of a connection (HelloRetryRequest sends two)
    seen.add(stream);
    hellos.push({ stream, client: `${s4 || s6}:${sport}`, fields: rest });
  }
  return hellos;
}

const tlsFiles = haveTshark() ? sharedPcaps().filter((f) => tshark(['-r', f, '-Y', 'tcp && tls.handshake.type == 1', '-T', 'fields', '-e', 'frame.number']).trim() !== '') : [];

describe('TLS handshake fields equal tshark', { skip: !haveTshark() && 'tshark not installed' }, () => {
  it('finds the shared captures with TLS over TCP', () => assert.ok(tlsFiles.length >= 12, `${tlsFiles.length} files`));
  for (const file of tlsFiles) {
    it(basename(file), async () => {
      const { rows } = await flowsOf(file, { flow: NO_TIMEOUTS });
      const byClient = (ep: string): FlowRow | undefined => rows.find((r) => r.protocol === 6 && `${r.client_addr}:${r.client_port}` === ep);
      const ch = tsharkHellos(file, 1, [
        'tls.handshake.extensions_server_name',
        'tls.handshake.extensions_alpn_str',
        'tls.handshake.version',
        'tls.handshake.extensions.supported_version',
        'tls.handshake.ciphersuite',
        'tls.handshake.extensions_key_share_key_exchange_length',
        'tls.handshake.ja3_full',
        'tls.handshake.ja3',
      ]);
      assert.ok(ch.length > 0);
      for (const h of ch) {
        const r = byClient(h.client);
        assert.ok(r, `no flow with client ${h.client}`);
        const [sni, alpn, version, supported, ciphers, keyLens, ja3Full, ja3Hash] = h.fields;
        assert.equal(r.tls_sni ?? '', sni.toLowerCase(), 'SNI');
        assert.equal(r.tls_alpn ?? '', alpn, 'ALPN');
        assert.equal(`0x${Number(r.tls_client_version).toString(16).padStart(4, '0')}`, version, 'legacy version');
        assert.equal(hex(r.tls_supported_versions), supported, 'supported_versions');
        assert.equal(hex(r.tls_cipher_suites), ciphers, 'cipher suites');
        assert.equal(((r.tls_key_share_lengths as number[] | null) ?? []).join(','), keyLens, 'key share lengths');
        assert.equal(r.ja3, ja3Full, 'JA3 string');
        assert.equal(r.ja3_hash, ja3Hash, 'JA3 hash');
      }
      const sh = tsharkHellos(file, 2, ['tls.handshake.version', 'tls.handshake.extensions.supported_version', 'tls.handshake.ciphersuite', 'tls.handshake.ja3s']);
      for (const h of sh) {
        const r = byClient(h.client);
        assert.ok(r, `no flow with client ${h.client}`);
        const [version, selected, cipher, ja3sHash] = h.fields;
        assert.equal(`0x${Number(r.tls_version).toString(16).padStart(4, '0')}`, selected || version, 'negotiated version');
        assert.equal(`0x${Number(r.tls_cipher).toString(16).padStart(4, '0')}`, cipher, 'chosen cipher');
        assert.equal(r.ja3s_hash, ja3sHash, 'JA3S');
      }
    });
  }
});

/** QUIC: the ClientHello inside decrypted Initial packets, compared with tshark's own QUIC decryption. */
const quicFiles = haveTshark() ? sharedPcaps().filter((f) => tshark(['-r', f, '-Y', 'quic && tls.handshake.type == 1', '-T', 'fields', '-e', 'frame.number']).trim() !== '') : [];

describe('QUIC Initial ClientHello fields equal tshark', { skip: !haveTshark() && 'tshark not installed' }, () => {
  it('finds the shared captures with QUIC', () => assert.ok(quicFiles.length >= 8, `${quicFiles.length} files`));
  for (const file of quicFiles) {
    it(basename(file), async () => {
      const { rows } = await flowsOf(file, { flow: NO_TIMEOUTS });
      const hellos = tsharkHellos(file, 1, ['tls.handshake.extensions_server_name', 'tls.handshake.extensions_alpn_str', 'tls.handshake.ciphersuite', 'tls.handshake.extensions.supported_version', 'tls.handshake.extensions_key_share_key_exchange_length'], 'quic');
      assert.ok(hellos.length > 0);
      for (const { client, fields } of hellos) {
        const [sni, alpn, ciphers, supported, keyLens] = fields;
        const r = rows.find((x) => x.protocol === 17 && `${x.client_addr}:${x.client_port}` === client && (x.quic_version as number) > 0);
        assert.ok(r, `no decrypted QUIC flow with client ${client}`);
        assert.equal(r.tls_sni ?? '', sni.toLowerCase(), 'SNI');
        assert.equal(r.tls_alpn ?? '', alpn, 'ALPN');
        assert.equal(hex(r.tls_cipher_suites), ciphers, 'cipher suites');
        assert.equal(hex(r.tls_supported_versions), supported, 'supported_versions');
        assert.equal(((r.tls_key_share_lengths as number[] | null) ?? []).join(','), keyLens, 'key share lengths');
        assert.match(r.ja4 as string, /^q13/);
      }
    });
  }
});

describe('TLS details', () => {
  it('JA4 for QUIC equals the published vector in suricata-verify tests/ja4-tls-quic', async () => {
    // OISF/suricata-verify tests/ja4-tls-quic/test.yaml: quic.ja4 q13d0310h3_55b375c5d22e_cd85d2d88918
    const { rows } = await flowsOf(join(PCAPS, 'tls-quic-ipv6-cloudflare.pcap'));
    assert.deepEqual(rows.filter((r) => (r.quic_version as number) > 0).map((r) => r.ja4), ['q13d0310h3_55b375c5d22e_cd85d2d88918']);
  });

  it('QUIC v2 (RFC 9369) Initials are decrypted too', async () => {
    const { rows } = await flowsOf(join(PCAPS, 'quicv2-http3.pcap'));
    const q = rows.find((r) => r.quic_version === 0x6b3343cf);
    assert.ok(q);
    assert.equal(q.tls_alpn, 'h3');
    assert.equal(q.tls_version, 0x0304, 'the server Initial (ServerHello) is decrypted with the server keys');
  });

  it('JA4 equals the published vector for the TLS 1.3 connection in suricata-verify tests/ja4-tls-quic', async () => {
    // OISF/suricata-verify tests/ja4-tls-quic/test.yaml: tls.ja4 t13d1516h2_8daaf6152771_e5627efa2ab1
    const { rows } = await flowsOf(join(PCAPS, 'tls-quic-ipv6-cloudflare.pcap'));
    const tls = rows.filter((r) => r.ja4 !== null && r.protocol === 6);
    assert.deepEqual(tls.map((r) => r.ja4), ['t13d1516h2_8daaf6152771_e5627efa2ab1']);
  });

  it('a ClientHello split over TCP segments is reassembled', async () => {
    const { rows } = await flowsOf(join(PCAPS, 'tls12-clienthello-split-mtu300.pcap'));
    assert.ok(rows.some((r) => r.tls_sni === 'www.google.com'));
  });

  it('the client key length: TLS 1.3 key share of the chosen group, hybrid post-quantum shares', async () => {
    const kyber = (await flowsOf(join(PCAPS, 'tls13-kyber-keyshare-chrome125.pcap'))).rows.find((r) => r.tls_sni === 'lh3.google.com');
    assert.ok(kyber);
    assert.ok((kyber.tls_key_share_lengths as number[]).includes(1216));
    assert.equal(kyber.tls_grease, true);
    const cert = (await flowsOf(join(PCAPS, 'tls12-client-certificate-offers13.pcap'))).rows.find((r) => r.tls_sni === 'certauth.idrix.fr');
    assert.ok(cert);
    assert.equal(cert.tls_version, 0x0303);
    assert.ok(typeof cert.tls_cert_subject === 'string' && cert.tls_cert_subject.length > 0, 'TLS 1.2 certificate is read');
  });
});
