import { availableParallelism } from 'node:os';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../common/worker.js';
import { mulberry32 } from '../common/rng.js';
import { Adam, type ChainKernel, type ChainShape, initChain } from './lstm-chain.js';
import { type KernelKind, makeKernel } from './lstm-simd.js';
import { scores } from './metrics.js';
import type { WorkerInit } from './lstm-worker.js';

/**
 * Training of a ChainKernel model as the paper trains its LSTMs: batches of 50 sequences drawn class-uniformly (a
 * class at random, then a sequence of it at random: uniform sampling over the data underfits the small classes),
 * 2,000 batches by default, Adam. Added for a fair reading: a seeded validation split (stratified, 10%) scored every
 * `evalEvery` batches by balanced accuracy, keeping the best parameters and stopping after `patience` scores without
 * a gain (early stopping); gradient clipping by global norm.
 *
 * Data-parallel on worker threads: every batch is cut into GRADIENT_SHARDS fixed pieces, each piece's gradient goes
 * into its own shared buffer (whichever thread computes it), and the main thread adds the pieces in piece order. So
 * a seeded run gives the same model, bit for bit, for any thread count (a sum per thread instead would change its
 * order, and the last bits, with the thread count).
 */
export interface LstmTrainOptions {
  batches: number;
  batchSize: number;
  learningRate: number;
  clipNorm: number;
  seed: number;
  /** Share of the sequences held out for early stopping (0: none, train all batches). */
  validation: number;
  evalEvery: number;
  patience: number;
  threads: number;
  /** 'auto': the WebAssembly SIMD kernel when the shape allows it (units a multiple of 4), else float64 JavaScript. */
  kernel: KernelKind;
  onProgress?: (batch: number, batches: number) => void;
}

export const LSTM_TRAIN_DEFAULTS: LstmTrainOptions = {
  batches: 2000,
  batchSize: 50,
  learningRate: 1e-3,
  clipNorm: 5,
  seed: 1,
  validation: 0.1,
  evalEvery: 100,
  patience: 5,
  threads: Math.min(2, availableParallelism()),
  kernel: 'auto',
};

/** Sequences (N x T x D, processing order), their classes, and optional initial cell states (N x H). */
export interface SequenceData {
  x: Float32Array;
  y: Int32Array;
  count: number;
  c0?: Float32Array;
}

export interface LstmTrainResult {
  params: Float64Array;
  /** Per validation check: batch, mean training loss since the last check, validation loss and balanced accuracy. */
  history: Array<{ batch: number; trainLoss: number; valLoss: number; valBalancedAccuracy: number }>;
  bestBatch: number;
  batchesRun: number;
  seconds: number;
  sequencesPerSecond: number;
}

/** Pieces every batch is cut into (and the most threads that help): fixed, so thread count never changes a sum. */
export const GRADIENT_SHARDS = 4;

/** Seeded stratified split: about `share` of each class (at least one, when the class has two or more) to validation. */
export function stratifiedHoldout(y: Int32Array, classes: number, share: number, seed: number): { train: number[]; valid: number[] } {
  const r = mulberry32(seed ^ 0x5eed);
  const train: number[] = [];
  const valid: number[] = [];
  for (let c = 0; c < classes; c++) {
    const ids = [...y.keys()].filter((i) => y[i] === c);
    for (let i = ids.length - 1; i > 0; i--) {
      const j = Math.floor(r() * (i + 1));
      [ids[i], ids[j]] = [ids[j], ids[i]];
    }
    const n = share > 0 && ids.length >= 2 ? Math.max(1, Math.round(ids.length * share)) : 0;
    valid.push(...ids.slice(0, n));
    train.push(...ids.slice(n));
  }
  return { train: train.sort((a, b) => a - b), valid: valid.sort((a, b) => a - b) };
}

function shared(bytes: number): SharedArrayBuffer {
  return new SharedArrayBuffer(Math.max(8, bytes));
}

export async function trainChain(shape: ChainShape, data: SequenceData, options: Partial<LstmTrainOptions> = {}): Promise<LstmTrainResult> {
  const o = { ...LSTM_TRAIN_DEFAULTS, ...options };
  const K = shape.classes;
  const started = performance.now();
  const kernel = makeKernel(shape, o.kernel);
  const T = kernel.layout.T;
  if (data.x.length !== data.count * T * shape.inputs) throw new Error(`lstm: ${data.x.length} inputs for ${data.count} sequences of ${T} x ${shape.inputs}`);
  // Everything the threads read lives in shared memory.
  const params = new Float64Array(shared(kernel.layout.total * 8));
  params.set(initChain(shape, o.seed));
  const x = new Float32Array(shared(data.x.byteLength));
  x.set(data.x);
  const y = new Int32Array(shared(data.y.byteLength));
  y.set(data.y);
  const c0 = data.c0 ? new Float32Array(shared(data.c0.byteLength)) : undefined;
  if (c0 && data.c0) c0.set(data.c0);

  const { train, valid } = stratifiedHoldout(y, K, o.validation, o.seed);
  const byClass = Array.from({ length: K }, () => [] as number[]);
  for (const i of train) byClass[y[i]].push(i);
  const present = byClass.map((ids, c) => (ids.length > 0 ? c : -1)).filter((c) => c >= 0);
  if (present.length === 0) throw new Error('lstm: no training sequences');

  // Every batch is cut into the same GRADIENT_SHARDS pieces whatever the thread count; each piece's gradient goes to
  // its own buffer and the pieces are added in piece order, so 1 and 2 threads give the same sums, bit for bit.
  const threads = Math.max(1, Math.min(o.threads, GRADIENT_SHARDS, o.batchSize));
  const grads = Array.from({ length: GRADIENT_SHARDS }, () => new Float64Array(shared(params.length * 8)));
  const workers = threads > 1 ? Array.from({ length: threads }, () => startModuleWorker(import.meta.url, 'lstm-worker', { shape, kernel: o.kernel, params: params.buffer as SharedArrayBuffer, x: x.buffer as SharedArrayBuffer, y: y.buffer as SharedArrayBuffer, c0: c0 ? (c0.buffer as SharedArrayBuffer) : null, grads: grads.map((g) => g.buffer as SharedArrayBuffer) } satisfies WorkerInit)) : [];
  const ask = (w: Worker, ids: Int32Array, scale: number, shard: number) =>
    new Promise<number>((resolve, reject) => {
      const onMessage = (loss: number) => {
        w.off('error', reject);
        resolve(loss);
      };
      w.once('message', onMessage);
      w.once('error', reject);
      w.postMessage({ ids, scale, shard });
    });
  /** The pieces thread t computes, one after another: t, t + threads, ... */
  const runShards = async (t: number, pieces: Int32Array[], scale: number, losses: Float64Array) => {
    for (let s = t; s < GRADIENT_SHARDS; s += threads) losses[s] = await ask(workers[t], pieces[s], scale, s);
  };

  const r = mulberry32(o.seed);
  const opt = new Adam(params, o.learningRate, o.clipNorm);
  const total = new Float64Array(params.length);
  const history: LstmTrainResult['history'] = [];
  let best = params.slice();
  let bestScore = -Infinity;
  let bestLoss = Infinity;
  let bestBatch = 0;
  let since = 0;
  let lossSum = 0;
  let lossCount = 0;
  let batch = 0;
  try {
    for (batch = 1; batch <= o.batches; batch++) {
      const ids = new Int32Array(o.batchSize);
      for (let i = 0; i < o.batchSize; i++) {
        const pool = byClass[present[Math.floor(r() * present.length)]];
        ids[i] = pool[Math.floor(r() * pool.length)];
      }
      const scale = 1 / o.batchSize;
      const share = Math.ceil(o.batchSize / GRADIENT_SHARDS);
      const pieces = Array.from({ length: GRADIENT_SHARDS }, (_, s) => ids.slice(s * share, (s + 1) * share));
      const losses = new Float64Array(GRADIENT_SHARDS);
      if (workers.length > 0) await Promise.all(workers.map((_, t) => runShards(t, pieces, scale, losses)));
      else {
        for (let s = 0; s < GRADIENT_SHARDS; s++) {
          grads[s].fill(0);
          losses[s] = pieces[s].length === 0 ? 0 : kernel.gradient(params, x, y, pieces[s], scale, grads[s], c0);
        }
      }
      total.set(grads[0]);
      for (let s = 1; s < GRADIENT_SHARDS; s++) {
        const g = grads[s];
        for (let i = 0; i < total.length; i++) total[i] += g[i];
      }
      for (let s = 0; s < GRADIENT_SHARDS; s++) lossSum += losses[s];
      lossCount += o.batchSize;
      opt.step(total);
      o.onProgress?.(batch, o.batches);
      if (valid.length > 0 && (batch % o.evalEvery === 0 || batch === o.batches)) {
        const { loss, balanced } = validate(kernel, params, x, y, valid, K, c0);
        history.push({ batch, trainLoss: lossSum / lossCount, valLoss: loss, valBalancedAccuracy: balanced });
        lossSum = lossCount = 0;
        if (balanced > bestScore || (balanced === bestScore && loss < bestLoss)) {
          bestScore = balanced;
          bestLoss = loss;
          bestBatch = batch;
          best = params.slice();
          since = 0;
        } else if (++since >= o.patience) break;
      }
    }
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
  }
  const batchesRun = Math.min(batch, o.batches);
  const final = valid.length > 0 ? best : params.slice();
  const seconds = (performance.now() - started) / 1000;
  return { params: final, history, bestBatch: valid.length > 0 ? bestBatch : batchesRun, batchesRun, seconds, sequencesPerSecond: (batchesRun * o.batchSize) / seconds };
}

function validate(kernel: ChainKernel, p: Float64Array, x: Float32Array, y: Int32Array, ids: number[], K: number, c0?: Float32Array): { loss: number; balanced: number } {
  kernel.load(p);
  let loss = 0;
  const truth = new Int32Array(ids.length);
  const pred = new Int32Array(ids.length);
  ids.forEach((n, i) => {
    const probs = kernel.forward(p, x, n, c0);
    loss -= Math.log(Math.max(probs[y[n]], 1e-300));
    truth[i] = y[n];
    let arg = 0;
    for (let c = 1; c < K; c++) if (probs[c] > probs[arg]) arg = c;
    pred[i] = arg;
  });
  const s = scores(truth, pred, K);
  const present = s.perClass.filter((c) => c.support > 0);
  return { loss: loss / ids.length, balanced: present.reduce((a, c) => a + c.recall, 0) / Math.max(1, present.length) };
}
