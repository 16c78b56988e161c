import type { CellValue, ColumnDef } from '../flow/schema.js';
import { type TextSink, type TextTarget, TextRecordWriter } from './text-sink.js';

const COMMA = 44;
const NEWLINE = 10;

/** What careOf finds in a string, as bits. */
const CARE = {
  /** A double quote: the cell is quoted and the quote doubled (RFC 4180). */
  quote: 1,
  /** A comma: the cell is quoted. */
  comma: 2,
  /** CR or LF: quoted as they stand (with `raw`; otherwise escaped, see escape). */
  line: 4,
  /** A character escapeCsvText replaces: backslash, control characters, DEL, bidirectional controls. */
  escape: 8,
  /** A leading =, +, - or @ (after at most one '), which a spreadsheet takes for a formula. */
  formula: 16,
} as const;

/** CARE bits of each ASCII character. */
const ASCII_CARE = Uint8Array.from({ length: 128 }, (_, c) =>
  c === 34 ? CARE.quote : c === 44 ? CARE.comma : c === 10 || c === 13 ? CARE.line | CARE.escape : c < 0x20 || c === 0x7f || c === 92 ? CARE.escape : 0,
);
/** Characters a spreadsheet takes for the start of a formula: = + - @. */
const FORMULA_START = Uint8Array.from({ length: 128 }, (_, c) => (c === 61 || c === 43 || c === 45 || c === 64 ? 1 : 0));

/**
 * What a string needs besides copying (CARE bits; 0 for nothing): RFC 4180 quoting, the escapes of
 * escapeCsvText, the formula guard. One loop over char codes with a table for ASCII instead of four regular
 * expressions: it runs on every string cell (about 20 a record with the TLS columns), and the test alone by
 * regular expression (/[",\\\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]|^'?[=+\-@]/) cost about 590
 * instructions a call.
 */
function careOf(v: string): number {
  const n = v.length;
  if (n === 0) return 0;
  let care = 0;
  const first = v.charCodeAt(0);
  const lead = first === 39 && n > 1 ? v.charCodeAt(1) : first;
  if (lead < 128 && FORMULA_START[lead] === 1) care = CARE.formula;
  for (let i = 0; i < n; i++) {
    const c = v.charCodeAt(i);
    if (c < 128) care |= ASCII_CARE[c];
    else if ((c >= 0x202a && c <= 0x202e) || (c >= 0x2066 && c <= 0x2069)) care |= CARE.escape;
  }
  return care;
}

const ESCAPED = /[\\\x00-\x1f\x7f\u202a-\u202e\u2066-\u2069]/g;
/** What csvString's guard leaves: ' then a formula character, or '' then one (a string that began with ' and one). */
const GUARDED = /^''?[=+\-@]/;

/**
 * tshark's escapes (-T fields): \\ for a backslash, \n \r \t, \xNN for other control characters and DEL; and
 * \uNNNN for the bidirectional controls (U+202A-U+202E, U+2066-U+2069) that reorder what a viewer shows. Wire strings
 * are attacker-controlled: raw, they could end a row in a naive reader or disguise a name.
 */
export function escapeCsvText(v: string): string {
  return v.replace(ESCAPED, (c) => {
    if (c === '\\') return '\\\\';
    if (c === '\n') return '\\n';
    if (c === '\r') return '\\r';
    if (c === '\t') return '\\t';
    const code = c.charCodeAt(0);
    return code < 0x100 ? `\\x${code.toString(16).padStart(2, '0')}` : `\\u${code.toString(16).padStart(4, '0')}`;
  });
}

/** The string csvString wrote (quotes already removed by the CSV reader): the formula guard and escapes undone. */
export function unescapeCsvText(t: string): string {
  const s = t.charCodeAt(0) === 39 && GUARDED.test(t) ? t.slice(1) : t;
  if (!s.includes('\\')) return s;
  return s.replace(/\\(\\|n|r|t|x[0-9a-f]{2}|u[0-9a-f]{4})/g, (_, e: string) => (e === '\\' ? '\\' : e === 'n' ? '\n' : e === 'r' ? '\r' : e === 't' ? '\t' : String.fromCharCode(parseInt(e.slice(1), 16))));
}

/**
 * Write a string cell as it is written: escaped (escapeCsvText); a leading =, +, - or @ gets a ' before it, so a
 * spreadsheet shows the text instead of evaluating a formula (OWASP's CSV-injection rule); quoted when it holds a
 * quote or comma. `raw`: the string as it came, only quoted (RFC 4180), for readers that want the bytes. Most
 * strings that need care only hold commas (ALPN lists, JA3 strings): they go between quote bytes as they are,
 * without a quoted copy built.
 */
function csvString(out: TextSink, v: string, raw: boolean): void {
  const care = careOf(v);
  if (care === 0) {
    out.push(v);
    return;
  }
  let t = v;
  if (!raw) {
    if (care & CARE.escape) t = escapeCsvText(t);
    // A string that already starts with ' and a formula character gets one more, so reading strips exactly one.
    // (Escaping never changes what the test sees: formula characters are not escaped, an escape starts with \.)
    if (care & CARE.formula) t = `'${t}`;
  }
  // Escaped, CR and LF are gone; raw, they are quoted as they stand.
  if ((care & (CARE.quote | CARE.comma)) === 0 && !(raw && care & CARE.line)) out.push(t);
  else if (care & CARE.quote) out.push(`"${t.replace(/"/g, '""')}"`);
  else {
    out.byte(34);
    out.push(t);
    out.byte(34);
  }
}

/**
 * Write one CSV cell: nothing for null, numbers as digits, strings by csvString, lists as "[a,b]", booleans as
 * true/false, a timestamp column's bigint as ISO 8601 text (output/timestamp.ts).
 */
function csvCell(out: TextSink, v: CellValue, raw: boolean, stamp: boolean): void {
  if (v === null || v === undefined) return;
  if (typeof v === 'number') out.num(v);
  else if (typeof v === 'string') csvString(out, v, raw);
  else if (typeof v === 'object') out.list(v);
  else if (stamp && typeof v === 'bigint') out.timestamp(v);
  else out.push(String(v));
}

/** RFC 4180 CSV with a header row; lists are written as a quoted JSON array. */
export class CsvWriter extends TextRecordWriter {
  /**
   * `header`: false for rows that another writer's output will carry (encodedSink). `rawStrings`: strings as they
   * came, without the escapes and the formula guard of csvString.
   */
  private readonly stamps: boolean[];
  constructor(target: TextTarget, columns: readonly ColumnDef[], header = true, private readonly rawStrings = false) {
    super(target);
    this.stamps = columns.map((c) => c.type === 'timestamp');
    if (header) this.sink.push(columns.map((c) => c.name).join(',') + '\n');
  }
  write(row: readonly CellValue[]): void {
    const raw = this.rawStrings;
    const stamps = this.stamps;
    const sink = this.sink;
    // Runs of numeric and empty cells (most of a record) in one go; the others one by one.
    for (let i = sink.csvNumbers(row, 0); i < row.length; i = sink.csvNumbers(row, i + 1)) {
      if (i > 0) sink.byte(COMMA);
      csvCell(sink, row[i], raw, stamps[i]);
    }
    sink.byte(NEWLINE);
    this.rows++;
  }
}

