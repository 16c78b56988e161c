import { extname } from 'node:path';
import { atomicTarget, checkOutputPath, openAtomically } from '../common/atomic-file.js';
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
  open(target: string, columns: readonly ColumnDef[], settings?: WriterSettings): RecordWriter;
  /**
   * Rows encoded on a worker thread, without a header, handed to `take` in buffers that end between rows, for the
   * main thread's writer of the same format to pass on with writeEncoded. Text formats only.
   */
  encoder?(columns: readonly ColumnDef[], take: (bytes: Uint8Array) => void, settings?: WriterSettings): TextRecordWriter;
}

/** Settings a format may take (plain data: they cross to the shard threads that encode). */
export interface WriterSettings {
  /** CSV: strings as they came, without the escapes and formula guard (csv.ts csvString). */
  rawStrings?: boolean;
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
  description: "RFC 4180 CSV with a header row; lists as a quoted JSON array, empty for null; strings with tshark's escapes for control characters and a ' before a leading = + - @ (--csv-raw: as they came)",
  binary: false,
  completeOnClose: false,
  open: (target, columns, settings) => new CsvWriter(target, columns, true, settings?.rawStrings === true),
  encoder: (columns, take, settings) => new CsvWriter(take, columns, false, settings?.rawStrings === true),
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
  description: 'Parquet (integers DELTA_BINARY_PACKED, uncompressed), one row group per 4096 records',
  binary: true,
  completeOnClose: true,
  open: (target, columns) => new ParquetWriter(target, columns),
});

/** The rows of `format` encoded on a worker thread (see RecordFormat.encoder). */
export function encodedSink(format: string, columns: readonly ColumnDef[], take: (bytes: Uint8Array) => void, settings?: WriterSettings): TextRecordWriter {
  const f = recordFormat(format);
  if (f.encoder === undefined) throw new Error(`${format} output cannot be encoded on worker threads`);
  return f.encoder(columns, take, settings);
}

/**
 * The output format a file name asks for by its extension (`.parquet`, `.jsonl`...); CSV for standard output and
 * a name without an extension. Any other extension is an error, not CSV under a name that says otherwise (an
 * `.xlsx` or a `.csv.gz` of plain text).
 */
export function formatFromPath(path: string): OutputFormat {
  const e = extname(path).toLowerCase();
  if (path === '-' || e === '') return 'csv';
  const f = recordFormats().find((x) => x.extensions.includes(e));
  if (f === undefined) throw new Error(`${path}: no record format writes ${e} files; use ${recordFormats().flatMap((x) => x.extensions).join(', ')}${e === '.gz' || e === '.zst' || e === '.xz' ? ' (compress the file afterwards)' : ''}`);
  return f.name;
}

export interface OpenWriterOptions extends WriterSettings {
  /**
   * Write to a temporary name and rename it over `target` when the writer closes (AtomicFile), so a failed or killed
   * run leaves an existing file as it was. Default on; `live` turns it off so its file can be followed as it grows.
   */
  atomic?: boolean;
}

export function openRecordWriter(format: OutputFormat, target: string, columns: readonly ColumnDef[], o: OpenWriterOptions = {}): RecordWriter {
  const f = recordFormat(format);
  if (f.binary && target === '-' && process.stdout.isTTY) throw new Error(`refusing to write binary ${f.title} to a terminal; give -o FILE`);
  checkOutputPath(target);
  const real = target === '-' || o.atomic === false ? undefined : atomicTarget(target);
  if (real === undefined) return f.open(target, columns, o);
  // The writer itself, its close() committing the file: the hot write() stays the format's own method.
  return openAtomically(real, (path) => f.open(path, columns, o));
}

export { CsvWriter } from './csv.js';
export { JsonlWriter } from './jsonl.js';
export { ParquetWriter } from './parquet.js';
export type { RecordWriter, TextTarget } from './text-sink.js';
