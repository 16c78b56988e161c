import { parentPort, workerData } from 'node:worker_threads';
import type { ChainShape } from './lstm-chain.js';
import { type KernelKind, makeKernel } from './lstm-simd.js';

/**
 * One data-parallel training thread (lstm-train.ts): the parameters, the sequences and this thread's gradient live in
 * shared memory; each message names the sequences of this thread's share of a batch, and the reply comes when their
 * gradient (scaled by 1/batch) is in `grad`.
 */
export interface WorkerInit {
  shape: ChainShape;
  kernel: KernelKind;
  params: SharedArrayBuffer;
  x: SharedArrayBuffer;
  y: SharedArrayBuffer;
  c0: SharedArrayBuffer | null;
  /** One gradient buffer per piece of a batch (GRADIENT_SHARDS). */
  grads: SharedArrayBuffer[];
}

const init = workerData as WorkerInit;
const kernel = makeKernel(init.shape, init.kernel);
const params = new Float64Array(init.params);
const x = new Float32Array(init.x);
const y = new Int32Array(init.y);
const c0 = init.c0 ? new Float32Array(init.c0) : undefined;
const grads = init.grads.map((g) => new Float64Array(g));

parentPort!.on('message', (m: { ids: Int32Array; scale: number; shard: number }) => {
  const grad = grads[m.shard];
  grad.fill(0);
  const loss = m.ids.length === 0 ? 0 : kernel.gradient(params, x, y, m.ids, m.scale, grad, c0);
  parentPort!.postMessage(loss);
});
