import { type Matrix, argmaxRows } from '../dataset/matrix.js';
import { type Binned, binFeatures } from './forest-tree.js';

/**
 * Histogram-based gradient-boosted trees for classification, as scikit-learn's HistGradientBoostingClassifier and
 * LightGBM build them: features binned once (the forest's binning: at most 256 bins, exact for few distinct
 * values, NaN in the lowest bin), then per iteration one regression tree per class on the softmax loss's gradients
 * and hessians, grown best-first (the leaf with the largest gain splits next) up to `maxLeafNodes`, split gain
 * G_L^2/(H_L+l2) + G_R^2/(H_R+l2) - G^2/(H+l2), leaf values -G/(H+l2) times the learning rate. Defaults are
 * scikit-learn's (100 iterations, learning rate 0.1, 31 leaves, 20 samples a leaf, no l2), without its early
 * stopping. Written here on typed arrays: no maintained npm package does this (the JS ports of LightGBM and XGBoost
 * download native binaries at install time, which fails here). Importances: total split gain per feature, summing
 * to 1.
 */

export interface GbdtOptions {
  iterations: number;
  learningRate: number;
  maxLeafNodes: number;
  maxDepth: number;
  minSamplesLeaf: number;
  l2: number;
}

export const DEFAULT_GBDT: GbdtOptions = { iterations: 100, learningRate: 0.1, maxLeafNodes: 31, maxDepth: Infinity, minSamplesLeaf: 20, l2: 0 };

/** One regression tree: internal nodes split on feature <= threshold (NaN left); leaves hold a value. */
interface Tree {
  feature: Int32Array;
  threshold: Float64Array;
  left: Int32Array;
  right: Int32Array;
  value: Float64Array;
}

export interface GbdtJson {
  kind: 'gbdt';
  classes: number;
  features: number;
  baseline: number[];
  trees: Array<{ feature: number[]; threshold: number[]; left: number[]; right: number[]; value: number[] }>;
  importances: number[];
}

interface Leaf {
  rows: Int32Array;
  depth: number;
  node: number;
  /** Best split found for this leaf (gain <= 0: none). */
  gain: number;
  feature: number;
  bin: number;
}

export class GradientBoosting {
  private constructor(
    readonly classes: number,
    readonly features: number,
    private readonly baseline: Float64Array,
    /** Iteration-major: trees[it * classes + c]. */
    private readonly trees: Tree[],
    readonly importances: Float64Array,
  ) {}

  static fit(x: Matrix, y: Int32Array, classes: number, opts: Partial<GbdtOptions> = {}): GradientBoosting {
    const o = { ...DEFAULT_GBDT, ...opts };
    const n = x.rows;
    const d = x.cols;
    const k = Math.max(classes, 1);
    const b = binFeatures(x);
    // Start from the log class priors (what the softmax of a constant model would fit).
    const baseline = new Float64Array(k);
    const count = new Float64Array(k);
    for (let i = 0; i < n; i++) count[y[i]]++;
    for (let c = 0; c < k; c++) baseline[c] = Math.log(Math.max(count[c], 1e-3) / Math.max(n, 1));
    const raw = new Float64Array(n * k);
    for (let i = 0; i < n; i++) raw.set(baseline, i * k);
    const grad = new Float64Array(n);
    const hess = new Float64Array(n);
    const prob = new Float64Array(n * k);
    const trees: Tree[] = [];
    const gains = new Float64Array(d);
    const all = Int32Array.from({ length: n }, (_, i) => i);
    for (let it = 0; it < o.iterations; it++) {
      softmaxRows(raw, prob, n, k);
      for (let c = 0; c < k; c++) {
        for (let i = 0; i < n; i++) {
          const p = prob[i * k + c];
          grad[i] = p - (y[i] === c ? 1 : 0);
          hess[i] = Math.max(p * (1 - p), 1e-16);
        }
        const tree = growTree(b, n, d, grad, hess, all, o, gains);
        trees.push(tree);
        for (let i = 0; i < n; i++) raw[i * k + c] += treeValueBinned(tree, b, n, i);
      }
    }
    let total = 0;
    for (const g of gains) total += g;
    const importances = gains.map((g) => (total > 0 ? g / total : 0));
    return new GradientBoosting(k, d, baseline, trees, importances);
  }

  /** Raw scores (rows x classes) of a matrix of raw features. */
  private scores(x: Matrix): Float64Array {
    const k = this.classes;
    const out = new Float64Array(x.rows * k);
    for (let i = 0; i < x.rows; i++) {
      out.set(this.baseline, i * k);
      const at = i * x.cols;
      for (let t = 0; t < this.trees.length; t++) out[i * k + (t % k)] += treeValue(this.trees[t], x.data, at);
    }
    return out;
  }

  predictProba(x: Matrix): Float64Array {
    const s = this.scores(x);
    const p = new Float64Array(s.length);
    softmaxRows(s, p, x.rows, this.classes);
    return p;
  }

  /** The class of the highest raw score (the softmax keeps the order). */
  predict(x: Matrix): Int32Array {
    return argmaxRows(this.scores(x), this.classes);
  }

  toJSON(): GbdtJson {
    return {
      kind: 'gbdt',
      classes: this.classes,
      features: this.features,
      baseline: [...this.baseline],
      trees: this.trees.map((t) => ({ feature: [...t.feature], threshold: [...t.threshold].map((v) => (v === Infinity ? 1e308 : v)), left: [...t.left], right: [...t.right], value: [...t.value] })),
      importances: [...this.importances],
    };
  }

  static fromJSON(j: GbdtJson): GradientBoosting {
    if (j.kind !== 'gbdt') throw new Error('not a gradient-boosting model');
    const trees = j.trees.map((t) => ({ feature: Int32Array.from(t.feature), threshold: Float64Array.from(t.threshold), left: Int32Array.from(t.left), right: Int32Array.from(t.right), value: Float64Array.from(t.value) }));
    return new GradientBoosting(j.classes, j.features, Float64Array.from(j.baseline), trees, Float64Array.from(j.importances));
  }
}

function softmaxRows(s: Float64Array, out: Float64Array, n: number, k: number): void {
  for (let i = 0; i < n; i++) {
    let max = -Infinity;
    for (let c = 0; c < k; c++) max = Math.max(max, s[i * k + c]);
    let sum = 0;
    for (let c = 0; c < k; c++) sum += out[i * k + c] = Math.exp(s[i * k + c] - max);
    for (let c = 0; c < k; c++) out[i * k + c] /= sum;
  }
}

function treeValue(t: Tree, x: Float64Array, at: number): number {
  let node = 0;
  while (t.left[node] >= 0) {
    const v = x[at + t.feature[node]];
    node = v <= t.threshold[node] || v !== v ? t.left[node] : t.right[node];
  }
  return t.value[node];
}

/** The same walk on the training rows' bins (a bin <= the split bin goes left), without their raw values. */
function treeValueBinned(t: Tree, b: Binned, n: number, i: number): number {
  let node = 0;
  while (t.left[node] >= 0) {
    const f = t.feature[node];
    node = b.codes[f * n + i] <= splitBinOf(t, node) ? t.left[node] : t.right[node];
  }
  return t.value[node];
}

// The split bin of each internal node, kept beside the tree while boosting (thresholds alone are for raw values).
const splitBins = new WeakMap<Tree, Int32Array>();
function splitBinOf(t: Tree, node: number): number {
  return splitBins.get(t)![node];
}

function growTree(b: Binned, n: number, d: number, grad: Float64Array, hess: Float64Array, rows: Int32Array, o: GbdtOptions, gains: Float64Array): Tree {
  const feature: number[] = [];
  const threshold: number[] = [];
  const left: number[] = [];
  const right: number[] = [];
  const value: number[] = [];
  const bin: number[] = [];
  const newNode = () => {
    feature.push(-1);
    threshold.push(0);
    left.push(-1);
    right.push(-1);
    value.push(0);
    bin.push(-1);
    return feature.length - 1;
  };
  const leafValue = (ids: Int32Array) => {
    let g = 0;
    let h = 0;
    for (const i of ids) {
      g += grad[i];
      h += hess[i];
    }
    return (-g / (h + o.l2 + 1e-12)) * o.learningRate;
  };
  const evaluate = (leaf: Leaf) => {
    leaf.gain = 0;
    if (leaf.depth >= o.maxDepth || leaf.rows.length < 2 * o.minSamplesLeaf) return;
    let G = 0;
    let H = 0;
    for (const i of leaf.rows) {
      G += grad[i];
      H += hess[i];
    }
    const parent = (G * G) / (H + o.l2);
    const hg = new Float64Array(256);
    const hh = new Float64Array(256);
    const hc = new Int32Array(256);
    for (let f = 0; f < d; f++) {
      const nb = b.bins[f];
      if (nb < 2) continue;
      hg.fill(0, 0, nb);
      hh.fill(0, 0, nb);
      hc.fill(0, 0, nb);
      const codes = b.codes;
      const base = f * n;
      for (const i of leaf.rows) {
        const c = codes[base + i];
        hg[c] += grad[i];
        hh[c] += hess[i];
        hc[c]++;
      }
      let gl = 0;
      let hl = 0;
      let cl = 0;
      for (let s = 0; s < nb - 1; s++) {
        gl += hg[s];
        hl += hh[s];
        cl += hc[s];
        const cr = leaf.rows.length - cl;
        if (cl < o.minSamplesLeaf) continue;
        if (cr < o.minSamplesLeaf) break;
        const gr = G - gl;
        const hr = H - hl;
        const gain = (gl * gl) / (hl + o.l2) + (gr * gr) / (hr + o.l2) - parent;
        if (gain > leaf.gain + 1e-12) {
          leaf.gain = gain;
          leaf.feature = f;
          leaf.bin = s;
        }
      }
    }
  };
  const root: Leaf = { rows, depth: 0, node: newNode(), gain: 0, feature: -1, bin: -1 };
  evaluate(root);
  const open: Leaf[] = [root];
  let leaves = 1;
  while (leaves < o.maxLeafNodes) {
    let best = -1;
    for (let i = 0; i < open.length; i++) if (open[i].gain > 0 && (best < 0 || open[i].gain > open[best].gain)) best = i;
    if (best < 0) break;
    const leaf = open.splice(best, 1)[0];
    const f = leaf.feature;
    const codes = b.codes;
    const mine = leaf.rows;
    let nl = 0;
    for (const i of mine) if (codes[f * n + i] <= leaf.bin) nl++;
    const l = new Int32Array(nl);
    const r = new Int32Array(mine.length - nl);
    let a = 0;
    let c = 0;
    for (const i of mine) if (codes[f * n + i] <= leaf.bin) l[a++] = i;
    else r[c++] = i;
    gains[f] += leaf.gain;
    feature[leaf.node] = f;
    threshold[leaf.node] = b.upper[f][leaf.bin];
    bin[leaf.node] = leaf.bin;
    const ln: Leaf = { rows: l, depth: leaf.depth + 1, node: newNode(), gain: 0, feature: -1, bin: -1 };
    const rn: Leaf = { rows: r, depth: leaf.depth + 1, node: newNode(), gain: 0, feature: -1, bin: -1 };
    left[leaf.node] = ln.node;
    right[leaf.node] = rn.node;
    evaluate(ln);
    evaluate(rn);
    open.push(ln, rn);
    leaves++;
  }
  for (const leaf of open) value[leaf.node] = leafValue(leaf.rows);
  const tree: Tree = { feature: Int32Array.from(feature), threshold: Float64Array.from(threshold), left: Int32Array.from(left), right: Int32Array.from(right), value: Float64Array.from(value) };
  splitBins.set(tree, Int32Array.from(bin));
  return tree;
}
