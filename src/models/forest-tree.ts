import { Mulberry32 } from '../common/rng.js';
import type { Matrix } from '../dataset/matrix.js';

/**
 * Random forest of CART classification trees (Gini impurity), written here on typed arrays because the npm options
 * measured far too slow: ml-random-forest took 172 s for the paper's 50 trees of depth 15 on 2,000 x 54 rows.
 *
 * Splits are searched on binned features, as scikit-learn's histogram estimators and LightGBM do: each feature's
 * distinct training values, or at most MAX_BINS quantiles of them, form the bins, so a node's best split costs one
 * pass over its samples plus one over the bins. A feature with at most MAX_BINS distinct values (counts, flags,
 * most packet-length statistics of small datasets) is split exactly where scikit-learn's exact search would split
 * it: at the midpoint between two neighbouring training values. Thresholds are kept as real values, so prediction
 * reads raw features. Missing values (NaN) go left, below every value.
 *
 * Defaults follow scikit-learn's RandomForestClassifier: bootstrap samples of n rows, sqrt(features) tried per split
 * (more are tried when none of those can split the node), probabilities averaged over trees, importances as the
 * mean decrease in impurity normalised to sum 1.
 */

export const MAX_BINS = 256;

export interface ForestOptions {
  trees: number;
  /** Maximum depth (the root is depth 0); Infinity for none. */
  maxDepth: number;
  /** Features tried per split: 'sqrt' (default), 'all', or a count. */
  maxFeatures: 'sqrt' | 'all' | number;
  minSamplesLeaf: number;
  bootstrap: boolean;
  seed: number;
}

export const DEFAULT_FOREST: ForestOptions = { trees: 100, maxDepth: Infinity, maxFeatures: 'sqrt', minSamplesLeaf: 1, bootstrap: true, seed: 1 };

export interface TreeJson {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  /** Class probabilities of each node, k per node (only leaves are read). */
  value: number[];
}

export class DecisionTree {
  constructor(
    readonly feature: Int32Array,
    readonly threshold: Float64Array,
    readonly left: Int32Array,
    readonly right: Int32Array,
    readonly value: Float64Array,
    readonly classes: number,
  ) {}

  /** Index of the leaf that row `r` of `x` falls in. */
  leaf(x: Float64Array, at: number): number {
    let node = 0;
    while (this.left[node] >= 0) {
      const v = x[at + this.feature[node]];
      node = v <= this.threshold[node] || v !== v ? this.left[node] : this.right[node];
    }
    return node;
  }

  get nodes(): number {
    return this.feature.length;
  }

  toJSON(): TreeJson {
    return { feature: [...this.feature], threshold: [...this.threshold], left: [...this.left], right: [...this.right], value: [...this.value] };
  }

  static fromJSON(j: TreeJson, classes: number): DecisionTree {
    return new DecisionTree(Int32Array.from(j.feature), Float64Array.from(j.threshold), Int32Array.from(j.left), Int32Array.from(j.right), Float64Array.from(j.value), classes);
  }
}

/** Features quantised to bins, column-major, with the real-valued threshold above each bin. */
export interface Binned {
  codes: Uint8Array;
  /** upper[f][b]: the threshold that separates bin b from bin b + 1 of feature f. */
  upper: Float64Array[];
  bins: Int32Array;
}

export function binFeatures(x: Matrix): Binned {
  const { rows: n, cols: d, data } = x;
  const codes = new Uint8Array(n * d);
  const upper: Float64Array[] = [];
  const bins = new Int32Array(d);
  const col = new Float64Array(n);
  for (let f = 0; f < d; f++) {
    let m = 0;
    for (let i = 0; i < n; i++) {
      const v = data[i * d + f];
      if (v === v) col[m++] = v;
    }
    const sorted = col.subarray(0, m).slice().sort();
    const distinct: number[] = [];
    for (let i = 0; i < m; i++) if (i === 0 || sorted[i] !== sorted[i - 1]) distinct.push(sorted[i]);
    // Bin edges: every distinct value when few; else values at quantiles (each bin then holds ~n/MAX_BINS rows).
    let edges: number[];
    if (distinct.length <= MAX_BINS) edges = distinct;
    else {
      edges = [];
      for (let b = 1; b <= MAX_BINS; b++) {
        const v = sorted[Math.min(m - 1, Math.floor((b * m) / MAX_BINS) - 1)];
        if (edges.length === 0 || v > edges[edges.length - 1]) edges.push(v);
      }
      if (edges[edges.length - 1] < sorted[m - 1]) edges[edges.length - 1] = sorted[m - 1];
    }
    // Bin b holds values in (edges[b-1], edges[b]]; the split after bin b is the midpoint to the next distinct value.
    const up = new Float64Array(Math.max(edges.length, 1));
    for (let b = 0; b < edges.length; b++) {
      if (b + 1 < edges.length) {
        // The next distinct training value above edges[b].
        let lo = 0;
        let hi = m;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (sorted[mid] <= edges[b]) lo = mid + 1;
          else hi = mid;
        }
        up[b] = (edges[b] + sorted[lo]) / 2;
      } else up[b] = Infinity;
    }
    upper.push(up);
    bins[f] = Math.max(edges.length, 1);
    for (let i = 0; i < n; i++) {
      const v = data[i * d + f];
      let code = 0;
      if (v === v) {
        let lo = 0;
        let hi = edges.length - 1;
        while (lo < hi) {
          const mid = (lo + hi) >> 1;
          if (v <= edges[mid]) hi = mid;
          else lo = mid + 1;
        }
        code = lo;
      }
      codes[f * n + i] = code;
    }
  }
  return { codes, upper, bins };
}

function featuresPerSplit(o: ForestOptions, d: number): number {
  if (o.maxFeatures === 'all') return d;
  if (o.maxFeatures === 'sqrt') return Math.max(1, Math.floor(Math.sqrt(d)));
  return Math.max(1, Math.min(d, Math.floor(o.maxFeatures)));
}

/**
 * The best split of one feature in one node, over the bins its rows fall in. A class of its own, not a loop inside
 * growNodes: the tree loop was one function so large that V8 compiled it five times a forest (three on-stack
 * replacements and two whole compilations, 160 ms of compiler time for a forest that grows in 100 ms); this part
 * runs 180,000 times a forest, and is compiled once.
 */
class SplitScan {
  /** Best score of the last feature scanned (-Infinity when no split satisfies the leaf minimum), its bin, and whether the feature varies in the node. */
  score = -Infinity;
  bin = -1;
  varies = false;
  private readonly hist: Float64Array;
  private readonly leftCounts: Float64Array;
  private readonly stamp = new Int32Array(MAX_BINS);
  private readonly touched = new Int32Array(MAX_BINS);
  private stampId = 0;

  constructor(private readonly k: number) {
    this.hist = new Float64Array(MAX_BINS * k);
    this.leftCounts = new Float64Array(k);
  }

  /** Scan the feature whose codes start at codes[base], with nb bins, for the node's rows[lo, hi) (class counts `counts`, weight `size`). */
  feature(codes: Uint8Array, base: number, nb: number, rows: Int32Array, lo: number, hi: number, weight: Float64Array, y: Int32Array, counts: Float64Array, size: number, minLeaf: number): void {
    const { k, hist, leftCounts, stamp, touched } = this;
    // Only the bins this node's rows fall in are scanned and cleared: a deep node of a few rows touches a few of
    // up to 256 bins, and scanning and zeroing all of them for every class (k x 256 a feature) was most of a fit
    // with 20 classes. The candidate splits are the same: an empty bin adds nothing to either side.
    const stampId = ++this.stampId;
    let nt = 0;
    for (let i = lo; i < hi; i++) {
      const s = rows[i];
      const c = codes[base + s];
      if (stamp[c] !== stampId) {
        stamp[c] = stampId;
        touched[nt++] = c;
      }
      hist[c * k + y[s]] += weight[s];
    }
    const bins = ascending(touched, nt, stamp, stampId, nb);
    leftCounts.fill(0);
    let nl = 0;
    let lsq = 0;
    let varies = false;
    let best = -Infinity;
    let bestBin = -1;
    for (let t = 0; t < nt; t++) {
      const bin = bins[t];
      if (bin >= nb - 1) break;
      let added = 0;
      for (let c = 0; c < k; c++) {
        const h = hist[bin * k + c];
        if (h !== 0) {
          const before = leftCounts[c];
          leftCounts[c] = before + h;
          lsq += h * (2 * before + h);
          added += h;
        }
      }
      nl += added;
      const nr = size - nl;
      if (nr > 0) varies = true;
      if (nl < minLeaf) continue;
      if (nr < minLeaf) break;
      let rsq = 0;
      for (let c = 0; c < k; c++) {
        const r = counts[c] - leftCounts[c];
        rsq += r * r;
      }
      const score = lsq / nl + rsq / nr;
      if (score > best) {
        best = score;
        bestBin = bin;
      }
    }
    // Cleared by plain stores: a call of fill() a bin cost more than the k stores it makes.
    for (let t = 0; t < nt; t++) for (let c = bins[t] * k, e = c + k; c < e; c++) hist[c] = 0;
    this.score = best;
    this.bin = bestBin;
    this.varies = varies;
  }
}

/** A new node (a leaf until split, k values) at the end of a tree's arrays; returns its index. */
export function addNode(feature: number[], threshold: number[], left: number[], right: number[], value: number[], k: number): number {
  feature.push(-1);
  threshold.push(0);
  left.push(-1);
  right.push(-1);
  for (let c = 0; c < k; c++) value.push(0);
  return feature.length - 1;
}

/**
 * The first `nt` entries of `touched` (distinct bins below nb, each marked stamp[bin] === id) in ascending order,
 * in place. A few are insertion-sorted; many are read back off the marks, one pass over the nb bins; neither
 * makes the subarray and the call into the runtime that TypedArray sort() made for every feature of every node
 * (a sixth of a forest's fit on 1,342 rows).
 */
function ascending(touched: Int32Array, nt: number, stamp: Int32Array, id: number, nb: number): Int32Array {
  if (nt <= 16 || nt * 8 < nb) {
    for (let t = 1; t < nt; t++) {
      const v = touched[t];
      let u = t - 1;
      while (u >= 0 && touched[u] > v) {
        touched[u + 1] = touched[u];
        u--;
      }
      touched[u + 1] = v;
    }
  } else {
    let t = 0;
    for (let bin = 0; bin < nb; bin++) if (stamp[bin] === id) touched[t++] = bin;
  }
  return touched;
}

/** Grow one tree on the samples in `idx` (duplicates from the bootstrap count as weight), its feature draws from `seed`. */
export function growTree(b: Binned, n: number, d: number, y: Int32Array, k: number, idx: Int32Array, o: ForestOptions, seed: number, importance: Float64Array): DecisionTree {
  const t: GrownNodes = { feature: [], threshold: [], left: [], right: [], value: [] };
  growNodes(t, b, n, d, y, k, idx, o, seed, importance);
  return new DecisionTree(Int32Array.from(t.feature), Float64Array.from(t.threshold), Int32Array.from(t.left), Int32Array.from(t.right), Float64Array.from(t.value), k);
}

interface GrownNodes {
  feature: number[];
  threshold: number[];
  left: number[];
  right: number[];
  /** Class probabilities, k a node. */
  value: number[];
}

/**
 * The tree's nodes into t. Apart from growTree so that this loop ends with nothing to do: its optimised code had
 * never run the code after the loop (building the typed arrays, once a tree), so it was deoptimised there at the
 * end of tree after tree, each time for a recompilation of the whole loop.
 */
function growNodes(t: GrownNodes, b: Binned, n: number, d: number, y: Int32Array, k: number, idx: Int32Array, o: ForestOptions, seed: number, importance: Float64Array): void {
  const random = new Mulberry32(seed);
  const { feature, threshold, left, right, value } = t;
  const mtry = featuresPerSplit(o, d);
  const order = Int32Array.from({ length: d }, (_, i) => i);
  const counts = new Float64Array(k);
  const scan = new SplitScan(k);
  // The bootstrap sample as its distinct rows and their weights (how often each was drawn): about 63 % of the
  // draws are distinct, so every pass over a node's rows is a third shorter. Counts are the same integers either
  // way (in doubles, exactly), so the tree is the one the draws themselves grow.
  const weight = new Float64Array(n);
  for (let i = 0; i < idx.length; i++) weight[idx[i]]++;
  let distinct = 0;
  for (let s = 0; s < n; s++) if (weight[s] > 0) distinct++;
  const rows = new Int32Array(distinct);
  for (let s = 0, at = 0; s < n; s++) if (weight[s] > 0) rows[at++] = s;
  const tmp = new Int32Array(distinct);
  // Depth-first with an explicit stack: [node, lo, hi, depth].
  const stack: number[] = [];
  // Nodes are added by a function of the module, not a closure made per tree: each new closure was a new call
  // target to the optimised tree loop, which V8 then deoptimised once a tree ("wrong call target").
  stack.push(addNode(feature, threshold, left, right, value, k), 0, distinct, 0);
  while (stack.length > 0) {
    const depth = stack.pop()!;
    const hi = stack.pop()!;
    const lo = stack.pop()!;
    const node = stack.pop()!;
    counts.fill(0);
    let size = 0;
    for (let i = lo; i < hi; i++) {
      const s = rows[i];
      counts[y[s]] += weight[s];
      size += weight[s];
    }
    let sumSq = 0;
    let classesPresent = 0;
    for (let c = 0; c < k; c++) {
      value[node * k + c] = counts[c] / size;
      sumSq += counts[c] * counts[c];
      if (counts[c] > 0) classesPresent++;
    }
    if (depth >= o.maxDepth || classesPresent <= 1 || size < 2 * o.minSamplesLeaf) continue;
    // Impurity proxy: a split is better when sum_c(l_c^2)/n_l + sum_c(r_c^2)/n_r is larger.
    const parentScore = sumSq / size;
    let bestScore = -Infinity;
    let bestF = -1;
    let bestBin = -1;
    // Features in random order until mtry of them vary within the node (features constant here do not count,
    // as in scikit-learn).
    for (let i = d - 1; i > 0; i--) {
      const j = Math.floor(random.next() * (i + 1));
      const t = order[i];
      order[i] = order[j];
      order[j] = t;
    }
    let tried = 0;
    for (let oi = 0; oi < d && tried < mtry; oi++) {
      const f = order[oi];
      const nb = b.bins[f];
      if (nb < 2) continue;
      scan.feature(b.codes, f * n, nb, rows, lo, hi, weight, y, counts, size, o.minSamplesLeaf);
      if (scan.score > bestScore) {
        bestScore = scan.score;
        bestF = f;
        bestBin = scan.bin;
      }
      if (scan.varies) tried++;
    }
    if (bestF < 0) continue;
    // Partition rows[lo, hi) by the chosen bin, stably.
    const codes = b.codes;
    const base = bestF * n;
    let l = lo;
    let r = 0;
    for (let i = lo; i < hi; i++) {
      const s = rows[i];
      if (codes[base + s] <= bestBin) rows[l++] = s;
      else tmp[r++] = s;
    }
    rows.set(tmp.subarray(0, r), l);
    // Weighted impurity decrease: n * gini(parent) - n_l * gini(l) - n_r * gini(r) = score - parentScore.
    importance[bestF] += bestScore - parentScore;
    feature[node] = bestF;
    threshold[node] = b.upper[bestF][bestBin];
    const ln = addNode(feature, threshold, left, right, value, k);
    const rn = addNode(feature, threshold, left, right, value, k);
    left[node] = ln;
    right[node] = rn;
    stack.push(rn, l, hi, depth + 1, ln, lo, l, depth + 1);
  }
}

/** A tree to grow: its bootstrap sample and its random seed. */
export interface TreeTask {
  idx: Int32Array;
  seed: number;
}

