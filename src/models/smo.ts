import { RbfRows } from './rbf-kernel.js';

/**
 * C-SVC with an RBF kernel, one-vs-one, solved as libsvm solves it (Fan, Chen and Lin 2005: SMO with the
 * second-order working-set selection, tolerance 1e-3, kernel values held as 32-bit floats as libsvm's cache holds
 * them, rho from the free variables), on dense typed arrays.
 *
 * Why not libsvm-js (libsvm compiled to WebAssembly, which we used): it fit 3-5x slower than scikit-learn's libsvm
 * on a 20-class task of 4,676 rows, for two reasons this file removes. Its vectors are libsvm's sparse nodes, so
 * every kernel value merges two index lists; and each of the k(k-1)/2 pair problems computes its own kernel rows,
 * so a row pair is computed up to k-1 times over. Here kernel rows are computed as the solver asks for them, as
 * libsvm does, but once for all pair problems: the training rows are put in class order, and the kernel values of
 * a row against one class (a segment of the training set's kernel matrix, held when the matrix fits in
 * KERNEL_BUDGET_BYTES) are computed the first time a pair problem with that class selects the row. On a
 * four-class task of 1,342 rows the solver selects about 40 % of each pair's rows, so about a third of the matrix
 * is never computed (computing all of it was three quarters of a fit). The values come from rbf-kernel.ts
 * (WebAssembly SIMD dot products, each summed in order as libsvm sums it). No shrinking: it changes how fast the
 * solver gets there, not where.
 */

/** The training kernel matrix (n x n float32) is held, its segments computed as needed, when it fits in this many bytes. */
export const KERNEL_BUDGET_BYTES = 256 * 1024 * 1024;
const TAU = 1e-12;
const EPS = 1e-3;

export interface PairModel {
  /** Classes a (decision > 0) and b. */
  a: number;
  b: number;
  /** Support vectors of this pair, as indices into SmoModel.sv, and their coefficients alpha_i * y_i. */
  idx: Int32Array;
  coef: Float64Array;
  rho: number;
}

export interface SmoModel {
  classes: number;
  gamma: number;
  dims: number;
  /** Support vectors (rows of the scaled training set), row-major. */
  sv: Float64Array;
  pairs: PairModel[];
}

/**
 * Kernel values of the training rows in class order (class c at rows start[c] .. start[c + 1] - 1 of `xs`), by
 * segment: the values of one row against one class, computed once, the first time a pair problem asks for them.
 * The whole n x n float32 matrix is allocated (untouched pages cost nothing) when it fits the budget; otherwise
 * each pair problem computes the rows it selects for itself.
 */
class KernelSegments {
  private readonly k: Float32Array | undefined;
  private readonly done: Uint8Array;
  private readonly rbf: RbfRows;

  constructor(
    private readonly xs: Float64Array,
    private readonly n: number,
    d: number,
    gamma: number,
    private readonly start: Int32Array,
    shared: boolean,
  ) {
    const classes = start.length - 1;
    this.rbf = new RbfRows(xs, n, d, gamma, start);
    this.k = shared ? new Float32Array(n * n) : undefined;
    this.done = new Uint8Array(shared ? n * classes : 0);
  }

  /** Row g's values against classes a and b, in that order, into out (length start[a + 1] - start[a] + the same for b). */
  pairRow(g: number, a: number, b: number, out: Float32Array): void {
    const start = this.start;
    const la = start[a + 1] - start[a];
    if (this.k === undefined) {
      this.compute(g, a, out, 0);
      this.compute(g, b, out, la);
      return;
    }
    this.copySegment(this.k, g, a, out, 0);
    this.copySegment(this.k, g, b, out, la);
  }

  /** Row g's values against class c from the held matrix k (computed there first if not yet), into out[at ..]. */
  private copySegment(k: Float32Array, g: number, c: number, out: Float32Array, at: number): void {
    const { start, n } = this;
    const from = start[c];
    const flag = g * (start.length - 1) + c;
    if (this.done[flag] === 0) {
      this.compute(g, c, k, g * n + from);
      this.done[flag] = 1;
    }
    out.set(k.subarray(g * n + from, g * n + start[c + 1]), at);
  }

  /** Row g against class c, at out[at ..]. */
  private compute(g: number, c: number, out: Float32Array, at: number): void {
    this.rbf.row(this.xs, g, this.rbf.norms[g], c, out, at);
  }
}

/**
 * The kernel rows of one pair problem (classes a and b: pair row p is class a's p-th row, then class b's), each
 * made the first time the solver selects it. An object, not a closure per pair problem: a new closure was a new
 * call target to the solver's optimised loop, which V8 then threw away pair after pair.
 */
class PairRows {
  private readonly rows: Array<Float32Array | undefined>;
  private readonly la: number;
  private readonly l: number;

  constructor(
    private readonly kernel: KernelSegments,
    private readonly start: Int32Array,
    private readonly a: number,
    private readonly b: number,
  ) {
    this.la = start[a + 1] - start[a];
    this.l = this.la + start[b + 1] - start[b];
    this.rows = new Array<Float32Array | undefined>(this.l);
  }

  /** The training row (in class order) of pair row p. */
  trainingRow(p: number): number {
    return p < this.la ? this.start[this.a] + p : this.start[this.b] + p - this.la;
  }

  row(p: number): Float32Array {
    let r = this.rows[p];
    if (r === undefined) {
      r = this.rows[p] = new Float32Array(this.l);
      this.kernel.pairRow(this.trainingRow(p), this.a, this.b, r);
      r[p] = 1;
    }
    return r;
  }
}

/**
 * One binary problem: min 1/2 a'Qa - e'a, 0 <= a <= C, y'a = 0, Q_ij = y_i y_j K_ij. Returns alpha and rho
 * (libsvm's Solver::Solve without shrinking, and calculate_rho).
 */
function solve(rows: PairRows, y: Int8Array, C: number): { alpha: Float64Array; rho: number } {
  const l = y.length;
  const alpha = new Float64Array(l);
  const G = new Float64Array(l).fill(-1);
  // 0 lower bound, 1 upper bound, 2 free
  const status = new Uint8Array(l);
  iterate(rows, y, C, alpha, G, status);
  return { alpha, rho: rhoOf(y, G, status) };
}

/**
 * The SMO iterations, alpha, G and status updated in place. Apart from solve() so that this loop ends with nothing
 * to do: its optimised code had never run what follows the loop (rho, once a pair problem), and V8 deoptimised it
 * there at the end of every pair problem, each time for a recompilation of the loop.
 */
function iterate(rows: PairRows, y: Int8Array, C: number, alpha: Float64Array, G: Float64Array, status: Uint8Array): void {
  const l = y.length;
  const maxIter = Math.max(10_000_000, l > 2 ** 31 / 100 ? 2 ** 31 : 100 * l);
  const best = new Float64Array(1);
  for (let iter = 0; iter < maxIter; iter++) {
    // Working set: i maximises -y_t G_t over I_up; j minimises the second-order objective decrease.
    const i = selectI(y, G, status, best);
    if (i < 0) break;
    const gmax = best[0];
    const Ki = rows.row(i);
    const j = selectJ(Ki, y, G, status, y[i], gmax, best);
    const gmax2 = best[0];
    if (gmax + gmax2 < EPS || j < 0) break;
    // Two-variable update with clipping to the box (libsvm's, for equal C on both classes).
    const Kj = rows.row(j);
    const qij = y[i] * y[j] * Ki[j];
    const oldI = alpha[i];
    const oldJ = alpha[j];
    if (y[i] !== y[j]) {
      let quad = 2 + 2 * qij;
      if (quad <= 0) quad = TAU;
      const delta = (-G[i] - G[j]) / quad;
      const diff = alpha[i] - alpha[j];
      alpha[i] += delta;
      alpha[j] += delta;
      if (diff > 0) {
        if (alpha[j] < 0) {
          alpha[j] = 0;
          alpha[i] = diff;
        }
      } else if (alpha[i] < 0) {
        alpha[i] = 0;
        alpha[j] = -diff;
      }
      if (diff > 0) {
        if (alpha[i] > C) {
          alpha[i] = C;
          alpha[j] = C - diff;
        }
      } else if (alpha[j] > C) {
        alpha[j] = C;
        alpha[i] = C + diff;
      }
    } else {
      let quad = 2 - 2 * qij;
      if (quad <= 0) quad = TAU;
      const delta = (G[i] - G[j]) / quad;
      const sum = alpha[i] + alpha[j];
      alpha[i] -= delta;
      alpha[j] += delta;
      if (sum > C) {
        if (alpha[i] > C) {
          alpha[i] = C;
          alpha[j] = sum - C;
        }
      } else if (alpha[j] < 0) {
        alpha[j] = 0;
        alpha[i] = sum;
      }
      if (sum > C) {
        if (alpha[j] > C) {
          alpha[j] = C;
          alpha[i] = sum - C;
        }
      } else if (alpha[i] < 0) {
        alpha[i] = 0;
        alpha[j] = sum;
      }
    }
    const dI = alpha[i] - oldI;
    const dJ = alpha[j] - oldJ;
    const ai = y[i] * dI;
    const aj = y[j] * dJ;
    updateGradient(G, y, Ki, Kj, ai, aj);
    // Inline, not a closure made per solve: a new closure was a new call target for the optimised loop each pair.
    status[i] = alpha[i] >= C ? 1 : alpha[i] <= 0 ? 0 : 2;
    status[j] = alpha[j] >= C ? 1 : alpha[j] <= 0 ? 0 : 2;
  }
}

/*
 * The solver's three passes over a pair problem's rows, as functions of their own: inside iterate() they made one
 * function so large that V8 compiled it again for each pair problem's on-stack replacement (six times a fit, about
 * 60 ms of compiler time against a 40 ms fit); apart, each is small and compiled once.
 */

/** i: the index maximising -y_t G_t over I_up (-1 when there is none); that maximum into best[0]. */
function selectI(y: Int8Array, G: Float64Array, status: Uint8Array, best: Float64Array): number {
  const l = y.length;
  let gmax = -Infinity;
  let i = -1;
  for (let t = 0; t < l; t++) {
    if (y[t] === 1) {
      if (status[t] !== 1 && -G[t] >= gmax) {
        gmax = -G[t];
        i = t;
      }
    } else if (status[t] !== 0 && G[t] >= gmax) {
      gmax = G[t];
      i = t;
    }
  }
  best[0] = gmax;
  return i;
}

/** j: the index minimising the second-order objective decrease with i (kernel row Ki, label yi); max over I_low of y_t G_t into best[0]. */
function selectJ(Ki: Float32Array, y: Int8Array, G: Float64Array, status: Uint8Array, yi: number, gmax: number, best: Float64Array): number {
  const l = y.length;
  let gmax2 = -Infinity;
  let j = -1;
  let objMin = Infinity;
  for (let t = 0; t < l; t++) {
    const qit = yi * y[t] * Ki[t];
    if (y[t] === 1) {
      if (status[t] !== 0) {
        const gd = gmax + G[t];
        if (G[t] >= gmax2) gmax2 = G[t];
        if (gd > 0) {
          const quad = 2 - 2 * yi * qit;
          const obj = -(gd * gd) / (quad > 0 ? quad : TAU);
          if (obj <= objMin) {
            j = t;
            objMin = obj;
          }
        }
      }
    } else if (status[t] !== 1) {
      const gd = gmax - G[t];
      if (-G[t] >= gmax2) gmax2 = -G[t];
      if (gd > 0) {
        const quad = 2 + 2 * yi * qit;
        const obj = -(gd * gd) / (quad > 0 ? quad : TAU);
        if (obj <= objMin) {
          j = t;
          objMin = obj;
        }
      }
    }
  }
  best[0] = gmax2;
  return j;
}

/** G_t += Q_ti dI + Q_tj dJ, with Q_ti = y_t y_i K_ti (ai = y_i dI, aj = y_j dJ). */
function updateGradient(G: Float64Array, y: Int8Array, Ki: Float32Array, Kj: Float32Array, ai: number, aj: number): void {
  const l = y.length;
  for (let t = 0; t < l; t++) G[t] += y[t] * (Ki[t] * ai + Kj[t] * aj);
}

/** rho: the mean of y G over free variables, else the middle of the feasible interval (libsvm's calculate_rho). */
function rhoOf(y: Int8Array, G: Float64Array, status: Uint8Array): number {
  const l = y.length;
  let ub = Infinity;
  let lb = -Infinity;
  let free = 0;
  let sumFree = 0;
  for (let t = 0; t < l; t++) {
    const yG = y[t] * G[t];
    if (status[t] === 1) {
      if (y[t] === -1) ub = Math.min(ub, yG);
      else lb = Math.max(lb, yG);
    } else if (status[t] === 0) {
      if (y[t] === 1) ub = Math.min(ub, yG);
      else lb = Math.max(lb, yG);
    } else {
      free++;
      sumFree += yG;
    }
  }
  return free > 0 ? sumFree / free : (ub + lb) / 2;
}

/** Fit on scaled rows `x` (n x d, row-major). Returns undefined when a pair's kernel rows would not fit the budget. */
export function fitSmo(x: Float64Array, n: number, d: number, labels: Int32Array, classes: number, gamma: number, C = 1): SmoModel | undefined {
  // The rows in class order (stable within a class), so a class is one range of rows and of each kernel row.
  const start = new Int32Array(classes + 1);
  for (let i = 0; i < n; i++) start[labels[i] + 1]++;
  for (let c = 0; c < classes; c++) start[c + 1] += start[c];
  const order = new Int32Array(n);
  const fill = start.slice(0, classes);
  for (let i = 0; i < n; i++) order[fill[labels[i]]++] = i;
  const xs = new Float64Array(n * d);
  for (let g = 0; g < n; g++) xs.set(x.subarray(order[g] * d, order[g] * d + d), g * d);
  const present: number[] = [];
  for (let c = 0; c < classes; c++) if (start[c + 1] > start[c]) present.push(c);
  const size = (c: number) => start[c + 1] - start[c];
  for (let a = 0; a < present.length; a++)
    for (let b = a + 1; b < present.length; b++) {
      const l = size(present[a]) + size(present[b]);
      if (l * l * 4 > KERNEL_BUDGET_BYTES) return undefined;
    }
  const kernel = new KernelSegments(xs, n, d, gamma, start, n * n * 4 <= KERNEL_BUDGET_BYTES && present.length > 2);
  const used = new Int32Array(n).fill(-1);
  const svRows: number[] = [];
  const pairs: PairModel[] = [];
  for (let a = 0; a < present.length; a++)
    for (let b = a + 1; b < present.length; b++) {
      const ca = present[a];
      const cb = present[b];
      const la = size(ca);
      const l = la + size(cb);
      const pair = new PairRows(kernel, start, ca, cb);
      const g = (p: number) => pair.trainingRow(p);
      const y = new Int8Array(l);
      y.fill(1, 0, la);
      y.fill(-1, la);
      const { alpha, rho } = solve(pair, y, C);
      const idx: number[] = [];
      const coef: number[] = [];
      for (let p = 0; p < l; p++) {
        if (alpha[p] <= 0) continue;
        const r = order[g(p)];
        if (used[r] < 0) {
          used[r] = svRows.length;
          svRows.push(r);
        }
        idx.push(used[r]);
        coef.push(alpha[p] * y[p]);
      }
      pairs.push({ a: ca, b: cb, idx: Int32Array.from(idx), coef: Float64Array.from(coef), rho });
    }
  const sv = new Float64Array(svRows.length * d);
  svRows.forEach((r, s) => sv.set(x.subarray(r * d, r * d + d), s * d));
  return { classes, gamma, dims: d, sv, pairs };
}

/** Classes of scaled rows by one-vs-one votes (a tie goes to the lower class, as libsvm's first-seen order would). */
export function predictSmo(m: SmoModel, x: Float64Array, n: number): Int32Array {
  const d = m.dims;
  const nsv = m.sv.length / d;
  const rbf = new RbfRows(m.sv, nsv, d, m.gamma);
  const kx = new Float64Array(nsv);
  const votes = new Int32Array(m.classes);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const xi = i * d;
    let ni = 0;
    for (let t = xi, e = xi + d; t < e; t++) ni += x[t] * x[t];
    rbf.row(x, i, ni, 0, kx, 0);
    votes.fill(0);
    for (const p of m.pairs) {
      let f = -p.rho;
      for (let q = 0; q < p.idx.length; q++) f += p.coef[q] * kx[p.idx[q]];
      votes[f > 0 ? p.a : p.b]++;
    }
    let best = 0;
    for (let c = 1; c < m.classes; c++) if (votes[c] > votes[best]) best = c;
    out[i] = best;
  }
  return out;
}
