import type { CellValue, ColumnDef } from '../flow/schema.js';
import { type TextSink, type TextTarget, TextRecordWriter } from './text-sink.js';

const COMMA = 44;
const NEWLINE = 10;

/** Write one CSV cell: nothing for null, numbers as digits, quoted strings when needed, lists as "[a,b]". */
function csvCell(out: TextSink, v: CellValue): void {
  if (v === null || v === undefined) return;
  if (typeof v === 'number') out.num(v);
  else if (typeof v === 'string') out.push(/[",\r\n]/.test(v) ? `"${v.replace(/"/g, '""')}"` : v);
  else if (typeof v === 'object') out.list(v);
  else out.push(String(v));
}

/** RFC 4180 CSV with a header row; lists are written as a quoted JSON array. */
export class CsvWriter extends TextRecordWriter {
  /** `header`: false for rows that another writer's output will carry (encodedSink). */
  constructor(target: TextTarget, columns: readonly ColumnDef[], header = true) {
    super(target);
    if (header) this.sink.push(columns.map((c) => c.name).join(',') + '\n');
  }
  write(row: readonly CellValue[]): void {
    csvCell(this.sink, row[0]);
    for (let i = 1; i < row.length; i++) {
      this.sink.byte(COMMA);
      csvCell(this.sink, row[i]);
    }
    this.sink.byte(NEWLINE);
    this.rows++;
  }
}

