import { unescapeCsvText } from './csv.js';
import { isoNs, parseIsoNs } from './timestamp.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';

/**
 * One record codec: how a cell becomes text and back, for every place a record leaves or re-enters memory (the CSV
 * and JSON Lines writers, the dashboard's API, the Redis queue, dataset/records.ts reading files back). Writers
 * with a fast path (CSV's digit-by-digit sink) follow the same rules, checked by test/output/codec.test.ts.
 */

/**
 * A cell as JSON text: null for absent and non-finite numbers, 64-bit integers as exact digits (JSON numbers have no
 * size limit; parseRecordJson reads them back exactly), typed-array lists as arrays.
 */
export function cellJson(v: CellValue): string {
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'number' && !Number.isFinite(v)) return 'null';
  if (ArrayBuffer.isView(v)) {
    const list = v as unknown as ArrayLike<number> & { join(s: string): string; every(f: (x: number) => boolean): boolean };
    // A typed array joins NaN and Infinity as words JSON does not have: those lists go through JSON.stringify (null).
    return list.every(Number.isFinite) ? `[${list.join(',')}]` : JSON.stringify(Array.from(list));
  }
  return JSON.stringify(v ?? null);
}

/** JSON object keys for recordJson, quoted once per writer. */
export function jsonKeys(names: readonly string[]): string[] {
  return names.map((n) => JSON.stringify(n));
}

/** Which columns are timestamps (written as ISO 8601 text by recordJson and the CSV writer). */
export function timestampColumns(columns: readonly ColumnDef[]): boolean[] {
  return columns.map((c) => c.type === 'timestamp');
}

/**
 * One record as a JSON object (one line of JSON Lines, one Redis stream entry); `stamps` marks the timestamp
 * columns, whose bigint nanoseconds are written as ISO 8601 strings (parseRecordJson reads them back exactly).
 */
export function recordJson(keys: readonly string[], row: readonly CellValue[], stamps?: readonly boolean[]): string {
  let s = '{';
  for (let i = 0; i < row.length; i++) {
    const v = row[i];
    s += (i === 0 ? '' : ',') + keys[i] + ':' + (stamps?.[i] === true && typeof v === 'bigint' ? `"${isoNs(v)}"` : cellJson(v));
  }
  return s + '}';
}

/**
 * A cell for a browser (the dashboard's JSON API): 64-bit integers as decimal strings, since a JavaScript client
 * would round them to doubles; lists as "[a,b]" text, as a table shows them.
 */
export function cellForDisplay(v: CellValue): string | number | boolean | null {
  if (v === null || v === undefined) return null;
  if (typeof v === 'bigint') return v.toString();
  if (typeof v === 'object') return `[${Array.from(v as ArrayLike<number>).join(',')}]`;
  if (typeof v === 'number' && !Number.isFinite(v)) return null;
  return v;
}

export class RecordDecodeError extends Error {}

/** A CSV field typed by its column: empty is null, int64 exact, lists from "[a,b]", unknown columns as text. */
export function parseCsvCell(v: string, def: ColumnDef | undefined, where: string): CellValue {
  if (def === undefined) return v;
  if (v === '') return null;
  switch (def.type) {
    case 'int':
    case 'float': {
      const x = Number(v);
      if (Number.isNaN(x) && v !== 'NaN') throw new RecordDecodeError(`${where}: "${v}" is not a number`);
      return x;
    }
    case 'int64':
      if (!/^-?\d+$/.test(v)) throw new RecordDecodeError(`${where}: "${v}" is not an integer`);
      return BigInt(v);
    case 'timestamp':
      return timestampCell(v, where);
    case 'bool':
      if (v !== 'true' && v !== 'false') throw new RecordDecodeError(`${where}: "${v}" is not true or false`);
      return v === 'true';
    case 'int[]':
    case 'float[]': {
      if (!v.startsWith('[') || !v.endsWith(']')) throw new RecordDecodeError(`${where}: "${v.slice(0, 40)}" is not a list`);
      const body = v.slice(1, -1);
      return body === '' ? [] : body.split(',').map(Number);
    }
    default:
      return unescapeCsvText(v);
  }
}

/** A timestamp cell's text (ISO 8601, or integer nanoseconds) as bigint nanoseconds. */
function timestampCell(v: string, where: string): bigint {
  if (/^-?\d+$/.test(v)) return BigInt(v);
  const ns = parseIsoNs(v);
  if (ns === undefined) throw new RecordDecodeError(`${where}: "${v}" is not an ISO 8601 time`);
  return ns;
}

const NUMBER = /-?(?:0|[1-9]\d*)(?:\.\d+)?(?:[eE][+-]?\d+)?/y;

/**
 * One record written by recordJson back into names and cells: a flat object of null, booleans, numbers, strings
 * and number lists. An int64 column (by `columns`), or an integer literal past 2^53 in a column `columns` does not
 * name, becomes an exact bigint: the digits are read as they are, never through a double. Other columns' numbers
 * are doubles, as JSON.parse reads them. Anything else is an error naming the offset.
 */
export function parseRecordJson(text: string, columns: readonly ColumnDef[] = [], where = 'record'): [string[], CellValue[]] {
  const types = new Map(columns.map((c) => [c.name, c.type]));
  let i = 0;
  const fail = (what: string): never => {
    throw new RecordDecodeError(`${where}: offset ${i}: ${what}`);
  };
  const space = () => {
    while (i < text.length && (text[i] === ' ' || text[i] === '\t' || text[i] === '\n' || text[i] === '\r')) i++;
  };
  const expect = (c: string) => {
    space();
    if (text[i] !== c) fail(`expected "${c}"`);
    i++;
  };
  const string = (): string => {
    const start = i;
    if (text[i] !== '"') fail('expected a string');
    for (i++; i < text.length && text[i] !== '"'; i++) if (text[i] === '\\') i++;
    if (i >= text.length) fail('a string is not closed');
    i++;
    return JSON.parse(text.slice(start, i)) as string;
  };
  /** A number literal: 'bigint' exact, 'number' a double, 'guess' a bigint only for an integer past 2^53. */
  const number = (as: 'bigint' | 'number' | 'guess'): number | bigint => {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(text);
    if (m === null) return fail('expected a value');
    i += m[0].length;
    const x = Number(m[0]);
    if (as === 'number' || !/^-?\d+$/.test(m[0])) return x;
    return as === 'bigint' || !Number.isSafeInteger(x) ? BigInt(m[0]) : x;
  };
  const value = (name: string): CellValue => {
    space();
    const c = text[i];
    if (c === '"') return types.get(name) === 'timestamp' ? timestampCell(string(), `${where}: ${name}`) : string();
    if (c === '[') {
      i++;
      const out: number[] = [];
      space();
      if (text[i] === ']') {
        i++;
        return out;
      }
      for (;;) {
        space();
        if (text.startsWith('null', i)) {
          i += 4;
          out.push(NaN);
        } else out.push(number('number') as number);
        space();
        if (text[i] === ']') {
          i++;
          return out;
        }
        expect(',');
      }
    }
    for (const [word, v] of [['null', null], ['true', true], ['false', false]] as const) {
      if (text.startsWith(word, i)) {
        i += word.length;
        return v;
      }
    }
    const type = types.get(name);
    return number(type === undefined ? 'guess' : type === 'int64' || type === 'timestamp' ? 'bigint' : 'number');
  };
  const names: string[] = [];
  const cells: CellValue[] = [];
  expect('{');
  space();
  if (text[i] === '}') i++;
  else
    for (;;) {
      space();
      const name = string();
      expect(':');
      names.push(name);
      cells.push(value(name));
      space();
      if (text[i] === '}') {
        i++;
        break;
      }
      expect(',');
    }
  space();
  if (i !== text.length) fail('text after the record');
  return [names, cells];
}
