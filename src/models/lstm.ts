import { mulberry32 } from '../common/rng.js';

/**
 * A single LSTM layer and a softmax output, forward and backward (backpropagation through time), written here
 * because the measured options are slow for this size: tfjs on wasm trains about 280 sequences/s of 128 x 6 with
 * 32 units on one thread, a plain TypeScript loop about 480. This is the reference implementation the batched
 * kernel will be checked against; its gradients are checked against finite differences (test/models/lstm.test.ts).
 *
 * Cell (the standard one, as tf.keras.layers.LSTM / torch.nn.LSTM with one bias):
 *   z = W x_t + U h_{t-1} + b, split into i, f, g, o (4 x H)
 *   i = sigmoid, f = sigmoid, g = tanh, o = sigmoid
 *   c_t = f * c_{t-1} + i * g,  h_t = o * tanh(c_t)
 * The classifier reads h at the last step: p = softmax(V h_T + a); loss = -log p[y].
 */

export interface LstmShape {
  inputs: number;
  units: number;
  classes: number;
}

/** All parameters in one array (W, U, b, V, a), so optimisers and gradient checks treat them as one vector. */
export class LstmClassifier {
  readonly params: Float64Array;
  readonly W: Float64Array;
  readonly U: Float64Array;
  readonly b: Float64Array;
  readonly V: Float64Array;
  readonly a: Float64Array;

  constructor(
    readonly shape: LstmShape,
    params?: Float64Array,
  ) {
    const { inputs: D, units: H, classes: K } = shape;
    const sizes = [4 * H * D, 4 * H * H, 4 * H, K * H, K];
    const total = sizes.reduce((x, y) => x + y, 0);
    this.params = params ?? new Float64Array(total);
    if (this.params.length !== total) throw new Error(`lstm: ${this.params.length} parameters given, ${total} needed`);
    let at = 0;
    const take = (n: number) => this.params.subarray(at, (at += n));
    this.W = take(sizes[0]);
    this.U = take(sizes[1]);
    this.b = take(sizes[2]);
    this.V = take(sizes[3]);
    this.a = take(sizes[4]);
  }

  /** Glorot-uniform weights, zero biases except the forget gate's (1, as Keras' unit_forget_bias). */
  static init(shape: LstmShape, seed: number): LstmClassifier {
    const m = new LstmClassifier(shape);
    const r = mulberry32(seed);
    const { inputs: D, units: H, classes: K } = shape;
    const fill = (v: Float64Array, fanIn: number, fanOut: number) => {
      const lim = Math.sqrt(6 / (fanIn + fanOut));
      for (let i = 0; i < v.length; i++) v[i] = (2 * r() - 1) * lim;
    };
    fill(m.W, D, 4 * H);
    fill(m.U, H, 4 * H);
    fill(m.V, H, K);
    for (let j = H; j < 2 * H; j++) m.b[j] = 1;
    return m;
  }

  /** Forward over x (T x D, row-major); keeps what backward needs. */
  forward(x: Float64Array, T: number): LstmCache {
    const { inputs: D, units: H, classes: K } = this.shape;
    const gates = new Float64Array(T * 4 * H); // activated i, f, g, o
    const cs = new Float64Array((T + 1) * H); // c_{-1} = 0 at row 0
    const hs = new Float64Array((T + 1) * H);
    for (let t = 0; t < T; t++) {
      const hp = t * H;
      for (let j = 0; j < 4 * H; j++) {
        let z = this.b[j];
        for (let d = 0; d < D; d++) z += this.W[j * D + d] * x[t * D + d];
        for (let k = 0; k < H; k++) z += this.U[j * H + k] * hs[hp + k];
        gates[t * 4 * H + j] = j >= 2 * H && j < 3 * H ? Math.tanh(z) : 1 / (1 + Math.exp(-z));
      }
      for (let k = 0; k < H; k++) {
        const g = t * 4 * H;
        const c = gates[g + H + k] * cs[hp + k] + gates[g + k] * gates[g + 2 * H + k];
        cs[hp + H + k] = c;
        hs[hp + H + k] = gates[g + 3 * H + k] * Math.tanh(c);
      }
    }
    const logits = new Float64Array(K);
    for (let c = 0; c < K; c++) {
      let z = this.a[c];
      for (let k = 0; k < H; k++) z += this.V[c * H + k] * hs[T * H + k];
      logits[c] = z;
    }
    const mx = Math.max(...logits);
    let s = 0;
    const probs = new Float64Array(K);
    for (let c = 0; c < K; c++) s += probs[c] = Math.exp(logits[c] - mx);
    for (let c = 0; c < K; c++) probs[c] /= s;
    return { x, T, gates, cs, hs, probs };
  }

  /** Cross-entropy of the true class. */
  static loss(cache: LstmCache, y: number): number {
    return -Math.log(Math.max(cache.probs[y], 1e-300));
  }

  /** Add d loss / d params for one sequence with true class y into grad (same layout as params). */
  backward(cache: LstmCache, y: number, grad: Float64Array): void {
    const { inputs: D, units: H, classes: K } = this.shape;
    const { x, T, gates, cs, hs, probs } = cache;
    const g = new LstmClassifier(this.shape, grad);
    const dh = new Float64Array(H);
    for (let c = 0; c < K; c++) {
      const dz = probs[c] - (c === y ? 1 : 0);
      g.a[c] += dz;
      for (let k = 0; k < H; k++) {
        g.V[c * H + k] += dz * hs[T * H + k];
        dh[k] += dz * this.V[c * H + k];
      }
    }
    const dc = new Float64Array(H);
    const dz = new Float64Array(4 * H);
    for (let t = T - 1; t >= 0; t--) {
      const base = t * 4 * H;
      for (let k = 0; k < H; k++) {
        const i = gates[base + k];
        const f = gates[base + H + k];
        const gg = gates[base + 2 * H + k];
        const o = gates[base + 3 * H + k];
        const tc = Math.tanh(cs[(t + 1) * H + k]);
        const dct = dc[k] + dh[k] * o * (1 - tc * tc);
        dz[k] = dct * gg * i * (1 - i);
        dz[H + k] = dct * cs[t * H + k] * f * (1 - f);
        dz[2 * H + k] = dct * i * (1 - gg * gg);
        dz[3 * H + k] = dh[k] * tc * o * (1 - o);
        dc[k] = dct * f;
      }
      dh.fill(0);
      for (let j = 0; j < 4 * H; j++) {
        const d = dz[j];
        if (d === 0) continue;
        g.b[j] += d;
        for (let q = 0; q < D; q++) g.W[j * D + q] += d * x[t * D + q];
        for (let k = 0; k < H; k++) {
          g.U[j * H + k] += d * hs[t * H + k];
          dh[k] += d * this.U[j * H + k];
        }
      }
    }
  }
}

export interface LstmCache {
  x: Float64Array;
  T: number;
  gates: Float64Array;
  cs: Float64Array;
  hs: Float64Array;
  probs: Float64Array;
}

/** Adam lives with the batched kernel; re-exported for the reference's users. */
export { Adam } from './lstm-chain.js';
