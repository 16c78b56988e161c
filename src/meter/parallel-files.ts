import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { DEFAULT_MEMORY_MB } from '../common/memory-budget.js';
import { startModuleWorker } from '../common/worker.js';
import { pluginModules } from '../features/plugins.js';
import type { CaptureIssue } from '../pcap/types.js';
import type { ExtractSummary } from './meter.js';
import type { ShardedOptions } from './shard-meter.js';

/**
 * Several captures metered at once, each whole on one worker thread: `flows --threads N` given more than one
 * input. A capture's flows never reach into another file (flow ids, the DNS name map and learned addresses are per
 * capture), so nothing is routed or copied between threads, and the threads share nothing but the output: where
 * sharding one file pays for reading, decoding and routing every packet on one thread, this scales as far as the
 * machine's cores and memory bandwidth do (docs/performance.md).
 *
 * The output is what one thread writes, byte for byte: the records of input i come before those of input i + 1.
 * The earliest input not yet finished sends its text straight to the writer; a later input's text waits in a spool
 * file (a temporary file, removed at the end) until its turn, so memory stays bounded whatever the inputs' sizes.
 * Summaries come in input order too; issues come as they are found (each names its file). The largest inputs are
 * started first, so the run does not end on one large capture metered alone.
 */

export interface FileRunOptions extends Omit<ShardedOptions, 'encode' | 'live' | 'addresses' | 'learnAddresses'> {
  /** The record format every thread encodes in (one with an encoder: CSV without header, JSON Lines). */
  encode: string;
  /** `flows --columns`: the columns (or named set) each thread writes. */
  columns?: string;
}

export interface ParallelFilesHandlers {
  /** Text of whole records in `encode`'s format, in input order; `rows` records end in it. */
  onEncoded(bytes: Uint8Array, rows: number): void;
  /** Input `index` is done and all its text has been handed on: its summary, or what stopped it. */
  onDone(index: number, result: { summary: ExtractSummary } | { error: string }): void;
  onIssue?(index: number, issue: CaptureIssue): void;
  /** Bytes read so far over all inputs, of `total` (the inputs' sizes; undefined when one is unknown). */
  onProgress?(bytes: number, total: number | undefined): void;
}

export interface FileWorkerInit {
  options: FileRunOptions;
  /** Modules that register the plugins options.plugins names (built-ins need none). */
  modules: string[];
}

export interface FileJob {
  index: number;
  input: string;
}

/** Worker → main messages. */
export type FileMessage =
  | { type: 'text'; index: number; bytes: Uint8Array; rows: number }
  | { type: 'issue'; index: number; issue: CaptureIssue }
  | { type: 'progress'; index: number; bytes: number; total: number | undefined }
  | { type: 'done'; index: number; summary: ExtractSummary }
  | { type: 'failed'; index: number; message: string };

/** Text of an input that is not the earliest unfinished one, kept on disk until its turn. */
interface Spool {
  path: string;
  fd: number;
  bytes: number;
  rows: number;
}

const DRAIN_CHUNK = 1 << 20;

/** What a run did beyond its records: threads used, and text that waited in spool files for its turn. */
export interface ParallelFilesResult {
  threads: number;
  spooledBytes: number;
}

export async function extractFilesParallel(inputs: readonly string[], threads: number, options: FileRunOptions, h: ParallelFilesHandlers): Promise<ParallelFilesResult> {
  const n = Math.max(1, Math.min(threads, inputs.length));
  // One bound for the run: each thread holds its share of the memory budget and of maxFlows.
  const mib = options.memoryMiB ?? DEFAULT_MEMORY_MB;
  const max = options.flow?.maxFlows;
  const own: FileRunOptions = { ...options, memoryMiB: mib / n, ...(max === undefined ? {} : { flow: { ...options.flow, maxFlows: Math.max(1, Math.floor(max / n)) } }) };
  const init: FileWorkerInit = { options: own, modules: pluginModules(options.plugins) };

  let spoolDir: string | undefined;
  const spools = new Map<number, Spool>();
  const finished = new Map<number, { summary: ExtractSummary } | { error: string }>();
  const read = new Float64Array(inputs.length);
  const totals: Array<number | undefined> = new Array(inputs.length).fill(undefined);
  let head = 0;
  let spooledBytes = 0;
  // The largest inputs start first (longest processing time first): a large capture listed last would otherwise
  // run alone at the end while the other threads idle. Output order stays input order (the spools see to it).
  const sizeOf = (f: string) => {
    try {
      return statSync(f).size;
    } catch {
      return 0; // the worker reports what is wrong with it
    }
  };
  const sizes = inputs.map(sizeOf);
  const order = inputs.map((_, i) => i).sort((a, b) => sizes[b] - sizes[a] || a - b);
  let next = 0;

  const spoolOf = (index: number): Spool => {
    let s = spools.get(index);
    if (s === undefined) {
      spoolDir ??= mkdtempSync(join(tmpdir(), 'cipherscope-spool-'));
      const path = join(spoolDir, `${index}`);
      s = { path, fd: openSync(path, 'w+'), bytes: 0, rows: 0 };
      spools.set(index, s);
    }
    return s;
  };
  const closeSpool = (s: Spool) => {
    closeSync(s.fd);
    rmSync(s.path, { force: true });
  };
  /** Hand a spool's text on, in chunks (fresh buffers: a stream target keeps what it is given). */
  const drain = (index: number) => {
    const s = spools.get(index);
    if (s === undefined) return;
    spools.delete(index);
    for (let at = 0; at < s.bytes; ) {
      const chunk = Buffer.allocUnsafe(Math.min(DRAIN_CHUNK, s.bytes - at));
      let got = 0;
      while (got < chunk.length) {
        const k = readSync(s.fd, chunk, got, chunk.length - got, at + got);
        if (k === 0) throw new Error(`spool ${s.path} ended at ${at + got} of ${s.bytes} bytes`);
        got += k;
      }
      at += got;
      // The records it holds are counted with the last piece (each piece ends wherever the chunk does).
      h.onEncoded(chunk, at === s.bytes ? s.rows : 0);
    }
    closeSpool(s);
  };
  /** The earliest unfinished input moved on: hand on what waited, in order. */
  const advance = () => {
    for (;;) {
      drain(head);
      const done = finished.get(head);
      if (done === undefined) return;
      finished.delete(head);
      h.onDone(head, done);
      head++;
      if (head >= inputs.length) return;
    }
  };
  const progress = () => {
    if (h.onProgress === undefined) return;
    let bytes = 0;
    let total: number | undefined = 0;
    for (let i = 0; i < inputs.length; i++) {
      bytes += read[i];
      const t = totals[i];
      total = t === undefined || total === undefined ? undefined : total + t;
    }
    h.onProgress(bytes, total);
  };

  const workers: Worker[] = [];
  try {
    await new Promise<void>((resolve, reject) => {
      let running = 0;
      const give = (w: Worker) => {
        if (next >= inputs.length) {
          if (running === 0) resolve();
          return;
        }
        running++;
        const index = order[next++];
        const job: FileJob = { index, input: inputs[index] };
        w.postMessage(job);
      };
      const onMessage = (w: Worker) => (m: FileMessage) => {
        try {
          switch (m.type) {
            case 'text':
              if (m.index === head) h.onEncoded(m.bytes, m.rows);
              else {
                const s = spoolOf(m.index);
                for (let off = 0; off < m.bytes.length; ) off += writeSync(s.fd, m.bytes, off, m.bytes.length - off, s.bytes + off);
                s.bytes += m.bytes.length;
                s.rows += m.rows;
                spooledBytes += m.bytes.length;
              }
              return;
            case 'issue':
              h.onIssue?.(m.index, m.issue);
              return;
            case 'progress':
              read[m.index] = m.bytes;
              totals[m.index] = m.total;
              progress();
              return;
            case 'done':
            case 'failed':
              finished.set(m.index, m.type === 'done' ? { summary: m.summary } : { error: m.message });
              read[m.index] = m.type === 'done' ? m.summary.bytesRead : read[m.index];
              running--;
              advance();
              give(w);
              return;
          }
        } catch (e) {
          reject(e);
        }
      };
      for (let k = 0; k < n; k++) {
        const w = startModuleWorker(import.meta.url, 'file-worker', init);
        workers.push(w);
        w.on('message', onMessage(w));
        w.on('error', reject);
        w.on('exit', (code) => {
          if (code !== 0) reject(new Error(`a metering thread stopped with exit code ${code}`));
        });
        give(w);
      }
    });
  } finally {
    await Promise.all(workers.map((w) => w.terminate()));
    for (const s of spools.values()) closeSpool(s);
    if (spoolDir !== undefined) rmSync(spoolDir, { recursive: true, force: true });
  }
  return { threads: n, spooledBytes };
}
