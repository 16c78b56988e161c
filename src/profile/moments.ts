/**
 * Mergeable statistics of a series, as the paper keeps them per user so that clusters of streams combine exactly:
 * count, sum and sum of squares. Merging adds the three; mean and variance come from them. (Sums of squares lose
 * precision when the mean is large against the spread; for stream sizes and durations of one user that is far
 * below what a profile reads, and it is what makes two stores merge by addition, in SQL as well.)
 */
export interface Moments {
  n: number;
  sum: number;
  sumSq: number;
}

export const EMPTY_MOMENTS: Moments = Object.freeze({ n: 0, sum: 0, sumSq: 0 });

export function momentsOf(values: Iterable<number>): Moments {
  let n = 0;
  let sum = 0;
  let sumSq = 0;
  for (const v of values) {
    n++;
    sum += v;
    sumSq += v * v;
  }
  return { n, sum, sumSq };
}

export function mergeMoments(a: Moments, b: Moments): Moments {
  return { n: a.n + b.n, sum: a.sum + b.sum, sumSq: a.sumSq + b.sumSq };
}

export function mean(m: Moments): number {
  return m.n === 0 ? NaN : m.sum / m.n;
}

/** Population variance (divides by n), clamped at 0 against rounding. */
export function variance(m: Moments): number {
  if (m.n === 0) return NaN;
  const mu = m.sum / m.n;
  return Math.max(0, m.sumSq / m.n - mu * mu);
}

export function sd(m: Moments): number {
  return Math.sqrt(variance(m));
}
