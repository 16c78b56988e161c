import assert from 'node:assert/strict';
import { execFileSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { mulberry32 } from '../../src/common/rng.js';
import { RbfRows } from '../../src/models/rbf-kernel.js';

/**
 * The SVM's kernel rows: the WebAssembly SIMD dot products and the JavaScript ones give the same doubles, and both
 * equal the plain formula exp(-gamma * (|x|^2 + |b|^2 - 2 x.b)) with every sum taken in index order (libsvm's).
 */
const root = join(dirname(fileURLToPath(import.meta.url)), '../..');

function plain(a: Float64Array, i: number, b: Float64Array, j: number, d: number, gamma: number): number {
  let xx = 0;
  let bb = 0;
  let xb = 0;
  for (let t = 0; t < d; t++) xx += a[i * d + t] * a[i * d + t];
  for (let t = 0; t < d; t++) bb += b[j * d + t] * b[j * d + t];
  for (let t = 0; t < d; t++) xb += a[i * d + t] * b[j * d + t];
  return Math.exp(-gamma * (xx + bb - 2 * xb));
}

describe('RBF kernel rows', () => {
  it('the generated WebAssembly module is up to date with its .wat source', () => {
    execFileSync(process.execPath, [join(root, 'scripts/build-wasm.mjs'), '--check'], { stdio: 'pipe' });
  });

  it('WebAssembly SIMD and JavaScript give the same doubles as the plain formula, for ranges of any length', () => {
    const r = mulberry32(11);
    for (const d of [1, 2, 3, 7, 99]) {
      // Ranges of 0, 1, 7, 8, 9 and 23 rows: partial groups of eight, empty ranges, a range after an empty one.
      const sizes = [5, 0, 1, 7, 8, 9, 0, 23];
      const starts = new Int32Array(sizes.length + 1);
      sizes.forEach((s, k) => (starts[k + 1] = starts[k] + s));
      const n = starts[sizes.length];
      const b = Float64Array.from({ length: n * d }, () => (r() < 0.1 ? 0 : (r() - 0.5) * 6));
      const a = Float64Array.from({ length: 9 * d }, () => (r() - 0.5) * 6);
      const gamma = 1 / (d + 0.5);
      const simd = new RbfRows(b, n, d, gamma, starts);
      const js = new RbfRows(b, n, d, gamma, starts, false);
      assert.equal(simd.simd, true, 'Node.js 20 has WebAssembly SIMD');
      assert.equal(js.simd, false);
      for (let i = 0; i < 9; i++) {
        let ni = 0;
        for (let t = 0; t < d; t++) ni += a[i * d + t] * a[i * d + t];
        for (let range = 0; range < sizes.length; range++) {
          const w = new Float64Array(sizes[range] + 2).fill(-1);
          const s = new Float64Array(sizes[range] + 2).fill(-1);
          simd.row(a, i, ni, range, w, 1);
          js.row(a, i, ni, range, s, 1);
          assert.deepEqual(w, s, `d ${d}, row ${i}, range ${range}`);
          assert.equal(w[0], -1, 'nothing written before `at`');
          assert.equal(w[sizes[range] + 1], -1, 'nothing written past the range');
          for (let q = 0; q < sizes[range]; q++) assert.equal(w[1 + q], plain(a, i, b, starts[range] + q, d, gamma), `d ${d}, row ${i}, range ${range}, column ${q}`);
        }
      }
      // Float32 output (the solver's kernel cache): the same values rounded once.
      const f = new Float32Array(n);
      for (let range = 0; range < sizes.length; range++) simd.row(b, 3, simd.norms[3], range, f, starts[range]);
      for (let j = 0; j < n; j++) assert.equal(f[j], Math.fround(plain(b, 3, b, j, d, gamma)));
    }
  });
});
