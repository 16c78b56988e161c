import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../src/common/rng.js';
import { ChainKernel, initChain } from '../../src/models/lstm-chain.js';
import { SimdChainKernel, simdSupported } from '../../src/models/lstm-simd.js';

const root = join(fileURLToPath(import.meta.url), '../../..');

describe('LSTM SIMD kernel', () => {
  it('is built from the .wat source in the repository', () => {
    execFileSync(process.execPath, [join(root, 'scripts/build-wasm.mjs'), '--check'], { stdio: 'pipe' });
  });

  for (const shape of [
    { inputs: 6, units: 32, classes: 5, segments: [32, 32, 32, 32] },
    { inputs: 11, units: 32, classes: 3, segments: [128] },
    { inputs: 3, units: 4, classes: 2, segments: [5, 7] },
    { inputs: 6, units: 32, classes: 5, segments: [32, 32, 32, 32], peephole: true },
  ]) {
    it(`gives the float64 kernel's probabilities and gradients to float32 precision (${shape.units} units, ${shape.inputs} inputs, segments ${shape.segments.join('+')}${shape.peephole ? ', peephole' : ''})`, () => {
      assert.ok(simdSupported(shape));
      const r = mulberry32(shape.inputs);
      const p = initChain(shape, 8);
      for (let i = 0; i < p.length; i++) p[i] += 0.4 * (r() - 0.5);
      const T = shape.segments.reduce((a, b) => a + b, 0);
      const N = 6;
      // Inputs as large as the series gets (sizes, delays and signs within [-1, 1]) and a few well outside, where
      // the gates saturate and the polynomial exp meets its clamp.
      const x = Float32Array.from({ length: N * T * shape.inputs }, (_, i) => (i % 97 === 0 ? 40 * (r() - 0.5) : 2 * r() - 1));
      const c0 = Float32Array.from({ length: N * shape.units }, () => r() - 0.5);
      const y = Int32Array.from({ length: N }, (_, i) => i % shape.classes);
      const js = new ChainKernel(shape);
      const simd = new SimdChainKernel(shape);
      const pj = js.predict(p, x, N, c0);
      const ps = simd.predict(p, x, N, c0);
      for (let i = 0; i < pj.length; i++) assert.ok(Math.abs(pj[i] - ps[i]) < 2e-5, `probability ${i}: ${pj[i]} against ${ps[i]}`);
      const ids = [...y.keys()];
      const gj = new Float64Array(p.length);
      const gs = new Float64Array(p.length);
      const lj = js.gradient(p, x, y, ids, 1 / N, gj, c0);
      const ls = simd.gradient(p, x, y, ids, 1 / N, gs, c0);
      assert.ok(Math.abs(lj - ls) < 1e-4 * Math.max(1, lj), `loss ${lj} against ${ls}`);
      let largest = 0;
      for (const g of gj) largest = Math.max(largest, Math.abs(g));
      for (let i = 0; i < p.length; i++) assert.ok(Math.abs(gj[i] - gs[i]) < 1e-3 * largest, `gradient ${i}: ${gj[i]} against ${gs[i]} (largest ${largest})`);
    });
  }

  it('is not offered for unit counts the 4-lane products cannot cover', () => {
    assert.equal(simdSupported({ inputs: 6, units: 6, classes: 2, segments: [4] }), false);
    assert.throws(() => new SimdChainKernel({ inputs: 6, units: 6, classes: 2, segments: [4] }), /multiple of 4/);
  });
});
