import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BANDS, HEAD_PACKETS, SERIES_PACKETS, SERIES_STEPS, packetFeatures, paperSeries, pooledSeries } from '../../src/dataset/sequence.js';

const close = (a: number, b: number) => Math.abs(a - b) < 1e-6;

describe("the paper's pooled per-packet series", () => {
  it('constants add up: 2048 packets into 128 steps', () => {
    assert.equal(HEAD_PACKETS + BANDS.reduce((a, [n]) => a + n, 0), SERIES_PACKETS);
    assert.equal(HEAD_PACKETS + BANDS.reduce((a, [n, w]) => a + n / w, 0), SERIES_STEPS);
  });

  it('per-packet features by hand: sqrt of the clipped delay and size, the direction sign, zero padding', () => {
    const f = packetFeatures([512, -2048, 4000, -60], [0, 250_000_000, 3e9, 1_000_000]);
    const want = [
      [0, 1, Math.sqrt(512 / 2048)],
      [Math.sqrt(0.25), -1, 1],
      [1, 1, 1], // both clipped at their thresholds
      [Math.sqrt(0.001), -1, Math.sqrt(60 / 2048)],
    ];
    want.forEach((w, t) => w.forEach((v, k) => assert.ok(close(f[3 * t + k], v), `packet ${t} feature ${k}: ${f[3 * t + k]} vs ${v}`)));
    assert.deepEqual([...f.subarray(12, 18)], [0, 0, 0, 0, 0, 0]);
  });

  it('pooling by hand: head steps carry the previous packet; a band step holds max and mean of its packets', () => {
    // 40 packets: sizes 64 * (t + 1), alternating direction, 1 ms apart.
    const lens = Array.from({ length: 40 }, (_, t) => (t % 2 === 0 ? 1 : -1) * 64 * (t + 1));
    const iats = Array.from({ length: 40 }, (_, t) => (t === 0 ? 0 : 1e6));
    const s = paperSeries(lens, iats);
    assert.equal(s.length, 128 * 6);
    const pf = packetFeatures(lens, iats);
    // Step 5 = packet 5 and packet 4.
    for (let k = 0; k < 3; k++) {
      assert.equal(s[5 * 6 + k], pf[5 * 3 + k]);
      assert.equal(s[5 * 6 + 3 + k], pf[4 * 3 + k]);
    }
    assert.deepEqual([...s.subarray(3, 6)], [0, 0, 0]); // before the first packet
    // Step 32 pools packets 32 and 33: sizes 2112 (clipped to 1) and 2176 (clipped): sqrt(1) both; directions +1, -1.
    assert.ok(close(s[32 * 6 + 1], 1) && close(s[32 * 6 + 4], 0)); // max sign 1, mean sign 0
    assert.ok(close(s[32 * 6 + 2], 1) && close(s[32 * 6 + 5], 1));
    // Step 36 pools packets 40 and 41: padding, all zero.
    assert.deepEqual([...s.subarray(36 * 6, 37 * 6)], [0, 0, 0, 0, 0, 0]);
    // Step 35 pools packets 38 and 39: directions +1 and -1, delays sqrt(0.001) both.
    assert.ok(close(s[35 * 6], Math.sqrt(0.001)) && close(s[35 * 6 + 3], Math.sqrt(0.001)));
    // The last band: step 127 pools packets 1984..2047, all padding.
    assert.deepEqual([...s.subarray(127 * 6)], [0, 0, 0, 0, 0, 0]);
  });

  it('a stream longer than 2048 packets is clipped; the last band averages 64 packets', () => {
    const n = 3000;
    const lens = Array.from({ length: n }, (_, t) => (t >= 1984 && t < 2048 ? (t % 2 ? -1024 : 1024) : 100));
    const s = pooledSeries(packetFeatures(lens, new Array(n).fill(0)));
    assert.ok(close(s[127 * 6 + 1], 1) && close(s[127 * 6 + 4], 0)); // signs +1/-1 alternate: max 1, mean 0
    assert.ok(close(s[127 * 6 + 2], Math.sqrt(0.5)) && close(s[127 * 6 + 5], Math.sqrt(0.5)));
  });
});
