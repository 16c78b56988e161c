import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { earlyFeatureNames, earlyFeatures } from '../../src/dataset/early.js';

describe('early-classification features', () => {
  it('the first n packets by hand: raw lengths, then count/sum/mean/SD/min/max of lengths and IAT stats per direction', () => {
    // 4 packets: +100 at 0, -1500 after 10 ms, +60 after 1 ms, -1500 after 2 ms; n = 3 uses the first three.
    const f = earlyFeatures([100, -1500, 60, -1500], [0, 10e6, 1e6, 2e6], 3);
    const names = earlyFeatureNames(3);
    assert.equal(f.length, names.length);
    const v = Object.fromEntries(names.map((n, i) => [n, f[i]]));
    assert.deepEqual([v.len_1, v.len_2, v.len_3], [100, -1500, 60]);
    assert.deepEqual([v.all_count, v.all_bytes, v.all_len_min, v.all_len_max], [3, 1660, 60, 1500]);
    assert.ok(Math.abs(v.all_len_mean - 1660 / 3) < 1e-9);
    // Sample SD of 100, 1500, 60.
    const m = 1660 / 3;
    assert.ok(Math.abs(v.all_len_sd - Math.sqrt(((100 - m) ** 2 + (1500 - m) ** 2 + (60 - m) ** 2) / 2)) < 1e-9);
    assert.deepEqual([v.all_iat_mean, v.all_iat_min, v.all_iat_max], [5.5e6, 1e6, 10e6]);
    assert.deepEqual([v.fwd_count, v.fwd_bytes, v.fwd_iat_mean], [2, 160, 1e6]);
    assert.deepEqual([v.bwd_count, v.bwd_bytes, v.bwd_len_sd, v.bwd_iat_mean], [1, 1500, 0, 10e6]);
    // A flow shorter than n: zeros past its end.
    const short = earlyFeatures([80], [0], 5);
    assert.deepEqual([...short.subarray(0, 5)], [80, 0, 0, 0, 0]);
    assert.equal(short[5], 1);
  });
});
