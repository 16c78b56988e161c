/**
 * A double's shortest round-trip decimal text, byte for byte what String(x) prints (ECMA-262 Number::toString:
 * the fewest significant digits that read back as x, the closest to x among those), for the numbers flow records
 * are full of: non-integers from 1e-6 to 2^53 (means, standard deviations, entropies, durations in seconds).
 *
 * Why not String(x): in a record writer it costs about 300 ns a number (a runtime call, a fresh string for the
 * collector, then its bytes copied out), and a record has a dozen such numbers: a third to a half of the time the
 * CSV writer spent on the bench captures' records (with "0.5" written instead: 157 -> 84 ms and 252 -> 167 ms
 * for 20,000 records). This is about 95 ns, with nothing allocated. Here the digits are
 * found with double arithmetic alone and written straight into the output bytes, and whenever the arithmetic
 * cannot be sure (a value within a hair of a rounding boundary, a power of two, anything outside the range) the
 * answer is "don't know" and the caller prints String(x). test/output/double-text.test.ts holds it to String(x)
 * on millions of values of every kind.
 *
 * How: with s chosen so that y = |x| * 10^s lies in [1e14, 1e15), y is computed exactly as a sum of two doubles
 * (Dekker's product; 10^s is exact for s <= 22) and split into its integer part Y (15 digits, far below 2^53) and
 * fraction f. x's rounding interval is y +- H with H = ulp(x) / 2 * 10^s (exact too; H < 0.12 here). A decimal of
 * at most 15 significant digits is an integer in units of y, so it reads back as x only if it is the integer
 * nearest y and that is within H: then the answer is that integer without its trailing zeros. Otherwise 16 digits
 * are needed if the nearest tenth is within H (the nearest is the closest of any such), else 17, the nearest
 * hundredth.
 */

const SPLIT = 134217729; // 2^27 + 1, Dekker's splitter
const LOG10_2 = Math.log10(2);
const POW10 = Array.from({ length: 23 }, (_, i) => Number(`1e${i}`));
const bits = new Float64Array(1);
const words = new Uint32Array(bits.buffer);
const digits = new Uint8Array(17);
/** Accept or reject a candidate only when its distance is this far (relative to H) from the interval's edge. */
const MARGIN = 1e-7;
const LOW = 1e-6;
const HIGH = 2 ** 53;

/**
 * Write the shortest round-trip text of `x` at b[at...] (room for 25 bytes must be there) and return the end, or
 * return -1 without writing when x is outside what this handles or the arithmetic cannot be sure.
 */
export function writeShortestDouble(b: Uint8Array, at: number, x: number): number {
  const neg = x < 0;
  const v = neg ? -x : x;
  if (!(v >= LOW && v < HIGH)) return -1;
  bits[0] = v;
  const hiWord = words[1];
  const biased = hiWord >>> 20;
  // A power of two has a narrower interval below it than above: leave it to String.
  if ((hiWord & 0xfffff) === 0 && words[0] === 0) return -1;
  // ulp(v) = 2^(exponent - 52), built from its bits (biased exponent - 52 > 0 in this range).
  words[1] = (biased - 52) << 20;
  words[0] = 0;
  const ulp = bits[0];

  // floor(log10 v) from the binary exponent: at most one too small, which the loop below puts right (Math.log10
  // cost a quarter of this function).
  let s = 14 - Math.floor((biased - 1023) * LOG10_2);
  let hi = 0;
  let lo = 0;
  for (let tries = 0; ; tries++) {
    if (s < 0 || s > 22 || tries > 3) return -1;
    const p = POW10[s];
    hi = v * p;
    // Dekker: v * p = hi + lo exactly.
    let t = SPLIT * v;
    const vh = t - (t - v);
    const vl = v - vh;
    t = SPLIT * p;
    const ph = t - (t - p);
    const pl = p - ph;
    lo = vh * ph - hi + vh * pl + vl * ph + vl * pl;
    if (hi < 1e14 || (hi === 1e14 && lo < 0)) s++;
    else if (hi >= 1e15) s--;
    else break;
  }
  const h = (ulp / 2) * POW10[s];
  const margin = h * MARGIN;
  // y = Y + f, Y an integer in [1e14, 1e15), 0 <= f < 1 (to within 2^-53).
  let Y = Math.floor(hi);
  let f = hi - Y + lo;
  if (f < 0) {
    Y -= 1;
    f += 1;
  } else if (f >= 1) {
    Y += 1;
    f -= 1;
  }
  if (Y < 1e14 || Y >= 1e15) return -1;

  let k: number; // significant digits in `digits`
  const nearDist = f < 0.5 ? f : 1 - f;
  if (nearDist < h - margin) {
    // At most 15 digits: the nearest integer, trailing zeros dropped.
    const near = f < 0.5 ? Y : Y + 1;
    if (near >= 1e15) {
      digits[0] = 49; // rounded up to 10^15: one digit, one place further left
      k = 1;
      s -= 1;
    } else {
      integerDigits(near, 15);
      k = 15;
      while (k > 1 && digits[k - 1] === 48) k--;
    }
  } else if (nearDist <= h + margin) return -1;
  else {
    integerDigits(Y, 15);
    const g = 10 * f;
    const d = Math.round(g);
    const dist = Math.abs(g - d);
    if (dist < 10 * (h - margin)) {
      // 16 digits: the nearest tenth (not 0 or 10: that would be an integer, and none is within H).
      if (d === 0 || d === 10 || Math.abs(dist - 0.5) < 1e-6) return -1;
      digits[15] = 48 + d;
      k = 16;
    } else if (dist <= 10 * (h + margin)) return -1;
    else {
      // 17 digits: the nearest hundredth, within H whenever no tenth is (H >= 0.0055, a hundredth 0.01 wide).
      const g2 = 100 * f;
      const d2 = Math.round(g2);
      const dist2 = Math.abs(g2 - d2);
      if (!(dist2 < 100 * (h - margin)) || d2 % 10 === 0 || Math.abs(dist2 - 0.5) < 1e-6) return -1;
      digits[15] = 48 + ((d2 / 10) | 0);
      digits[16] = 48 + (d2 % 10);
      k = 17;
    }
  }

  // v = 0.d1d2...dk * 10^n with n = 15 - s (digits before the point).
  const n = 15 - s;
  if (n > 21 || n <= -6) return -1;
  if (neg) b[at++] = 45;
  if (n <= 0) {
    b[at++] = 48;
    b[at++] = 46;
    for (let i = 0; i < -n; i++) b[at++] = 48;
    for (let i = 0; i < k; i++) b[at++] = digits[i];
  } else if (n >= k) {
    for (let i = 0; i < k; i++) b[at++] = digits[i];
    for (let i = k; i < n; i++) b[at++] = 48;
  } else {
    for (let i = 0; i < n; i++) b[at++] = digits[i];
    b[at++] = 46;
    for (let i = n; i < k; i++) b[at++] = digits[i];
  }
  return at;
}

/** "00".."99" as digit pairs. */
const PAIRS = Uint8Array.from({ length: 200 }, (_, i) => 48 + (i % 2 === 0 ? Math.floor(i / 20) : (i >> 1) % 10));

/**
 * The `count` decimal digits of the integer 0 <= c < 10^count (9 <= count <= 15) into digits[0, count): split at
 * 1e8 (c - q * 1e8 is exact below 2^53) into two int32s, cut two digits at a time (an int32 division by a
 * constant is a multiplication; a double division or fmod per digit was half of this function's time).
 */
function integerDigits(c: number, count: number): void {
  let q = Math.floor(c / 1e8);
  let r = c - q * 1e8;
  if (r < 0) {
    q--;
    r += 1e8;
  } else if (r >= 1e8) {
    q++;
    r -= 1e8;
  }
  let lo = r | 0;
  q |= 0;
  let i = count;
  for (let j = 0; j < 4; j++) {
    const t = (lo / 100) | 0;
    const p = (lo - t * 100) * 2;
    digits[--i] = PAIRS[p + 1];
    digits[--i] = PAIRS[p];
    lo = t;
  }
  while (i > 1) {
    const t = (q / 100) | 0;
    const p = (q - t * 100) * 2;
    digits[--i] = PAIRS[p + 1];
    digits[--i] = PAIRS[p];
    q = t;
  }
  if (i === 1) digits[0] = 48 + q;
}
