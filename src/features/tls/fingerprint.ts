import { type ClientHello, type ServerHello, isGrease } from './hello.js';
import { md5Into } from './md5.js';
import { sha256 } from './sha256.js';

/**
 * JA3, JA3S and JA4 fingerprints of parsed hellos. Each is printed into a reused byte buffer and hashed there
 * (MD5 and SHA-256 on typed arrays), so a fingerprint costs its result strings and nothing else: on a capture with
 * a handshake in most flows, building them as joined strings and hashing those through node:crypto was a tenth of
 * the TLS group's time and most of its garbage. Digests of inputs seen before are looked up, not recomputed.
 */

/** A growable byte buffer that numbers, hex and ASCII are printed into. */
class Bytes {
  b = Buffer.allocUnsafe(1024);
  n = 0;
  reset(): this {
    this.n = 0;
    return this;
  }
  room(k: number): void {
    if (this.n + k > this.b.length) {
      const bigger = Buffer.allocUnsafe(Math.max(this.b.length * 2, this.n + k));
      this.b.copy(bigger, 0, 0, this.n);
      this.b = bigger;
    }
  }
  byte(c: number): void {
    this.room(1);
    this.b[this.n++] = c;
  }
  ascii(s: string): void {
    this.room(s.length);
    for (let i = 0; i < s.length; i++) this.b[this.n++] = s.charCodeAt(i);
  }
  /**
   * A non-negative integer below 2^32 in decimal: the digits counted by comparisons, then written two at a time
   * from a table with integer divisions by 100 (a JA3 string is about 60 numbers; a digit at a time by
   * Math.floor(x / 10), counting first, was most of the time of building one).
   */
  dec(v: number): void {
    this.room(10);
    const b = this.b;
    if (v < 10) {
      b[this.n++] = 48 + v;
      return;
    }
    const digits = v < 100 ? 2 : v < 1000 ? 3 : v < 10000 ? 4 : v < 100000 ? 5 : v < 1000000 ? 6 : v < 10000000 ? 7 : v < 100000000 ? 8 : v < 1000000000 ? 9 : 10;
    let at = this.n + digits;
    this.n = at;
    let x = v;
    while (x >= 100) {
      const q = (x / 100) >>> 0;
      const r = 2 * (x - q * 100);
      b[--at] = PAIRS[r + 1];
      b[--at] = PAIRS[r];
      x = q;
    }
    if (x >= 10) {
      b[--at] = PAIRS[2 * x + 1];
      b[--at] = PAIRS[2 * x];
    } else b[--at] = 48 + x;
  }
  /** A 16-bit value as 4 lower-case hex digits. */
  hex4(v: number): void {
    this.room(4);
    const b = this.b;
    b[this.n++] = HEX[(v >> 12) & 15];
    b[this.n++] = HEX[(v >> 8) & 15];
    b[this.n++] = HEX[(v >> 4) & 15];
    b[this.n++] = HEX[v & 15];
  }
  /** Bytes as lower-case hex. */
  hexBytes(src: Uint8Array, from: number, to: number): this {
    this.room(2 * (to - from));
    for (let i = from; i < to; i++) {
      this.b[this.n++] = HEX[src[i] >> 4];
      this.b[this.n++] = HEX[src[i] & 15];
    }
    return this;
  }
  text(from = 0, to = this.n): string {
    return this.b.toString('latin1', from, to);
  }
}

const HEX = Uint8Array.from('0123456789abcdef', (c) => c.charCodeAt(0));
/** "00" to "99": the two digits of i at 2i and 2i + 1. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 48 + (i % 2 === 0 ? Math.floor(i / 20) : (i >> 1) % 10));
const out = new Bytes();
const work = new Bytes();
const digest = new Uint8Array(16);

/**
 * `xs` without GREASE, decimal, '-'-joined. Room for every value (at most five digits and a dash) is made once and
 * the digits are written through locals: a JA3 string is some forty numbers, and a call to room() and dec() for each
 * number and each dash was most of the time of building one.
 */
function dashed(o: Bytes, xs: Uint16Array, skipGrease: boolean): void {
  o.room(6 * xs.length);
  const b = o.b;
  let n = o.n;
  const start = n;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    if (skipGrease && isGrease(v)) continue;
    if (n !== start) b[n++] = 45;
    n = dec16(b, n, v);
  }
  o.n = n;
}

/** 0 <= v < 65536 in decimal at b[n...] (room made by the caller); returns the end. */
function dec16(b: Uint8Array, n: number, v: number): number {
  if (v < 10) {
    b[n] = 48 + v;
    return n + 1;
  }
  if (v < 100) {
    b[n] = PAIRS[2 * v];
    b[n + 1] = PAIRS[2 * v + 1];
    return n + 2;
  }
  if (v < 10000) {
    const hi = (v / 100) >>> 0;
    const lo = 2 * (v - hi * 100);
    if (hi < 10) {
      b[n] = 48 + hi;
      b[n + 1] = PAIRS[lo];
      b[n + 2] = PAIRS[lo + 1];
      return n + 3;
    }
    b[n] = PAIRS[2 * hi];
    b[n + 1] = PAIRS[2 * hi + 1];
    b[n + 2] = PAIRS[lo];
    b[n + 3] = PAIRS[lo + 1];
    return n + 4;
  }
  const top = (v / 10000) >>> 0; // 1..6
  const rest = v - top * 10000;
  const hi = (rest / 100) >>> 0;
  const lo = 2 * (rest - hi * 100);
  b[n] = 48 + top;
  b[n + 1] = PAIRS[2 * hi];
  b[n + 2] = PAIRS[2 * hi + 1];
  b[n + 3] = PAIRS[lo];
  b[n + 4] = PAIRS[lo + 1];
  return n + 5;
}

/**
 * Hex digests of strings already hashed, by the hashed text. One client build sends hellos of one shape on every
 * connection, so a capture holds few distinct fingerprint inputs, and a lookup of the string (needed anyway for
 * the ja3 column) is cheaper than hashing it again: MD5 over a JA3 string, SHA-256 twice for JA4. Bounded: at
 * DIGEST_CACHE_ENTRIES a cache starts again empty (at most about 1 MiB of strings).
 */
const DIGEST_CACHE_ENTRIES = 2048;
const md5Cache = new Map<string, string>();
const sha12Cache = new Map<string, string>();

function remember(cache: Map<string, string>, key: string, value: string): void {
  if (cache.size >= DIGEST_CACHE_ENTRIES) cache.clear();
  cache.set(key, value);
}

/** The fingerprint string in `o` and the MD5 of it, as JA3 tools print them. */
function withMd5(o: Bytes): { full: string; hash: string } {
  const full = o.text();
  let hash = md5Cache.get(full);
  if (hash === undefined) {
    md5Into(o.b, 0, o.n, digest, 0);
    hash = work.reset().hexBytes(digest, 0, 16).text();
    remember(md5Cache, full, hash);
  }
  return { full, hash };
}

/** JA3 (Salesforce): "version,ciphers,extensions,groups,point formats", decimal, '-'-joined, GREASE removed; and its MD5. */
export function ja3(ch: ClientHello): { full: string; hash: string } {
  const o = out.reset();
  o.dec(ch.legacyVersion);
  o.byte(44);
  dashed(o, ch.ciphers, true);
  o.byte(44);
  dashed(o, ch.extensions, true);
  o.byte(44);
  dashed(o, ch.supportedGroups, true);
  o.byte(44);
  dashed(o, ch.pointFormats, false);
  return withMd5(o);
}

/** JA3S: "version,cipher,extensions" of the ServerHello (legacy version), and its MD5. */
export function ja3s(sh: ServerHello): { full: string; hash: string } {
  const o = out.reset();
  o.dec(sh.legacyVersion);
  o.byte(44);
  o.dec(sh.cipher);
  o.byte(44);
  dashed(o, sh.extensions, true);
  return withMd5(o);
}

const JA4_VERSIONS: Record<number, string> = { 0x0304: '13', 0x0303: '12', 0x0302: '11', 0x0301: '10', 0x0300: 's3', 0x0200: 's2', 0x0100: 's1', 0xfeff: 'd1', 0xfefd: 'd2', 0xfefc: 'd3' };

function isAlnum(c: number): boolean {
  return (c >= 0x30 && c <= 0x39) || (c >= 0x41 && c <= 0x5a) || (c >= 0x61 && c <= 0x7a);
}

let sortBuf = new Uint16Array(256);

/**
 * Append to `w` the values of `xs` without GREASE (and without `skipA`/`skipB`), sorted, as comma-joined 4-digit
 * hex (fixed-width lower-case hex sorts as the numbers do). Returns how many there were.
 */
function sortedHex(w: Bytes, xs: ArrayLike<number>, skipA = -1, skipB = -1): number {
  if (sortBuf.length < xs.length) sortBuf = new Uint16Array(xs.length);
  let n = 0;
  for (let i = 0; i < xs.length; i++) {
    const v = xs[i];
    if (!isGrease(v) && v !== skipA && v !== skipB) sortBuf[n++] = v;
  }
  const sorted = sortBuf.subarray(0, n).sort();
  for (let i = 0; i < n; i++) {
    if (i > 0) w.byte(44);
    w.hex4(sorted[i]);
  }
  return n;
}

const hex12 = new Bytes();

/** sha256(w's bytes)[:12 hex digits] appended to `o`. */
function sha12(o: Bytes, w: Bytes): void {
  const key = w.text();
  let h = sha12Cache.get(key);
  if (h === undefined) {
    h = hex12.reset().hexBytes(sha256(w.b.subarray(0, w.n)), 0, 6).text();
    remember(sha12Cache, key, h);
  }
  o.ascii(h);
}

function two(o: Bytes, n: number): void {
  const v = Math.min(n, 99);
  o.byte(48 + Math.floor(v / 10));
  o.byte(48 + (v % 10));
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
  let version = -1;
  for (let i = 0; i < ch.supportedVersions.length; i++) {
    const v = ch.supportedVersions[i];
    if (!isGrease(v) && v > version) version = v;
  }
  if (version < 0) version = ch.legacyVersion;
  let ciphers = 0;
  for (let i = 0; i < ch.ciphers.length; i++) if (!isGrease(ch.ciphers[i])) ciphers++;
  let exts = 0;
  let sni = false;
  for (let i = 0; i < ch.extensions.length; i++) {
    const v = ch.extensions[i];
    if (!isGrease(v)) exts++;
    if (v === 0) sni = true;
  }
  const o = out.reset();
  o.ascii(transport);
  o.ascii(JA4_VERSIONS[version] ?? '00');
  o.byte(sni ? 100 : 105); // 'd' or 'i'
  two(o, ciphers);
  two(o, exts);
  const a = ch.alpnFirst;
  if (a !== undefined && a.length > 0) {
    const first = a[0];
    const lastByte = a[a.length - 1];
    if (isAlnum(first) && isAlnum(lastByte)) {
      o.byte(first);
      o.byte(lastByte);
    } else {
      o.byte(HEX[first >> 4]);
      o.byte(HEX[lastByte & 0x0f]);
    }
  } else o.ascii('00');
  o.byte(95);
  if (ciphers === 0) o.ascii('000000000000');
  else {
    sortedHex(work.reset(), ch.ciphers);
    sha12(o, work);
  }
  o.byte(95);
  if (exts === 0) o.ascii('000000000000');
  else {
    const w = work.reset();
    sortedHex(w, ch.extensions, 0, 16);
    let first = true;
    for (let i = 0; i < ch.signatureAlgorithms.length; i++) {
      const v = ch.signatureAlgorithms[i];
      if (isGrease(v)) continue;
      w.byte(first ? 95 : 44);
      w.hex4(v);
      first = false;
    }
    sha12(o, w);
  }
  return o.text();
}
