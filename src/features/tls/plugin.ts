import { X509Certificate } from 'node:crypto';
import { type DecodedPacket, IPPROTO, TcpFlag } from '../../decode/packet.js';
import type { Direction, Flow, FlowPlugin } from '../../flow/flow.js';
import { type CellValue, columnIndex, defineColumns } from '../../flow/schema.js';
import { ja3, ja3s, ja4 } from './fingerprint.js';
import { type ClientHello, type ServerHello, clientKeyExchangeLength, isGrease, parseCertificateList, parseClientHello, parseServerHello } from './hello.js';
import { CryptoStream, type InitialKeys, cryptoFrames, initialKeys, initialSecret, keysFrom, openInitials, quicVersion } from './quic.js';
import type { HmacKey } from './sha256.js';
import { type HandshakeSink, TlsStream } from './stream.js';

/** Client and server packets of a UDP flow looked at for QUIC Initials before giving up. */
const QUIC_PACKETS_LOOKED_AT = 24;

/** What a QUIC flow's Initial packets need: keys pinned to the client's original DCID, and both CRYPTO streams. */
class QuicState {
  version = 0;
  client: InitialKeys | undefined;
  server: InitialKeys | undefined;
  /** The client's first Initial DCID, which both directions' keys come from. */
  originalDcid: Uint8Array | undefined;
  /** The initial secret of originalDcid under the client's version (the server's keys come from it too). */
  initial: HmacKey | undefined;
  initialVersion = 0;
  readonly crypto: [CryptoStream, CryptoStream] = [new CryptoStream(), new CryptoStream()];
  seen = 0;
}

const HS_CLIENT_HELLO = 1;
const HS_SERVER_HELLO = 2;
const HS_CERTIFICATE = 11;
const HS_CLIENT_KEY_EXCHANGE = 16;

interface Cert {
  subject: string;
  issuer: string;
  san: string;
}

/**
 * Certificates already read, by their exact DER bytes (as a latin1 string: exact, no hash to collide). A server's
 * certificate repeats on every connection to it, and OpenSSL's parse behind X509Certificate costs about 160 µs a
 * certificate: 22 % of all time on a capture with a certificate per TLS 1.2 connection. Zeek caches its X.509
 * results by certificate for the same reason. Bounded: at CERT_CACHE_ENTRIES it starts again empty, so it holds at
 * most that many certificates of at most MAX_STREAM_BYTES each (in practice 1-2 KiB: about 2 MiB).
 */
const CERT_CACHE_ENTRIES = 1024;
const certCache = new Map<string, Cert | null>();

function describeCertificate(der: Uint8Array): Cert | undefined {
  const key = Buffer.from(der.buffer, der.byteOffset, der.byteLength).toString('latin1');
  let cert = certCache.get(key);
  if (cert === undefined) {
    try {
      const x = new X509Certificate(der);
      cert = { subject: x.subject.replace(/\n/g, ', '), issuer: x.issuer.replace(/\n/g, ', '), san: x.subjectAltName ?? '' };
    } catch {
      cert = null;
    }
    if (certCache.size >= CERT_CACHE_ENTRIES) certCache.clear();
    certCache.set(key, cert);
  }
  return cert ?? undefined;
}

/** Stands in for a direction whose stream is done, so the stream's buffers and bookkeeping die young. */
const FINISHED = new TlsStream();
FINISHED.finish();

class TlsState implements HandshakeSink {
  /** Per direction, made at its first segment (most flows of a busy link never carry a byte one way). */
  readonly streams: [TlsStream | undefined, TlsStream | undefined] = [undefined, undefined];
  /** "http-connect" or "non-tls-prefix" from the client stream, kept when the stream is let go. */
  preamble: string | undefined;
  udp = false;
  /** UDP packets looked at for a QUIC long header before a QuicState is made. */
  udpSeen = 0;
  quic: QuicState | undefined;
  client: ClientHello | undefined;
  clientHellos = 0;
  server: ServerHello | undefined;
  cert: Cert | undefined;
  ckeLength = -1;
  error: string | undefined;

  handshake(dir: Direction, type: number, b: Uint8Array, start: number, end: number): void {
    handle(this, dir, type, b, start, end);
  }
}

const COLUMNS = defineColumns([
  { name: 'tls_sni', type: 'string', unit: '', identifier: true, description: 'ClientHello server_name (host_name), lower case; empty without one.' },
  { name: 'tls_alpn', type: 'string', unit: '', description: 'ALPN protocols the client offered, in order, comma-separated; null without an ALPN extension (or without a ClientHello).' },
  { name: 'tls_client_version', type: 'int', unit: '', description: 'ClientHello legacy_version (0x0303 = 771 for TLS 1.2 and 1.3); null without a ClientHello.' },
  { name: 'tls_supported_versions', type: 'int[]', unit: '', description: 'supported_versions the client offered, in order, GREASE included.' },
  { name: 'tls_version', type: 'int', unit: '', description: 'Negotiated version: the ServerHello supported_versions value (TLS 1.3), else its legacy_version; null without a ServerHello.' },
  { name: 'tls_cipher_suites', type: 'int[]', unit: '', description: 'Cipher suites the client offered, in order, GREASE included.' },
  { name: 'tls_cipher', type: 'int', unit: '', description: 'Cipher suite the server chose; null without a ServerHello.' },
  { name: 'tls_extensions', type: 'int[]', unit: '', description: 'ClientHello extension types in order, GREASE included.' },
  { name: 'tls_supported_groups', type: 'int[]', unit: '', description: 'supported_groups (named curves) the client offered, in order.' },
  { name: 'tls_key_share_groups', type: 'int[]', unit: '', description: 'Groups of the ClientHello key_share entries, in order.' },
  { name: 'tls_key_share_lengths', type: 'int[]', unit: 'bytes', description: 'key_exchange length of each key_share entry, in the same order (32 X25519, 65 P-256, 1216 X25519Kyber768 / X25519MLKEM768 hybrids, 1 for GREASE).' },
  {
    name: 'tls_client_key_length_bytes',
    type: 'int',
    unit: 'bytes',
    description:
      "The client public-key length. TLS 1.3: the key_exchange length of the key_share entry for the group the server chose, or, before a ServerHello is seen, of the first non-GREASE entry. TLS <= 1.2: the length of the public value (or RSA-encrypted secret) in ClientKeyExchange. Null when neither was seen.",
  },
  { name: 'tls_signature_algorithms', type: 'int[]', unit: '', description: 'signature_algorithms the client offered, in order.' },
  { name: 'tls_grease', type: 'bool', unit: '', description: 'The ClientHello carries GREASE values (RFC 8701) in ciphers, extensions, groups or versions.' },
  { name: 'tls_server_extensions', type: 'int[]', unit: '', description: 'ServerHello extension types in order.' },
  { name: 'tls_server_alpn', type: 'string', unit: '', description: 'ALPN protocol the server chose (visible in TLS <= 1.2 only; TLS 1.3 encrypts it).' },
  { name: 'tls_client_hellos', type: 'int', unit: '', description: 'ClientHellos seen (2 after a HelloRetryRequest); the first one is described.' },
  { name: 'quic_version', type: 'int', unit: '', description: 'QUIC version of a flow whose Initial packets were decrypted (1 = v1, 1798521807 = v2); null otherwise. The tls_* columns then describe the TLS handshake inside QUIC.' },
  { name: 'tls_preamble', type: 'string', unit: '', description: '"http-connect" when an HTTP CONNECT to a proxy preceded the handshake.' },
  { name: 'ja3', type: 'string', unit: '', description: 'JA3 string: legacy version, ciphers, extensions, groups, point formats (decimal, GREASE removed).' },
  { name: 'ja3_hash', type: 'string', unit: '', description: 'MD5 of ja3 (tshark tls.handshake.ja3).' },
  { name: 'ja3s', type: 'string', unit: '', description: 'JA3S string of the ServerHello: version, cipher, extensions.' },
  { name: 'ja3s_hash', type: 'string', unit: '', description: 'MD5 of ja3s.' },
  { name: 'ja4', type: 'string', unit: '', description: 'JA4 client fingerprint exactly as FoxIO technical_details/JA4.md words it (see src/features/tls/hello.ts for the two points where FoxIO\'s own code differs).' },
  { name: 'tls_cert_subject', type: 'string', unit: '', identifier: true, description: "Subject of the server's certificate when it is sent in the clear (TLS <= 1.2)." },
  { name: 'tls_cert_issuer', type: 'string', unit: '', description: "Issuer of the server's certificate (TLS <= 1.2)." },
  { name: 'tls_cert_san', type: 'string', unit: '', identifier: true, description: "subjectAltName of the server's certificate (TLS <= 1.2), as node:crypto formats it." },
  { name: 'tls_error', type: 'string', unit: '', description: 'Why a handshake message could not be parsed (a cut or inconsistent message); empty when fine.' },
]);
const C = columnIndex(COLUMNS);

/** One handshake message, body b[start, end) (the bytes may be the packet's: nothing here keeps a view of them). */
function handle(s: TlsState, dir: Direction, type: number, b: Uint8Array, start: number, end: number): void {
  if (dir === 0 && type === HS_CLIENT_HELLO) {
    s.clientHellos++;
    if (s.client !== undefined) return;
    const r = parseClientHello(b, start, end);
    if (r.ok) s.client = r.value;
    else s.error ??= r.error;
  } else if (dir === 1 && type === HS_SERVER_HELLO && s.server === undefined) {
    const r = parseServerHello(b, start, end);
    if (r.ok) s.server = r.value;
    else s.error ??= r.error;
  } else if (dir === 1 && type === HS_CERTIFICATE && s.cert === undefined) {
    const r = parseCertificateList(b, start, end);
    if (!r.ok) s.error ??= r.error;
    else if (r.value.length > 0) {
      const cert = describeCertificate(r.value[0]);
      if (cert) s.cert = cert;
      else s.error ??= 'server certificate is not valid DER';
    }
  } else if (dir === 0 && type === HS_CLIENT_KEY_EXCHANGE && s.ckeLength < 0) {
    s.ckeLength = clientKeyExchangeLength(b, start, end);
  }
}

/** Whether the QUIC handshake has been read, or looked for long enough. */
function quicSettled(q: QuicState): boolean {
  return q.seen >= QUIC_PACKETS_LOOKED_AT || (q.crypto[0].done && q.crypto[1].done);
}

/** Feed one QUIC packet; true when nothing more is to be read from this flow. */
function quicUpdate(s: TlsState, q: QuicState, p: DecodedPacket, dir: Direction): boolean {
  if (quicSettled(q)) return true;
  q.seen++;
  const end = Math.min(p.payloadOffset + p.payloadLen, p.capturedEnd);
  if (quicVersion(p.data, p.payloadOffset, end) === 0) return quicSettled(q);
  // This direction's first handshake message is read: its later packets (ACKs, padding) need no decryption.
  if (q.crypto[dir].done) return quicSettled(q);
  // Keys come from the client's first Initial DCID; a capture that missed it falls back to each packet's own DCID.
  const pinned = (version: number, dcid: Uint8Array): InitialKeys | undefined => {
    if (q.client === undefined && dir === 0) {
      q.initial = initialSecret(version, dcid);
      q.initialVersion = version;
      q.client = q.initial && keysFrom(q.initial, version, 'client');
      q.originalDcid = Uint8Array.from(dcid);
    }
    // The server's keys only when a server Initial comes (many captures hold only the client's side); from the
    // same initial secret unless the server answers in another version (compatible version negotiation).
    if (dir === 1 && q.server === undefined && q.originalDcid !== undefined) {
      q.server = q.initial !== undefined && version === q.initialVersion ? keysFrom(q.initial, version, 'server') : initialKeys(version, q.originalDcid, 'server');
    }
    return dir === 0 ? q.client : q.server;
  };
  let packets = openInitials(p.data, p.payloadOffset, end, pinned);
  if (packets.length === 0 && dir === 0) packets = openInitials(p.data, p.payloadOffset, end, (v, dcid) => initialKeys(v, dcid, 'client'));
  for (const pkt of packets) {
    q.version = pkt.version;
    const cs = q.crypto[dir];
    for (const f of cryptoFrames(pkt.payload)) cs.add(f.offset, f.data);
    const m = cs.firstMessage();
    if (m !== undefined) handle(s, dir, m.type, m.body, 0, m.body.length);
  }
  if (!quicSettled(q)) return false;
  // Nothing more is read: the keys and their header-protection ciphers (native contexts) go now, not at the flow's end.
  q.client = undefined;
  q.server = undefined;
  q.initial = undefined;
  return true;
}

function clientKeyLength(s: TlsState): number {
  const ch = s.client;
  if (ch !== undefined && ch.keyShareGroups.length > 0) {
    const chosen = s.server?.keyShareGroup ?? 0;
    let i = chosen !== 0 ? ch.keyShareGroups.indexOf(chosen) : -1;
    if (i < 0) i = ch.keyShareGroups.findIndex((g) => !isGrease(g));
    if (i >= 0) return ch.keyShareLengths[i];
  }
  return s.ckeLength;
}

/**
 * TLS over TCP: the start of each direction is reassembled by sequence number (up to 64 KiB), records are joined
 * into handshake messages, and the ClientHello, ServerHello, server Certificate and ClientKeyExchange are read.
 * A proxy's HTTP CONNECT exchange before the handshake is skipped.
 */
export const tlsPlugin: FlowPlugin<TlsState | null> = {
  name: 'tls',
  // The state object; its streams and their buffers are charged as they are made and grow (Flow.heldBytes).
  flowBytes: 370,
  columns: COLUMNS,
  init(flow: Flow): TlsState | null {
    if (flow.proto === IPPROTO.TCP) return new TlsState();
    if (flow.proto === IPPROTO.UDP) {
      const s = new TlsState();
      s.udp = true;
      return s;
    }
    return null;
  },
  update(s: TlsState | null, flow: Flow, p: DecodedPacket, dir: Direction): boolean {
    if (s === null) return true;
    if (s.udp) {
      if (s.quic === undefined) {
        // QUIC state (two CRYPTO streams) only once a long header shows up in the first packets.
        if (s.udpSeen >= QUIC_PACKETS_LOOKED_AT) return true;
        s.udpSeen++;
        if (quicVersion(p.data, p.payloadOffset, Math.min(p.payloadOffset + p.payloadLen, p.capturedEnd)) === 0) return s.udpSeen >= QUIC_PACKETS_LOOKED_AT;
        s.quic = new QuicState();
      }
      const q = s.quic;
      const held = q.crypto[0].held + q.crypto[1].held;
      const settled = quicUpdate(s, q, p, dir);
      flow.heldBytes += q.crypto[0].held + q.crypto[1].held - held;
      return settled;
    }
    let st = s.streams[dir];
    if (st === undefined) {
      st = s.streams[dir] = new TlsStream(flow.sPort, dir);
      flow.heldBytes += st.heldBytes;
    }
    if (!st.done) {
      if (p.tcpFlags & TcpFlag.SYN) {
        st.setInitialSeq(p.tcpSeq + 1);
        return false;
      }
      const end = Math.min(p.payloadOffset + p.payloadLen, p.capturedEnd);
      if (end <= p.payloadOffset) return false;
      const held = st.heldBytes;
      st.add(p.tcpSeq, p.data, p.payloadOffset, end, s);
      if (!st.done) {
        flow.heldBytes += st.heldBytes - held;
        return false;
      }
      // Done: the stream and its buffers go (FINISHED stands in).
      flow.heldBytes -= held;
      if (dir === 0) s.preamble = st.preamble;
      s.streams[dir] = FINISHED;
    }
    // Settled once both directions are read (or given up on).
    return s.streams[0]?.done === true && s.streams[1]?.done === true;
  },
  write(s: TlsState | null, _flow: Flow, row: CellValue[], at: number): void {
    const ch = s?.client;
    const sh = s?.server;
    const j3 = ch ? ja3(ch) : undefined;
    const j3s = sh ? ja3s(sh) : undefined;
    row[at + C.tls_sni] = ch?.sni ?? null;
    row[at + C.tls_alpn] = ch && ch.alpn.length > 0 ? ch.alpn.join(',') : null;
    row[at + C.tls_client_version] = ch?.legacyVersion ?? null;
    row[at + C.tls_supported_versions] = ch?.supportedVersions ?? null;
    row[at + C.tls_version] = sh ? sh.selectedVersion || sh.legacyVersion : null;
    row[at + C.tls_cipher_suites] = ch?.ciphers ?? null;
    row[at + C.tls_cipher] = sh?.cipher ?? null;
    row[at + C.tls_extensions] = ch?.extensions ?? null;
    row[at + C.tls_supported_groups] = ch?.supportedGroups ?? null;
    row[at + C.tls_key_share_groups] = ch?.keyShareGroups ?? null;
    row[at + C.tls_key_share_lengths] = ch?.keyShareLengths ?? null;
    const keyLength = s ? clientKeyLength(s) : -1;
    row[at + C.tls_client_key_length_bytes] = keyLength < 0 ? null : keyLength;
    row[at + C.tls_signature_algorithms] = ch?.signatureAlgorithms ?? null;
    row[at + C.tls_grease] = ch ? ch.grease : null;
    row[at + C.tls_server_extensions] = sh?.extensions ?? null;
    row[at + C.tls_server_alpn] = sh?.alpn ?? null;
    row[at + C.tls_client_hellos] = s?.clientHellos ?? 0;
    row[at + C.quic_version] = s?.quic?.version || null;
    row[at + C.tls_preamble] = (s?.streams[0] === FINISHED ? s.preamble : s?.streams[0]?.preamble) ?? null;
    row[at + C.ja3] = j3?.full ?? null;
    row[at + C.ja3_hash] = j3?.hash ?? null;
    row[at + C.ja3s] = j3s?.full ?? null;
    row[at + C.ja3s_hash] = j3s?.hash ?? null;
    row[at + C.ja4] = ch ? ja4(ch, s?.quic?.version ? 'q' : 't') : null;
    row[at + C.tls_cert_subject] = s?.cert?.subject ?? null;
    row[at + C.tls_cert_issuer] = s?.cert?.issuer ?? null;
    row[at + C.tls_cert_san] = s?.cert?.san || null;
    row[at + C.tls_error] = s?.error ?? null;
  },
};
