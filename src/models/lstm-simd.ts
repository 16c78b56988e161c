import { type ChainShape, ChainKernel } from './lstm-chain.js';
import { Wasm, type WasmModule } from './wasm.js';
import { LSTM_SIMD_WASM } from './lstm-simd-wasm.js';

/**
 * ChainKernel with its two matrix products (gate inputs forward; weight gradient and U^T dz backward) and the gate
 * activations (exp by a degree-6 polynomial) in float32 WebAssembly SIMD (lstm-simd.wat): most of a training
 * step's work. Activations, cell updates and the
 * output layer stay in float64 JavaScript, as do the master parameters and Adam: the kernel keeps a float32,
 * input-major copy of the cell weights (load()) and float32 gradient sums that endGradient() adds into grad.
 * Checked against the float64 kernel in test/models/lstm-simd.test.ts.
 */
let compiled: WasmModule | undefined;

interface SimdExports {
  gates(w: number, v: number, z: number, R: number, G: number): void;
  backStep(w: number, dw: number, v: number, dz: number, dh: number, D: number, R: number, G: number): void;
  activate(z: number, G: number, H: number): void;
}

/** Whether this shape can run on the SIMD kernel (4 lanes over gates in blocks of 16), and the runtime has SIMD. */
export function simdSupported(shape: ChainShape): boolean {
  if (shape.units % 4 !== 0) return false;
  try {
    compiled ??= new Wasm.Module(Buffer.from(LSTM_SIMD_WASM, 'base64'));
    return true;
  } catch {
    return false;
  }
}

export class SimdChainKernel extends ChainKernel {
  private readonly f32: Float32Array;
  private readonly ex: SimdExports;
  /** Byte offsets: per segment the weights and their gradient (R rows of G, then G biases), then v, z, dz, dh. */
  private readonly wAt: number[];
  private readonly dwAt: number[];
  private readonly vAt: number;
  private readonly zAt: number;
  private readonly dzAt: number;
  private readonly dhAt: number;
  private readonly cellFloats: number;

  constructor(shape: ChainShape) {
    super(shape);
    if (!simdSupported(shape)) throw new Error(`lstm: no SIMD kernel for ${shape.units} units (a multiple of 4 is needed) or no WebAssembly SIMD here`);
    const { inputs: D, units: H } = shape;
    const G = 4 * H;
    const R = D + H;
    this.cellFloats = (R + 1) * G;
    this.master = this.masterIndex();
    const S = shape.segments.length;
    let at = 0;
    const take = (floats: number) => {
      const o = at;
      at += Math.ceil(floats / 4) * 16; // 16-byte aligned
      return o;
    };
    this.wAt = Array.from({ length: S }, () => take(this.cellFloats));
    this.dwAt = Array.from({ length: S }, () => take(this.cellFloats));
    this.vAt = take(R);
    this.zAt = take(G);
    this.dzAt = take(G);
    this.dhAt = take(H);
    const memory = new Wasm.Memory({ initial: Math.ceil(at / 65536) + 1 });
    const instance = new Wasm.Instance(compiled!, { env: { memory } });
    this.ex = instance.exports as unknown as SimdExports;
    this.f32 = new Float32Array(memory.buffer);
  }

  /**
   * For each float32 slot of a cell's input-major block (row q holds the G gate weights of input q; then the G
   * biases), the index of the same weight in the float64 parameter layout, relative to the cell's start.
   */
  private masterIndex(): Int32Array {
    const { inputs: D, units: H } = this.shape;
    const G = 4 * H;
    const R = D + H;
    const at = new Int32Array(this.cellFloats);
    for (let j = 0; j < G; j++) {
      for (let q = 0; q < R; q++) at[q * G + j] = j * R + q;
      at[R * G + j] = G * R + j;
    }
    return at;
  }

  private readonly master: Int32Array;

  /** The float32 input-major copy of the cell weights. */
  override load(p: Float64Array): void {
    const f = this.f32;
    const at = this.master;
    this.layout.mAt.forEach((m, s) => {
      const w = this.wAt[s] / 4;
      for (let i = 0; i < at.length; i++) f[w + i] = p[m + at[i]];
    });
  }

  /** [x_t | h_{t-1}] into the module's memory; returns R and G. */
  private putInputs(v: Float64Array): [number, number] {
    const { inputs: D, units: H } = this.shape;
    const R = D + H;
    const f = this.f32;
    const vo = this.vAt / 4;
    for (let q = 0; q < R; q++) f[vo + q] = v[q];
    return [R, 4 * H];
  }

  protected override computeGates(_p: Float64Array, s: number, v: Float64Array, out: Float64Array, at: number): void {
    const [R, G] = this.putInputs(v);
    const H = this.shape.units;
    const f = this.f32;
    this.ex.gates(this.wAt[s], this.vAt, this.zAt, R, G);
    this.ex.activate(this.zAt, G, H);
    const zo = this.zAt / 4;
    for (let j = 0; j < G; j++) out[at + j] = f[zo + j];
  }

  protected override rawGates(_p: Float64Array, s: number, v: Float64Array, z: Float64Array): void {
    const [R, G] = this.putInputs(v);
    const f = this.f32;
    this.ex.gates(this.wAt[s], this.vAt, this.zAt, R, G);
    const zo = this.zAt / 4;
    for (let j = 0; j < G; j++) z[j] = f[zo + j];
  }

  protected override backProducts(_p: Float64Array, s: number, v: Float64Array, dz: Float64Array, dhNext: Float64Array): void {
    const [R, G] = this.putInputs(v);
    const { inputs: D, units: H } = this.shape;
    const f = this.f32;
    const dzo = this.dzAt / 4;
    for (let j = 0; j < G; j++) f[dzo + j] = dz[j];
    this.ex.backStep(this.wAt[s], this.dwAt[s], this.vAt, this.dzAt, this.dhAt, D, R, G);
    const dho = this.dhAt / 4;
    for (let k = 0; k < H; k++) dhNext[k] = f[dho + k];
  }

  protected override beginGradient(): void {
    for (const o of this.dwAt) this.f32.fill(0, o / 4, o / 4 + this.cellFloats);
  }

  /** The float32 sums, added back into the float64 layout. */
  protected override endGradient(grad: Float64Array): void {
    const f = this.f32;
    const at = this.master;
    this.layout.mAt.forEach((m, s) => {
      const w = this.dwAt[s] / 4;
      for (let i = 0; i < at.length; i++) grad[m + at[i]] += f[w + i];
    });
  }
}

/** The fastest kernel for the shape: SIMD when it can run, else the float64 one. */
export type KernelKind = 'auto' | 'simd' | 'js';

export function makeKernel(shape: ChainShape, kind: KernelKind = 'auto'): ChainKernel {
  if (kind === 'js' || (kind === 'auto' && !simdSupported(shape))) return new ChainKernel(shape);
  return new SimdChainKernel(shape);
}
