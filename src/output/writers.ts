import { extname } from 'node:path';
import type { ColumnDef } from '../flow/schema.js';
import { CsvWriter } from './csv.js';
import { JsonlWriter } from './jsonl.js';
import { ParquetWriter } from './parquet.js';
import type { RecordWriter, TextRecordWriter } from './text-sink.js';

/**
 * Record formats by name (Zeek's logging framework: writers registered by name, the records the same for all).
 * Each entry gives the format's name, the file extensions that ask for it and how to open it; `flows -f`, the
 * extension rule and the worker threads' encoders all come from here.
 */
export interface RecordFormat {
  name: string;
  /** The name in messages: "Parquet". */
  title: string;
  /** File extensions that ask for this format, lower case with the dot; the first is the usual one. */
  extensions: string[];
  description: string;
  /** Bytes, not text: never written to a terminal. */
  binary: boolean;
  /** Readable only when closed (Parquet's footer): not for live output. */
  completeOnClose: boolean;
  open(target: string, columns: readonly ColumnDef[]): RecordWriter;
  /**
   * Rows encoded on a worker thread, without a header, handed to `take` in buffers that end between rows, for the
   * main thread's writer of the same format to pass on with writeEncoded. Text formats only.
   */
  encoder?(columns: readonly ColumnDef[], take: (bytes: Uint8Array) => void): TextRecordWriter;
}

export type OutputFormat = string;

const formats = new Map<string, RecordFormat>();

export function registerFormat(f: RecordFormat): void {
  if (formats.has(f.name)) throw new Error(`a record format named "${f.name}" is already registered`);
  formats.set(f.name, f);
}

export function recordFormats(): RecordFormat[] {
  return [...formats.values()];
}

export function recordFormat(name: string): RecordFormat {
  const f = formats.get(name);
  if (f === undefined) throw new Error(`unknown output format "${name}"; choose from ${[...formats.keys()].join(', ')}`);
  return f;
}

registerFormat({
  name: 'csv',
  title: 'CSV',
  extensions: ['.csv'],
  description: 'RFC 4180 CSV with a header row; lists as a quoted JSON array, empty for null',
  binary: false,
  completeOnClose: false,
  open: (target, columns) => new CsvWriter(target, columns),
  encoder: (columns, take) => new CsvWriter(take, columns, false),
});
registerFormat({
  name: 'jsonl',
  title: 'JSON Lines',
  extensions: ['.jsonl', '.ndjson', '.json'],
  description: 'JSON Lines: one object a record, 64-bit integers exact, null for absent',
  binary: false,
  completeOnClose: false,
  open: (target, columns) => new JsonlWriter(target, columns),
  encoder: (columns, take) => new JsonlWriter(take, columns),
});
registerFormat({
  name: 'parquet',
  title: 'Parquet',
  extensions: ['.parquet'],
  description: 'Parquet (zstd), one row group per 4096 records',
  binary: true,
  completeOnClose: true,
  open: (target, columns) => new ParquetWriter(target, columns),
});

/** The rows of `format` encoded on a worker thread (see RecordFormat.encoder). */
export function encodedSink(format: string, columns: readonly ColumnDef[], take: (bytes: Uint8Array) => void): TextRecordWriter {
  const f = recordFormat(format);
  if (f.encoder === undefined) throw new Error(`${format} output cannot be encoded on worker threads`);
  return f.encoder(columns, take);
}

/** The output format a file name asks for by its extension (`.parquet`, `.jsonl`...), else CSV. */
export function formatFromPath(path: string): OutputFormat {
  const e = extname(path).toLowerCase();
  return recordFormats().find((f) => f.extensions.includes(e))?.name ?? 'csv';
}

export function openRecordWriter(format: OutputFormat, target: string, columns: readonly ColumnDef[]): RecordWriter {
  const f = recordFormat(format);
  if (f.binary && target === '-' && process.stdout.isTTY) throw new Error(`refusing to write binary ${f.title} to a terminal; give -o FILE`);
  return f.open(target, columns);
}

export { CsvWriter } from './csv.js';
export { JsonlWriter } from './jsonl.js';
export { ParquetWriter } from './parquet.js';
export type { RecordWriter, TextTarget } from './text-sink.js';
