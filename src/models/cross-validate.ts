import { type Matrix, pickRows } from '../dataset/matrix.js';
import { foldSplits } from '../dataset/splits.js';
import type { FitOptions, Model, ModelKind } from './model-kind.js';

/** Out-of-fold predictions: each row predicted once, by the model of the fold that did not see it. */
export interface CrossValidation {
  /** Class of each row (0 for rows no fold tested, and every row with `classes: false`). */
  predicted: Int32Array;
  /** Rows x classes probabilities, with `proba`. */
  proba: Float64Array | undefined;
  /** App models of kinds with a context: each row's context from the model that did not see it. */
  context: Matrix | undefined;
  /** Rows some fold tested (a fold without train or test rows is skipped). */
  tested: Uint8Array;
}

export interface CrossValidateOptions extends Omit<FitOptions, 'seed' | 'context'> {
  /** The seed of fold f's model. */
  seed(fold: number): number;
  /** Context rows aligned with x, for kinds that read one. */
  context?: Matrix;
  /** Also collect probabilities. */
  proba?: boolean;
  /** Collect classes (default true); calibration, which reads only probabilities, skips them. */
  classes?: boolean;
  /** Called with each fold's model after its predictions are taken; `proba` (with the option) is the test rows'. */
  onFold?(m: Model, split: { fold: number; train: number[]; test: number[]; proba: Float64Array | undefined }): void | Promise<void>;
}

/** One k-fold loop for every evaluation, calibration and experiment: `fold` gives each row's fold (dataset/splits.ts). */
export async function crossValidate(kind: ModelKind, x: Matrix, y: Int32Array, classes: number, fold: Int32Array, folds: number, o: CrossValidateOptions): Promise<CrossValidation> {
  const n = x.rows;
  const out: CrossValidation = { predicted: new Int32Array(n), proba: o.proba ? new Float64Array(n * classes) : undefined, context: undefined, tested: new Uint8Array(n) };
  const ctx = (ids: number[]) => (o.context ? pickRows(o.context, ids) : undefined);
  const { seed: _s, context: _c, proba: _p, classes: _k, onFold, ...fit } = o;
  for (const { fold: f, train, test } of foldSplits(fold, folds)) {
    const m = await kind.fit(pickRows(x, train), Int32Array.from(train, (i) => y[i]), classes, { ...fit, seed: o.seed(f), context: ctx(train) });
    const xt = pickRows(x, test);
    const ct = ctx(test);
    if (o.classes !== false) m.predict(xt, ct).forEach((c, j) => (out.predicted[test[j]] = c));
    const p = out.proba ? m.predictProba(xt, ct) : undefined;
    if (p) test.forEach((i, j) => out.proba!.set(p.subarray(j * classes, (j + 1) * classes), i * classes));
    if (m.context) {
      const c = m.context(xt);
      out.context ??= { rows: n, cols: c.cols, data: new Float64Array(n * c.cols) };
      test.forEach((i, j) => out.context!.data.set(c.data.subarray(j * c.cols, (j + 1) * c.cols), i * c.cols));
    }
    for (const i of test) out.tested[i] = 1;
    await onFold?.(m, { fold: f, train, test, proba: p });
  }
  return out;
}
