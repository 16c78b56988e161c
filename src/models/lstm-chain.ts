import { mulberry32 } from '../common/rng.js';

/**
 * The LSTM kernel the paper's models train on: a chain of LSTM cells of H units over one sequence of T steps, cell s
 * reading its own segment of steps and starting from the state cell s-1 ended in, then a softmax layer on the last
 * h. With one segment it is a plain LSTM classifier (equal to the reference in lstm.ts; test/models/lstm-chain.test.ts).
 *
 * Why our own kernel: measured here (32 units, 128 steps x 6 inputs, batches of 50), tfjs on wasm trains about 280
 * sequences/s on one thread and ignores more threads; PyTorch on CPU about 2,060 with 2 threads. This kernel keeps a
 * gate row's weights for the input and the recurrent state side by side (one dot product of D + H per gate), keeps
 * tanh(c) from the forward pass for the backward one, and trains data-parallel on worker threads (lstm-train.ts).
 *
 * Cell (tf.keras.layers.LSTM and torch.nn.LSTM with one bias; gate order i, f, g, o as both):
 *   z = W x_t + U h_{t-1} + b;  i, f, o = sigmoid;  g = tanh
 *   c_t = f * c_{t-1} + i * g;  h_t = o * tanh(c_t)
 * Output: p = softmax(V h_T + a); loss = mean over the batch of -log p[y].
 *
 * Peephole cell (`peephole`, Gers and Schmidhuber 2000, as the paper specifies; tf.keras' PeepholeLSTMCell): the
 * gates also see the cell state through diagonal weights, i and f the previous one, o the new one:
 *   i = sigmoid(z_i + p_i * c_{t-1});  f = sigmoid(z_f + p_f * c_{t-1});  o = sigmoid(z_o + p_o * c_t)
 * The peephole weights start at 0, so an untrained peephole cell is the standard one.
 *
 * Parameters live in one Float64Array: per segment M (4H rows of [W_row | U_row], D + H each) and b (4H), with
 * peepholes then p_i, p_f, p_o (H each), then V (K x H) and a (K). Inputs are Float32Array, N x T x D, steps already
 * in processing order.
 */
export interface ChainShape {
  /** D: inputs per step. */
  inputs: number;
  /** H: units of every cell. */
  units: number;
  /** K: classes of the softmax. */
  classes: number;
  /** Steps of each cell in processing order; their sum is T. */
  segments: number[];
  /** Peephole connections from the cell state to the gates (see above). */
  peephole?: boolean;
}

export interface ChainLayout {
  T: number;
  /** Offset of segment s's M in params; its b follows at mAt[s] + 4H (D + H). */
  mAt: number[];
  vAt: number;
  aAt: number;
  total: number;
  /** Segment index of each step. */
  segmentOf: Int32Array;
}

export function chainLayout(s: ChainShape): ChainLayout {
  const { inputs: D, units: H, classes: K } = s;
  const G = 4 * H;
  const mAt: number[] = [];
  let at = 0;
  for (let i = 0; i < s.segments.length; i++) {
    mAt.push(at);
    at += G * (D + H) + G + (s.peephole === true ? 3 * H : 0);
  }
  const vAt = at;
  const aAt = vAt + K * H;
  const T = s.segments.reduce((a, b) => a + b, 0);
  const segmentOf = new Int32Array(T);
  let t = 0;
  s.segments.forEach((n, i) => segmentOf.fill(i, t, (t += n)));
  return { T, mAt, vAt, aAt, total: aAt + K, segmentOf };
}

/** Glorot-uniform weights, zero biases except the forget gate's (1, as Keras' unit_forget_bias). Seeded. */
export function initChain(s: ChainShape, seed: number): Float64Array {
  const L = chainLayout(s);
  const { inputs: D, units: H, classes: K } = s;
  const G = 4 * H;
  const p = new Float64Array(L.total);
  const r = mulberry32(seed);
  const u = (lim: number) => (2 * r() - 1) * lim;
  for (const m of L.mAt) {
    const limW = Math.sqrt(6 / (D + G));
    const limU = Math.sqrt(6 / (H + G));
    for (let j = 0; j < G; j++) {
      const row = m + j * (D + H);
      for (let d = 0; d < D; d++) p[row + d] = u(limW);
      for (let k = 0; k < H; k++) p[row + D + k] = u(limU);
    }
    p.fill(1, m + G * (D + H) + H, m + G * (D + H) + 2 * H);
  }
  const limV = Math.sqrt(6 / (H + K));
  for (let i = 0; i < K * H; i++) p[L.vAt + i] = u(limV);
  return p;
}

/**
 * Forward and backward for a set of sequences, with the scratch memory of one sequence reused: one instance per
 * thread. Each sequence runs through all T steps before the next, so its state stays in the first-level cache.
 */
export class ChainKernel {
  readonly layout: ChainLayout;
  private readonly gates: Float64Array; // T x 4H activated i, f, g, o
  private readonly cs: Float64Array; // (T + 1) x H, row 0 = c0
  private readonly tcs: Float64Array; // T x H, tanh(c_t)
  private readonly hs: Float64Array; // (T + 1) x H, row 0 = h0
  private readonly probs: Float64Array;
  private readonly dh: Float64Array;
  private readonly dhNext: Float64Array;
  private readonly dc: Float64Array;
  private readonly dz: Float64Array;
  private readonly v: Float64Array; // [x_t | h_{t-1}]
  private readonly z: Float64Array; // gate inputs before activation
  private readonly peep: boolean;

  constructor(readonly shape: ChainShape) {
    this.layout = chainLayout(shape);
    const { units: H, classes: K } = shape;
    const T = this.layout.T;
    this.gates = new Float64Array(T * 4 * H);
    this.cs = new Float64Array((T + 1) * H);
    this.tcs = new Float64Array(T * H);
    this.hs = new Float64Array((T + 1) * H);
    this.probs = new Float64Array(K);
    this.dh = new Float64Array(H);
    this.dhNext = new Float64Array(H);
    this.dc = new Float64Array(H);
    this.dz = new Float64Array(4 * H);
    this.v = new Float64Array(shape.inputs + H);
    this.z = new Float64Array(4 * H);
    this.peep = shape.peephole === true;
  }

  /**
   * Forward pass of sequence n of x (N x T x D); c0 (N x H, optional) is its initial cell state. Leaves the
   * activations in this kernel for backward() and returns the class probabilities (a view, overwritten next call).
   * After load(p) when used directly (gradient() and predict() load themselves).
   */
  forward(p: Float64Array, x: Float32Array, n: number, c0?: Float32Array): Float64Array {
    const { inputs: D, units: H, classes: K } = this.shape;
    const { T, mAt, segmentOf, vAt, aAt } = this.layout;
    const G = 4 * H;
    const R = D + H;
    const { gates, cs, tcs, hs, probs, v } = this;
    const xAt = n * T * D;
    for (let k = 0; k < H; k++) {
      hs[k] = 0;
      cs[k] = c0 ? c0[n * H + k] : 0;
    }
    for (let t = 0; t < T; t++) {
      const xt = xAt + t * D;
      const hp = t * H;
      const gt = t * G;
      for (let d = 0; d < D; d++) v[d] = x[xt + d];
      for (let k = 0; k < H; k++) v[D + k] = hs[hp + k];
      if (this.peep) {
        this.peepholeStep(p, segmentOf[t], v, t);
        continue;
      }
      this.computeGates(p, segmentOf[t], v, gates, gt);
      for (let k = 0; k < H; k++) {
        const c = gates[gt + H + k] * cs[hp + k] + gates[gt + k] * gates[gt + 2 * H + k];
        const tc = Math.tanh(c);
        cs[hp + H + k] = c;
        tcs[hp + k] = tc;
        hs[hp + H + k] = gates[gt + 3 * H + k] * tc;
      }
    }
    let mx = -Infinity;
    for (let c = 0; c < K; c++) {
      let z = p[aAt + c];
      for (let k = 0; k < H; k++) z += p[vAt + c * H + k] * hs[T * H + k];
      probs[c] = z;
      if (z > mx) mx = z;
    }
    let s = 0;
    for (let c = 0; c < K; c++) s += probs[c] = Math.exp(probs[c] - mx);
    for (let c = 0; c < K; c++) probs[c] /= s;
    return probs;
  }

  /** One forward step of the peephole cell: gates from z and the cell state, c_t, tanh(c_t), h_t. */
  private peepholeStep(p: Float64Array, s: number, v: Float64Array, t: number): void {
    const H = this.shape.units;
    const G = 4 * H;
    const { gates, cs, tcs, hs } = this;
    const z = this.z;
    this.rawGates(p, s, v, z);
    const pAt = this.layout.mAt[s] + G * (this.shape.inputs + H) + G;
    const gt = t * G;
    const hp = t * H;
    for (let k = 0; k < H; k++) {
      const cPrev = cs[hp + k];
      const i = 1 / (1 + Math.exp(-(z[k] + p[pAt + k] * cPrev)));
      const f = 1 / (1 + Math.exp(-(z[H + k] + p[pAt + H + k] * cPrev)));
      const g = Math.tanh(z[2 * H + k]);
      const c = f * cPrev + i * g;
      const o = 1 / (1 + Math.exp(-(z[3 * H + k] + p[pAt + 2 * H + k] * c)));
      const tc = Math.tanh(c);
      gates[gt + k] = i;
      gates[gt + H + k] = f;
      gates[gt + 2 * H + k] = g;
      gates[gt + 3 * H + k] = o;
      cs[hp + H + k] = c;
      tcs[hp + k] = tc;
      hs[hp + H + k] = o * tc;
    }
  }

  /** The gate inputs z = b + [W | U] v of the cell of segment s, before activation, into z. */
  protected rawGates(p: Float64Array, s: number, v: Float64Array, z: Float64Array): void {
    const { inputs: D, units: H } = this.shape;
    const G = 4 * H;
    const R = D + H;
    const m = this.layout.mAt[s];
    const bAt = m + G * R;
    for (let j = 0; j < G; j++) {
      const r = m + j * R;
      let a = p[bAt + j];
      for (let q = 0; q < R; q++) a += p[r + q] * v[q];
      z[j] = a;
    }
  }

  /**
   * The activated gates i, f, g, o of the cell of segment s into out[at...]: z = b + [W | U] v four gate rows at a
   * time, four independent sums (a single running sum waits on the adder's latency at every term).
   */
  protected computeGates(p: Float64Array, s: number, v: Float64Array, out: Float64Array, at: number): void {
    const { inputs: D, units: H } = this.shape;
    const z = this.z;
    const G = 4 * H;
    const R = D + H;
    const m = this.layout.mAt[s];
    const bAt = m + G * R;
    for (let j = 0; j < G; j += 4) {
      const r0 = m + j * R;
      const r1 = r0 + R;
      const r2 = r1 + R;
      const r3 = r2 + R;
      let z0 = p[bAt + j];
      let z1 = p[bAt + j + 1];
      let z2 = p[bAt + j + 2];
      let z3 = p[bAt + j + 3];
      for (let q = 0; q < R; q++) {
        const vq = v[q];
        z0 += p[r0 + q] * vq;
        z1 += p[r1 + q] * vq;
        z2 += p[r2 + q] * vq;
        z3 += p[r3 + q] * vq;
      }
      z[j] = z0;
      z[j + 1] = z1;
      z[j + 2] = z2;
      z[j + 3] = z3;
    }
    for (let j = 0; j < G; j++) out[at + j] = j >= 2 * H && j < 3 * H ? Math.tanh(z[j]) : 1 / (1 + Math.exp(-z[j]));
  }

  /** grad[W | U] += dz v^T and grad[b] += dz for the cell of segment s; dhNext = U^T dz. */
  protected backProducts(p: Float64Array, s: number, v: Float64Array, dz: Float64Array, dhNext: Float64Array, grad: Float64Array): void {
    const { inputs: D, units: H } = this.shape;
    const G = 4 * H;
    const R = D + H;
    const m = this.layout.mAt[s];
    const bAt = m + G * R;
    dhNext.fill(0);
    for (let j = 0; j < G; j += 4) {
      const d0 = dz[j];
      const d1 = dz[j + 1];
      const d2 = dz[j + 2];
      const d3 = dz[j + 3];
      grad[bAt + j] += d0;
      grad[bAt + j + 1] += d1;
      grad[bAt + j + 2] += d2;
      grad[bAt + j + 3] += d3;
      const r0 = m + j * R;
      const r1 = r0 + R;
      const r2 = r1 + R;
      const r3 = r2 + R;
      for (let q = 0; q < R; q++) {
        const vq = v[q];
        grad[r0 + q] += d0 * vq;
        grad[r1 + q] += d1 * vq;
        grad[r2 + q] += d2 * vq;
        grad[r3 + q] += d3 * vq;
      }
      for (let k = 0; k < H; k++) dhNext[k] += d0 * p[r0 + D + k] + d1 * p[r1 + D + k] + d2 * p[r2 + D + k] + d3 * p[r3 + D + k];
    }
  }

  /** Called before a run of forward()/backward() with these parameters (the SIMD kernel converts them). */
  load(_p: Float64Array): void {}

  /** Called before gradients accumulate, and after, to add what the kernel holds into grad. */
  protected beginGradient(): void {}
  protected endGradient(_grad: Float64Array): void {}

  /** The last cell state of the last forward() (a view). */
  lastCell(): Float64Array {
    const H = this.shape.units;
    return this.cs.subarray(this.layout.T * H, (this.layout.T + 1) * H);
  }

  /**
   * Add scale * d(-log p[y]) / d params for the sequence of the last forward() into grad. Returns the loss.
   * The gradient does not reach c0: the paper's action models learn independently of the app model that gives it.
   */
  backward(p: Float64Array, x: Float32Array, n: number, y: number, scale: number, grad: Float64Array): number {
    const { inputs: D, units: H, classes: K } = this.shape;
    const { T, mAt, segmentOf, vAt, aAt } = this.layout;
    const G = 4 * H;
    const R = D + H;
    const { gates, cs, tcs, hs, probs, dz, v } = this;
    let dh = this.dh;
    let dhNext = this.dhNext;
    const dc = this.dc;
    dh.fill(0);
    dc.fill(0);
    const loss = -Math.log(Math.max(probs[y], 1e-300));
    for (let c = 0; c < K; c++) {
      const d = scale * (probs[c] - (c === y ? 1 : 0));
      grad[aAt + c] += d;
      for (let k = 0; k < H; k++) {
        grad[vAt + c * H + k] += d * hs[T * H + k];
        dh[k] += d * p[vAt + c * H + k];
      }
    }
    const xAt = n * T * D;
    for (let t = T - 1; t >= 0; t--) {
      const gt = t * G;
      const hp = t * H;
      if (this.peep) {
        // The peephole cell: o also depends on c_t, and c_{t-1} reaches i and f (module comment).
        const pAt = mAt[segmentOf[t]] + G * R + G;
        for (let k = 0; k < H; k++) {
          const i = gates[gt + k];
          const f = gates[gt + H + k];
          const g = gates[gt + 2 * H + k];
          const o = gates[gt + 3 * H + k];
          const tc = tcs[hp + k];
          const cPrev = cs[hp + k];
          const c = cs[hp + H + k];
          const dzo = dh[k] * tc * o * (1 - o);
          const dct = dc[k] + dh[k] * o * (1 - tc * tc) + dzo * p[pAt + 2 * H + k];
          const dzi = dct * g * i * (1 - i);
          const dzf = dct * cPrev * f * (1 - f);
          dz[k] = dzi;
          dz[H + k] = dzf;
          dz[2 * H + k] = dct * i * (1 - g * g);
          dz[3 * H + k] = dzo;
          grad[pAt + k] += dzi * cPrev;
          grad[pAt + H + k] += dzf * cPrev;
          grad[pAt + 2 * H + k] += dzo * c;
          dc[k] = dct * f + dzi * p[pAt + k] + dzf * p[pAt + H + k];
        }
      } else {
        for (let k = 0; k < H; k++) {
          const i = gates[gt + k];
          const f = gates[gt + H + k];
          const g = gates[gt + 2 * H + k];
          const o = gates[gt + 3 * H + k];
          const tc = tcs[hp + k];
          const dct = dc[k] + dh[k] * o * (1 - tc * tc);
          dz[k] = dct * g * i * (1 - i);
          dz[H + k] = dct * cs[hp + k] * f * (1 - f);
          dz[2 * H + k] = dct * i * (1 - g * g);
          dz[3 * H + k] = dh[k] * tc * o * (1 - o);
          dc[k] = dct * f;
        }
      }
      const xt = xAt + t * D;
      for (let d = 0; d < D; d++) v[d] = x[xt + d];
      for (let k = 0; k < H; k++) v[D + k] = hs[hp + k];
      this.backProducts(p, segmentOf[t], v, dz, dhNext, grad);
      const swap = dh;
      dh = dhNext;
      dhNext = swap;
    }
    return loss;
  }

  /** Sum over sequences ids of scale * gradient into grad; returns the summed loss. */
  gradient(p: Float64Array, x: Float32Array, y: Int32Array, ids: ArrayLike<number>, scale: number, grad: Float64Array, c0?: Float32Array): number {
    this.load(p);
    this.beginGradient();
    let loss = 0;
    for (let i = 0; i < ids.length; i++) {
      const n = ids[i];
      this.forward(p, x, n, c0);
      loss += this.backward(p, x, n, y[n], scale, grad);
    }
    this.endGradient(grad);
    return loss;
  }

  /** Class probabilities of every sequence (N x K) and, when asked, each one's last cell state (N x H). */
  predict(p: Float64Array, x: Float32Array, count: number, c0?: Float32Array, cells?: Float32Array): Float64Array {
    const { classes: K, units: H } = this.shape;
    const out = new Float64Array(count * K);
    this.load(p);
    for (let n = 0; n < count; n++) {
      out.set(this.forward(p, x, n, c0), n * K);
      if (cells) cells.set(this.lastCell(), n * H);
    }
    return out;
  }
}

/** Adam (Kingma and Ba) with the defaults of tf.keras and torch, and optional clipping by global norm. */
export class Adam {
  private readonly m: Float64Array;
  private readonly v: Float64Array;
  private t = 0;
  constructor(
    private readonly params: Float64Array,
    private readonly lr = 1e-3,
    private readonly clipNorm = Infinity,
    private readonly b1 = 0.9,
    private readonly b2 = 0.999,
    private readonly eps = 1e-7,
  ) {
    this.m = new Float64Array(params.length);
    this.v = new Float64Array(params.length);
  }

  step(grad: Float64Array): void {
    let norm = 0;
    for (let i = 0; i < grad.length; i++) norm += grad[i] * grad[i];
    norm = Math.sqrt(norm);
    const k = norm > this.clipNorm ? this.clipNorm / norm : 1;
    this.t++;
    const c1 = 1 - this.b1 ** this.t;
    const c2 = 1 - this.b2 ** this.t;
    const { m, v, params, b1, b2, lr, eps } = this;
    for (let i = 0; i < grad.length; i++) {
      const g = grad[i] * k;
      m[i] = b1 * m[i] + (1 - b1) * g;
      v[i] = b2 * v[i] + (1 - b2) * g * g;
      params[i] -= (lr * (m[i] / c1)) / (Math.sqrt(v[i] / c2) + eps);
    }
  }
}
