import { createReadStream, statSync } from 'node:fs';
import { open, stat } from 'node:fs/promises';
import { Readable } from 'node:stream';
import { ClassicPcapParser, isClassicPcapMagic, isModifiedPcapMagic } from './classic.js';
import { COMPRESSION_MAGIC_BYTES, type Compression, compressionOf, decompressed, decompressedStream } from './compressed.js';
import type { FormatParser } from './parser.js';
import { BT_SHB, PcapngParser } from './pcapng.js';
import type { CaptureMetadata, PacketSink } from './types.js';

/** Something we can pull bytes from: a file or a stream such as stdin. */
interface ByteSource {
  /** Fill `buf` from `offset`; resolves to the number of bytes read, 0 at the end. */
  readInto(buf: Uint8Array, offset: number): Promise<number>;
  close(): Promise<void>;
  /** Total size when known (files), for progress. */
  size: number | undefined;
  /** What the bytes were decompressed from, when they were. */
  compression?: Compression;
}

/**
 * A capture file: read directly, or through a decompressor when its first bytes are gzip, zstd or xz (as tshark
 * reads them). A directory is an error naming it (the commands that take many captures expand directories first).
 * `onError` hears of a decompression failure, after which the source ends (the packets before it are kept).
 */
async function fileSource(path: string, onError: (message: string, offset: number) => void): Promise<ByteSource> {
  const st = await stat(path);
  if (st.isDirectory()) throw new CaptureFormatError(path, 0, 'is a directory, not a capture file (flows reads the captures in a directory; other commands take one file)');
  // A FIFO or a device (`flows <(ssh phone tcpdump -w -)`, /dev/stdin) cannot be read at an offset: as a stream.
  if (!st.isFile()) return streamOrDecompressed(createReadStream(path), path, onError);
  const fh = await open(path, 'r');
  const head = new Uint8Array(COMPRESSION_MAGIC_BYTES);
  const { bytesRead } = await fh.read(head, 0, head.length, 0);
  const kind = compressionOf(head.subarray(0, bytesRead));
  if (kind !== undefined) {
    await fh.close();
    return { ...streamSource(decompressed(path, kind), onError), compression: kind };
  }
  return {
    size: st.isFile() ? st.size : undefined,
    async readInto(buf, offset) {
      const { bytesRead } = await fh.read(buf, offset, buf.length - offset, null);
      return bytesRead;
    },
    close: () => fh.close(),
  };
}

/**
 * A stream read through its async iterator, `prefix` first: the chunks taken off it already to look at its first
 * bytes (streamOrDecompressed).
 */
function streamSource(stream: Readable, onError?: (message: string, offset: number) => void, prefix: Buffer[] = [], it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>): ByteSource {
  let pending: Uint8Array | undefined;
  let delivered = 0;
  return {
    size: undefined,
    async readInto(buf, offset) {
      while (pending === undefined || pending.length === 0) {
        if (prefix.length > 0) {
          pending = prefix.shift();
          continue;
        }
        let r: IteratorResult<Buffer>;
        try {
          r = await it.next();
        } catch (e) {
          // A decompressor's failure: reported, and the input ends here; what came before stays read.
          if (onError === undefined) throw e;
          onError((e as Error).message, delivered);
          return 0;
        }
        if (r.done) return 0;
        pending = r.value;
      }
      const n = Math.min(pending.length, buf.length - offset);
      buf.set(pending.subarray(0, n), offset);
      pending = pending.subarray(n);
      delivered += n;
      return n;
    },
    async close() {
      await it.return?.();
    },
  };
}

/**
 * Standard input or another stream, decompressed when its first bytes are gzip, zstd or xz (tshark -r - reads
 * them so too). Only as many chunks as hold those bytes are taken before deciding.
 */
async function streamOrDecompressed(stream: Readable, name: string, onError: (message: string, offset: number) => void): Promise<ByteSource> {
  const it = stream[Symbol.asyncIterator]() as AsyncIterator<Buffer>;
  const head: Buffer[] = [];
  let seen = 0;
  let ended = false;
  while (seen < COMPRESSION_MAGIC_BYTES) {
    const r = await it.next();
    if (r.done) {
      ended = true;
      break;
    }
    head.push(r.value);
    seen += r.value.length;
  }
  const kind = compressionOf(Buffer.concat(head).subarray(0, COMPRESSION_MAGIC_BYTES));
  if (kind === undefined) return streamSource(stream, undefined, head, it);
  const whole = Readable.from(
    (async function* () {
      yield* head;
      if (ended) return;
      for (;;) {
        const r = await it.next();
        if (r.done) return;
        yield r.value;
      }
    })(),
    { objectMode: false },
  );
  return { ...streamSource(decompressedStream(whole, name, kind), onError), compression: kind };
}

/**
 * Whether `input` can be read again from its start, as the passes that learn addresses or count keep-alives first
 * need: a regular file by path; not `-`, a FIFO or `<(...)`, a device or a stream.
 */
export function rereadable(input: string | Readable): input is string {
  if (typeof input !== 'string' || input === '-') return false;
  try {
    return statSync(input).isFile();
  } catch {
    return false; // missing: the one reading says so
  }
}

/** The capture format a file's first four bytes (read little-endian) open, or undefined when neither. */
export function captureFormatOfMagic(magic: number): 'pcap' | 'pcapng' | undefined {
  return isClassicPcapMagic(magic) || isModifiedPcapMagic(magic) ? 'pcap' : magic === BT_SHB ? 'pcapng' : undefined;
}

/** The display name of an input in records and messages: the path, `<stdin>` for `-`, `<stream>` for a stream. */
export function inputName(input: string | Readable): string {
  return typeof input === 'string' ? (input === '-' ? '<stdin>' : input) : '<stream>';
}

export interface ReadOptions {
  /** Display name used in messages (defaults to the path, or "<stdin>"). */
  name?: string;
  /** Called after each chunk with bytes consumed so far and the total when known. */
  onProgress?: (bytes: number, total: number | undefined) => void;
  /** Read buffer size; records larger than this grow the buffer. */
  chunkSize?: number;
  /**
   * Where reads land, when the caller wants the bytes in memory of its own (the sharded meter reads straight into
   * shared memory its worker threads see, instead of copying every chunk there). `take` gives a buffer of at least
   * `bytes` for the next read; `give` hands back one the reader no longer looks at (its records were all fed, the
   * unparsed tail copied on). Without it the reader keeps two buffers of its own in turn.
   */
  buffers?: ReadBuffers;
}

export interface ReadBuffers {
  take(bytes: number): Uint8Array;
  give(buf: Uint8Array): void;
}

export interface ReadResult {
  metadata: CaptureMetadata;
  packets: number;
  bytes: number;
  /** Bytes skipped over corrupt data while looking for the next valid record. */
  skippedBytes: number;
  /** The compression the capture was read through (capinfos's "(gzip compressed)"), when it was. */
  compression?: Compression;
}

export class CaptureFormatError extends Error {
  constructor(
    readonly file: string,
    readonly offset: number,
    message: string,
  ) {
    super(`${file}: byte offset ${offset}: ${message}`);
  }
}

/**
 * Stream a capture (classic pcap or pcapng, detected from the magic) from a path, `-` for stdin, or a
 * readable stream, calling `sink.packet` for every record. Memory is bounded by the read buffer (4 MiB by
 * default) plus the largest record. Problems inside the file go to `sink.issue`; only an input that is not a
 * capture at all rejects.
 */
export async function readCapture(input: string | Readable, sink: PacketSink, opts: ReadOptions = {}): Promise<ReadResult> {
  const name = opts.name ?? inputName(input);
  // The parser, once drive has made it: its packet count names the packet a decompression failure cut.
  const state: { parser?: FormatParser } = {};
  const onError = (message: string, offset: number) => sink.issue?.({ severity: 'error', code: 'decompression-failed', file: name, offset, packet: (state.parser?.packets ?? 0) + 1, message });
  const src = typeof input === 'string' && input !== '-' ? await fileSource(input, onError) : await streamOrDecompressed(input === '-' ? process.stdin : (input as Readable), name, onError);
  try {
    return await drive(src, name, sink, opts, state);
  } finally {
    await src.close();
  }
}

/** Room kept before each read so the unparsed tail of the previous chunk can be put in front of it. */
const HEADROOM = 256 * 1024;

async function drive(src: ByteSource, name: string, sink: PacketSink, opts: ReadOptions, state: { parser?: FormatParser } = {}): Promise<ReadResult> {
  const chunk = opts.chunkSize ?? 4 * 1024 * 1024;
  const head = Math.min(HEADROOM, chunk);
  // Two buffers in turn: the next read lands in one while the parser works through the other, so parsing and I/O
  // overlap (a serial read-then-parse loop spent a third of its time waiting). Reads land after `head` bytes of
  // room, where the unparsed tail of the previous chunk (a partial record) is copied, so no chunk is copied whole.
  const pool = [new Uint8Array(head + chunk), new Uint8Array(head + chunk)];
  let which = 0;
  const own = opts.buffers;
  const take = (): Uint8Array => {
    if (own === undefined) return pool[(which ^= 1)];
    return own.take(head + chunk).subarray(0, head + chunk);
  };
  let buf: Uint8Array = new Uint8Array(0);
  let dv = new DataView(buf.buffer);
  let start = 0;
  let end = 0;
  let base = 0; // input offset of buf[0]
  let eof = false;
  let parser: FormatParser | undefined;
  let target: Uint8Array = own === undefined ? pool[which] : take();
  let inflight: Promise<number> = src.readInto(target.subarray(0, head + chunk), head);
  for (;;) {
    const n = await inflight;
    const tail = end - start;
    if (n === 0) eof = true;
    else {
      let next: Uint8Array;
      let at: number;
      if (tail <= head) {
        next = target;
        at = head - tail;
        next.set(buf.subarray(start, end), at);
      } else {
        // A record larger than the headroom: join tail and new bytes in a buffer of their own.
        next = new Uint8Array(tail + n);
        next.set(buf.subarray(start, end), 0);
        next.set(target.subarray(head, head + n), tail);
        at = 0;
      }
      base += start - at;
      // The previous buffer's records are all fed and its tail copied on: nothing looks at it any more.
      if (own !== undefined && buf.length > 0) own.give(buf);
      if (own !== undefined && next !== target) own.give(target);
      buf = next;
      dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
      start = at;
      end = at + tail + n;
      // The other pool buffer is free now: read into it while this one is parsed.
      target = take();
      inflight = src.readInto(target, head);
    }
    if (parser === undefined) {
      if (end - start < 4 && !eof) continue;
      parser = chooseParser(buf.subarray(start), new DataView(buf.buffer, buf.byteOffset + start), end - start, name, sink);
      state.parser = parser;
    }
    sink.chunk?.(buf, start, end);
    start = parser.feed(buf, dv, start, end, base, eof);
    opts.onProgress?.(base + start, src.size);
    // Stopped by the sink (a packet count): what was read ends at the last record it took. The read under way is
    // left to the source's close (a file handle waits for it; a stream, such as a live capture's, may never answer).
    if (parser.stopped) return { metadata: parser.metadata, packets: parser.packets, bytes: base + start, skippedBytes: parser.skippedBytes, compression: src.compression };
    const wait = sink.drain?.();
    if (wait !== undefined) await wait;
    if (eof) break;
  }
  return { metadata: parser.metadata, packets: parser.packets, bytes: base + end, skippedBytes: parser.skippedBytes, compression: src.compression };
}

function chooseParser(buf: Uint8Array, dv: DataView, end: number, name: string, sink: PacketSink): FormatParser {
  if (end === 0) throw new CaptureFormatError(name, 0, 'input is empty; expected a pcap or pcapng file');
  if (end < 4) throw new CaptureFormatError(name, 0, `input is only ${end} bytes; expected a pcap or pcapng file`);
  const format = captureFormatOfMagic(dv.getUint32(0, true));
  if (format === 'pcap') return new ClassicPcapParser(name, sink);
  if (format === 'pcapng') return new PcapngParser(name, sink);
  const hex = Array.from(buf.subarray(0, 4), (b) => b.toString(16).padStart(2, '0')).join(' ');
  throw new CaptureFormatError(name, 0, `unknown file magic ${hex}; not a pcap or pcapng capture`);
}
