import { type Cipher, createCipheriv, createDecipheriv } from 'node:crypto';
import { type HmacKey, hmacKey, hmacWith } from './sha256.js';

/**
 * QUIC Initial packets (RFC 9000 / RFC 9001 for v1, RFC 9369 for v2): keys derived from the client's original
 * Destination Connection ID, header protection removed, payload decrypted with AES-128-GCM, CRYPTO frames
 * collected in order. Everything an on-path observer can read: the TLS ClientHello and ServerHello.
 * Every length is checked; a packet that does not parse or authenticate is skipped, never thrown on.
 */

export const QUIC_V1 = 0x00000001;
export const QUIC_V2 = 0x6b3343cf;

/** The Initial salts, as HMAC keys prepared once (HKDF-Extract of every connection starts from one of them). */
const SALT: Record<number, HmacKey> = {
  [QUIC_V1]: hmacKey(Buffer.from('38762cf7f55934b34d179ae6a4c80cadccbb7f0a', 'hex')),
  [QUIC_V2]: hmacKey(Buffer.from('0dede3def700a6db819381be6e269dcbf9bd2ed9', 'hex')),
};

/** HKDF-Expand-Label (RFC 8446 7.1) for outputs of at most one SHA-256 block. */
const infos = new Map<string, Buffer>();
function expandLabel(secret: HmacKey, label: string, length: number): Uint8Array {
  // HkdfLabel (length, "tls13 " + label, empty context) and the counter byte 1: a constant per label.
  let info = infos.get(label);
  if (info === undefined) {
    const full = Buffer.from(`tls13 ${label}`, 'latin1');
    info = Buffer.concat([Buffer.from([length >> 8, length & 255, full.length]), full, Buffer.from([0, 1])]);
    infos.set(label, info);
  }
  // A view, not a Buffer: making a Buffer costs about ten times a typed-array view (a QUIC flow made about fifteen).
  return hmacWith(secret, info).subarray(0, length);
}

export interface InitialKeys {
  key: Uint8Array;
  iv: Uint8Array;
  hp: Uint8Array;
  /**
   * The header-protection cipher (AES-128-ECB under `hp`), made at the first packet and kept: ECB encrypts each
   * 16-byte sample on its own, so one cipher serves every packet of the connection, and making one per packet was
   * most of the cost of removing header protection.
   */
  hpCipher?: Cipher;
}

/**
 * The initial secret (HKDF-Extract of the original DCID under the version's salt) as an HMAC key, which both
 * sides' keys are expanded from: a connection whose server Initials are read derives it once, not twice.
 */
export function initialSecret(version: number, dcid: Uint8Array): HmacKey | undefined {
  const salt = SALT[version];
  return salt === undefined ? undefined : hmacKey(hmacWith(salt, dcid));
}

/** Client ("client in") or server ("server in") Initial keys from the initial secret of `version`. */
export function keysFrom(initial: HmacKey, version: number, side: 'client' | 'server'): InitialKeys {
  // Three labels under one secret: its pad blocks are compressed once (hmacKey), not three times.
  const secret = hmacKey(expandLabel(initial, side === 'client' ? 'client in' : 'server in', 32));
  const v2 = version === QUIC_V2;
  return { key: expandLabel(secret, v2 ? 'quicv2 key' : 'quic key', 16), iv: expandLabel(secret, v2 ? 'quicv2 iv' : 'quic iv', 12), hp: expandLabel(secret, v2 ? 'quicv2 hp' : 'quic hp', 16) };
}

/** Client or server Initial keys for a version and original DCID. */
export function initialKeys(version: number, dcid: Uint8Array, side: 'client' | 'server'): InitialKeys | undefined {
  const initial = initialSecret(version, dcid);
  return initial === undefined ? undefined : keysFrom(initial, version, side);
}

function varint(b: Uint8Array, p: number, end: number): [number, number] | undefined {
  if (p >= end) return undefined;
  const len = 1 << (b[p] >> 6);
  if (p + len > end) return undefined;
  let v = b[p] & 0x3f;
  for (let i = 1; i < len; i++) v = v * 256 + b[p + i];
  return [v, p + len];
}

export interface InitialPacket {
  version: number;
  dcid: Uint8Array;
  /** Decrypted frames. */
  payload: Uint8Array;
}

/** Is this UDP payload a QUIC long-header packet of a version we can read? */
export function quicVersion(b: Uint8Array, start: number, end: number): number {
  if (end - start < 7 || (b[start] & 0x80) === 0) return 0;
  const v = ((b[start + 1] << 24) | (b[start + 2] << 16) | (b[start + 3] << 8) | b[start + 4]) >>> 0;
  return v === QUIC_V1 || v === QUIC_V2 ? v : 0;
}

/**
 * Decrypt the Initial packets in one UDP datagram (coalesced packets are walked by their Length fields).
 * `keysFor` supplies keys given the version and the packet's DCID (callers pin the client's original DCID).
 */
export function openInitials(b: Uint8Array, start: number, end: number, keysFor: (version: number, dcid: Uint8Array) => InitialKeys | undefined): InitialPacket[] {
  const out: InitialPacket[] = [];
  let p = start;
  while (p < end) {
    const version = quicVersion(b, p, end);
    if (version === 0) break;
    const first = b[p];
    const type = (first & 0x30) >> 4;
    const isInitial = version === QUIC_V2 ? type === 1 : type === 0;
    let q = p + 5;
    const dcidLen = b[q++];
    if (dcidLen > 20 || q + dcidLen >= end) break;
    const dcid = b.subarray(q, q + dcidLen);
    q += dcidLen;
    const scidLen = b[q++];
    if (scidLen > 20 || q + scidLen > end) break;
    q += scidLen;
    if (isInitial) {
      const tok = varint(b, q, end);
      if (tok === undefined || tok[1] + tok[0] > end) break;
      q = tok[1] + tok[0];
    } else if (type === 3 && version === QUIC_V1) break; // Retry has no Length field
    const lenv = varint(b, q, end);
    if (lenv === undefined) break;
    const [length, pnOffset] = lenv;
    const packetEnd = pnOffset + length;
    if (packetEnd > end || length < 20) break;
    if (isInitial) {
      const keys = keysFor(version, dcid);
      const pkt = keys && decrypt(b, p, pnOffset, packetEnd, keys);
      if (pkt !== undefined) out.push({ version, dcid: Uint8Array.from(dcid), payload: pkt });
    }
    p = packetEnd;
  }
  return out;
}

/** The header with protection removed (grown for long tokens) and the nonce, reused: both are read at once. */
let headerScratch = new Uint8Array(256);
const nonceScratch = new Uint8Array(12);

function decrypt(b: Uint8Array, start: number, pnOffset: number, end: number, keys: InitialKeys): Uint8Array | undefined {
  // Header protection: a 16-byte sample 4 bytes after the packet number's start.
  const sampleAt = pnOffset + 4;
  if (sampleAt + 16 > end) return undefined;
  keys.hpCipher ??= createCipheriv('aes-128-ecb', keys.hp, null);
  const mask = keys.hpCipher.update(b.subarray(sampleAt, sampleAt + 16));
  // A copy: the packet's own bytes stay as captured.
  const headerLen = pnOffset + 4 - start;
  if (headerScratch.length < headerLen) headerScratch = new Uint8Array(Math.max(headerLen, 2 * headerScratch.length));
  const header = headerScratch;
  header.set(b.subarray(start, pnOffset + 4));
  header[0] ^= mask[0] & 0x0f;
  const pnLen = (header[0] & 0x03) + 1;
  let pn = 0;
  for (let i = 0; i < pnLen; i++) {
    header[pnOffset - start + i] ^= mask[1 + i];
    pn = pn * 256 + header[pnOffset - start + i];
  }
  const aad = header.subarray(0, pnOffset - start + pnLen);
  const nonce = nonceScratch;
  nonce.set(keys.iv);
  for (let i = 0; i < 4; i++) nonce[11 - i] ^= (pn >>> (8 * i)) & 0xff;
  const body = b.subarray(pnOffset + pnLen, end);
  if (body.length < 16) return undefined;
  try {
    const gcm = createDecipheriv('aes-128-gcm', keys.key, nonce);
    gcm.setAAD(aad);
    gcm.setAuthTag(body.subarray(body.length - 16));
    const plain = gcm.update(body.subarray(0, body.length - 16));
    gcm.final(); // GCM gives nothing more here; it throws when the tag does not match
    return plain;
  } catch {
    return undefined; // wrong keys or a damaged packet: it does not authenticate
  }
}

/** CRYPTO frame data (offset, bytes) of a decrypted Initial payload; stops at the first frame it does not know. */
export function cryptoFrames(payload: Uint8Array): Array<{ offset: number; data: Uint8Array }> {
  const out: Array<{ offset: number; data: Uint8Array }> = [];
  let p = 0;
  const end = payload.length;
  while (p < end) {
    const t = payload[p];
    if (t === 0x00 || t === 0x01) {
      p++; // PADDING, PING
      continue;
    }
    if (t === 0x02 || t === 0x03) {
      // ACK: largest, delay, range count, first range, ranges (+ ECN counts for 0x03)
      let q: [number, number] | undefined = [0, p + 1];
      const fields: number[] = [];
      for (let i = 0; i < 4 && q; i++) {
        q = varint(payload, q[1], end);
        if (q) fields.push(q[0]);
      }
      if (!q) return out;
      let r = q[1];
      for (let i = 0; i < fields[2] * 2; i++) {
        const v = varint(payload, r, end);
        if (!v) return out;
        r = v[1];
      }
      if (t === 0x03) {
        for (let i = 0; i < 3; i++) {
          const v = varint(payload, r, end);
          if (!v) return out;
          r = v[1];
        }
      }
      p = r;
      continue;
    }
    if (t === 0x06) {
      const off = varint(payload, p + 1, end);
      const len = off && varint(payload, off[1], end);
      if (!off || !len || len[1] + len[0] > end) return out;
      out.push({ offset: off[0], data: payload.subarray(len[1], len[1] + len[0]) });
      p = len[1] + len[0];
      continue;
    }
    return out; // CONNECTION_CLOSE or anything else ends what we need
  }
  return out;
}

/** Heap bytes of a held CRYPTO piece beyond its data (the object, the Uint8Array and its store). */
const PIECE_OVERHEAD_BYTES = 160;

/** CRYPTO stream bytes of one direction put in order; returns the first handshake message once it is complete. */
export class CryptoStream {
  private buf = new Uint8Array(0);
  private pieces: Array<{ offset: number; data: Uint8Array }> = [];
  done = false;
  /** Bytes held (pieces with their overhead, the assembly buffer), for the memory budget. */
  held = 0;

  add(offset: number, data: Uint8Array): void {
    if (this.done || offset > 65536 || this.pieces.length > 256) return;
    this.pieces.push({ offset, data: Uint8Array.from(data) });
    this.held += data.length + PIECE_OVERHEAD_BYTES;
  }

  /** The first complete handshake message (type and body), assembled from the pieces so far. */
  firstMessage(): { type: number; body: Uint8Array } | undefined {
    const sorted = [...this.pieces].sort((a, b) => a.offset - b.offset);
    let have = 0;
    for (const pc of sorted) {
      if (pc.offset > have) break;
      have = Math.max(have, pc.offset + pc.data.length);
    }
    if (have < 4) return undefined;
    if (this.buf.length < have) {
      this.held += have - this.buf.length;
      this.buf = new Uint8Array(have);
    }
    for (const pc of sorted) if (pc.offset < have) this.buf.set(pc.data.subarray(0, Math.max(0, Math.min(pc.data.length, have - pc.offset))), pc.offset);
    const len = (this.buf[1] << 16) | (this.buf[2] << 8) | this.buf[3];
    if (have < 4 + len) return undefined;
    this.done = true;
    const body = this.buf.slice(4, 4 + len);
    const type = this.buf[0];
    // Read: let go of the pieces and the buffer.
    this.pieces = [];
    this.buf = new Uint8Array(0);
    this.held = 0;
    return { type, body };
  }
}
