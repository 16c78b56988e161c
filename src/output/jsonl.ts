import type { CellValue, ColumnDef } from '../flow/schema.js';
import { timestampColumns } from './codec.js';
import { type TextTarget, TextRecordWriter } from './text-sink.js';

/** A string JSON.stringify would escape: a quote, a backslash, a control character or a lone surrogate half. */
const utf8 = new TextEncoder();

const NEEDS_ESCAPE = /["\\\x00-\x1f\ud800-\udfff]/;

/**
 * One JSON object per line, as recordJson (output/codec.ts) writes it: null for absent and non-finite numbers,
 * 64-bit integers as exact digits, timestamp columns as ISO 8601 text, lists as arrays. Encoded straight into the
 * sink's bytes with its digit printers, as the CSV writer is: a string per row and JSON.stringify per cell made
 * JSON Lines half as fast again as CSV. test/output/codec.test.ts holds it to recordJson byte for byte.
 */
export class JsonlWriter extends TextRecordWriter {
  /**
   * `{"name":` for the first column, `,"name":` for the rest, as bytes; and the same with `null` after it. Keys are
   * most of a JSON Lines file (44 of 82 MB on the bench capture): one typed-array copy a key is about twice as fast
   * as encoding the key string again for every row.
   */
  private readonly keys: Uint8Array[];
  private readonly nullKeys: Uint8Array[];
  private readonly stamps: boolean[];
  constructor(target: TextTarget, columns: readonly ColumnDef[]) {
    super(target);
    const key = (c: ColumnDef, i: number) => `${i === 0 ? '{' : ','}${JSON.stringify(c.name)}:`;
    this.keys = columns.map((c, i) => utf8.encode(key(c, i)));
    this.nullKeys = columns.map((c, i) => utf8.encode(`${key(c, i)}null`));
    this.stamps = timestampColumns(columns);
  }
  write(row: readonly CellValue[]): void {
    const out = this.sink;
    const keys = this.keys;
    for (let i = 0; i < row.length; i++) {
      const v = row[i];
      if (v === null || v === undefined) {
        out.bytes(this.nullKeys[i]);
        continue;
      }
      out.bytes(keys[i]);
      if (typeof v === 'number') {
        if (Number.isFinite(v)) out.num(v);
        else out.push('null');
      } else if (typeof v === 'string') {
        if (NEEDS_ESCAPE.test(v)) out.push(JSON.stringify(v));
        else {
          out.byte(34);
          out.push(v);
          out.byte(34);
        }
      } else if (typeof v === 'bigint') {
        if (this.stamps[i]) {
          out.byte(34);
          out.timestamp(v);
          out.byte(34);
        } else out.push(v.toString());
      } else if (typeof v === 'boolean') out.push(v ? 'true' : 'false');
      else out.list(v, true);
    }
    out.push(row.length === 0 ? '{}\n' : '}\n');
    this.rows++;
  }
}
