import { RBF_SIMD_WASM } from './rbf-simd-wasm.js';
import { Wasm, type WasmModule } from './wasm.js';

/**
 * RBF kernel rows, exp(-gamma * |x_i - b_j|^2) = exp(-gamma * (|x_i|^2 + |b_j|^2 - 2 x_i . b_j)), of any row x_i
 * against a fixed set of rows b (the training rows for the SVM's solver, the support vectors for its predictions).
 *
 * The dot products run in WebAssembly SIMD (rbf-simd.wat: float64, two lanes, eight rows of b at a time): about
 * 13 ns a 99-feature product against about 55 ns in JavaScript four rows at a time, which was three quarters of an
 * SVM fit. Each product is still the plain sum in index order, libsvm's, so the values are the same doubles
 * either way; the JavaScript path is kept for a runtime without WebAssembly SIMD and as the reference the tests
 * hold the WebAssembly one to. The exponential stays in JavaScript (Math.exp).
 *
 * b is split into ranges (the SVM's classes), and a row is taken against one range at a time; each range starts a
 * new group of eight in the panel, so any range is whole groups.
 */
export class RbfRows {
  /** Squared norms of b's rows, each the sum of squares in index order. */
  readonly norms: Float64Array;
  private readonly wasm: WasmRows | undefined;

  constructor(
    private readonly b: Float64Array,
    private readonly n: number,
    private readonly d: number,
    private readonly gamma: number,
    private readonly starts: Int32Array = Int32Array.of(0, n),
    useWasm = true,
  ) {
    this.norms = squaredNorms(b, n, d);
    this.wasm = useWasm && d > 0 ? WasmRows.make(b, n, d, starts) : undefined;
  }

  /** Whether the WebAssembly SIMD path is in use. */
  get simd(): boolean {
    return this.wasm !== undefined;
  }

  /**
   * out[at + (j - from)] = the kernel value of row i of `a` (squared norm ni) against b_j, for b's rows of range
   * `range` (from = starts[range] to starts[range + 1]).
   */
  row(a: Float64Array, i: number, ni: number, range: number, out: Float32Array | Float64Array, at: number): void {
    const from = this.starts[range];
    const to = this.starts[range + 1];
    if (to <= from) return;
    const w = this.wasm;
    if (w === undefined) {
      jsRow(a, i, ni, this.b, this.norms, from, to, this.d, this.gamma, out, at);
      return;
    }
    const dots = w.dots(a, i, range);
    const norms = this.norms;
    const g = -this.gamma;
    for (let j = from, q = 0; j < to; j++, q++) out[at + q] = Math.exp(g * (ni + norms[j] - 2 * dots[q]));
  }
}

/** Sum of squares of each row, in index order. */
export function squaredNorms(x: Float64Array, n: number, d: number): Float64Array {
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let s = 0;
    for (let t = i * d, e = t + d; t < e; t++) s += x[t] * x[t];
    out[i] = s;
  }
  return out;
}

/**
 * The JavaScript path: four rows of b at a time, so each value of a_i is loaded once for four products; each
 * product the plain sum in index order.
 */
function jsRow(a: Float64Array, i: number, ni: number, b: Float64Array, nb: Float64Array, from: number, to: number, d: number, gamma: number, out: Float32Array | Float64Array, at: number): void {
  const xi = i * d;
  let j = from;
  for (; j + 4 <= to; j += 4) {
    const j0 = j * d;
    const j1 = j0 + d;
    const j2 = j1 + d;
    const j3 = j2 + d;
    let s0 = 0;
    let s1 = 0;
    let s2 = 0;
    let s3 = 0;
    for (let t = 0; t < d; t++) {
      const v = a[xi + t];
      s0 += v * b[j0 + t];
      s1 += v * b[j1 + t];
      s2 += v * b[j2 + t];
      s3 += v * b[j3 + t];
    }
    out[at++] = Math.exp(-gamma * (ni + nb[j] - 2 * s0));
    out[at++] = Math.exp(-gamma * (ni + nb[j + 1] - 2 * s1));
    out[at++] = Math.exp(-gamma * (ni + nb[j + 2] - 2 * s2));
    out[at++] = Math.exp(-gamma * (ni + nb[j + 3] - 2 * s3));
  }
  for (; j < to; j++) {
    const jd = j * d;
    let s0 = 0;
    for (let t = 0; t < d; t++) s0 += a[xi + t] * b[jd + t];
    out[at++] = Math.exp(-gamma * (ni + nb[j] - 2 * s0));
  }
}

let compiled: WasmModule | null | undefined;

function wasmModule(): WasmModule | null {
  if (compiled === undefined) {
    try {
      compiled = new Wasm.Module(Buffer.from(RBF_SIMD_WASM, 'base64'));
    } catch {
      compiled = null; // no WebAssembly SIMD in this runtime
    }
  }
  return compiled;
}

/** Groups of eight rows of b, per range, as rbf-simd.wat reads them, in a memory of their own. */
class WasmRows {
  private constructor(
    private readonly f64: Float64Array,
    private readonly dots8: (xi: number, panel: number, g0: number, g1: number, d: number, out: number) => void,
    private readonly groupStart: Int32Array,
    private readonly xiAt: number,
    private readonly outAt: number,
    private readonly out: Float64Array,
    private readonly d: number,
  ) {}

  static make(b: Float64Array, n: number, d: number, starts: Int32Array): WasmRows | undefined {
    const module = wasmModule();
    if (module === null) return undefined;
    const ranges = starts.length - 1;
    const groupStart = new Int32Array(ranges + 1);
    for (let r = 0; r < ranges; r++) groupStart[r + 1] = groupStart[r] + Math.ceil((starts[r + 1] - starts[r]) / 8);
    const groups = groupStart[ranges];
    let widest = 0;
    for (let r = 0; r < ranges; r++) widest = Math.max(widest, groupStart[r + 1] - groupStart[r]);
    // Panel at 0, then x_i's d doubles, then the dot products of the widest range; 16-byte aligned throughout.
    const panelBytes = groups * d * 64;
    const xiAt = panelBytes;
    const outAt = xiAt + Math.ceil((d * 8) / 16) * 16;
    const bytes = outAt + widest * 64;
    if (bytes > 2 ** 31) return undefined;
    const memory = new Wasm.Memory({ initial: Math.ceil(bytes / 65536) + 1 });
    const instance = new Wasm.Instance(module, { env: { memory } });
    const f64 = new Float64Array(memory.buffer);
    for (let r = 0; r < ranges; r++) {
      for (let j = starts[r]; j < starts[r + 1]; j++) {
        const k = j - starts[r];
        // Group groupStart[r] + k / 8, lane k % 8: dimension t at group * 8d + t * 8 + lane (in doubles).
        const base = (groupStart[r] + (k >> 3)) * d * 8 + (k & 7);
        for (let t = 0, src = j * d; t < d; t++) f64[base + t * 8] = b[src + t];
      }
    }
    const dots8 = (instance.exports as { dots8: unknown }).dots8 as (xi: number, panel: number, g0: number, g1: number, d: number, out: number) => void;
    return new WasmRows(f64, dots8, groupStart, xiAt, outAt, new Float64Array(memory.buffer, outAt, widest * 8), d);
  }

  /** The dot products of row i of `a` with the rows of range r, at out[0 ..]. */
  dots(a: Float64Array, i: number, r: number): Float64Array {
    const d = this.d;
    this.f64.set(a.subarray(i * d, i * d + d), this.xiAt / 8);
    this.dots8(this.xiAt, 0, this.groupStart[r], this.groupStart[r + 1], d, this.outAt);
    return this.out;
  }
}
