import { startModuleWorker } from '../common/worker.js';
import type { Binned, ForestOptions, TreeJson, TreeTask } from './forest-tree.js';

/**
 * Grow a forest's trees on worker threads (forest-worker.ts): each thread gets the binned data once and a share of
 * the trees (tree t to thread t mod threads) and returns them as JSON-shaped arrays; the caller puts them back in
 * tree order, so the forest is the one the sequential fit grows.
 */
export interface GrowInput {
  binned: Binned;
  n: number;
  d: number;
  y: Int32Array;
  classes: number;
  o: ForestOptions;
}

export interface Grown {
  tree: TreeJson;
  imp: Float64Array;
}

export async function growInWorkers(input: GrowInput, tasks: readonly TreeTask[], threads: number): Promise<Grown[]> {
  const out = new Array<Grown>(tasks.length);
  const shares = Array.from({ length: Math.min(threads, tasks.length) }, (_, w) => tasks.map((t, i) => ({ ...t, i })).filter((t) => t.i % threads === w));
  await Promise.all(
    shares.map(
      (share) =>
        new Promise<void>((resolve, reject) => {
          const w = startModuleWorker(import.meta.url, 'forest-worker', { input, tasks: share });
          w.once('message', (grown: Array<{ i: number; tree: TreeJson; imp: Float64Array }>) => {
            for (const g of grown) out[g.i] = { tree: g.tree, imp: g.imp };
            void w.terminate();
            resolve();
          });
          w.once('error', reject);
        }),
    ),
  );
  return out;
}
