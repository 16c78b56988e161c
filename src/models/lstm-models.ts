import { SERIES_STEPS, STEP_INPUTS } from '../features/series.js';
import type { Matrix } from '../dataset/matrix.js';
import type { ChainKernel, ChainShape } from './lstm-chain.js';
import { makeKernel } from './lstm-simd.js';
import { type LstmTrainOptions, type LstmTrainResult, trainChain } from './lstm-train.js';

/**
 * The paper's recurrent models (001, "Classification"), on the pooled series (features/series.ts: 128 steps x 6).
 *
 * App model: a chain of four 32-unit LSTM cells reading the series reversed (last step first), so the first packets,
 * the most telling, come last, next to the output. The first three cells read the pooled steps two bands each
 * (steps 127-96: pools of 64 and 32 packets; 95-64: 16 and 8; 63-32: 4 and 2), the fourth the first 32 packets as
 * they are; each cell starts from the state the previous one ended in, and a softmax layer reads the last h.
 *
 * Action model of an app: one 32-unit LSTM cell over the same reversed series, each step's inputs extended by the
 * app model's probabilities, starting from the app model's last cell state ("the application classifier passes its
 * output as well as its cell state"). Losses stay independent: no gradient flows back into the app model. The
 * action models are trained after the app model, on its outputs for their flows, which gives the same models as
 * training them side by side except that their inputs come from the finished app model, not from one in training.
 */
export const LSTM_UNITS = 32;
export const APP_SEGMENTS = [32, 32, 32, 32];
export const ACTION_SEGMENTS = [SERIES_STEPS];
const SERIES_WIDTH = SERIES_STEPS * STEP_INPUTS;

/**
 * Inputs in processing order: series rows (each SERIES_STEPS x STEP_INPUTS, step-major, as the series_pooled column)
 * reversed in time, with `cond` (N x C, optional) appended to every step.
 */
export function seriesInputs(series: Matrix, cond?: { values: ArrayLike<number>; width: number }): Float32Array {
  if (series.cols !== SERIES_WIDTH) throw new Error(`lstm: series rows have ${series.cols} values, ${SERIES_WIDTH} expected (${SERIES_STEPS} steps x ${STEP_INPUTS})`);
  const C = cond?.width ?? 0;
  const D = STEP_INPUTS + C;
  const out = new Float32Array(series.rows * SERIES_STEPS * D);
  for (let n = 0; n < series.rows; n++) {
    for (let t = 0; t < SERIES_STEPS; t++) {
      const src = n * SERIES_WIDTH + (SERIES_STEPS - 1 - t) * STEP_INPUTS;
      const dst = (n * SERIES_STEPS + t) * D;
      for (let f = 0; f < STEP_INPUTS; f++) out[dst + f] = series.data[src + f];
      for (let c = 0; c < C; c++) out[dst + STEP_INPUTS + c] = cond!.values[n * C + c];
    }
  }
  return out;
}

export interface LstmModelJson {
  shape: ChainShape;
  params: number[];
  /** Training summary: batches run, the batch whose parameters were kept, sequences/s. */
  training: { batchesRun: number; bestBatch: number; sequencesPerSecond: number };
}

/** A trained chain: probabilities, and each sequence's last cell state for the models that start from it. */
export class LstmModel {
  private readonly kernel: ChainKernel;
  constructor(
    readonly shape: ChainShape,
    readonly params: Float64Array,
    readonly training: LstmModelJson['training'],
  ) {
    this.kernel = makeKernel(shape);
  }

  static async fit(shape: ChainShape, x: Float32Array, y: Int32Array, c0: Float32Array | undefined, o: Partial<LstmTrainOptions>): Promise<{ model: LstmModel; result: LstmTrainResult }> {
    const result = await trainChain(shape, { x, y, count: y.length, c0 }, o);
    return { model: new LstmModel(shape, result.params, { batchesRun: result.batchesRun, bestBatch: result.bestBatch, sequencesPerSecond: result.sequencesPerSecond }), result };
  }

  /** N x K probabilities; `cells` (N x H) receives the last cell states when given. */
  predictProba(x: Float32Array, count: number, c0?: Float32Array, cells?: Float32Array): Float64Array {
    return this.kernel.predict(this.params, x, count, c0, cells);
  }

  toJSON(): LstmModelJson {
    return { shape: this.shape, params: Array.from(this.params), training: this.training };
  }

  static fromJSON(j: LstmModelJson): LstmModel {
    return new LstmModel(j.shape, Float64Array.from(j.params), j.training);
  }
}

/** The app model on series rows. */
export async function fitAppLstm(series: Matrix, y: Int32Array, classes: number, o: Partial<LstmTrainOptions>, peephole = false): Promise<LstmModel> {
  const shape = { inputs: STEP_INPUTS, units: LSTM_UNITS, classes, segments: APP_SEGMENTS, ...(peephole ? { peephole } : {}) };
  return (await LstmModel.fit(shape, seriesInputs(series), y, undefined, o)).model;
}

/** What the app model hands an action model: its probabilities (N x apps) and last cell states (N x H). */
export interface AppContext {
  probs: Float64Array;
  cells: Float32Array;
  apps: number;
}

export function appContext(app: LstmModel, series: Matrix): AppContext {
  const cells = new Float32Array(series.rows * LSTM_UNITS);
  const probs = app.predictProba(seriesInputs(series), series.rows, undefined, cells);
  return { probs, cells, apps: app.shape.classes };
}

/** The context of some rows only (indices into the context's rows), in that order. */
export function subsetContext(ctx: AppContext, rows: readonly number[]): AppContext {
  const K = ctx.apps;
  const probs = new Float64Array(rows.length * K);
  const cells = new Float32Array(rows.length * LSTM_UNITS);
  rows.forEach((r, j) => {
    probs.set(ctx.probs.subarray(r * K, (r + 1) * K), j * K);
    cells.set(ctx.cells.subarray(r * LSTM_UNITS, (r + 1) * LSTM_UNITS), j * LSTM_UNITS);
  });
  return { probs, cells, apps: K };
}

/** An action model of one app, on series rows and the app model's context for them. */
export async function fitActionLstm(series: Matrix, ctx: AppContext, y: Int32Array, classes: number, o: Partial<LstmTrainOptions>, peephole = false): Promise<LstmModel> {
  const shape = { inputs: STEP_INPUTS + ctx.apps, units: LSTM_UNITS, classes, segments: ACTION_SEGMENTS, ...(peephole ? { peephole } : {}) };
  return (await LstmModel.fit(shape, seriesInputs(series, { values: ctx.probs, width: ctx.apps }), y, ctx.cells, o)).model;
}

export function predictAction(model: LstmModel, series: Matrix, ctx: AppContext): Float64Array {
  return model.predictProba(seriesInputs(series, { values: ctx.probs, width: ctx.apps }), series.rows, ctx.cells);
}
