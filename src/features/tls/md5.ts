/**
 * MD5 (RFC 1321) of a byte range, on typed arrays: for JA3/JA3S, whose inputs are a few hundred bytes each.
 *
 * Why not node:crypto: JA3 changes with the extension order, which Chrome permutes on every connection, so no
 * cache helps, and each createHash call costs 2-3 µs of object set-up around well under 1 µs of hashing. Held to
 * node:crypto by test/features/sha256.test.ts (every length 0-300 and inside larger buffers).
 */

/** Per-round shift amounts. */
const S = Int32Array.from([7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 7, 12, 17, 22, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 5, 9, 14, 20, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 4, 11, 16, 23, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21, 6, 10, 15, 21]);
/** K[i] = floor(|sin(i + 1)| * 2^32). */
const K = Int32Array.from({ length: 64 }, (_, i) => Math.floor(Math.abs(Math.sin(i + 1)) * 2 ** 32) | 0);
const X = new Int32Array(16);

function compress(h: Int32Array, b: Uint8Array, p: number): void {
  for (let i = 0; i < 16; i++, p += 4) X[i] = b[p] | (b[p + 1] << 8) | (b[p + 2] << 16) | (b[p + 3] << 24);
  let a = h[0];
  let bb = h[1];
  let c = h[2];
  let d = h[3];
  for (let i = 0; i < 64; i++) {
    let f: number;
    let g: number;
    if (i < 16) {
      f = (bb & c) | (~bb & d);
      g = i;
    } else if (i < 32) {
      f = (d & bb) | (~d & c);
      g = (5 * i + 1) & 15;
    } else if (i < 48) {
      f = bb ^ c ^ d;
      g = (3 * i + 5) & 15;
    } else {
      f = c ^ (bb | ~d);
      g = (7 * i) & 15;
    }
    const t = (a + f + K[i] + X[g]) | 0;
    a = d;
    d = c;
    c = bb;
    bb = (bb + ((t << S[i]) | (t >>> (32 - S[i])))) | 0;
  }
  h[0] = (h[0] + a) | 0;
  h[1] = (h[1] + bb) | 0;
  h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + d) | 0;
}

const state = new Int32Array(4);
const last = new Uint8Array(128);

/** MD5 of b[start, end), its 16 bytes written to out[at...]. */
export function md5Into(b: Uint8Array, start: number, end: number, out: Uint8Array, at: number): void {
  const h = state;
  h[0] = 0x67452301;
  h[1] = 0xefcdab89 | 0;
  h[2] = 0x98badcfe | 0;
  h[3] = 0x10325476;
  const n = end - start;
  let p = start;
  // Whole blocks straight from the input; the rest, the 0x80 byte and the bit length in one or two more.
  for (; end - p >= 64; p += 64) compress(h, b, p);
  const rest = end - p;
  last.fill(0);
  last.set(b.subarray(p, end));
  last[rest] = 0x80;
  const tail = rest < 56 ? 64 : 128;
  const bits = n * 8;
  last[tail - 8] = bits;
  last[tail - 7] = bits >>> 8;
  last[tail - 6] = bits >>> 16;
  last[tail - 5] = bits >>> 24;
  last[tail - 4] = bits / 2 ** 32;
  compress(h, last, 0);
  if (tail === 128) compress(h, last, 64);
  for (let i = 0; i < 4; i++) {
    out[at + 4 * i] = h[i];
    out[at + 4 * i + 1] = h[i] >>> 8;
    out[at + 4 * i + 2] = h[i] >>> 16;
    out[at + 4 * i + 3] = h[i] >>> 24;
  }
}
