import type { CellValue, ColumnDef } from '../flow/schema.js';
import { COLUMN_SETS, columnSet } from './column-sets.js';

/** Some columns of a record layout, in a chosen order (`flows --columns`, as tshark's -T fields -e). */
export interface ColumnPick {
  columns: ColumnDef[];
  /** The chosen cells of a full row, in a reused array (write it before the next call). */
  project(row: readonly CellValue[]): CellValue[];
}

/**
 * Choose columns by name from `all`, comma-separated, each once, or a named set (`nfstream`, `cicflowmeter`:
 * output/column-sets.ts). A name that is not a column is an error that names
 * it and the nearest column names, so a typo is caught before a long run, not after.
 */
export function pickColumns(all: readonly ColumnDef[], names: string): ColumnPick {
  const set = COLUMN_SETS[names.trim()];
  if (set !== undefined) return columnSet(set, all);
  const wanted = names
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
  if (wanted.length === 0) throw new Error('--columns: no column named');
  const index = new Map(all.map((c, i) => [c.name, i]));
  const at: number[] = [];
  const seen = new Set<string>();
  for (const w of wanted) {
    const i = index.get(w);
    if (i === undefined) {
      const near = all.map((c) => c.name).filter((n) => n.includes(w) || w.includes(n) || editDistance(n, w) <= 2).slice(0, 5);
      throw new Error(`--columns: no column "${w}"${near.length > 0 ? ` (did you mean ${near.join(', ')}?)` : ''}; the columns are listed by \`cipherscope schema\``);
    }
    if (seen.has(w)) throw new Error(`--columns: "${w}" is named twice`);
    seen.add(w);
    at.push(i);
  }
  const out: CellValue[] = new Array(at.length);
  return {
    columns: at.map((i) => all[i]),
    project(row) {
      for (let k = 0; k < at.length; k++) out[k] = row[at[k]];
      return out;
    },
  };
}

function editDistance(a: string, b: string): number {
  if (Math.abs(a.length - b.length) > 2) return 3;
  const d = Array.from({ length: a.length + 1 }, (_, i) => [i, ...new Array<number>(b.length).fill(0)]);
  for (let j = 1; j <= b.length; j++) d[0][j] = j;
  for (let i = 1; i <= a.length; i++) for (let j = 1; j <= b.length; j++) d[i][j] = Math.min(d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] === b[j - 1] ? 0 : 1));
  return d[a.length][b.length];
}
