import type * as ChildProcessModule from 'node:child_process';
import { createReadStream } from 'node:fs';
import { createRequire } from 'node:module';
import { PassThrough, type Readable } from 'node:stream';
import type * as ZlibModule from 'node:zlib';

/**
 * Compressed captures, read as tshark reads them (wiretap opens gzip, zstd and xz files transparently): known by
 * their magic bytes, not their name. gzip is Node's own zlib; zstd and xz are Debian's `zstd` and `xz` tools run
 * as a decompressing pipe (Node 20's zlib has neither, and no npm decoder of them installs without a compiler
 * or is as well kept as the reference tools).
 */
export type Compression = 'gzip' | 'zstd' | 'xz';

// zlib and child_process are loaded (synchronously, by require) when a compressed capture comes, not at every
// start: about 5 ms of a run's start-up, which the many plain captures of a study would pay for nothing.
const load = createRequire(import.meta.url);
const zlib = () => load('node:zlib') as typeof ZlibModule;
const childProcess = () => load('node:child_process') as typeof ChildProcessModule;

const MAGICS: Array<[Compression, number[]]> = [
  ['gzip', [0x1f, 0x8b]],
  ['zstd', [0x28, 0xb5, 0x2f, 0xfd]],
  ['xz', [0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]],
];

/** Bytes to read from a file's start to recognise its compression. */
export const COMPRESSION_MAGIC_BYTES = 6;

export function compressionOf(head: Uint8Array): Compression | undefined {
  for (const [kind, magic] of MAGICS) if (magic.every((b, i) => head[i] === b)) return kind;
  return undefined;
}

const TOOLS: Record<Exclude<Compression, 'gzip'>, { cmd: string; pkg: string }> = {
  zstd: { cmd: 'zstd', pkg: 'zstd' },
  xz: { cmd: 'xz', pkg: 'xz-utils' },
};

/**
 * The decompressed bytes of `path`. A failure (corrupt data, a missing tool) is an 'error' event on the stream
 * whose message names the file and the cause; the bytes decompressed before it have been delivered.
 */
export function decompressed(path: string, kind: Compression): Readable {
  // The tools read the file themselves: no copy of the compressed bytes through Node.
  return kind === 'gzip' ? gunzipped(createReadStream(path), path) : throughTool(kind, path, ['-dc', '--', path]);
}

/**
 * The decompressed bytes of a stream (standard input, a FIFO: `zcat`-able captures piped in, as tshark -r - takes
 * them), named `name` in messages. As decompressed(), but the tool reads its standard input.
 */
export function decompressedStream(src: Readable, name: string, kind: Compression): Readable {
  return kind === 'gzip' ? gunzipped(src, name) : throughTool(kind, name, ['-dc'], src);
}

function gunzipped(src: Readable, name: string): Readable {
  const gunzip = zlib().createGunzip();
  src.on('error', (e) => gunzip.destroy(e));
  return renameErrors(src.pipe(gunzip), name, 'gzip');
}

/** zstd or xz as a decompressing pipe: `args` name the file, or `input` is piped into the tool. */
function throughTool(kind: Exclude<Compression, 'gzip'>, name: string, args: string[], input?: Readable): Readable {
  const tool = TOOLS[kind];
  const out = new PassThrough();
  const child = childProcess().spawn(tool.cmd, args, { stdio: [input === undefined ? 'ignore' : 'pipe', 'pipe', 'pipe'] });
  let stderr = '';
  child.stderr!.on('data', (b: Buffer) => {
    if (stderr.length < 2000) stderr += b.toString();
  });
  child.on('error', (e: NodeJS.ErrnoException) => {
    out.destroy(new Error(e.code === 'ENOENT' ? `${name} is ${kind}-compressed, and ${tool.cmd} is not installed (apt-get install ${tool.pkg}, or decompress it first)` : `${name}: ${tool.cmd}: ${e.message}`));
  });
  if (input !== undefined) {
    // The tool gone early (corrupt data) closes its end of the pipe: the EPIPE here is told by its exit status.
    child.stdin!.on('error', () => undefined);
    input.on('error', (e) => out.destroy(e));
    input.pipe(child.stdin!);
  }
  child.stdout!.pipe(out, { end: false });
  child.on('close', (code) => {
    if (code === 0) out.end();
    else out.destroy(new Error(`${name}: ${kind} data is corrupt or cut short (${tool.cmd}: ${stderr.trim().split('\n').pop() ?? `exit ${code}`})`));
  });
  // The reader stopped early (an error elsewhere, the end of a run): the tool goes too.
  out.on('close', () => {
    if (child.exitCode === null) child.kill();
  });
  return out;
}

function renameErrors(s: Readable, path: string, kind: Compression): Readable {
  const out = new PassThrough();
  s.on('error', (e) => out.destroy(new Error(`${path}: ${kind} data is corrupt or cut short (${e.message})`)));
  s.pipe(out);
  return out;
}
