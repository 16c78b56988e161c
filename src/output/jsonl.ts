import type { CellValue, ColumnDef } from '../flow/schema.js';
import { jsonKeys, recordJson, timestampColumns } from './codec.js';
import { type TextTarget, TextRecordWriter } from './text-sink.js';

/** One JSON object per line (output/codec.ts): 64-bit integers as exact digits, timestamp columns as ISO 8601 text. */
export class JsonlWriter extends TextRecordWriter {
  private readonly keys: string[];
  private readonly stamps: boolean[];
  constructor(target: TextTarget, columns: readonly ColumnDef[]) {
    super(target);
    this.keys = jsonKeys(columns.map((c) => c.name));
    this.stamps = timestampColumns(columns);
  }
  write(row: readonly CellValue[]): void {
    this.sink.push(recordJson(this.keys, row, this.stamps) + '\n');
    this.rows++;
  }
}
