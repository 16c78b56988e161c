import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { writeShortestDouble } from '../../src/output/double-text.js';
import { TextSink } from '../../src/output/text-sink.js';

/**
 * writeShortestDouble against String(x), the ECMAScript shortest round trip, byte for byte: every value it
 * answers must be what String prints, and it must answer nearly every value a flow record holds (a mean, a
 * standard deviation, a ratio), leaving String only the rare ones. Seeded: a failure names its value.
 */

const buf = new Uint8Array(64);
const decoder = new TextDecoder();
const f64 = new Float64Array(1);
const u32 = new Uint32Array(f64.buffer);

/** The text it writes for x, or undefined when it leaves x to String. */
function fast(x: number): string | undefined {
  const end = writeShortestDouble(buf, 0, x);
  return end < 0 ? undefined : decoder.decode(buf.subarray(0, end));
}

/** A deterministic generator (xorshift32), so a run is repeatable. */
function rng(seed: number): () => number {
  let s = seed >>> 0 || 1;
  return () => {
    s ^= s << 13;
    s >>>= 0;
    s ^= s >>> 17;
    s ^= s << 5;
    s >>>= 0;
    return s / 4294967296;
  };
}

function nextUp(x: number, steps: number): number {
  f64[0] = x;
  for (let i = 0; i < Math.abs(steps); i++) {
    if (steps > 0) {
      if (u32[0] === 0xffffffff) {
        u32[0] = 0;
        u32[1]++;
      } else u32[0]++;
    } else if (u32[0] === 0) {
      u32[0] = 0xffffffff;
      u32[1]--;
    } else u32[0]--;
  }
  return f64[0];
}

describe('shortest double text', () => {
  it('equals String(x) on a million values of the kinds flow records hold, and answers nearly all means and deviations', () => {
    const r = rng(7);
    let answered = 0;
    let n = 0;
    const check = (x: number, count: boolean) => {
      if (count) n++;
      const got = fast(x);
      if (got === undefined) return;
      if (count) answered++;
      if (got !== String(x)) assert.equal(got, String(x), `x = ${String(x)} (bits ${f64ToHex(x)})`);
    };
    for (let i = 0; i < 250_000; i++) {
      const a = Math.floor(r() * 2e9);
      const c = Math.floor(r() * 9000) + 2;
      check(a / c, true); // a mean
      check(Math.sqrt(a / c) * (1 + r()), true); // a standard deviation
      check(-a / c, true);
      // Anything from 1e-6 to 2^53, log-uniform (from 1e15 up it answers nothing: not counted).
      check(Math.exp(r() * Math.log(2 ** 53 / 1e-6)) * 1e-6, false);
    }
    assert.ok(answered / n > 0.999, `answered ${answered} of ${n}`);
  });

  it('equals String(x) on random bit patterns, short decimals, and the doubles next to powers of ten', () => {
    const r = rng(11);
    const check = (x: number) => {
      const got = fast(x);
      if (got !== undefined && got !== String(x)) assert.equal(got, String(x), `x = ${String(x)} (bits ${f64ToHex(x)})`);
    };
    for (let i = 0; i < 300_000; i++) {
      u32[0] = Math.floor(r() * 4294967296);
      u32[1] = Math.floor(r() * 4294967296);
      check(f64[0]);
      const m = Math.floor(r() * 1e7);
      const e = Math.floor(r() * 14);
      check(m / 10 ** e);
      check(m * 10 ** -e);
    }
    for (let k = -7; k <= 16; k++) {
      for (let j = -40; j <= 40; j++) {
        const x = nextUp(10 ** k, j);
        check(x);
        check(x / 3);
        check(x * 0.7);
        check(nextUp(2 ** (k * 3), j));
      }
    }
    for (const x of [0.1, 0.2, 0.3, 0.30000000000000004, 1.5, 123.456, 1e-6, 1.0000000000000002, 4503599627370495.5, 1018.5999999999999, 163.81818181818184, 999999999999999.9, 99999999999999.99, 0.000001, 0.0000015, 5e-7]) check(x);
  });

  it('equals String(x) for any double fast-check draws', () => {
    fc.assert(
      fc.property(fc.double({ noNaN: true }), (x) => {
        const got = fast(x);
        return got === undefined || got === String(x);
      }),
      { numRuns: 200_000 },
    );
  });

  it('leaves alone what it cannot be sure of: out of range, powers of two, non-finite', () => {
    for (const x of [0, -0, 5e-7, 1e-300, 2 ** 53 + 2, 1e21, 1e300, Infinity, -Infinity, NaN, 0.5, 0.25, 1024.0 / 4096, 2 ** -10]) assert.equal(fast(x), undefined, String(x));
  });

  it('TextSink.num prints every number as String does, in place or through String', () => {
    const out: Uint8Array[] = [];
    const sink = new TextSink((b) => out.push(b.slice()));
    const values = [0.1, -2.5, 1 / 3, 2 ** 53 + 2, 1e21, 5e-7, 0.5, 123456789.123, -0.000001, 42, -7, 1e-300];
    for (const v of values) {
      sink.num(v);
      sink.byte(32);
    }
    sink.flush();
    assert.equal(Buffer.concat(out).toString('latin1'), values.map((v) => `${String(v)} `).join(''));
  });
});

function f64ToHex(x: number): string {
  f64[0] = x;
  return `${u32[1].toString(16).padStart(8, '0')}${u32[0].toString(16).padStart(8, '0')}`;
}
