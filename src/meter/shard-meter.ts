import type { WriterSettings } from '../output/writers.js';
import type { PluginOptions } from '../features/plugins.js';
import type { FlowTableOptions } from '../flow/table.js';
import type { FilterOptions } from '../filter/filter.js';
import type { DecoderOptions } from '../decode/decoder.js';
import type { AppRules } from '../features/apps.js';
import type { AddressEvidence } from '../features/learned-addresses.js';
import type { CellValue } from '../flow/schema.js';
import { AppMatcher } from '../features/apps.js';
import { AddressBook } from '../features/learned-addresses.js';
import { flowPlugins } from '../features/plugins.js';
import { encodedSink } from '../output/writers.js';
import { FlowMeter } from './meter.js';
import { DEFAULT_MEMORY_MB } from '../common/memory-budget.js';

/** What a shard needs to build its FlowMeter: only plain data crosses to a worker thread. */
export interface ShardedOptions {
  plugins?: PluginOptions;
  flow?: Partial<FlowTableOptions>;
  /** The run's memory budget, MiB (ExtractOptions.memoryMiB); each shard holds its share. */
  memoryMiB?: number;
  /** Capture filter (ExtractOptions.bpf), applied by every shard. */
  bpf?: string;
  /**
   * Stop after this many records the capture filter passes (ExtractOptions.maxPackets): counted where the capture
   * is read (a sharded run's router, a file thread), not by the shards.
   */
  maxPackets?: number;
  filter?: FilterOptions;
  decoder?: DecoderOptions;
  apps?: AppRules;
  /** Learned server addresses (learnAddresses), given to every shard; live shards learn from their own flows. */
  addresses?: AddressEvidence[];
  learnAddresses?: boolean;
  live?: { tickMs: number };
  /**
   * Shards encode their rows in this record format (one with an encoder: CSV without header, JSON Lines) themselves and send text: for output that only
   * goes to a file, the main thread then only writes bytes (onEncoded) instead of decoding and encoding rows.
   */
  encode?: string;
  /** The encoding format's settings (CSV's --csv-raw). */
  encodeSettings?: WriterSettings;
}

/** Where one shard's records go: row arrays of its own, or text it encoded (ShardedOptions.encode). */
export type ShardEmit = { rows: (rows: CellValue[][]) => void } | { text: (bytes: Uint8Array, rows: number) => void };

export interface ShardMeter {
  meter: FlowMeter;
  /** Send what is held back: rows gathered, text encoded. */
  flush(): void;
}

const TEXT_FLUSH_BYTES = 256 * 1024;

/**
 * One thread's share of a run's bounds when `n` threads meter at once: the memory budget and maxFlows are for the
 * run, so each thread holds 1/n of them (extractFlowsSharded's shards, extractFilesParallel's threads).
 */
export function threadShare<T extends Pick<ShardedOptions, 'memoryMiB' | 'flow'>>(options: T, n: number): T {
  const max = options.flow?.maxFlows;
  const mib = options.memoryMiB ?? DEFAULT_MEMORY_MB;
  return { ...options, memoryMiB: mib / n, ...(max === undefined ? {} : { flow: { ...options.flow, maxFlows: Math.max(1, Math.floor(max / n)) } }) };
}

/**
 * The FlowMeter of shard `shard` of `shards`, the same on a worker thread and on the main thread (which meters a
 * share of its own): plugins built from options, flow ids numbered shard + 1, shard + 1 + shards, ..., and the
 * table scanning for expired flows only at the router's tick records (see sharded.ts).
 */
export function createShardMeter(name: string, shard: number, shards: number, o: ShardedOptions, emit: ShardEmit, rowsPerMessage: number): ShardMeter {
  let rows: CellValue[][] = [];
  let encodedRows = 0;
  // Made once the meter is, from its columns; rows come only after the first packets.
  let encoder: ReturnType<typeof encodedSink> | undefined;
  const flush = () => {
    if (encoder !== undefined) {
      encoder.flush();
      return;
    }
    if (rows.length === 0 || !('rows' in emit)) return;
    const r = rows;
    rows = [];
    emit.rows(r);
  };
  const meter = new FlowMeter(
    name,
    (row) => {
      if (encoder !== undefined) {
        encoder.write(row);
        encodedRows++;
        if (encoder.pending >= TEXT_FLUSH_BYTES) encoder.flush();
        return;
      }
      rows.push(row.slice());
      if (rows.length >= rowsPerMessage) flush();
    },
    { plugins: flowPlugins(o.plugins), flow: o.flow, memoryMiB: o.memoryMiB, bpf: o.bpf, filter: o.filter, decoder: o.decoder, apps: o.apps ? new AppMatcher(o.apps) : undefined, addresses: o.addresses ? AddressBook.from(o.addresses) : undefined, learnAddresses: o.learnAddresses },
  );
  if (o.encode) {
    if (!('text' in emit)) throw new Error('createShardMeter: the encode option sends text');
    const take = emit.text;
    encoder = encodedSink(
      o.encode,
      meter.columns,
      (bytes) => {
        const n = encodedRows;
        encodedRows = 0;
        take(bytes, n);
      },
      o.encodeSettings,
    );
  }
  meter.table.numberFlows(shard + 1, shards);
  meter.table.scanOnAdd = false;
  return { meter, flush };
}
