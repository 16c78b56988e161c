import { closeSync, openSync, readFileSync, readSync } from 'node:fs';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { RecordDecodeError, parseRecordJson } from '../output/codec.js';
import { type RecordTable, readRecordsCsv } from './records.js';
import { compressionOf } from '../pcap/compressed.js';
import { captureFormatOfMagic } from '../pcap/reader.js';

/**
 * Flow records read back from any format the commands write: CSV, JSON Lines or Parquet, known by the file's first
 * bytes (Parquet's "PAR1", a JSON object's "{"), else CSV. Cells are typed by the column definitions as
 * readRecordsCsv types them (int and float numbers, int64 bigints, lists number arrays, bool, null), so
 * `train`, `evaluate` and `profile ingest` take `flows`, `label` and `classify` output in whatever format it was
 * written. Errors name the file and the line (JSON Lines) or column (Parquet).
 */
export type RecordFileFormat = 'csv' | 'jsonl' | 'parquet';

export function recordFileFormat(path: string): RecordFileFormat {
  let head: Buffer;
  try {
    const fd = openSync(path, 'r');
    try {
      head = Buffer.alloc(64);
      head = head.subarray(0, readSync(fd, head, 0, 64, 0));
    } finally {
      closeSync(fd);
    }
  } catch (e) {
    throw new RecordDecodeError(`${path}: cannot read: ${(e as Error).message}`);
  }
  if (head.subarray(0, 4).toString('latin1') === 'PAR1') return 'parquet';
  // A capture where records are wanted: say so, rather than what the CSV reader makes of binary.
  const magic = head.length >= 4 ? head.readUInt32LE(0) : -1;
  if (captureFormatOfMagic(magic) !== undefined) throw new RecordDecodeError(`${path}: is a packet capture, not flow records; meter it first (cipherscope flows, label or classify)`);
  const packed = compressionOf(head);
  if (packed !== undefined) throw new RecordDecodeError(`${path}: is ${packed}-compressed; flow records are read as plain CSV, JSON Lines or Parquet (a compressed capture is metered by flows, label or classify)`);
  const text = head.toString('utf8').replace(/^\uFEFF/, '').trimStart();
  return text.startsWith('{') ? 'jsonl' : 'csv';
}

export async function readRecords(path: string, columns: readonly ColumnDef[]): Promise<RecordTable> {
  switch (recordFileFormat(path)) {
    case 'parquet':
      return readRecordsParquet(path, columns);
    case 'jsonl':
      return readRecordsJsonl(path, columns);
    default:
      return readRecordsCsv(path, columns);
  }
}

/** JSON Lines: one record an object a line; the names are the first record's keys, and every record has them. */
export function readRecordsJsonl(path: string, columns: readonly ColumnDef[]): RecordTable {
  const text = readFileSync(path, 'utf8');
  let names: string[] | undefined;
  const rows: CellValue[][] = [];
  let line = 0;
  for (const l of text.split('\n')) {
    line++;
    if (l.trim() === '') continue;
    const [keys, cells] = parseRecordJson(l, columns, `${path}:${line}`);
    if (names === undefined) names = keys;
    else if (keys.length !== names.length || keys.some((k, i) => k !== names![i])) throw new RecordDecodeError(`${path}:${line}: its keys differ from the first record's`);
    rows.push(cells);
  }
  if (names === undefined) throw new RecordDecodeError(`${path}: no record`);
  return { names, rows };
}

/** Parquet (as `--format parquet` writes it), through parquet-wasm and Arrow: each column's cells, typed. */
export async function readRecordsParquet(path: string, columns: readonly ColumnDef[]): Promise<RecordTable> {
  const pq = await import('parquet-wasm/node');
  const A = await import('apache-arrow');
  let table: import('apache-arrow').Table;
  try {
    const wasm = pq.readParquet(readFileSync(path));
    table = A.tableFromIPC(wasm.intoIPCStream());
  } catch (e) {
    throw new RecordDecodeError(`${path}: not a Parquet file this reader can read: ${(e as Error).message}`);
  }
  const byName = new Map(columns.map((c) => [c.name, c]));
  const names = table.schema.fields.map((f) => f.name);
  const n = table.numRows;
  const rows: CellValue[][] = Array.from({ length: n }, () => new Array<CellValue>(names.length));
  names.forEach((name, j) => {
    const vec = table.getChildAt(j)!;
    const def = byName.get(name);
    if (def?.type === 'timestamp' && String(vec.type).startsWith('Timestamp')) {
      // Arrow's get() gives a nanosecond timestamp as milliseconds in a double: read the exact 64-bit values.
      let i = 0;
      for (const d of vec.data) {
        const values = d.values as BigInt64Array;
        for (let k = 0; k < d.length; k++, i++) rows[i][j] = d.getValid(k) ? values[d.offset + k] : null;
      }
      return;
    }
    for (let i = 0; i < n; i++) rows[i][j] = cell(vec.get(i), def, `${path}: column ${name}, row ${i + 1}`);
  });
  return { names, rows };
}

function cell(v: unknown, def: ColumnDef | undefined, where: string): CellValue {
  if (v === null || v === undefined) return null;
  const type = def?.type;
  if (type === 'int64') return typeof v === 'bigint' ? v : BigInt(Math.trunc(Number(v)));
  // Arrow gives a nanosecond timestamp as bigint nanoseconds, or (in some builds) as milliseconds in a double.
  if (type === 'timestamp') return typeof v === 'bigint' ? v : v instanceof Date ? BigInt(v.getTime()) * 1_000_000n : BigInt(Math.round(Number(v) * 1e6));
  if (type === 'int' || type === 'float') return typeof v === 'bigint' ? Number(v) : (v as number);
  if (type === 'bool') return Boolean(v);
  if (type === 'int[]' || type === 'float[]') {
    if (typeof (v as { toArray?: unknown }).toArray !== 'function' && !Array.isArray(v)) throw new RecordDecodeError(`${where}: not a list`);
    const arr = Array.isArray(v) ? v : Array.from((v as { toArray(): ArrayLike<unknown> }).toArray());
    return arr.map((x) => (typeof x === 'bigint' ? Number(x) : (x as number)));
  }
  if (typeof v === 'bigint') return def === undefined ? v : Number(v);
  return v as CellValue;
}
