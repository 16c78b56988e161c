import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../src/common/rng.js';
import { Adam, LstmClassifier } from '../../src/models/lstm.js';

describe('LSTM reference implementation', () => {
  it('backpropagation through time equals central finite differences for every parameter', () => {
    const shape = { inputs: 3, units: 4, classes: 3 };
    const m = LstmClassifier.init(shape, 11);
    const r = mulberry32(5);
    for (let i = 0; i < m.params.length; i++) m.params[i] += 0.3 * (r() - 0.5); // biases away from zero too
    const T = 6;
    const x = Float64Array.from({ length: T * 3 }, () => r() * 2 - 1);
    const y = 2;
    const grad = new Float64Array(m.params.length);
    m.backward(m.forward(x, T), y, grad);
    // Central differences at eps = 1e-6 carry about 1e-10 of rounding noise: gradients agree to a relative 1e-6, or
    // to 1e-9 absolute where they are tiny.
    const eps = 1e-6;
    for (let i = 0; i < m.params.length; i++) {
      const keep = m.params[i];
      m.params[i] = keep + eps;
      const up = LstmClassifier.loss(m.forward(x, T), y);
      m.params[i] = keep - eps;
      const down = LstmClassifier.loss(m.forward(x, T), y);
      m.params[i] = keep;
      const numeric = (up - down) / (2 * eps);
      const err = Math.abs(numeric - grad[i]) / Math.max(1e-8, Math.abs(numeric) + Math.abs(grad[i]));
      assert.ok(err < 1e-6 || Math.abs(numeric - grad[i]) < 1e-9, `parameter ${i}: analytic ${grad[i]}, numeric ${numeric}`);
    }
  });

  it('learns a sequence task no single step can tell: which sign came first', () => {
    const shape = { inputs: 1, units: 8, classes: 2 };
    const m = LstmClassifier.init(shape, 3);
    const opt = new Adam(m.params, 0.02);
    const r = mulberry32(9);
    const sample = (): [Float64Array, number] => {
      const y = r() < 0.5 ? 1 : 0;
      const x = Float64Array.from({ length: 8 }, () => (r() - 0.5) * 0.2);
      x[0] = y ? 1 : -1;
      return [x, y];
    };
    for (let step = 0; step < 300; step++) {
      const grad = new Float64Array(m.params.length);
      for (let b = 0; b < 16; b++) {
        const [x, y] = sample();
        m.backward(m.forward(x, 8), y, grad);
      }
      for (let i = 0; i < grad.length; i++) grad[i] /= 16;
      opt.step(grad);
    }
    let right = 0;
    for (let i = 0; i < 200; i++) {
      const [x, y] = sample();
      const p = m.forward(x, 8).probs;
      if ((p[1] > p[0] ? 1 : 0) === y) right++;
    }
    assert.ok(right >= 190, `${right} of 200`);
  });
});
