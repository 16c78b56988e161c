import { createHash } from 'node:crypto';

/**
 * TLS handshake messages as they appear in the clear: ClientHello, ServerHello, Certificate (TLS <= 1.2) and
 * ClientKeyExchange. The parsers read from a byte view and never trust a length: a length that runs past its
 * container ends the parse with an error value, never an exception out of `parse*`.
 */

/** RFC 8701 GREASE values: both bytes equal and the low nibble 0xA (0x0a0a, 0x1a1a, ... 0xfafa). */
export function isGrease(v: number): boolean {
  return (v & 0x0f0f) === 0x0a0a && v >> 8 === (v & 0xff);
}

export interface ClientHello {
  legacyVersion: number;
  /** Offered cipher suites in order, GREASE included (see `isGrease`). */
  ciphers: number[];
  /** Extension types in order, GREASE included. */
  extensions: number[];
  sni: string | undefined;
  alpn: string[];
  /** The first ALPN value as raw bytes (JA4 needs the bytes, not the decoded text). */
  alpnFirst: Uint8Array | undefined;
  supportedVersions: number[];
  supportedGroups: number[];
  pointFormats: number[];
  keyShareGroups: number[];
  keyShareLengths: number[];
  signatureAlgorithms: number[];
}

export interface ServerHello {
  legacyVersion: number;
  /** supported_versions from the ServerHello (TLS 1.3), else 0. */
  selectedVersion: number;
  cipher: number;
  extensions: number[];
  alpn: string | undefined;
  /** key_share group chosen by a TLS 1.3 server (0 if none). */
  keyShareGroup: number;
}

/** Thrown by Cursor when a read runs past its end, caught at the parser's edge; no stack trace is captured. */
const SHORT = { short: true };

/** A bounds-checked cursor. Reading past `end` throws SHORT, caught by the parse functions. */
class Cursor {
  constructor(
    readonly b: Uint8Array,
    public p: number,
    readonly end: number,
  ) {}
  need(n: number): void {
    if (n < 0 || this.p + n > this.end) throw SHORT;
  }
  u8(): number {
    this.need(1);
    return this.b[this.p++];
  }
  u16(): number {
    this.need(2);
    const v = (this.b[this.p] << 8) | this.b[this.p + 1];
    this.p += 2;
    return v;
  }
  u24(): number {
    this.need(3);
    const v = (this.b[this.p] << 16) | (this.b[this.p + 1] << 8) | this.b[this.p + 2];
    this.p += 3;
    return v;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return v;
  }
  /** A sub-cursor over the next `n` bytes; this cursor moves past them. */
  sub(n: number): Cursor {
    this.need(n);
    const c = new Cursor(this.b, this.p, this.p + n);
    this.p += n;
    return c;
  }
  get left(): number {
    return this.end - this.p;
  }
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** Parse a ClientHello handshake body (after the 4-byte handshake header). */
export function parseClientHello(b: Uint8Array, start = 0, end = b.length): Parsed<ClientHello> {
  try {
    const c = new Cursor(b, start, end);
    const ch: ClientHello = {
      legacyVersion: c.u16(),
      ciphers: [],
      extensions: [],
      sni: undefined,
      alpn: [],
      alpnFirst: undefined,
      supportedVersions: [],
      supportedGroups: [],
      pointFormats: [],
      keyShareGroups: [],
      keyShareLengths: [],
      signatureAlgorithms: [],
    };
    c.bytes(32); // random
    c.bytes(c.u8()); // legacy session id
    const cs = c.sub(c.u16());
    while (cs.left >= 2) ch.ciphers.push(cs.u16());
    c.bytes(c.u8()); // compression methods
    if (c.left < 2) return { ok: true, value: ch }; // no extensions (SSL 3.0 style)
    const exts = c.sub(c.u16());
    while (exts.left >= 4) {
      const type = exts.u16();
      const e = exts.sub(exts.u16());
      ch.extensions.push(type);
      switch (type) {
        case 0: {
          // server_name: list of (type, name); host_name is type 0
          const list = e.sub(e.u16());
          while (list.left >= 3) {
            const nt = list.u8();
            const name = list.bytes(list.u16());
            if (nt === 0 && ch.sni === undefined) ch.sni = latin1.decode(name).toLowerCase();
          }
          break;
        }
        case 16: {
          const list = e.sub(e.u16());
          while (list.left >= 1) {
            const v = list.bytes(list.u8());
            if (ch.alpnFirst === undefined) ch.alpnFirst = v;
            ch.alpn.push(utf8.decode(v));
          }
          break;
        }
        case 43: {
          const list = e.sub(e.u8());
          while (list.left >= 2) ch.supportedVersions.push(list.u16());
          break;
        }
        case 10: {
          const list = e.sub(e.u16());
          while (list.left >= 2) ch.supportedGroups.push(list.u16());
          break;
        }
        case 11: {
          const list = e.sub(e.u8());
          while (list.left >= 1) ch.pointFormats.push(list.u8());
          break;
        }
        case 13: {
          const list = e.sub(e.u16());
          while (list.left >= 2) ch.signatureAlgorithms.push(list.u16());
          break;
        }
        case 40: // key_share's number in TLS 1.3 drafts before -23 (Chrome 63 era)
        case 51: {
          const list = e.sub(e.u16());
          while (list.left >= 4) {
            ch.keyShareGroups.push(list.u16());
            const len = list.u16();
            list.bytes(len);
            ch.keyShareLengths.push(len);
          }
          break;
        }
        default:
          break;
      }
    }
    return { ok: true, value: ch };
  } catch (e) {
    if (e === SHORT) return { ok: false, error: 'ClientHello is cut short or has a length that runs past its container' };
    throw e;
  }
}

/** Parse a ServerHello handshake body. */
export function parseServerHello(b: Uint8Array, start = 0, end = b.length): Parsed<ServerHello> {
  try {
    const c = new Cursor(b, start, end);
    const sh: ServerHello = { legacyVersion: c.u16(), selectedVersion: 0, cipher: 0, extensions: [], alpn: undefined, keyShareGroup: 0 };
    c.bytes(32);
    c.bytes(c.u8());
    sh.cipher = c.u16();
    c.u8(); // compression
    if (c.left >= 2) {
      const exts = c.sub(c.u16());
      while (exts.left >= 4) {
        const type = exts.u16();
        const e = exts.sub(exts.u16());
        sh.extensions.push(type);
        if (type === 43 && e.left >= 2) sh.selectedVersion = e.u16();
        else if (type === 16 && e.left >= 3) {
          const list = e.sub(e.u16());
          sh.alpn = utf8.decode(list.bytes(list.u8()));
        } else if ((type === 51 || type === 40) && e.left >= 2) sh.keyShareGroup = e.u16();
      }
    }
    return { ok: true, value: sh };
  } catch (e) {
    if (e === SHORT) return { ok: false, error: 'ServerHello is cut short or has a length that runs past its container' };
    throw e;
  }
}

/** The DER certificates of a TLS <= 1.2 Certificate message, in order (server's own first). */
export function parseCertificateList(b: Uint8Array, start = 0, end = b.length): Parsed<Uint8Array[]> {
  try {
    const c = new Cursor(b, start, end);
    const list = c.sub(c.u24());
    const out: Uint8Array[] = [];
    while (list.left >= 3) out.push(list.bytes(list.u24()));
    return { ok: true, value: out };
  } catch (e) {
    if (e === SHORT) return { ok: false, error: 'Certificate message is cut short' };
    throw e;
  }
}

/**
 * Length in bytes of the client's public key in a TLS <= 1.2 ClientKeyExchange: for (EC)DHE the public value
 * (1-byte length for ECDHE points, 2-byte for DHE); for RSA the encrypted pre-master secret (2-byte length).
 * Which one applies depends on the cipher suite's key exchange; without it we read the ECDHE form when the first
 * byte is a consistent length, else the 2-byte form, else the whole body.
 */
export function clientKeyExchangeLength(b: Uint8Array, start: number, end: number): number {
  const n = end - start;
  if (n >= 1 && b[start] === n - 1) return n - 1;
  if (n >= 2 && ((b[start] << 8) | b[start + 1]) === n - 2) return n - 2;
  return n;
}

/** 4-digit hex of a 16-bit value, each made once (fingerprints print the same few hundred values all day). */
const HEX4: string[] = new Array<string>(65536);
function hex4(v: number): string {
  return (HEX4[v & 0xffff] ??= (v & 0xffff).toString(16).padStart(4, '0'));
}

/**
 * `xs` without GREASE (and without `skipA`/`skipB`), sorted and printed as comma-joined 4-digit hex. Fixed-width
 * lower-case hex sorts as the numbers do, so a numeric sort of a typed copy replaces sorting strings.
 */
function sortedHex(xs: readonly number[], skipA = -1, skipB = -1): string {
  const a = new Uint16Array(xs.length);
  let n = 0;
  for (const v of xs) if (!isGrease(v) && v !== skipA && v !== skipB) a[n++] = v;
  const sorted = a.subarray(0, n).sort();
  let out = '';
  for (let i = 0; i < n; i++) out += i === 0 ? hex4(sorted[i]) : `,${hex4(sorted[i])}`;
  return out;
}

/**
 * Digests of fingerprint strings, remembered: a capture holds a few client and server stacks, so the same JA3S and
 * JA4 inputs come back on most connections, and node:crypto spends 2-3 µs a call on set-up. Starts again empty
 * at DIGEST_CACHE_ENTRIES (a few hundred KiB at most).
 */
const DIGEST_CACHE_ENTRIES = 4096;
const digests = new Map<string, string>();
function digest(algorithm: 'md5' | 'sha256', s: string): string {
  const key = algorithm === 'md5' ? `m${s}` : `s${s}`;
  let d = digests.get(key);
  if (d === undefined) {
    d = createHash(algorithm).update(s).digest('hex');
    if (digests.size >= DIGEST_CACHE_ENTRIES) digests.clear();
    digests.set(key, d);
  }
  return d;
}

function sha12(s: string): string {
  return digest('sha256', s).slice(0, 12);
}

const JA4_VERSIONS: Record<number, string> = { 0x0304: '13', 0x0303: '12', 0x0302: '11', 0x0301: '10', 0x0300: 's3', 0x0200: 's2', 0x0100: 's1', 0xfeff: 'd1', 0xfefd: 'd2', 0xfefc: 'd3' };

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

/**
 * JA4 exactly as FoxIO's specification (technical_details/JA4.md) words it:
 * - `t`/`q`/`d`; version = highest non-GREASE supported_versions entry, else the legacy version;
 * - `d` when the ClientHello has an SNI extension, `i` when it has none (nDPI instead keys on a numeric host);
 * - 2-digit counts of non-GREASE ciphers and extensions (capped at 99; extensions include SNI and ALPN);
 * - first and last character of the first ALPN value, "00" without one, the one character twice for a
 *   one-character value, and the first hex digit of the first byte and last hex digit of the last byte when either
 *   end is not ASCII alphanumeric (the prose rule; FoxIO's Python and Rust print "99" for non-ASCII instead);
 * - sha256[:12] of the sorted 4-hex-digit ciphers; sha256[:12] of the sorted extensions without SNI (0) and ALPN
 *   (16), then "_" and the signature algorithms in their original order (no "_" when there are none);
 *   "000000000000" for an empty list.
 */
export function ja4(ch: ClientHello, transport: 't' | 'q' | 'd'): string {
  const versions = ch.supportedVersions.filter((v) => !isGrease(v));
  const version = versions.length > 0 ? Math.max(...versions) : ch.legacyVersion;
  const ciphers = ch.ciphers.filter((v) => !isGrease(v));
  const exts = ch.extensions.filter((v) => !isGrease(v));
  const two = (n: number) => String(Math.min(n, 99)).padStart(2, '0');
  let alpn = '00';
  const a = ch.alpnFirst;
  if (a !== undefined && a.length > 0) {
    const first = a[0];
    const last = a[a.length - 1];
    if (isAlnum(first) && isAlnum(last)) alpn = String.fromCharCode(first) + String.fromCharCode(last);
    else alpn = (first >> 4).toString(16) + (last & 0x0f).toString(16);
  }
  const partA = `${transport}${JA4_VERSIONS[version] ?? '00'}${ch.extensions.includes(0) ? 'd' : 'i'}${two(ciphers.length)}${two(exts.length)}${alpn}`;
  const partB = ciphers.length === 0 ? '000000000000' : sha12(sortedHex(ciphers));
  const extList = sortedHex(exts, 0, 16);
  const sigs = ch.signatureAlgorithms.filter((v) => !isGrease(v)).map(hex4).join(',');
  const partC = exts.length === 0 ? '000000000000' : sha12(sigs.length > 0 ? `${extList}_${sigs}` : extList);
  return `${partA}_${partB}_${partC}`;
}

/** JA3 (Salesforce): "version,ciphers,extensions,groups,point formats", decimal, '-'-joined, GREASE removed; and its MD5. */
export function ja3(ch: ClientHello): { full: string; hash: string } {
  const g = (xs: number[]) => xs.filter((v) => !isGrease(v)).join('-');
  const full = `${ch.legacyVersion},${g(ch.ciphers)},${g(ch.extensions)},${g(ch.supportedGroups)},${ch.pointFormats.join('-')}`;
  return { full, hash: digest('md5', full) };
}

/** JA3S: "version,cipher,extensions" of the ServerHello (legacy version), and its MD5. */
export function ja3s(sh: ServerHello): { full: string; hash: string } {
  const full = `${sh.legacyVersion},${sh.cipher},${sh.extensions.filter((v) => !isGrease(v)).join('-')}`;
  return { full, hash: digest('md5', full) };
}
