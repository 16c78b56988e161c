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
  ciphers: Uint16Array;
  /** Extension types in order, GREASE included. */
  extensions: Uint16Array;
  sni: string | undefined;
  alpn: string[];
  /** The first ALPN value as raw bytes (JA4 needs the bytes, not the decoded text). */
  alpnFirst: Uint8Array | undefined;
  supportedVersions: Uint16Array;
  supportedGroups: Uint16Array;
  pointFormats: Uint16Array;
  keyShareGroups: Uint16Array;
  keyShareLengths: Uint16Array;
  signatureAlgorithms: Uint16Array;
  /** GREASE values (RFC 8701) in the ciphers, extensions, groups or versions. */
  grease: boolean;
}

export interface ServerHello {
  legacyVersion: number;
  /** supported_versions from the ServerHello (TLS 1.3), else 0. */
  selectedVersion: number;
  cipher: number;
  extensions: Uint16Array;
  alpn: string | undefined;
  /** key_share group chosen by a TLS 1.3 server (0 if none). */
  keyShareGroup: number;
}

/** Thrown by Cursor when a read runs past its end, caught at the parser's edge; no stack trace is captured. */
const SHORT = { short: true };

/**
 * A bounds-checked cursor. Reading past `end` throws SHORT, caught by the parse functions. A length-prefixed
 * part is entered with `open` (the end moves in) and left with `close` (past it, the old end back): one cursor
 * per message, not one per extension.
 */
class Cursor {
  constructor(
    readonly b: Uint8Array,
    public p: number,
    public end: number,
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
  skip(n: number): void {
    this.need(n);
    this.p += n;
  }
  bytes(n: number): Uint8Array {
    this.need(n);
    const v = this.b.subarray(this.p, this.p + n);
    this.p += n;
    return v;
  }
  /** Enter the next `n` bytes: reads stop at their end until `close`. Returns the end to go back to. */
  open(n: number): number {
    this.need(n);
    const outer = this.end;
    this.end = this.p + n;
    return outer;
  }
  /** Leave the part entered by `open`: move past it and restore the outer end. */
  close(outer: number): void {
    this.p = this.end;
    this.end = outer;
  }
  get left(): number {
    return this.end - this.p;
  }
  /** The rest of the open part as 16-bit values (a trailing odd byte is skipped, as a reader by pairs would). */
  u16s(): Uint16Array {
    const n = this.left >> 1;
    const out = new Uint16Array(n);
    const b = this.b;
    for (let i = 0, p = this.p; i < n; i++, p += 2) out[i] = (b[p] << 8) | b[p + 1];
    this.p += 2 * n;
    return out;
  }
}

const latin1 = new TextDecoder('latin1');
const utf8 = new TextDecoder('utf-8');

export type Parsed<T> = { ok: true; value: T } | { ok: false; error: string };

/** One list shared by every hello that lacks the extension (length 0: nothing can write to it). */
const NONE = new Uint16Array(0);

/** `a` then `b` (an extension that appears twice adds to what the first gave, as a reader by pushes would). */
function joined(a: Uint16Array, b: Uint16Array): Uint16Array {
  if (a.length === 0) return b;
  const out = new Uint16Array(a.length + b.length);
  out.set(a);
  out.set(b, a.length);
  return out;
}

function hasGrease(xs: Uint16Array): boolean {
  for (let i = 0; i < xs.length; i++) if (isGrease(xs[i])) return true;
  return false;
}

/**
 * Walk the extensions block `c` is at (its 2-byte length first): `read(type)` is called with `c` inside each
 * extension, and `c` moves past it whatever was read. Returns the extension types in order.
 */
function walkExtensions(c: Cursor, read: (type: number) => void): Uint16Array {
  const outer = c.open(c.u16());
  let n = 0;
  for (let p = c.p; c.end - p >= 4; n++) p += 4 + ((c.b[p + 2] << 8) | c.b[p + 3]);
  const types = new Uint16Array(n);
  let k = 0;
  while (c.left >= 4) {
    const type = c.u16();
    const ext = c.open(c.u16());
    types[k++] = type;
    read(type);
    c.close(ext);
  }
  c.close(outer);
  return types;
}

/**
 * Parse a ClientHello handshake body (after the 4-byte handshake header). Lists come out as Uint16Arrays sized
 * exactly (no array grown by pushes per value, no view per skipped field): a capture has a hello in most flows.
 */
export function parseClientHello(b: Uint8Array, start = 0, end = b.length): Parsed<ClientHello> {
  try {
    const c = new Cursor(b, start, end);
    const ch: ClientHello = {
      legacyVersion: c.u16(),
      ciphers: NONE,
      extensions: NONE,
      sni: undefined,
      alpn: [],
      alpnFirst: undefined,
      supportedVersions: NONE,
      supportedGroups: NONE,
      pointFormats: NONE,
      keyShareGroups: NONE,
      keyShareLengths: NONE,
      signatureAlgorithms: NONE,
      grease: false,
    };
    c.skip(32); // random
    c.skip(c.u8()); // legacy session id
    const ciphers = c.open(c.u16());
    ch.ciphers = c.u16s();
    c.close(ciphers);
    c.skip(c.u8()); // compression methods
    if (c.left >= 2) {
      ch.extensions = walkExtensions(c, (type) => {
        let outer: number;
        switch (type) {
          case 0: {
            // server_name: list of (type, name); host_name is type 0
            outer = c.open(c.u16());
            while (c.left >= 3) {
              const nt = c.u8();
              const len = c.u16();
              c.need(len);
              if (nt === 0 && ch.sni === undefined) ch.sni = latin1.decode(b.subarray(c.p, c.p + len)).toLowerCase();
              c.p += len;
            }
            c.close(outer);
            break;
          }
          case 16: {
            outer = c.open(c.u16());
            while (c.left >= 1) {
              const v = c.bytes(c.u8());
              // A copy: `b` may be a packet's reused bytes.
              if (ch.alpnFirst === undefined) ch.alpnFirst = v.slice();
              ch.alpn.push(utf8.decode(v));
            }
            c.close(outer);
            break;
          }
          case 43:
            outer = c.open(c.u8());
            ch.supportedVersions = joined(ch.supportedVersions, c.u16s());
            c.close(outer);
            break;
          case 10:
            outer = c.open(c.u16());
            ch.supportedGroups = joined(ch.supportedGroups, c.u16s());
            c.close(outer);
            break;
          case 11: {
            outer = c.open(c.u8());
            const pf = new Uint16Array(c.left);
            for (let i = 0; i < pf.length; i++) pf[i] = b[c.p + i];
            ch.pointFormats = joined(ch.pointFormats, pf);
            c.close(outer);
            break;
          }
          case 13:
            outer = c.open(c.u16());
            ch.signatureAlgorithms = joined(ch.signatureAlgorithms, c.u16s());
            c.close(outer);
            break;
          case 40: // key_share's number in TLS 1.3 drafts before -23 (Chrome 63 era)
          case 51: {
            outer = c.open(c.u16());
            let n = 0;
            for (let p = c.p; c.end - p >= 4; n++) p += 4 + ((b[p + 2] << 8) | b[p + 3]);
            const groups = new Uint16Array(n);
            const lengths = new Uint16Array(n);
            for (let i = 0; c.left >= 4; i++) {
              groups[i] = c.u16();
              const len = c.u16();
              c.skip(len);
              lengths[i] = len;
            }
            ch.keyShareGroups = joined(ch.keyShareGroups, groups);
            ch.keyShareLengths = joined(ch.keyShareLengths, lengths);
            c.close(outer);
            break;
          }
          default:
            break;
        }
      });
    }
    ch.grease = hasGrease(ch.ciphers) || hasGrease(ch.extensions) || hasGrease(ch.supportedGroups) || hasGrease(ch.supportedVersions);
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
    const sh: ServerHello = { legacyVersion: c.u16(), selectedVersion: 0, cipher: 0, extensions: NONE, alpn: undefined, keyShareGroup: 0 };
    c.skip(32);
    c.skip(c.u8());
    sh.cipher = c.u16();
    c.u8(); // compression
    if (c.left >= 2) {
      sh.extensions = walkExtensions(c, (type) => {
        if (type === 43 && c.left >= 2) sh.selectedVersion = c.u16();
        else if (type === 16 && c.left >= 3) {
          const inner = c.open(c.u16());
          sh.alpn = utf8.decode(c.bytes(c.u8()));
          c.close(inner);
        } else if ((type === 51 || type === 40) && c.left >= 2) sh.keyShareGroup = c.u16();
      });
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
    c.open(c.u24());
    const out: Uint8Array[] = [];
    while (c.left >= 3) out.push(c.bytes(c.u24()));
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
