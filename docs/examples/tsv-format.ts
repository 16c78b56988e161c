// A record format of one's own: tab-separated values, the header row of column names, lists as [a,b], null empty.
// docs/architecture.md walks through it; test/contract/formats.test.ts runs it with every other format.
import type { CellValue, ColumnDef } from '../../src/flow/schema.js';
import { cellForDisplay } from '../../src/output/codec.js';
import { type TextTarget, TextRecordWriter } from '../../src/output/text-sink.js';
import { registerFormat } from '../../src/output/writers.js';

export class TsvWriter extends TextRecordWriter {
  constructor(target: TextTarget, columns: readonly ColumnDef[], header = true) {
    super(target);
    if (header) this.sink.push(columns.map((c) => c.name).join('\t') + '\n');
  }
  write(row: readonly CellValue[]): void {
    // Tabs and newlines inside a value would break the layout: they become spaces.
    this.sink.push(row.map((v) => String(cellForDisplay(v) ?? '').replace(/[\t\r\n]/g, ' ')).join('\t') + '\n');
    this.rows++;
  }
}

registerFormat({
  name: 'tsv',
  title: 'TSV',
  extensions: ['.tsv', '.tab'],
  description: 'tab-separated values with a header row',
  binary: false,
  completeOnClose: false,
  open: (target, columns) => new TsvWriter(target, columns),
  encoder: (columns, take) => new TsvWriter(take, columns, false),
});
