import { createWriteStream } from 'node:fs';
import { Writable } from 'node:stream';
import type { CellValue, ColumnDef, NumberList } from '../flow/schema.js';
import type { RecordWriter } from './text-sink.js';

/**
 * Parquet through apache-arrow (columns to Arrow IPC) and parquet-wasm (IPC to Parquet, streamed). Rows are
 * buffered into record batches of `batchRows`, so memory stays bounded for any number of flows.
 */
export class ParquetWriter implements RecordWriter {
  rows = 0;
  private cols: CellValue[][];
  private controller!: ReadableStreamDefaultController<unknown>;
  private done: Promise<void>;
  private arrow!: typeof import('apache-arrow');
  private pq!: typeof import('parquet-wasm/node');
  private ready: Promise<void>;

  constructor(
    target: string,
    private readonly columns: readonly ColumnDef[],
    private readonly batchRows = 4096,
  ) {
    this.cols = columns.map(() => []);
    let start!: () => void;
    const started = new Promise<void>((r) => (start = r));
    const ready = (async () => {
      this.arrow = await import('apache-arrow');
      this.pq = await import('parquet-wasm/node');
    })();
    this.ready = ready;
    const batches = new ReadableStream<unknown>({
      start: (c) => {
        this.controller = c;
        start();
      },
    });
    this.done = (async () => {
      await ready;
      await started;
      const props = new this.pq.WriterPropertiesBuilder().setCompression(this.pq.Compression.ZSTD).build();
      const bytes = await this.pq.transformParquetStream(batches as ReadableStream, props);
      const out = target === '-' ? Writable.toWeb(process.stdout) : Writable.toWeb(createWriteStream(target));
      await bytes.pipeTo(out as WritableStream);
    })();
  }

  write(row: readonly CellValue[]): void {
    for (let i = 0; i < row.length; i++) this.cols[i].push(row[i]);
    this.rows++;
    if (this.cols[0].length >= this.batchRows) void this.flushBatch();
  }

  private async flushBatch(force = false): Promise<void> {
    await this.ready;
    if (this.cols[0].length === 0 && !force) return;
    const A = this.arrow;
    const vectors: Record<string, import('apache-arrow').Vector> = {};
    this.columns.forEach((c, i) => {
      let vals: unknown[] = this.cols[i];
      // Arrow's Int64 builder takes bigints.
      if (c.type === 'int') vals = vals.map((v) => (v === null || v === undefined ? null : BigInt(v as number)));
      vectors[c.name] = c.type === 'int[]' || c.type === 'float[]' ? listVector(A, vals as Array<NumberList | null>) : (A.vectorFromArray(vals, arrowType(A, c)) as import('apache-arrow').Vector);
    });
    this.cols = this.columns.map(() => []);
    const table = new A.Table(vectors);
    const wasmTable = this.pq.Table.fromIPCStream(A.tableToIPC(table, 'stream'));
    for (const b of wasmTable.recordBatches()) this.controller.enqueue(b);
  }

  /** Row groups are written when full: nothing to hand over earlier. */
  flush(): void {}

  async close(): Promise<void> {
    // An empty output still gets the schema: one empty batch.
    await this.flushBatch(this.rows === 0);
    this.controller.close();
    await this.done;
  }
}

/**
 * A List<Float64> vector built straight from offsets and one values array: Arrow's generic builder took seconds
 * and hundreds of MiB for the 256-count byte distributions of 20,000 flows.
 */
function listVector(A: typeof import('apache-arrow'), vals: Array<NumberList | null>): import('apache-arrow').Vector {
  const n = vals.length;
  const offsets = new Int32Array(n + 1);
  let total = 0;
  for (let i = 0; i < n; i++) {
    total += vals[i]?.length ?? 0;
    offsets[i + 1] = total;
  }
  const values = new Float64Array(total);
  const valid = new Uint8Array((n + 7) >> 3);
  let nulls = 0;
  for (let i = 0; i < n; i++) {
    const v = vals[i];
    if (v === null || v === undefined) {
      nulls++;
      continue;
    }
    valid[i >> 3] |= 1 << (i & 7);
    values.set(v, offsets[i]);
  }
  const child = A.makeData({ type: new A.Float64(), length: total, data: values });
  const type = new A.List(new A.Field('item', new A.Float64(), true));
  return A.makeVector(A.makeData({ type, length: n, nullCount: nulls, nullBitmap: valid, valueOffsets: offsets, child }));
}

function arrowType(A: typeof import('apache-arrow'), c: ColumnDef): import('apache-arrow').DataType {
  switch (c.type) {
    case 'int':
    case 'int64':
      return new A.Int64();
    case 'float':
      return new A.Float64();
    case 'bool':
      return new A.Bool();
    // Lists are Float64 in Parquet: exact for every integer below 2^53, and Arrow builds them without a BigInt per
    // element (which made Parquet output 3 times slower than CSV with the 256-count byte distributions).
    case 'int[]':
    case 'float[]':
      return new A.List(new A.Field('item', new A.Float64(), true));
    default:
      return new A.Utf8();
  }
}

