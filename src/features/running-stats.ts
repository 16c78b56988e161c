/**
 * Count, mean, variance, min and max in one pass (Welford), mergeable exactly with Chan et al.'s parallel
 * formula, so partial statistics (status records, clusters of streams, shards) combine without the raw values.
 *
 * SD is the *sample* standard deviation (divisor n - 1), as nfstream and CICFlowMeter report it, and 0 when
 * there are fewer than two values. Min, max and mean are 0 for an empty set.
 */
export class RunningStats {
  n = 0;
  mean = 0;
  m2 = 0;
  min = 0;
  max = 0;

  push(x: number): void {
    const n = ++this.n;
    if (n === 1) {
      this.mean = x;
      this.min = x;
      this.max = x;
      return;
    }
    const delta = x - this.mean;
    this.mean += delta / n;
    this.m2 += delta * (x - this.mean);
    if (x < this.min) this.min = x;
    else if (x > this.max) this.max = x;
  }

  /** Fold `o` into this (Chan, Golub, LeVeque 1979): M2 = M2a + M2b + delta^2 * na * nb / n. */
  merge(o: RunningStats): void {
    if (o.n === 0) return;
    if (this.n === 0) {
      this.n = o.n;
      this.mean = o.mean;
      this.m2 = o.m2;
      this.min = o.min;
      this.max = o.max;
      return;
    }
    const n = this.n + o.n;
    const delta = o.mean - this.mean;
    this.m2 += o.m2 + (delta * delta * this.n * o.n) / n;
    this.mean += (delta * o.n) / n;
    this.n = n;
    if (o.min < this.min) this.min = o.min;
    if (o.max > this.max) this.max = o.max;
  }

  get variance(): number {
    return this.n < 2 ? 0 : this.m2 / (this.n - 1);
  }

  get sd(): number {
    return Math.sqrt(this.variance);
  }

  get sum(): number {
    return this.mean * this.n;
  }
}
