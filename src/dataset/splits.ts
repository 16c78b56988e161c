import { mulberry32 } from '../common/rng.js';
import type { RecordTable } from './records.js';

/** How rows are split for evaluation and calibration: groups of correlated flows, folds that keep groups whole. */

/**
 * Group of each row where no split was asked for (train's calibration folds): the capture when there are at least
 * as many captures as folds, else blocks of consecutive flows of each capture (planSplit's `block`).
 */
export function splitGroups(table: RecordTable, rows: readonly number[], folds: number): string[] {
  const cap = table.names.indexOf('capture');
  const captures = new Set(rows.map((r) => String(table.rows[r][cap])));
  if (captures.size >= folds) return rows.map((r) => String(table.rows[r][cap]));
  return blockGroups(table, rows, folds);
}

/** Blocks of consecutive flows within each capture, 4 x folds a capture, by first_seen_ns. */
function blockGroups(table: RecordTable, rows: readonly number[], folds: number): string[] {
  const cap = table.names.indexOf('capture');
  const first = table.names.indexOf('first_seen_ns');
  const blocks = 4 * folds;
  const groups = new Array<string>(rows.length);
  const byCapture = new Map<string, number[]>();
  rows.forEach((r, i) => {
    const c = String(table.rows[r][cap]);
    byCapture.set(c, [...(byCapture.get(c) ?? []), i]);
  });
  for (const [c, mine] of byCapture) {
    mine.sort((a, b) => {
      const x = table.rows[rows[a]][first] as bigint;
      const y = table.rows[rows[b]][first] as bigint;
      return x < y ? -1 : x > y ? 1 : a - b;
    });
    mine.forEach((i, j) => (groups[i] = `${c}#${Math.floor((j * blocks) / mine.length)}`));
  }
  return groups;
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

/**
 * What the rows are grouped by, so that correlated flows never sit on both sides of a split:
 * - capture: the capture file (`capture` column);
 * - user: the user whose actions the flows belong to (`label_user`, from the action log or `label --user`);
 * - device: the device address (`client_addr`): one phone behind one address;
 * - block: blocks of consecutive flows within each capture (4 x folds a capture). Not capture-disjoint: flows of
 *   one capture are on both sides; for one long capture only, and said so in every table.
 */
export type GroupBy = 'capture' | 'user' | 'device' | 'block';
export const GROUP_BY: readonly GroupBy[] = ['capture', 'user', 'device', 'block'];

export interface SplitPlan {
  groupBy: GroupBy;
  /** Group of each row (aligned with the rows given). */
  groups: string[];
  /** Distinct groups. */
  groupCount: number;
  /** Folds actually used: the folds asked for, or one per group when there are fewer groups (leave-one-group-out). */
  folds: number;
  scheme: 'k-fold' | 'leave-one-group-out';
  /** How a table names the split, e.g. "leave-one-user-out (3 users)". */
  label: string;
}

/** The group of records with no label_user (--group-by user). */
export const NO_USER = '(no user)';

const NOUN: Record<GroupBy, [string, string]> = { capture: ['capture', 'captures'], user: ['user', 'users'], device: ['device', 'devices'], block: ['time block', 'time blocks'] };

/**
 * The split a run asked for, or an error that says why it cannot be made: never silently another one. Fewer groups
 * than folds give leave-one-group-out (and the label says so); a single group cannot be split at all.
 */
export function planSplit(table: RecordTable, rows: readonly number[], groupBy: GroupBy, folds: number): SplitPlan {
  const col = (n: string) => {
    const i = table.names.indexOf(n);
    if (i < 0) throw new Error(`--group-by ${groupBy} needs the column ${n}${n === 'label_user' ? ' (label with an action log, or label --user NAME)' : ''}`);
    return i;
  };
  let groups: string[];
  if (groupBy === 'block') {
    col('capture');
    col('first_seen_ns');
    groups = blockGroups(table, rows, folds);
  } else {
    const c = col(groupBy === 'capture' ? 'capture' : groupBy === 'user' ? 'label_user' : 'client_addr');
    groups = rows.map((r) => {
      const v = table.rows[r][c];
      if (v !== null && v !== undefined && v !== '') return String(v);
      // Background flows no user's action explains (a shared address): one group of their own, said in the label.
      if (groupBy === 'user') return NO_USER;
      throw new Error(`--group-by ${groupBy}: a record has no ${table.names[c]} (row ${r + 1})`);
    });
  }
  const groupCount = new Set(groups).size;
  const [one, many] = NOUN[groupBy];
  const noUser = groupBy === 'user' ? groups.filter((g) => g === NO_USER).length : 0;
  if (groupCount < 2) {
    const hint = groupBy === 'capture' ? '; use --group-by user or device if the capture holds several, --group-by block (time blocks, not capture-disjoint), or --train and --test' : '';
    throw new Error(`--group-by ${groupBy}: the records hold ${groupCount} ${groupCount === 1 ? one : many}, and a split needs two${hint}`);
  }
  const logo = groupCount <= folds;
  const n = logo ? groupCount : folds;
  const label = groupBy === 'block' ? `${n}-fold by time block (${groupCount} blocks of ${new Set(rows.map((r) => table.rows[r][table.names.indexOf('capture')])).size} capture(s); not capture-disjoint)` : logo ? `leave-one-${one}-out (${groupCount} ${many})` : `${n}-fold by ${one} (${groupCount} ${many})`;
  return { groupBy, groups, groupCount, folds: n, scheme: logo ? 'leave-one-group-out' : 'k-fold', label: noUser > 0 ? `${label}, ${noUser} records of no user one of them` : label };
}

/** The fold of each row for a plan: one group per fold when leave-one-group-out, else stratified group k-fold. */
export function planFolds(plan: SplitPlan, y: ArrayLike<number>, k: number, seed: number): Int32Array {
  if (plan.scheme === 'leave-one-group-out') {
    const index = new Map([...new Set(plan.groups)].sort().map((g, i) => [g, i]));
    return Int32Array.from(plan.groups, (g) => index.get(g)!);
  }
  return stratifiedGroupKFold(y, plan.groups, k, plan.folds, seed);
}
