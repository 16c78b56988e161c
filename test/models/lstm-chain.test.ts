import assert from 'node:assert/strict';
import { createRequire } from 'node:module';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../src/common/rng.js';
import { LstmClassifier } from '../../src/models/lstm.js';
import { type ChainShape, ChainKernel, chainLayout, initChain } from '../../src/models/lstm-chain.js';
import { trainChain } from '../../src/models/lstm-train.js';

function randomInputs(n: number, shape: ChainShape, seed: number): Float32Array {
  const r = mulberry32(seed);
  const T = shape.segments.reduce((a, b) => a + b, 0);
  return Float32Array.from({ length: n * T * shape.inputs }, () => r() * 2 - 1);
}

/** The kernel's gradient of two sequences' mean loss, and that loss as a function of p (for finite differences). */
function gradientAndLoss(shape: ChainShape, p: Float64Array, x: Float32Array, y: Int32Array, c0: Float32Array): { grad: Float64Array; loss: () => number } {
  const kernel = new ChainKernel(shape);
  const grad = new Float64Array(p.length);
  kernel.gradient(p, x, y, [0, 1], 0.5, grad, c0);
  const loss = () => {
    let s = 0;
    for (const n of [0, 1]) s -= 0.5 * Math.log(kernel.forward(p, x, n, c0)[y[n]]);
    return s;
  };
  return { grad, loss };
}

/** Every entry of grad equals the central finite difference of loss() in that parameter of p. */
function assertFiniteDifferences(p: Float64Array, grad: Float64Array, loss: () => number): void {
  const eps = 1e-6;
  for (let i = 0; i < p.length; i++) {
    const keep = p[i];
    p[i] = keep + eps;
    const up = loss();
    p[i] = keep - eps;
    const down = loss();
    p[i] = keep;
    const numeric = (up - down) / (2 * eps);
    const err = Math.abs(numeric - grad[i]) / Math.max(1e-8, Math.abs(numeric) + Math.abs(grad[i]));
    assert.ok(err < 1e-6 || Math.abs(numeric - grad[i]) < 1e-9, `parameter ${i}: analytic ${grad[i]}, numeric ${numeric}`);
  }
}

describe('LSTM chain kernel', () => {
  it('with one segment equals the reference LSTM, forward and gradient', () => {
    const shape = { inputs: 3, units: 4, classes: 3, segments: [6] };
    const ref = LstmClassifier.init({ inputs: 3, units: 4, classes: 3 }, 11);
    const r = mulberry32(2);
    for (let i = 0; i < ref.params.length; i++) ref.params[i] += 0.3 * (r() - 0.5);
    // The same numbers in the chain's layout: gate row j = [W_j | U_j], then b, V, a.
    const L = chainLayout(shape);
    const p = new Float64Array(L.total);
    for (let j = 0; j < 16; j++) {
      for (let d = 0; d < 3; d++) p[j * 7 + d] = ref.W[j * 3 + d];
      for (let k = 0; k < 4; k++) p[j * 7 + 3 + k] = ref.U[j * 4 + k];
      p[16 * 7 + j] = ref.b[j];
    }
    p.set(ref.V, L.vAt);
    p.set(ref.a, L.aAt);
    const x = randomInputs(1, shape, 3);
    const kernel = new ChainKernel(shape);
    const probs = kernel.forward(p, x, 0);
    const cache = ref.forward(Float64Array.from(x), 6);
    for (let c = 0; c < 3; c++) assert.ok(Math.abs(probs[c] - cache.probs[c]) < 1e-12);
    const g = new Float64Array(L.total);
    kernel.backward(p, x, 0, 1, 1, g);
    const gr = new Float64Array(ref.params.length);
    ref.backward(cache, 1, gr);
    const refView = new LstmClassifier(ref.shape, gr);
    for (let j = 0; j < 16; j++) {
      for (let d = 0; d < 3; d++) assert.ok(Math.abs(g[j * 7 + d] - refView.W[j * 3 + d]) < 1e-12);
      for (let k = 0; k < 4; k++) assert.ok(Math.abs(g[j * 7 + 3 + k] - refView.U[j * 4 + k]) < 1e-12);
    }
  });

  it('backpropagation through a chain of cells and an initial cell state equals central finite differences', () => {
    const shape = { inputs: 3, units: 4, classes: 3, segments: [2, 3, 2] };
    const p = initChain(shape, 5);
    const r = mulberry32(7);
    for (let i = 0; i < p.length; i++) p[i] += 0.3 * (r() - 0.5);
    const x = randomInputs(2, shape, 8);
    const c0 = Float32Array.from({ length: 8 }, () => r() - 0.5);
    const y = Int32Array.from([2, 0]);
    const { grad, loss } = gradientAndLoss(shape, p, x, y, c0);
    assertFiniteDifferences(p, grad, loss);
  });

  it('the peephole cell: backpropagation equals central finite differences, peepholes included', () => {
    const shape = { inputs: 3, units: 4, classes: 3, segments: [2, 3, 2], peephole: true };
    const p = initChain(shape, 5);
    const r = mulberry32(17);
    // Every parameter away from its initial value (the peepholes start at 0, where they would do nothing).
    for (let i = 0; i < p.length; i++) p[i] += 0.6 * (r() - 0.5);
    const x = randomInputs(2, shape, 9);
    const c0 = Float32Array.from({ length: 8 }, () => 2 * (r() - 0.5));
    const y = Int32Array.from([1, 2]);
    const { grad, loss } = gradientAndLoss(shape, p, x, y, c0);
    const L = chainLayout(shape);
    const G = 16;
    const peepholes = L.mAt.flatMap((m) => Array.from({ length: 12 }, (_, k) => m + G * 7 + G + k));
    assert.equal(L.mAt[1] - L.mAt[0], G * 7 + G + 12, 'three peephole vectors of H per cell');
    assert.ok(peepholes.every((i) => Math.abs(grad[i]) > 1e-6), 'every peephole weight gets a gradient');
    assertFiniteDifferences(p, grad, loss);
  });

  it('the peephole cell with its peepholes at 0 is the standard cell', () => {
    const std = { inputs: 3, units: 4, classes: 2, segments: [3, 2] };
    const peep = { ...std, peephole: true };
    const p = initChain(std, 3);
    const r = mulberry32(4);
    for (let i = 0; i < p.length; i++) p[i] += 0.4 * (r() - 0.5);
    const Ls = chainLayout(std);
    const Lp = chainLayout(peep);
    const q = new Float64Array(Lp.total);
    Ls.mAt.forEach((m, s) => q.set(p.subarray(m, m + 16 * 7 + 16), Lp.mAt[s]));
    q.set(p.subarray(Ls.vAt), Lp.vAt);
    const x = randomInputs(1, std, 5);
    const a = Array.from(new ChainKernel(std).forward(p, x, 0));
    const b = Array.from(new ChainKernel(peep).forward(q, x, 0));
    for (let c = 0; c < 2; c++) assert.ok(Math.abs(a[c] - b[c]) < 1e-12, `${a} vs ${b}`);
  });

  it('gives the same probabilities as TensorFlow.js LSTM layers with the same weights, cell after cell', async () => {
    // The CommonJS bundles: tfjs' ES module build does not load in Node (directory imports), and the layers package
    // must share one tfjs-core instance with the backend.
    const require = createRequire(import.meta.url);
    const tf = require('@tensorflow/tfjs-core') as typeof import('@tensorflow/tfjs-core');
    require('@tensorflow/tfjs-backend-cpu');
    const tfl = require('@tensorflow/tfjs-layers') as typeof import('@tensorflow/tfjs-layers');
    await tf.setBackend('cpu');
    const D = 6;
    const H = 32;
    const K = 5;
    const shape = { inputs: D, units: H, classes: K, segments: [32, 32, 32, 32] };
    const p = initChain(shape, 21);
    const r = mulberry32(4);
    for (let i = 0; i < p.length; i++) p[i] += 0.2 * (r() - 0.5);
    const N = 3;
    const x = randomInputs(N, shape, 9);
    const c0 = Float32Array.from({ length: N * H }, () => r() - 0.5);
    const L = chainLayout(shape);
    const mine = new ChainKernel(shape).predict(p, x, N, c0);

    // tf.layers.lstm: kernel [D, 4H], recurrentKernel [H, 4H], bias [4H], gates i, f, c, o (our i, f, g, o).
    const xt = tf.tensor3d(x, [N, 128, D]);
    let h = tf.zeros([N, H]);
    let c = tf.tensor2d(c0, [N, H]);
    for (let s = 0; s < 4; s++) {
      const m = L.mAt[s];
      const kernel = new Float32Array(D * 4 * H);
      const rec = new Float32Array(H * 4 * H);
      for (let j = 0; j < 4 * H; j++) {
        for (let d = 0; d < D; d++) kernel[d * 4 * H + j] = p[m + j * (D + H) + d];
        for (let k = 0; k < H; k++) rec[k * 4 * H + j] = p[m + j * (D + H) + D + k];
      }
      const bias = Float32Array.from(p.subarray(m + 4 * H * (D + H), m + 4 * H * (D + H) + 4 * H));
      // Zero initializers: the default orthogonal one needs tfjs' chained ops, which the Node bundle leaves out; the
      // weights are set below anyway.
      const layer = tfl.layers.lstm({ units: H, returnState: true, recurrentActivation: 'sigmoid', kernelInitializer: 'zeros', recurrentInitializer: 'zeros' });
      const seg = tf.slice(xt, [0, 32 * s, 0], [N, 32, D]);
      const out = layer.apply(seg, { initialState: [h, c] }) as import('@tensorflow/tfjs-core').Tensor[];
      layer.setWeights([tf.tensor2d(kernel, [D, 4 * H]), tf.tensor2d(rec, [H, 4 * H]), tf.tensor1d(bias)]);
      const again = layer.apply(seg, { initialState: [h, c] }) as import('@tensorflow/tfjs-core').Tensor[];
      void out;
      h = again[1] as typeof h;
      c = again[2] as typeof c;
    }
    const V = tf.tensor2d(Float32Array.from(p.subarray(L.vAt, L.vAt + K * H)), [K, H]);
    const a = tf.tensor1d(Float32Array.from(p.subarray(L.aAt, L.aAt + K)));
    const theirs = tf.softmax(tf.add(tf.matMul(h, V, false, true), a)).dataSync();
    let worst = 0;
    for (let i = 0; i < N * K; i++) worst = Math.max(worst, Math.abs(theirs[i] - mine[i]));
    // float32 in tfjs against float64 here, over 128 steps.
    assert.ok(worst < 1e-5, `largest difference ${worst}`);
  });

  it('trains to the same parameters twice with the same seed, and on 1, 2 or 3 threads (SIMD and float64 kernels), and learns a sequence task', async () => {
    // Class = the sign at step 3 (in the first cell), under noise everywhere: the state must carry it across cells.
    const shape = { inputs: 2, units: 8, classes: 2, segments: [6, 6] };
    const N = 400;
    const r = mulberry32(12);
    const x = new Float32Array(N * 12 * 2);
    const y = new Int32Array(N);
    for (let n = 0; n < N; n++) {
      y[n] = r() < 0.5 ? 1 : 0;
      for (let t = 0; t < 12; t++) {
        x[(n * 12 + t) * 2] = (r() - 0.5) * 0.4;
        x[(n * 12 + t) * 2 + 1] = (r() - 0.5) * 0.4;
      }
      x[(n * 12 + 3) * 2] = y[n] ? 1 : -1;
    }
    const opts = { batches: 300, batchSize: 20, learningRate: 0.02, seed: 3, threads: 2, evalEvery: 50, patience: 100 };
    for (const kernel of ['simd', 'js'] as const) {
      const a = await trainChain(shape, { x, y, count: N }, { ...opts, kernel });
      const b = await trainChain(shape, { x, y, count: N }, { ...opts, kernel });
      assert.deepEqual(a.params, b.params, kernel);
      assert.deepEqual(a.history, b.history, kernel);
      const best = a.history.find((h) => h.batch === a.bestBatch)!;
      assert.ok(best.valBalancedAccuracy >= 0.95, `${kernel}: ${JSON.stringify(a.history)}`);
    }
    // Fixed pieces of every batch, added in piece order: 1, 2 and 3 threads give the same model, bit for bit.
    for (const kernel of ['simd', 'js'] as const) {
      const two = await trainChain(shape, { x, y, count: N }, { ...opts, kernel });
      for (const threads of [1, 3]) {
        const other = await trainChain(shape, { x, y, count: N }, { ...opts, kernel, threads });
        assert.deepEqual(other.params, two.params, `${kernel}: ${threads} thread(s) against 2`);
        assert.deepEqual(other.history, two.history, `${kernel}: ${threads} thread(s) against 2`);
      }
    }
  });
});
