import { parentPort, workerData } from 'node:worker_threads';
import { AppMatcher } from '../features/apps.js';
import { flowPlugins } from '../features/plugins.js';
import { pickColumns } from '../output/columns.js';
import { encodedSink } from '../output/writers.js';
import { addressLearning, extractFlows, flowColumns } from './meter.js';
import type { FileJob, FileMessage, FileWorkerInit } from './parallel-files.js';

/**
 * One thread of extractFilesParallel (parallel-files.ts): meters whole captures, one at a time, as the main
 * thread hands them out, and sends back their records encoded as text, their issues and their summary.
 */
const init = workerData as FileWorkerInit;
const port = parentPort!;
const send = (m: FileMessage, transfer?: ArrayBuffer[]) => port.postMessage(m, transfer);
const o = init.options;
// Plugins of one's own register when their module loads, in this thread as in the main one.
for (const m of init.modules) await import(m);
const apps = o.apps === undefined ? undefined : new AppMatcher(o.apps);

/** Text is sent on in pieces of about this size (each ends at a row boundary). */
const TEXT_BYTES = 256 * 1024;
const PROGRESS_MS = 200;

async function meterFile(job: FileJob): Promise<void> {
  const { index, input } = job;
  const plugins = flowPlugins(o.plugins);
  const all = flowColumns(plugins, apps !== undefined);
  const pick = o.columns === undefined ? undefined : pickColumns(all, o.columns);
  let rows = 0;
  const sink = encodedSink(
    o.encode,
    pick?.columns ?? all,
    (bytes) => {
      const n = rows;
      rows = 0;
      send({ type: 'text', index, bytes, rows: n }, [bytes.buffer as ArrayBuffer]);
    },
    o.encodeSettings,
  );
  let shown = 0;
  const common = { flow: o.flow, memoryMiB: o.memoryMiB, bpf: o.bpf, maxPackets: o.maxPackets, filter: o.filter, decoder: o.decoder };
  // With app rules a file is read twice: the first reading learns which app each server address is.
  const learning = await addressLearning(input, apps, common);
  const summary = await extractFlows(
    input,
    (row) => {
      sink.write(pick === undefined ? row : pick.project(row));
      rows++;
      if (sink.pending >= TEXT_BYTES) sink.flush();
    },
    {
      ...common,
      plugins,
      apps,
      ...learning,
      onIssue: (issue) => send({ type: 'issue', index, issue }),
      onProgress: (bytes, total) => {
        const now = Date.now();
        if (now - shown < PROGRESS_MS) return;
        shown = now;
        send({ type: 'progress', index, bytes, total });
      },
    },
  );
  sink.flush();
  send({ type: 'done', index, summary });
}

port.on('message', (job: FileJob) => {
  meterFile(job).catch((e: unknown) => send({ type: 'failed', index: job.index, message: (e as Error).message ?? String(e) }));
});
