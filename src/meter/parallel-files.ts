import { closeSync, mkdtempSync, openSync, readSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Worker } from 'node:worker_threads';
import { startModuleWorker } from '../common/worker.js';
import { pluginModules } from '../features/plugins.js';
import type { CaptureIssue } from '../pcap/types.js';
import type { ExtractSummary } from './meter.js';
import { type ShardedOptions, threadShare } from './shard-meter.js';

/**
 * Several captures metered at once, each whole on one worker thread: `flows --threads N` given more than one
 * input. A capture's flows never reach into another file (flow ids, the DNS name map and learned addresses are per
 * capture), so nothing is routed or copied between threads, and the threads share nothing but the output: where
 * sharding one file pays for reading, decoding and routing every packet on one thread, this scales as far as the
 * machine's cores and memory bandwidth do (docs/performance.md).
 *
 * The output is what one thread writes, byte for byte: the records of input i come before those of input i + 1.
 * The earliest input not yet finished sends its text straight to the writer; a later input's text waits until its
 * turn, in memory up to SPOOL_MEMORY_BYTES over all inputs and beyond that in a temporary file (removed at the
 * end), so memory stays bounded whatever the inputs' sizes.
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

/**
 * Text of an input that is not the earliest unfinished one, kept until its turn: in memory (the buffers as the
 * thread sent them) while all spools together hold at most SPOOL_MEMORY_BYTES, then in a temporary file.
 */
interface Spool {
  chunks: Uint8Array[];
  /** Once set, everything of this input goes to the file (after what was in memory), so order is kept. */
  path: string | undefined;
  fd: number;
  /** Bytes in the file, bytes in memory, and the records that end in either. */
  fileBytes: number;
  memoryBytes: number;
  rows: number;
}

/** What waiting text may hold in memory over all spools before it goes to disk. */
export const SPOOL_MEMORY_BYTES = 32 << 20;
const DRAIN_CHUNK = 1 << 20;

/** What a run did beyond its records: threads used, and text that waited for its turn (in memory or on disk). */
export interface ParallelFilesResult {
  threads: number;
  spooledBytes: number;
}

/** `spoolMemoryBytes`: what waiting text may hold in memory before it goes to a temporary file (tests set 0). */
export async function extractFilesParallel(inputs: readonly string[], threads: number, options: FileRunOptions, h: ParallelFilesHandlers, spoolMemoryBytes = SPOOL_MEMORY_BYTES): Promise<ParallelFilesResult> {
  const n = Math.max(1, Math.min(threads, inputs.length));
  // One bound for the run: each thread holds its share of the memory budget and of maxFlows.
  const init: FileWorkerInit = { options: threadShare(options, n), modules: pluginModules(options.plugins) };

  let spoolDir: string | undefined;
  const spools = new Map<number, Spool>();
  let memoryHeld = 0;
  const finished = new Map<number, { summary: ExtractSummary } | { error: string }>();
  let head = 0;
  let spooledBytes = 0;
  const sizeOf = (f: string) => {
    try {
      return statSync(f).size;
    } catch {
      return 0; // the worker reports what is wrong with it
    }
  };
  const sizes = inputs.map(sizeOf);
  const read = new Float64Array(inputs.length);
  // Each input's total is its size until its reader says otherwise, so progress shows before every input started.
  const totals: Array<number | undefined> = [...sizes];
  // The largest inputs start first (longest processing time first): a large capture listed last would otherwise
  // run alone at the end while the other threads idle. Output order stays input order (the spools see to it).
  const order = inputs.map((_, i) => i).sort((a, b) => sizes[b] - sizes[a] || a - b);
  let next = 0;

  const toFile = (index: number, s: Spool) => {
    spoolDir ??= mkdtempSync(join(tmpdir(), 'cipherscope-spool-'));
    s.path = join(spoolDir, `${index}`);
    s.fd = openSync(s.path, 'w+');
    for (const c of s.chunks) append(s, c);
    memoryHeld -= s.memoryBytes;
    s.chunks = [];
    s.memoryBytes = 0;
  };
  const append = (s: Spool, b: Uint8Array) => {
    for (let off = 0; off < b.length; ) off += writeSync(s.fd, b, off, b.length - off, s.fileBytes + off);
    s.fileBytes += b.length;
  };
  /** Keep text of input `index` until its turn. */
  const hold = (index: number, b: Uint8Array, rows: number) => {
    let s = spools.get(index);
    if (s === undefined) {
      s = { chunks: [], path: undefined, fd: -1, fileBytes: 0, memoryBytes: 0, rows: 0 };
      spools.set(index, s);
    }
    s.rows += rows;
    spooledBytes += b.length;
    if (s.path !== undefined) return append(s, b);
    s.chunks.push(b);
    s.memoryBytes += b.length;
    memoryHeld += b.length;
    // Over the bound: this spool, the one growing now, goes to disk with what it held.
    if (memoryHeld > spoolMemoryBytes) toFile(index, s);
  };
  const closeSpool = (s: Spool) => {
    memoryHeld -= s.memoryBytes;
    s.chunks = [];
    s.memoryBytes = 0;
    if (s.path === undefined) return;
    closeSync(s.fd);
    rmSync(s.path, { force: true });
  };
  /** Hand a spool's text on: what memory holds as it is, a file in chunks (fresh buffers: a stream keeps them). */
  const drain = (index: number) => {
    const s = spools.get(index);
    if (s === undefined) return;
    spools.delete(index);
    const pieces: Uint8Array[] = [...s.chunks];
    for (let at = 0; at < s.fileBytes; ) {
      const chunk = Buffer.allocUnsafe(Math.min(DRAIN_CHUNK, s.fileBytes - at));
      let got = 0;
      while (got < chunk.length) {
        const k = readSync(s.fd, chunk, got, chunk.length - got, at + got);
        if (k === 0) throw new Error(`spool ${s.path} ended at ${at + got} of ${s.fileBytes} bytes`);
        got += k;
      }
      at += got;
      // The records it holds are counted with the last piece (each piece ends wherever the chunk does).
      h.onEncoded(chunk, at === s.fileBytes && pieces.length === 0 ? s.rows : 0);
    }
    // A spool is all in memory or all in its file (toFile moves what memory held), so one of the two loops runs.
    for (let i = 0; i < pieces.length; i++) h.onEncoded(pieces[i], i === pieces.length - 1 ? s.rows : 0);
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
              else hold(m.index, m.bytes, m.rows);
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
