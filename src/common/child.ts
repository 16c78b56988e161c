import type { ChildProcess } from 'node:child_process';

/** End a child process: SIGTERM, then SIGKILL if it is still there after `timeoutMs`; resolves once it has exited. */
export async function stopChild(child: ChildProcess, timeoutMs = 5000): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return;
  const done = new Promise((r) => child.once('exit', r));
  child.kill('SIGTERM');
  const t = setTimeout(() => child.kill('SIGKILL'), timeoutMs);
  await done;
  clearTimeout(t);
}

/**
 * Wait until a child process prints "ready" as its first line (the convention of the testbed's helper processes);
 * rejects with its last stderr if it exits first or takes longer than `timeoutMs`. Returns a reader of all it has
 * printed since (reports come last).
 */
export async function childReady(child: ChildProcess, what: string, timeoutMs = 15_000): Promise<() => string> {
  let out = '';
  let err = '';
  child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr!.on('data', (d: Buffer) => (err = (err + d.toString()).slice(-4000)));
  await new Promise<void>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(`${what} did not start within ${timeoutMs} ms: ${err.trim()}`)), timeoutMs);
    const check = () => {
      if (out.startsWith('ready\n')) {
        clearTimeout(t);
        child.stdout!.off('data', check);
        resolve();
      }
    };
    child.stdout!.on('data', check);
    child.once('exit', (code) => {
      clearTimeout(t);
      reject(new Error(`${what} exited with status ${code}: ${err.trim()}`));
    });
  });
  return () => out;
}
