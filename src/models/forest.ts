import { availableParallelism } from 'node:os';
import { mulberry32 } from '../common/rng.js';
import { type Matrix, argmaxRows } from '../dataset/matrix.js';
import { type Binned, DEFAULT_FOREST, DecisionTree, type ForestOptions, type TreeJson, type TreeTask, binFeatures, growTree } from './forest-tree.js';

/** The random forest over forest-tree.ts's trees: scikit-learn's RandomForestClassifier defaults. */

/** Rows x trees from which fitAuto() grows trees on worker threads (below it, starting them costs more). */
export const PARALLEL_WORK = 200_000;

export { DEFAULT_FOREST, DecisionTree, type ForestOptions } from './forest-tree.js';

export class RandomForest {
  constructor(
    readonly trees: DecisionTree[],
    readonly classes: number,
    readonly features: number,
    /** Mean decrease in impurity per feature, summing to 1. */
    readonly importances: Float64Array,
  ) {}

  static fit(x: Matrix, y: Int32Array, classes: number, opts: Partial<ForestOptions> = {}): RandomForest {
    const { o, binned, tasks } = prepareForest(x, y, opts);
    const grown = tasks.map((t) => {
      const imp = new Float64Array(x.cols);
      return { tree: growTree(binned, x.rows, x.cols, y, classes, t.idx, o, t.seed, imp), imp };
    });
    return assembleForest(grown, classes, x.cols);
  }

  /**
   * The same forest as fit() (tree for tree: the bootstrap samples and tree seeds are drawn here, in fit()'s order),
   * with the trees grown on `threads` worker threads. Worth it from a few seconds of fitting up; below that, starting
   * the threads costs more than they save.
   */
  static async fitParallel(x: Matrix, y: Int32Array, classes: number, opts: Partial<ForestOptions> = {}, threads = 2): Promise<RandomForest> {
    if (threads <= 1) return RandomForest.fit(x, y, classes, opts);
    const { o, binned, tasks } = prepareForest(x, y, opts);
    const { growInWorkers } = await import('./forest-parallel.js');
    const grown = await growInWorkers({ binned, n: x.rows, d: x.cols, y, classes, o }, tasks, threads);
    return assembleForest(
      grown.map((g) => ({ tree: DecisionTree.fromJSON(g.tree, classes), imp: g.imp })),
      classes,
      x.cols,
    );
  }

  /** fitParallel() on two threads for a large fit (rows x trees at least PARALLEL_WORK), fit() otherwise. */
  static fitAuto(x: Matrix, y: Int32Array, classes: number, opts: Partial<ForestOptions> = {}): Promise<RandomForest> {
    const trees = opts.trees ?? DEFAULT_FOREST.trees;
    const threads = Math.min(2, availableParallelism());
    return x.rows * trees >= PARALLEL_WORK && threads > 1 ? RandomForest.fitParallel(x, y, classes, opts, threads) : Promise.resolve(RandomForest.fit(x, y, classes, opts));
  }

  /** Class probabilities, n x classes, row-major: the mean of the trees' leaf distributions. */
  predictProba(x: Matrix): Float64Array {
    if (x.cols !== this.features) throw new Error(`forest: model has ${this.features} features, input has ${x.cols}`);
    const k = this.classes;
    const out = new Float64Array(x.rows * k);
    for (const t of this.trees) {
      for (let i = 0; i < x.rows; i++) {
        const leaf = t.leaf(x.data, i * x.cols);
        for (let c = 0; c < k; c++) out[i * k + c] += t.value[leaf * k + c];
      }
    }
    const inv = 1 / this.trees.length;
    for (let i = 0; i < out.length; i++) out[i] *= inv;
    return out;
  }

  predict(x: Matrix): Int32Array {
    return argmaxRows(this.predictProba(x), this.classes);
  }

  toJSON(): { classes: number; features: number; importances: number[]; trees: TreeJson[] } {
    return { classes: this.classes, features: this.features, importances: [...this.importances], trees: this.trees.map((t) => t.toJSON()) };
  }

  static fromJSON(j: { classes: number; features: number; importances: number[]; trees: TreeJson[] }): RandomForest {
    return new RandomForest(
      j.trees.map((t) => DecisionTree.fromJSON(t, j.classes)),
      j.classes,
      j.features,
      Float64Array.from(j.importances),
    );
  }
}

/** Bins, and every tree's bootstrap sample and seed, drawn from the forest's seed in a fixed order. */
function prepareForest(x: Matrix, y: Int32Array, opts: Partial<ForestOptions>): { o: ForestOptions; binned: Binned; tasks: TreeTask[] } {
  const o = { ...DEFAULT_FOREST, ...opts };
  const n = x.rows;
  if (y.length !== n) throw new Error(`forest: ${n} rows but ${y.length} labels`);
  if (n === 0) throw new Error('forest: no training rows');
  const binned = binFeatures(x);
  const random = mulberry32(o.seed);
  const tasks: TreeTask[] = [];
  for (let t = 0; t < o.trees; t++) {
    const idx = new Int32Array(n);
    if (o.bootstrap) for (let i = 0; i < n; i++) idx[i] = Math.floor(random() * n);
    else for (let i = 0; i < n; i++) idx[i] = i;
    tasks.push({ idx, seed: Math.floor(random() * 2 ** 32) });
  }
  return { o, binned, tasks };
}

/** The forest from its trees in order; each tree's importances normalised before averaging, as scikit-learn does. */
function assembleForest(grown: ReadonlyArray<{ tree: DecisionTree; imp: Float64Array }>, classes: number, d: number): RandomForest {
  const imp = new Float64Array(d);
  for (const g of grown) {
    let s = 0;
    for (let f = 0; f < d; f++) s += g.imp[f];
    if (s > 0) for (let f = 0; f < d; f++) imp[f] += g.imp[f] / s;
  }
  let s = 0;
  for (let f = 0; f < d; f++) s += imp[f];
  if (s > 0) for (let f = 0; f < d; f++) imp[f] /= s;
  return new RandomForest(
    grown.map((g) => g.tree),
    classes,
    d,
    imp,
  );
}
