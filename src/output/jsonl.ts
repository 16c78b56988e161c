import type { CellValue, ColumnDef } from '../flow/schema.js';
import { jsonKeys, recordJson } from './codec.js';
import { type TextTarget, TextRecordWriter } from './text-sink.js';

/** One JSON object per line (output/codec.ts): 64-bit timestamps as plain integers, exact. */
export class JsonlWriter extends TextRecordWriter {
  private readonly keys: string[];
  constructor(target: TextTarget, columns: readonly ColumnDef[]) {
    super(target);
    this.keys = jsonKeys(columns.map((c) => c.name));
  }
  write(row: readonly CellValue[]): void {
    this.sink.push(recordJson(this.keys, row) + '\n');
    this.rows++;
  }
}
