import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { Mulberry32, mulberry32 } from '../../src/common/rng.js';

describe('mulberry32', () => {
  it('the object form gives the closure form\'s numbers, seed for seed', () => {
    for (const seed of [0, 1, 7, 2 ** 31, 2 ** 32 - 1, 123456789]) {
      const f = mulberry32(seed);
      const o = new Mulberry32(seed);
      for (let i = 0; i < 10_000; i++) assert.equal(o.next(), f(), `seed ${seed}, draw ${i}`);
    }
  });
});
