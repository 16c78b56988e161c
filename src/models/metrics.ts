import { mulberry32 } from '../common/rng.js';

/** Classification scores from true and predicted class indices. */
export interface Scores {
  n: number;
  accuracy: number;
  macroF1: number;
  perClass: Array<{ precision: number; recall: number; f1: number; support: number }>;
  /** confusion[true][predicted] */
  confusion: number[][];
}

export function scores(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number): Scores {
  const confusion = Array.from({ length: k }, () => new Array<number>(k).fill(0));
  let correct = 0;
  for (let i = 0; i < yTrue.length; i++) {
    confusion[yTrue[i]][yPred[i]]++;
    if (yTrue[i] === yPred[i]) correct++;
  }
  const perClass = confusion.map((row, c) => {
    const tp = row[c];
    const support = row.reduce((a, b) => a + b, 0);
    const predicted = confusion.reduce((a, r) => a + r[c], 0);
    const precision = predicted === 0 ? 0 : tp / predicted;
    const recall = support === 0 ? 0 : tp / support;
    const f1 = precision + recall === 0 ? 0 : (2 * precision * recall) / (precision + recall);
    return { precision, recall, f1, support };
  });
  // Macro-F1 over the classes present in the truth (as scikit-learn does with labels=unique(y_true)).
  const present = perClass.filter((p) => p.support > 0);
  const macroF1 = present.length === 0 ? 0 : present.reduce((a, p) => a + p.f1, 0) / present.length;
  return { n: yTrue.length, accuracy: yTrue.length === 0 ? 0 : correct / yTrue.length, macroF1, perClass, confusion };
}

/** 95% percentile bootstrap interval of a score over resampled test rows (seeded). */
export function bootstrapInterval(yTrue: ArrayLike<number>, yPred: ArrayLike<number>, k: number, score: (s: Scores) => number, resamples = 1000, seed = 1): [number, number] {
  const n = yTrue.length;
  if (n === 0) return [0, 0];
  const random = mulberry32(seed);
  const t = new Int32Array(n);
  const p = new Int32Array(n);
  const values: number[] = [];
  for (let r = 0; r < resamples; r++) {
    for (let i = 0; i < n; i++) {
      const j = Math.floor(random() * n);
      t[i] = yTrue[j];
      p[i] = yPred[j];
    }
    values.push(score(scores(t, p, k)));
  }
  values.sort((a, b) => a - b);
  return [values[Math.floor(0.025 * (resamples - 1))], values[Math.ceil(0.975 * (resamples - 1))]];
}

/**
 * Stratified group k-fold: whole groups go to one fold, and folds get similar class mixes. Groups are taken from
 * the largest down (ties in seeded random order) and each goes to the fold where it leaves the per-class counts
 * most even (the sum of squared fold-class counts grows least), the greedy rule of scikit-learn's
 * StratifiedGroupKFold. Returns the fold of each row.
 */
export function stratifiedGroupKFold(y: ArrayLike<number>, groups: readonly string[], k: number, folds: number, seed: number): Int32Array {
  const byGroup = new Map<string, number[]>();
  for (let i = 0; i < groups.length; i++) {
    const g = byGroup.get(groups[i]) ?? [];
    g.push(i);
    byGroup.set(groups[i], g);
  }
  const random = mulberry32(seed);
  const list = [...byGroup.values()].map((rows) => ({ rows, r: random() }));
  list.sort((a, b) => b.rows.length - a.rows.length || a.r - b.r);
  const count = Array.from({ length: folds }, () => new Float64Array(k));
  const size = new Float64Array(folds);
  const fold = new Int32Array(groups.length);
  for (const g of list) {
    const add = new Float64Array(k);
    for (const i of g.rows) add[y[i]]++;
    let best = 0;
    let bestCost = Infinity;
    for (let f = 0; f < folds; f++) {
      let cost = 0;
      for (let c = 0; c < k; c++) cost += add[c] === 0 ? 0 : 2 * count[f][c] * add[c];
      cost += size[f] * g.rows.length * 1e-6; // on ties, the smaller fold
      if (cost < bestCost) {
        bestCost = cost;
        best = f;
      }
    }
    for (let c = 0; c < k; c++) count[best][c] += add[c];
    size[best] += g.rows.length;
    for (const i of g.rows) fold[i] = best;
  }
  return fold;
}

/**
 * Area under the ROC curve of scores for positives (label 1) against negatives (label 0): the probability that a
 * random positive scores above a random negative, ties counting half (the Mann-Whitney statistic).
 */
export function auroc(score: ArrayLike<number>, positive: ArrayLike<number>): number {
  const idx = Array.from({ length: score.length }, (_, i) => i).sort((a, b) => score[a] - score[b]);
  let pos = 0;
  let neg = 0;
  let rankSum = 0;
  for (let i = 0; i < idx.length; ) {
    let j = i;
    while (j < idx.length && score[idx[j]] === score[idx[i]]) j++;
    const rank = (i + 1 + j) / 2; // mean 1-based rank of the tie group
    for (let k = i; k < j; k++) if (positive[idx[k]]) rankSum += rank;
    i = j;
  }
  for (let i = 0; i < positive.length; i++) (positive[i] ? pos++ : neg++);
  if (pos === 0 || neg === 0) return NaN;
  return (rankSum - (pos * (pos + 1)) / 2) / (pos * neg);
}

/** The q-quantile (0..1) of values, by linear interpolation between order statistics (numpy's default). */
export function quantile(values: ArrayLike<number>, q: number): number {
  const v = Array.from(values).sort((a, b) => a - b);
  if (v.length === 0) return NaN;
  const h = (v.length - 1) * q;
  const lo = Math.floor(h);
  return v[lo] + (h - lo) * ((v[Math.min(lo + 1, v.length - 1)] ?? v[lo]) - v[lo]);
}
