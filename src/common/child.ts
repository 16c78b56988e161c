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
