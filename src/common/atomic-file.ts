import { randomBytes } from 'node:crypto';
import { accessSync, closeSync, constants, fsyncSync, lstatSync, openSync, realpathSync, renameSync, statSync, unlinkSync, writeFileSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';

/**
 * Write-then-rename, so an output is either the old file or the whole new one: a run that fails (a missing input, a
 * bad capture, an exception) or is killed never leaves a cut file, an empty one or a lone header at the name asked
 * for, and an existing file stays as it was. The new content goes to a hidden temporary name beside the target
 * (same directory, so the rename is atomic on one file system), is synced, and is renamed over the target on
 * success. A temporary file of a run that ends without committing is removed when the process exits; only SIGKILL
 * (no exit handler runs) can leave one behind, still under its temporary name.
 */
/**
 * The regular file to rename a finished output over, or undefined when `target` must be written in place: a
 * device (/dev/null, /dev/stdout), a FIFO or a socket is not a file to replace (renaming over /dev/null would turn
 * it into a regular file for every program on the machine). A symbolic link is followed, so the rename replaces
 * the file it points to, not the link.
 */
export function atomicTarget(target: string): string | undefined {
  let st;
  try {
    st = lstatSync(target);
  } catch {
    return target; // does not exist yet: a new file
  }
  if (st.isSymbolicLink()) {
    let real: string;
    try {
      real = realpathSync(target);
    } catch {
      return undefined; // a dangling link: written through, as any program would
    }
    return atomicTarget(real);
  }
  return st.isFile() ? target : undefined;
}

/**
 * Throws, naming `target`, when an output cannot be written there: a directory, a directory that does not exist, one
 * that is not a directory, or one this user cannot create files in. Checked before any input is read, so a long run
 * does not end on ENOENT for a temporary name the user never gave. `-` (standard output) and existing devices, FIFOs
 * and sockets pass.
 */
export function checkOutputPath(target: string): void {
  if (target === '-') return;
  let st;
  try {
    st = statSync(target);
  } catch {
    st = undefined; // a new file (or a dangling link, written through)
  }
  if (st !== undefined && st.isDirectory()) throw new Error(`${target}: is a directory; give the name of a file to write`);
  if (st !== undefined && !st.isFile()) return;
  const dir = dirname(atomicTarget(target) ?? target);
  let ds;
  try {
    ds = statSync(dir);
  } catch {
    throw new Error(`${target}: cannot write it: the directory ${dir} does not exist`);
  }
  if (!ds.isDirectory()) throw new Error(`${target}: cannot write it: ${dir} is not a directory`);
  try {
    // Write and search: the file is made under a temporary name there and renamed.
    accessSync(dir, constants.W_OK | constants.X_OK);
  } catch {
    throw new Error(`${target}: cannot write it: no permission to create files in ${dir}`);
  }
}

export class AtomicFile {
  /** Where to write until commit(). */
  readonly path: string;
  private done = false;

  constructor(readonly target: string) {
    this.path = join(dirname(target), `.${basename(target)}.${process.pid}.${randomBytes(4).toString('hex')}.part`);
    pending.add(this);
  }

  /** Sync the written file and rename it over the target. */
  commit(): void {
    if (this.done) return;
    const fd = openSync(this.path, 'r');
    try {
      fsyncSync(fd);
    } finally {
      closeSync(fd);
    }
    renameSync(this.path, this.target);
    this.done = true;
    pending.delete(this);
  }

  /** Drop what was written; the target stays as it was. */
  abort(): void {
    if (this.done) return;
    this.done = true;
    pending.delete(this);
    try {
      unlinkSync(this.path);
    } catch {
      // never created, or already gone
    }
  }
}

/**
 * The writer `open` makes for a temporary name beside `target` (a regular file: atomicTarget), its close() renaming
 * that over the target (dropping it when closing fails) and its abort() dropping it, the target left as it was. The
 * writer's own methods stay as they are, write() above all.
 */
export function openAtomically<W extends { close(): Promise<void>; abort?(): Promise<void> }>(target: string, open: (path: string) => W): W {
  const file = new AtomicFile(target);
  let w: W;
  try {
    w = open(file.path);
  } catch (e) {
    file.abort();
    throw e;
  }
  const close = w.close.bind(w);
  w.close = async () => {
    try {
      await close();
    } catch (e) {
      file.abort();
      throw e;
    }
    file.commit();
  };
  w.abort = async () => {
    try {
      await close();
    } catch {
      // what it failed on no longer matters: the file is dropped
    }
    file.abort();
  };
  return w;
}

const pending = new Set<AtomicFile>();
process.on('exit', () => {
  for (const f of [...pending]) f.abort();
});

/** writeFileSync, atomically: the target is the old file or all of `data` (in place for a device or FIFO). */
export function writeFileAtomic(target: string, data: string | Uint8Array, mode = 0o644): void {
  checkOutputPath(target);
  const file = atomicTarget(target);
  if (file === undefined) {
    writeFileSync(target, data);
    return;
  }
  const f = new AtomicFile(file);
  try {
    const fd = openSync(f.path, 'w', mode);
    try {
      const bytes = typeof data === 'string' ? Buffer.from(data) : data;
      let off = 0;
      while (off < bytes.length) off += writeSync(fd, bytes, off, bytes.length - off);
    } finally {
      closeSync(fd);
    }
    f.commit();
  } catch (e) {
    f.abort();
    throw e;
  }
}
