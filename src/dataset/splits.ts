import { mulberry32 } from '../common/rng.js';
import type { RecordTable } from './records.js';

/** How rows are split for evaluation and calibration: groups of correlated flows, folds that keep groups whole. */

/** Group of each row: capture, or a block of consecutive flows of its capture. */
export function splitGroups(table: RecordTable, rows: readonly number[], folds: number): string[] {
  const cap = table.names.indexOf('capture');
  const first = table.names.indexOf('first_seen_ns');
  const captures = new Set(rows.map((r) => String(table.rows[r][cap])));
  if (captures.size >= folds) return rows.map((r) => String(table.rows[r][cap]));
  const blocks = 4 * folds;
  const out = new Array<string>(rows.length);
  for (const c of captures) {
    const mine = rows.map((r, i) => [i, table.rows[r][first] as bigint] as const).filter(([i]) => String(table.rows[rows[i]][cap]) === c);
    mine.sort((a, b) => (a[1] < b[1] ? -1 : a[1] > b[1] ? 1 : 0));
    mine.forEach(([i], j) => (out[i] = `${c}#${Math.floor((j * blocks) / mine.length)}`));
  }
  return out;
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

/** Train and test rows (indices) of each fold, folds with no train or no test row left out. */
export function foldSplits(fold: Int32Array, folds: number): Array<{ fold: number; train: number[]; test: number[] }> {
  const out: Array<{ fold: number; train: number[]; test: number[] }> = [];
  for (let f = 0; f < folds; f++) {
    const train: number[] = [];
    const test: number[] = [];
    for (let i = 0; i < fold.length; i++) (fold[i] === f ? test : train).push(i);
    if (train.length > 0 && test.length > 0) out.push({ fold: f, train, test });
  }
  return out;
}
