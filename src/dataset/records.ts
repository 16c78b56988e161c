import { readFileSync } from 'node:fs';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { RecordDecodeError, parseCsvCell } from '../output/codec.js';

/**
 * Reads flow records back from the CSV that `cipherscope flows` / `label` / `testbed` write, typed by the column
 * definitions (int and float as numbers, int64 as bigint, lists as number arrays, bool). Columns the definitions do
 * not know are kept as strings. Errors name the file, line and column.
 */
export const RecordFileError = RecordDecodeError;
export type RecordFileError = RecordDecodeError;

export interface RecordTable {
  names: string[];
  rows: CellValue[][];
}

/** RFC 4180 fields of one CSV text: quoted fields may hold commas, doubled quotes and newlines. */
function* csvRecords(text: string, where: string): Generator<[number, string[]]> {
  let line = 1;
  let i = 0;
  const n = text.length;
  while (i < n) {
    const start = line;
    const fields: string[] = [];
    for (;;) {
      let v = '';
      if (text[i] === '"') {
        i++;
        for (;;) {
          if (i >= n) throw new RecordFileError(`${where}:${start}: a quoted field is not closed`);
          const c = text[i];
          if (c === '"') {
            if (text[i + 1] === '"') {
              v += '"';
              i += 2;
              continue;
            }
            i++;
            break;
          }
          if (c === '\n') line++;
          v += c;
          i++;
        }
      } else {
        let j = i;
        while (j < n && text[j] !== ',' && text[j] !== '\n' && text[j] !== '\r') j++;
        v = text.slice(i, j);
        i = j;
      }
      fields.push(v);
      if (text[i] === ',') {
        i++;
        continue;
      }
      if (text[i] === '\r') i++;
      if (text[i] === '\n' || i >= n) {
        i++;
        line++;
        break;
      }
      throw new RecordFileError(`${where}:${start}: unexpected character after a quoted field`);
    }
    yield [start, fields];
  }
}

/** Read a CSV of flow records. */
export function readRecordsCsv(path: string, columns: readonly ColumnDef[]): RecordTable {
  let text: string;
  try {
    text = readFileSync(path, 'utf8');
  } catch (e) {
    throw new RecordFileError(`${path}: cannot read: ${(e as Error).message}`);
  }
  const byName = new Map(columns.map((c) => [c.name, c]));
  let names: string[] | undefined;
  let defs: Array<ColumnDef | undefined> = [];
  const rows: CellValue[][] = [];
  for (const [line, fields] of csvRecords(text, path)) {
    if (names === undefined) {
      names = fields;
      defs = names.map((n) => byName.get(n));
      continue;
    }
    if (fields.length === 1 && fields[0] === '') continue;
    if (fields.length !== names.length) throw new RecordFileError(`${path}:${line}: ${fields.length} fields, the header has ${names.length}`);
    rows.push(fields.map((f, i) => parseCsvCell(f, defs[i], `${path}:${line}: column ${names![i]}`)));
  }
  if (names === undefined) throw new RecordFileError(`${path}: empty file, no header`);
  return { names, rows };
}
