import { createRequire } from 'node:module';
import type * as WorkerThreadsModule from 'node:worker_threads';

/** Loaded when a worker is first started, not at every start of the CLI (a run on one thread never needs it). */
const workerThreads = () => createRequire(import.meta.url)('node:worker_threads') as typeof WorkerThreadsModule;

/**
 * Start a worker thread running the module `name` (without extension) beside `importMetaUrl`: the built .js
 * directly; from source (under tsx) through a one-line bootstrap that registers tsx in the worker first, since a
 * worker thread does not inherit the main thread's module hooks.
 */
export function startModuleWorker(importMetaUrl: string, name: string, workerData: unknown): WorkerThreadsModule.Worker {
  const { Worker } = workerThreads();
  if (!importMetaUrl.endsWith('.ts')) return new Worker(new URL(`./${name}.js`, importMetaUrl), { workerData });
  const entry = new URL(`./${name}.ts`, importMetaUrl).href;
  const tsx = import.meta.resolve('tsx/esm/api');
  const boot = `import(${JSON.stringify(tsx)}).then((m) => { m.register(); return import(${JSON.stringify(entry)}); });`;
  return new Worker(boot, { eval: true, workerData });
}
