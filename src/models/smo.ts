/**
 * C-SVC with an RBF kernel, one-vs-one, solved as libsvm solves it (Fan, Chen and Lin 2005: SMO with the
 * second-order working-set selection, tolerance 1e-3, kernel values held as 32-bit floats as libsvm's cache holds
 * them, rho from the free variables), on dense typed arrays.
 *
 * Why not libsvm-js (libsvm compiled to WebAssembly, which we used): it fit 3-5x slower than scikit-learn's libsvm
 * on a 20-class task of 4,676 rows, for two reasons this file removes. Its vectors are libsvm's sparse nodes, so
 * every kernel value merges two index lists; and each of the k(k-1)/2 pair problems computes its own kernel rows,
 * so a row pair is computed up to k-1 times over. Here the training set's kernel matrix is computed once (dense
 * dot products from the squared norms) when it fits in KERNEL_BUDGET_BYTES, and each pair problem reads its block.
 * No shrinking: it changes how fast the solver gets there, not where.
 */

/** The whole training kernel matrix (n x n float32) is computed once when it fits in this many bytes. */
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

function sqNorms(x: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = i * d, e = t + d; t < e; t++) s += x[t] * x[t];
    out[i] = s;
  }
  return out;
}

function dot(x: Float64Array, i: number, y: Float64Array, j: number, d: number): number {
  let s0 = 0;
  let s1 = 0;
  let t = 0;
  for (; t + 1 < d; t += 2) {
    s0 += x[i + t] * y[j + t];
    s1 += x[i + t + 1] * y[j + t + 1];
  }
  if (t < d) s0 += x[i + t] * y[j + t];
  return s0 + s1;
}

/** exp(-gamma * |x_i - x_j|^2) for the rows `rows` against themselves, into an l x l float32 block. */
function kernelBlock(x: Float64Array, norms: Float64Array, d: number, rows: Int32Array, gamma: number, global?: { k: Float32Array; n: number }): Float32Array {
  const l = rows.length;
  const out = new Float32Array(l * l);
  for (let p = 0; p < l; p++) {
    const i = rows[p];
    if (global) {
      const base = i * global.n;
      for (let q = 0; q < l; q++) out[p * l + q] = global.k[base + rows[q]];
      continue;
    }
    out[p * l + p] = 1;
    for (let q = 0; q < p; q++) {
      const j = rows[q];
      const v = Math.exp(-gamma * (norms[i] + norms[j] - 2 * dot(x, i * d, x, j * d, d)));
      out[p * l + q] = v;
      out[q * l + p] = v;
    }
  }
  return out;
}

/** The training set's kernel matrix, n x n float32 (symmetric, stored whole so a block gathers by rows). */
function kernelMatrix(x: Float64Array, norms: Float64Array, n: number, d: number, gamma: number): Float32Array {
  const k = new Float32Array(n * n);
  for (let i = 0; i < n; i++) {
    k[i * n + i] = 1;
    const xi = i * d;
    const ni = norms[i];
    for (let j = 0; j < i; j++) {
      const v = Math.exp(-gamma * (ni + norms[j] - 2 * dot(x, xi, x, j * d, d)));
      k[i * n + j] = v;
      k[j * n + i] = v;
    }
  }
  return k;
}

/**
 * One binary problem: min 1/2 a'Qa - e'a, 0 <= a <= C, y'a = 0, Q_ij = y_i y_j K_ij. Returns alpha and rho
 * (libsvm's Solver::Solve without shrinking, and calculate_rho).
 */
function solve(K: Float32Array, y: Int8Array, C: number): { alpha: Float64Array; rho: number } {
  const l = y.length;
  const alpha = new Float64Array(l);
  const G = new Float64Array(l).fill(-1);
  // 0 lower bound, 1 upper bound, 2 free
  const status = new Uint8Array(l);
  const setStatus = (t: number) => {
    status[t] = alpha[t] >= C ? 1 : alpha[t] <= 0 ? 0 : 2;
  };
  const maxIter = Math.max(10_000_000, l > 2 ** 31 / 100 ? 2 ** 31 : 100 * l);
  for (let iter = 0; iter < maxIter; iter++) {
    // Working set: i maximises -y_t G_t over I_up; j minimises the second-order objective decrease.
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
    if (i < 0) break;
    const rowI = i * l;
    const yi = y[i];
    let gmax2 = -Infinity;
    let j = -1;
    let objMin = Infinity;
    for (let t = 0; t < l; t++) {
      const qit = yi * y[t] * K[rowI + t];
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
    if (gmax + gmax2 < EPS || j < 0) break;
    // Two-variable update with clipping to the box (libsvm's, for equal C on both classes).
    const rowJ = j * l;
    const qij = y[i] * y[j] * K[rowI + j];
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
    // G_t += Q_ti dI + Q_tj dJ, with Q_ti = y_t y_i K_ti.
    const ai = y[i] * dI;
    const aj = y[j] * dJ;
    for (let t = 0; t < l; t++) G[t] += y[t] * (K[rowI + t] * ai + K[rowJ + t] * aj);
    setStatus(i);
    setStatus(j);
  }
  // rho: the mean of y G over free variables, else the middle of the feasible interval.
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
  return { alpha, rho: free > 0 ? sumFree / free : (ub + lb) / 2 };
}

/** Fit on scaled rows `x` (n x d, row-major). Returns undefined when a pair's block would not fit the budget. */
export function fitSmo(x: Float64Array, n: number, d: number, labels: Int32Array, classes: number, gamma: number, C = 1): SmoModel | undefined {
  const norms = sqNorms(x, n, d);
  const members: number[][] = Array.from({ length: classes }, () => []);
  for (let i = 0; i < n; i++) members[labels[i]].push(i);
  const present = members.map((m, c) => (m.length > 0 ? c : -1)).filter((c) => c >= 0);
  for (let a = 0; a < present.length; a++)
    for (let b = a + 1; b < present.length; b++) {
      const l = members[present[a]].length + members[present[b]].length;
      if (l * l * 4 > KERNEL_BUDGET_BYTES) return undefined;
    }
  const global = n * n * 4 <= KERNEL_BUDGET_BYTES && present.length > 2 ? { k: kernelMatrix(x, norms, n, d, gamma), n } : undefined;
  const used = new Int32Array(n).fill(-1);
  const svRows: number[] = [];
  const pairs: PairModel[] = [];
  for (let a = 0; a < present.length; a++)
    for (let b = a + 1; b < present.length; b++) {
      const rows = Int32Array.from([...members[present[a]], ...members[present[b]]]);
      const y = Int8Array.from(rows, (_, p) => (p < members[present[a]].length ? 1 : -1));
      const K = kernelBlock(x, norms, d, rows, gamma, global);
      const { alpha, rho } = solve(K, y, C);
      const idx: number[] = [];
      const coef: number[] = [];
      for (let p = 0; p < rows.length; p++) {
        if (alpha[p] <= 0) continue;
        const r = rows[p];
        if (used[r] < 0) {
          used[r] = svRows.length;
          svRows.push(r);
        }
        idx.push(used[r]);
        coef.push(alpha[p] * y[p]);
      }
      pairs.push({ a: present[a], b: present[b], idx: Int32Array.from(idx), coef: Float64Array.from(coef), rho });
    }
  const sv = new Float64Array(svRows.length * d);
  svRows.forEach((r, s) => sv.set(x.subarray(r * d, r * d + d), s * d));
  return { classes, gamma, dims: d, sv, pairs };
}

/** Classes of scaled rows by one-vs-one votes (a tie goes to the lower class, as libsvm's first-seen order would). */
export function predictSmo(m: SmoModel, x: Float64Array, n: number): Int32Array {
  const d = m.dims;
  const nsv = m.sv.length / d;
  const svNorms = sqNorms(m.sv, nsv, d);
  const kx = new Float64Array(nsv);
  const votes = new Int32Array(m.classes);
  const out = new Int32Array(n);
  for (let i = 0; i < n; i++) {
    const xi = i * d;
    const ni = dot(x, xi, x, xi, d);
    for (let s = 0; s < nsv; s++) kx[s] = Math.exp(-m.gamma * (ni + svNorms[s] - 2 * dot(x, xi, m.sv, s * d, d)));
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
