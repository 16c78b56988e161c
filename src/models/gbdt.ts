import { type Matrix, argmaxRows } from '../dataset/matrix.js';
import { type Binned, addNode, binFeatures } from './forest-tree.js';

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
  /** Sums of the leaf's gradients and hessians. */
  G: number;
  H: number;
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
    const grower = new TreeGrower(b, n, d, grad, hess, o);
    for (let it = 0; it < o.iterations; it++) {
      softmaxRows(raw, prob, n, k);
      for (let c = 0; c < k; c++) {
        for (let i = 0; i < n; i++) {
          const p = prob[i * k + c];
          grad[i] = p - (y[i] === c ? 1 : 0);
          hess[i] = Math.max(p * (1 - p), 1e-16);
        }
        // Each training row's new raw score from the leaf it ended in, not a walk down the tree.
        trees.push(grower.grow(all, gains, raw, k, c));
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
    for (let i = 0; i < x.rows; i++) out.set(this.baseline, i * k);
    // Tree by tree, every row through one tree before the next: a tree's arrays stay in cache for all the rows
    // (row by row, the 2,000 trees of a 20-class model were fetched again for every row). Each score still adds
    // its trees in the same order, so the sums are the same doubles.
    for (let t = 0; t < this.trees.length; t++) {
      const tree = this.trees[t];
      const c = t % k;
      for (let i = 0, at = 0; i < x.rows; i++, at += x.cols) out[i * k + c] += treeValue(tree, x.data, at);
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

/** A leaf's histograms: [g, h] pairs in hist[(f * 256 + bin) * 2], counts in count[f * 256 + bin]. */
interface Hist {
  hist: Float64Array;
  count: Int32Array;
}

interface Open {
  leaf: Leaf;
  h: Hist | undefined;
}

/**
 * Grows the trees of one fit, best-first. What makes it fast (the same moves as scikit-learn's and LightGBM's): a
 * leaf's histograms (gradient, hessian and count per feature and bin) are built once, from its rows' gradients
 * gathered in row order; a split builds only the smaller child's and takes the larger's as the parent's minus it;
 * the split search reads histograms only; each final leaf adds its value to its rows' raw scores, so boosting never
 * walks a tree again.
 *
 * One object for all trees of a fit, not closures made per tree: each new closure was a new call target for the
 * optimised code, which V8 threw away tree after tree (about 400 trees a fit). Histograms are reused from tree to
 * tree: a fresh pair (half a megabyte for 99 features) for every leaf was 6 GB of allocation on a 4-class task of
 * 1,342 rows, each one new pages from the kernel. Only the bins a feature has are cleared and read.
 */
class TreeGrower {
  private readonly og: Float64Array;
  private readonly oh: Float64Array;
  private readonly free: Hist[] = [];

  constructor(
    private readonly b: Binned,
    private readonly n: number,
    private readonly d: number,
    private readonly grad: Float64Array,
    private readonly hess: Float64Array,
    private readonly o: GbdtOptions,
  ) {
    this.og = new Float64Array(n);
    this.oh = new Float64Array(n);
  }

  /** One tree on `rows`; split gains added to `gains`; each leaf's value added to raw[i * k + c] for its rows i. */
  grow(rows: Int32Array, gains: Float64Array, raw: Float64Array, k: number, c: number): Tree {
    const { b, n, o, grad, hess } = this;
    const feature: number[] = [];
    const threshold: number[] = [];
    const left: number[] = [];
    const right: number[] = [];
    const value: number[] = [];
    const codes = b.codes;
    const root: Leaf = { rows, depth: 0, node: addNode(feature, threshold, left, right, value, 1), gain: 0, feature: -1, bin: -1, G: 0, H: 0 };
    const rootH = this.build(rows);
    this.evaluate(root, rootH);
    const open: Open[] = [{ leaf: root, h: rootH }];
    let leaves = 1;
    while (leaves < o.maxLeafNodes) {
      let best = -1;
      for (let i = 0; i < open.length; i++) if (open[i].leaf.gain > 0 && (best < 0 || open[i].leaf.gain > open[best].leaf.gain)) best = i;
      if (best < 0) break;
      const { leaf, h } = open.splice(best, 1)[0];
      const f = leaf.feature;
      const mine = leaf.rows;
      const base = f * n;
      let nl = 0;
      for (let q = 0; q < mine.length; q++) if (codes[base + mine[q]] <= leaf.bin) nl++;
      const l = new Int32Array(nl);
      const r = new Int32Array(mine.length - nl);
      let a = 0;
      let cr = 0;
      for (let q = 0; q < mine.length; q++) {
        const i = mine[q];
        if (codes[base + i] <= leaf.bin) l[a++] = i;
        else r[cr++] = i;
      }
      gains[f] += leaf.gain;
      feature[leaf.node] = f;
      threshold[leaf.node] = b.upper[f][leaf.bin];
      const ln: Leaf = { rows: l, depth: leaf.depth + 1, node: addNode(feature, threshold, left, right, value, 1), gain: 0, feature: -1, bin: -1, G: 0, H: 0 };
      const rn: Leaf = { rows: r, depth: leaf.depth + 1, node: addNode(feature, threshold, left, right, value, 1), gain: 0, feature: -1, bin: -1, G: 0, H: 0 };
      left[leaf.node] = ln.node;
      right[leaf.node] = rn.node;
      // A child that cannot split needs no histogram; otherwise the smaller is built, the larger subtracted.
      const small = l.length <= r.length ? ln : rn;
      const large = small === ln ? rn : ln;
      const smallSplits = this.splittable(small, leaves);
      const largeSplits = this.splittable(large, leaves);
      let smallH: Hist | undefined;
      let largeH: Hist | undefined;
      if (smallSplits || largeSplits) {
        smallH = this.build(small.rows);
        if (largeSplits) {
          this.subtract(h!, smallH);
          largeH = h;
        }
      }
      if (largeH === undefined && h !== undefined) this.give(h);
      if (smallH !== undefined && !smallSplits) {
        this.give(smallH);
        smallH = undefined;
      }
      if (smallH !== undefined) this.evaluate(small, smallH);
      if (largeH !== undefined) this.evaluate(large, largeH);
      open.push({ leaf: small, h: smallH }, { leaf: large, h: largeH });
      leaves++;
    }
    for (let q = 0; q < open.length; q++) {
      const { leaf, h } = open[q];
      if (h !== undefined) this.give(h);
      let g = 0;
      let hs = 0;
      const ids = leaf.rows;
      for (let j = 0; j < ids.length; j++) {
        g += grad[ids[j]];
        hs += hess[ids[j]];
      }
      const v = (-g / (hs + o.l2 + 1e-12)) * o.learningRate;
      value[leaf.node] = v;
      for (let j = 0; j < ids.length; j++) raw[ids[j] * k + c] += v;
    }
    return { feature: Int32Array.from(feature), threshold: Float64Array.from(threshold), left: Int32Array.from(left), right: Int32Array.from(right), value: Float64Array.from(value) };
  }

  private splittable(x: Leaf, leaves: number): boolean {
    return x.depth < this.o.maxDepth && x.rows.length >= 2 * this.o.minSamplesLeaf && leaves + 1 < this.o.maxLeafNodes;
  }

  /** A histogram pair whose used bins are zero (a reused one is cleared where it is read and written). */
  private take(): Hist {
    const h = this.free.pop();
    if (h === undefined) return { hist: new Float64Array(this.d * 512), count: new Int32Array(this.d * 256) };
    const bins = this.b.bins;
    for (let f = 0; f < this.d; f++) {
      const nb = bins[f];
      if (nb < 2) continue;
      h.hist.fill(0, f * 512, f * 512 + 2 * nb);
      h.count.fill(0, f * 256, f * 256 + nb);
    }
    return h;
  }

  private give(h: Hist): void {
    this.free.push(h);
  }

  /** Histograms of `ids`. */
  private build(ids: Int32Array): Hist {
    const { b, n, d, og, oh, grad, hess } = this;
    const h = this.take();
    const { hist, count } = h;
    const codes = b.codes;
    const m = ids.length;
    for (let j = 0; j < m; j++) {
      const i = ids[j];
      og[j] = grad[i];
      oh[j] = hess[i];
    }
    for (let f = 0; f < d; f++) {
      if (b.bins[f] < 2) continue;
      const base = f * n;
      const hb = f * 512;
      const cb = f * 256;
      for (let j = 0; j < m; j++) {
        const c = codes[base + ids[j]];
        hist[hb + 2 * c] += og[j];
        hist[hb + 2 * c + 1] += oh[j];
        count[cb + c]++;
      }
    }
    return h;
  }

  /** parent -= child over the used bins: the parent's histograms become the other child's. */
  private subtract(parent: Hist, child: Hist): void {
    const bins = this.b.bins;
    const ph = parent.hist;
    const pc = parent.count;
    const ch = child.hist;
    const cc = child.count;
    for (let f = 0; f < this.d; f++) {
      const nb = bins[f];
      if (nb < 2) continue;
      for (let q = f * 512, e = q + 2 * nb; q < e; q++) ph[q] -= ch[q];
      for (let q = f * 256, e = q + nb; q < e; q++) pc[q] -= cc[q];
    }
  }

  private evaluate(leaf: Leaf, h: Hist): void {
    const { b, d, o, grad, hess } = this;
    const { hist, count } = h;
    leaf.gain = 0;
    const m = leaf.rows.length;
    if (leaf.depth >= o.maxDepth || m < 2 * o.minSamplesLeaf) return;
    // The leaf's sums from its rows (every row is in exactly one bin of each feature).
    let G = 0;
    let H = 0;
    for (let j = 0; j < m; j++) {
      const i = leaf.rows[j];
      G += grad[i];
      H += hess[i];
    }
    leaf.G = G;
    leaf.H = H;
    const parent = (G * G) / (H + o.l2);
    for (let f = 0; f < d; f++) {
      const nb = b.bins[f];
      if (nb < 2) continue;
      const hb = f * 512;
      const cb = f * 256;
      let gl = 0;
      let hl = 0;
      let cl = 0;
      for (let s = 0; s < nb - 1; s++) {
        gl += hist[hb + 2 * s];
        hl += hist[hb + 2 * s + 1];
        cl += count[cb + s];
        const cr = m - cl;
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
  }
}
