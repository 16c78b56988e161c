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
