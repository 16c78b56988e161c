import { createRequire } from 'node:module';
import type { Matrix } from '../dataset/matrix.js';
import { type SmoModel, fitSmo, predictSmo } from './smo.js';

/**
 * The SVM baseline: C-SVC with an RBF kernel on standardised inputs, as scikit-learn's
 * `make_pipeline(StandardScaler(), SVC())` does: C = 1, gamma = 'scale' = 1 / (features x variance of all scaled
 * entries). Missing values become the training mean (0 after scaling); constant columns stay 0.
 *
 * Solved by src/models/smo.ts (libsvm's algorithm on dense typed arrays, one kernel matrix for all pair problems);
 * with `probabilities`, or when a pair problem's kernel block would not fit its memory budget, by libsvm itself
 * (libsvm-js, its WebAssembly build), whose Platt scaling on internal cross-validation gives the probabilities.
 */

interface LibSvm {
  train(x: number[][], y: number[]): void;
  predict(x: number[][]): number[];
  predictProbability(x: number[][]): Array<{ prediction: number; estimates: Array<{ label: number; probability: number }> }>;
  serializeModel(): string;
}
interface LibSvmClass {
  new (o: Record<string, unknown>): LibSvm;
  load(s: string): LibSvm;
  KERNEL_TYPES: { RBF: number };
  SVM_TYPES: { C_SVC: number };
}

let loading: Promise<LibSvmClass> | undefined;

/** Load the WebAssembly build once. */
export function loadLibSvm(): Promise<LibSvmClass> {
  loading ??= (async () => {
    // Emscripten tries fetch() on the .wasm file path first, fails (a path is no URL), says so on stderr and falls
    // back to reading the file; without fetch it reads the file at once and says nothing.
    const f = globalThis.fetch;
    (globalThis as { fetch?: unknown }).fetch = undefined;
    try {
      return (await createRequire(import.meta.url)('libsvm-js')) as LibSvmClass;
    } finally {
      globalThis.fetch = f;
    }
  })();
  return loading;
}

export interface Scaler {
  mean: number[];
  sd: number[];
}

export function fitScaler(x: Matrix): Scaler {
  const mean = new Array<number>(x.cols).fill(0);
  const sd = new Array<number>(x.cols).fill(0);
  for (let j = 0; j < x.cols; j++) {
    let n = 0;
    let m = 0;
    let m2 = 0;
    for (let i = 0; i < x.rows; i++) {
      const v = x.data[i * x.cols + j];
      if (v !== v) continue;
      n++;
      const d = v - m;
      m += d / n;
      m2 += d * (v - m);
    }
    mean[j] = m;
    sd[j] = n > 0 ? Math.sqrt(m2 / n) : 0; // population SD, as StandardScaler
  }
  return { mean, sd };
}

/** The scaled rows, row-major in one array. */
export function scaleFlat(s: Scaler, x: Matrix): Float64Array {
  const out = new Float64Array(x.rows * x.cols);
  for (let i = 0; i < x.rows; i++)
    for (let j = 0; j < x.cols; j++) {
      const v = x.data[i * x.cols + j];
      out[i * x.cols + j] = v !== v || s.sd[j] === 0 ? 0 : (v - s.mean[j]) / s.sd[j];
    }
  return out;
}

export function scale(s: Scaler, x: Matrix): number[][] {
  const out: number[][] = [];
  for (let i = 0; i < x.rows; i++) {
    const row = new Array<number>(x.cols);
    for (let j = 0; j < x.cols; j++) {
      const v = x.data[i * x.cols + j];
      row[j] = v !== v || s.sd[j] === 0 ? 0 : (v - s.mean[j]) / s.sd[j];
    }
    out.push(row);
  }
  return out;
}

export interface SvmOptions {
  cost?: number;
  gamma?: number;
  /**
   * Also fit libsvm's probability model (Platt scaling on internal 5-fold cross-validation, scikit-learn's
   * SVC(probability=True)): class probabilities for the unknown threshold. Classes still come from the decision
   * values, as in scikit-learn, so predict() is the same with or without it.
   */
  probabilities?: boolean;
}

interface SmoJson {
  gamma: number;
  dims: number;
  sv: number[];
  pairs: Array<{ a: number; b: number; idx: number[]; coef: number[]; rho: number }>;
}

export class SvmClassifier {
  private constructor(
    private readonly svm: LibSvm | SmoModel,
    readonly scaler: Scaler,
    readonly classes: number,
    readonly probabilities: boolean,
  ) {}

  static async fit(x: Matrix, y: Int32Array, classes: number, opts: SvmOptions = {}): Promise<SvmClassifier> {
    const scaler = fitScaler(x);
    const flat = scaleFlat(scaler, x);
    // gamma = 'scale': 1 / (features x the variance of all scaled entries), exactly as scikit-learn computes it.
    let n = 0;
    let m = 0;
    let m2 = 0;
    for (const v of flat) {
      n++;
      const d = v - m;
      m += d / n;
      m2 += d * (v - m);
    }
    const variance = n > 0 ? m2 / n : 0;
    const gamma = opts.gamma ?? (variance > 0 ? 1 / (x.cols * variance) : 1);
    const probabilities = opts.probabilities === true && new Set(y).size > 1;
    if (!probabilities) {
      const smo = fitSmo(flat, x.rows, x.cols, y, Math.max(classes, 1), gamma, opts.cost ?? 1);
      if (smo !== undefined) return new SvmClassifier(smo, scaler, classes, false);
    }
    const SVM = await loadLibSvm();
    const svm = new SVM({ kernel: SVM.KERNEL_TYPES.RBF, type: SVM.SVM_TYPES.C_SVC, cost: opts.cost ?? 1, gamma, quiet: true, probabilityEstimates: probabilities });
    svm.train(scale(scaler, x), Array.from(y));
    // libsvm saves support vectors and Platt parameters in decimal: a model for use is reloaded from what it will be
    // saved as, so it predicts now exactly as it will after loadModels.
    return new SvmClassifier(probabilities ? SVM.load(svm.serializeModel()) : svm, scaler, classes, probabilities);
  }

  private get lib(): LibSvm | undefined {
    return 'serializeModel' in this.svm ? this.svm : undefined;
  }

  predict(x: Matrix): Int32Array {
    const lib = this.lib;
    if (lib) return Int32Array.from(lib.predict(scale(this.scaler, x)));
    return predictSmo(this.svm as SmoModel, scaleFlat(this.scaler, x), x.rows);
  }

  /**
   * Class probabilities, rows x classes: libsvm's estimates when fitted with `probabilities`; otherwise 1 for the
   * predicted class (a model without a probability model is sure of every answer).
   */
  predictProba(x: Matrix): Float64Array {
    const k = this.classes;
    const out = new Float64Array(x.rows * k);
    const lib = this.lib;
    if (!this.probabilities || !lib) {
      this.predict(x).forEach((c, i) => (out[i * k + c] = 1));
      return out;
    }
    lib.predictProbability(scale(this.scaler, x)).forEach((r, i) => {
      for (const e of r.estimates) out[i * k + e.label] = e.probability;
    });
    return out;
  }

  toJSON(): { scaler: Scaler; classes: number; probabilities: boolean; model?: string; smo?: SmoJson } {
    const lib = this.lib;
    if (lib) return { scaler: this.scaler, classes: this.classes, probabilities: this.probabilities, model: lib.serializeModel() };
    const m = this.svm as SmoModel;
    return {
      scaler: this.scaler,
      classes: this.classes,
      probabilities: false,
      smo: { gamma: m.gamma, dims: m.dims, sv: Array.from(m.sv), pairs: m.pairs.map((p) => ({ a: p.a, b: p.b, idx: Array.from(p.idx), coef: Array.from(p.coef), rho: p.rho })) },
    };
  }

  static async fromJSON(j: { scaler: Scaler; classes: number; probabilities?: boolean; model?: string; smo?: SmoJson }): Promise<SvmClassifier> {
    if (j.smo !== undefined) {
      const s = j.smo;
      const model: SmoModel = { classes: j.classes, gamma: s.gamma, dims: s.dims, sv: Float64Array.from(s.sv), pairs: s.pairs.map((p) => ({ a: p.a, b: p.b, idx: Int32Array.from(p.idx), coef: Float64Array.from(p.coef), rho: p.rho })) };
      return new SvmClassifier(model, j.scaler, j.classes, false);
    }
    if (j.model === undefined) throw new Error('an SVM model needs its libsvm model or its support vectors');
    const SVM = await loadLibSvm();
    return new SvmClassifier(SVM.load(j.model), j.scaler, j.classes, j.probabilities === true);
  }
}
