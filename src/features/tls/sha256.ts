/**
 * SHA-256 (FIPS 180-4) and HMAC-SHA256 (RFC 2104) for short inputs, on typed arrays.
 *
 * Why not node:crypto: the QUIC Initial key schedule is nine HMACs over inputs of a few dozen bytes per
 * connection, and each createHmac call costs about 5 µs of object set-up around well under 1 µs of hashing; on a
 * capture with a QUIC connection in ten, the key schedule alone was 5.5 % of the meter's time. Held to
 * node:crypto on random inputs by test/features/sha256.test.ts.
 */

const K = Int32Array.from([
  0x428a2f98, 0x71374491, 0xb5c0fbcf, 0xe9b5dba5, 0x3956c25b, 0x59f111f1, 0x923f82a4, 0xab1c5ed5, 0xd807aa98, 0x12835b01, 0x243185be, 0x550c7dc3, 0x72be5d74, 0x80deb1fe, 0x9bdc06a7,
  0xc19bf174, 0xe49b69c1, 0xefbe4786, 0x0fc19dc6, 0x240ca1cc, 0x2de92c6f, 0x4a7484aa, 0x5cb0a9dc, 0x76f988da, 0x983e5152, 0xa831c66d, 0xb00327c8, 0xbf597fc7, 0xc6e00bf3, 0xd5a79147,
  0x06ca6351, 0x14292967, 0x27b70a85, 0x2e1b2138, 0x4d2c6dfc, 0x53380d13, 0x650a7354, 0x766a0abb, 0x81c2c92e, 0x92722c85, 0xa2bfe8a1, 0xa81a664b, 0xc24b8b70, 0xc76c51a3, 0xd192e819,
  0xd6990624, 0xf40e3585, 0x106aa070, 0x19a4c116, 0x1e376c08, 0x2748774c, 0x34b0bcb5, 0x391c0cb3, 0x4ed8aa4a, 0x5b9cca4f, 0x682e6ff3, 0x748f82ee, 0x78a5636f, 0x84c87814, 0x8cc70208,
  0x90befffa, 0xa4506ceb, 0xbef9a3f7, 0xc67178f2,
]);
const H0 = Int32Array.from([0x6a09e667, 0xbb67ae85, 0x3c6ef372, 0xa54ff53a, 0x510e527f, 0x9b05688c, 0x1f83d9ab, 0x5be0cd19]);
const W = new Int32Array(64);

function compress(h: Int32Array, b: Uint8Array, p: number): void {
  for (let i = 0; i < 16; i++, p += 4) W[i] = (b[p] << 24) | (b[p + 1] << 16) | (b[p + 2] << 8) | b[p + 3];
  for (let i = 16; i < 64; i++) {
    const x = W[i - 15];
    const y = W[i - 2];
    const s0 = ((x >>> 7) | (x << 25)) ^ ((x >>> 18) | (x << 14)) ^ (x >>> 3);
    const s1 = ((y >>> 17) | (y << 15)) ^ ((y >>> 19) | (y << 13)) ^ (y >>> 10);
    W[i] = (W[i - 16] + s0 + W[i - 7] + s1) | 0;
  }
  let a = h[0];
  let bb = h[1];
  let c = h[2];
  let d = h[3];
  let e = h[4];
  let f = h[5];
  let g = h[6];
  let hh = h[7];
  for (let i = 0; i < 64; i++) {
    const S1 = ((e >>> 6) | (e << 26)) ^ ((e >>> 11) | (e << 21)) ^ ((e >>> 25) | (e << 7));
    const t1 = (hh + S1 + ((e & f) ^ (~e & g)) + K[i] + W[i]) | 0;
    const S0 = ((a >>> 2) | (a << 30)) ^ ((a >>> 13) | (a << 19)) ^ ((a >>> 22) | (a << 10));
    const t2 = (S0 + ((a & bb) ^ (a & c) ^ (bb & c))) | 0;
    hh = g;
    g = f;
    f = e;
    e = (d + t1) | 0;
    d = c;
    c = bb;
    bb = a;
    a = (t1 + t2) | 0;
  }
  h[0] = (h[0] + a) | 0;
  h[1] = (h[1] + bb) | 0;
  h[2] = (h[2] + c) | 0;
  h[3] = (h[3] + d) | 0;
  h[4] = (h[4] + e) | 0;
  h[5] = (h[5] + f) | 0;
  h[6] = (h[6] + g) | 0;
  h[7] = (h[7] + hh) | 0;
}

let scratch = new Uint8Array(256);
const state = new Int32Array(8);

/**
 * Hash a || b into `h` (a state that has already taken `prefix` bytes, a multiple of 64) and write the digest to
 * out[0..32). The message is padded in a reused scratch buffer.
 */
function finish(h: Int32Array, prefix: number, a: Uint8Array, b: Uint8Array, out: Uint8Array): Uint8Array {
  const n = a.length + b.length;
  const end = (n + 9 + 63) & ~63;
  if (scratch.length < end) scratch = new Uint8Array(end);
  const padded = scratch;
  padded.set(a, 0);
  if (b.length > 0) padded.set(b, a.length);
  padded.fill(0, n, end);
  padded[n] = 0x80;
  const bits = (prefix + n) * 8;
  padded[end - 5] = (bits / 2 ** 32) & 0xff;
  padded[end - 4] = bits >>> 24;
  padded[end - 3] = bits >>> 16;
  padded[end - 2] = bits >>> 8;
  padded[end - 1] = bits;
  for (let q = 0; q < end; q += 64) compress(h, padded, q);
  for (let i = 0; i < 8; i++) {
    out[4 * i] = h[i] >>> 24;
    out[4 * i + 1] = h[i] >>> 16;
    out[4 * i + 2] = h[i] >>> 8;
    out[4 * i + 3] = h[i];
  }
  return out;
}

/** SHA-256 of the concatenation of `a` and `b`. */
export function sha256(a: Uint8Array, b: Uint8Array = EMPTY): Uint8Array {
  state.set(H0);
  return finish(state, 0, a, b, new Uint8Array(32));
}

const EMPTY = new Uint8Array(0);

/**
 * An HMAC-SHA256 key with its two pad blocks already compressed (the states after H0 took key ^ ipad and key ^
 * opad). A MAC under it costs the message's blocks and one outer block: two compressions for a short message
 * instead of four, which is what the QUIC key schedule's three labels under one secret want.
 */
export interface HmacKey {
  readonly inner: Int32Array;
  readonly outer: Int32Array;
}

const pad = new Uint8Array(64);

export function hmacKey(key: Uint8Array): HmacKey {
  const k = key.length > 64 ? sha256(key) : key;
  const inner = Int32Array.from(H0);
  const outer = Int32Array.from(H0);
  for (let i = 0; i < 64; i++) pad[i] = (i < k.length ? k[i] : 0) ^ 0x36;
  compress(inner, pad, 0);
  for (let i = 0; i < 64; i++) pad[i] = (i < k.length ? k[i] : 0) ^ 0x5c;
  compress(outer, pad, 0);
  return { inner, outer };
}

const innerDigest = new Uint8Array(32);

/** HMAC-SHA256 of `message` under a prepared key, into `out` (a fresh 32-byte array unless given). */
export function hmacWith(key: HmacKey, message: Uint8Array, out: Uint8Array = new Uint8Array(32)): Uint8Array {
  state.set(key.inner);
  finish(state, 64, message, EMPTY, innerDigest);
  state.set(key.outer);
  return finish(state, 64, innerDigest, EMPTY, out);
}

/** HMAC-SHA256(key, message). */
export function hmacSha256(key: Uint8Array, message: Uint8Array): Uint8Array {
  return hmacWith(hmacKey(key), message);
}
