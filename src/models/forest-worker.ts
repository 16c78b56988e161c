import { parentPort, workerData } from 'node:worker_threads';
import { growTree } from './forest-tree.js';
import type { GrowInput } from './forest-parallel.js';
import type { TreeTask } from './forest-tree.js';

/** Grows its share of a forest's trees (forest-parallel.ts) and sends them back once. */
const { input, tasks } = workerData as { input: GrowInput; tasks: Array<TreeTask & { i: number }> };
const grown = tasks.map((t) => {
  const imp = new Float64Array(input.d);
  const tree = growTree(input.binned, input.n, input.d, input.y, input.classes, t.idx, input.o, t.seed, imp);
  return { i: t.i, tree: tree.toJSON(), imp };
});
parentPort!.postMessage(grown);
