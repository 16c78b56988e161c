import type { Readable } from 'node:stream';
import type { DecoderOptions } from '../decode/decoder.js';
import { AppMatcher, type AppRules } from '../features/apps.js';
import { flowPlugins, type PluginOptions } from '../features/plugins.js';
import { chosenEntries } from '../features/registry.js';
import type { FilterOptions } from '../filter/filter.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { DEFAULT_FLOW_OPTIONS, type FlowTableOptions, checkFlowOptions } from '../flow/table.js';
import { PREDICTION_COLUMNS } from '../models/predictions.js';
import { type ExtractOptions, type ExtractSummary, type MeterStatus, addressLearning, extractFlows, flowColumns } from '../meter/meter.js';
import { extractFlowsSharded } from '../meter/sharded.js';
import type { FlowClassifier } from './classifier.js';
import type { RecordSink } from './sinks.js';

/**
 * The one pipeline every command that meters runs: meter (one thread or sharded) → classify (optional) → sinks
 * (files, the profile store, a Redis stream, memory). `classify`, `live`, `serve`/`report` call it; the CLI only
 * parses its options. Options are checked here, before any packet is read.
 */
export interface PipelineOptions {
  plugins?: PluginOptions;
  flow?: Partial<FlowTableOptions>;
  /** The meter's memory budget, MiB (ExtractOptions.memoryMiB). */
  memoryMiB?: number;
  /** Capture filter in tcpdump's syntax (ExtractOptions.bpf). */
  bpf?: string;
  /** Stop after this many packet records the capture filter passes (ExtractOptions.maxPackets, tshark -c). */
  maxPackets?: number;
  filter?: FilterOptions;
  decoder?: DecoderOptions;
  /** Host rules: the app columns (with a classifier: one loaded withApps). */
  apps?: AppRules;
  /** Shards of the meter: this thread meters one, worker threads the others (1: the meter runs on this thread alone). */
  threads?: number;
  /** Live input (see ExtractOptions.live): sinks flush on their intervals, records are classified as they come. */
  live?: { tickMs: number };
  classifier?: FlowClassifier;
  /** With a classifier: classify's columns ("summary", the default), or every meter column then the predictions. */
  records?: 'summary' | 'full';
  /** Records classified together when the input is a file. */
  batchRows?: number;
  onIssue?: ExtractOptions['onIssue'];
  onProgress?: ExtractOptions['onProgress'];
  onStatus?: (s: MeterStatus) => void;
}

export const DEFAULT_BATCH_ROWS = 4096;

/** The meter settings of a run, the classifier's (burst gap, plugins) taking precedence, checked. */
function meterSettings(o: PipelineOptions): { plugins: PluginOptions; flow: FlowTableOptions } {
  const flow = { ...DEFAULT_FLOW_OPTIONS, ...o.flow, ...o.classifier?.flow };
  checkFlowOptions(flow);
  const plugins = o.classifier?.pluginOptions ?? o.plugins ?? {};
  chosenEntries(plugins); // unknown groups are an error now, not in a worker thread
  if (o.threads !== undefined && (!Number.isInteger(o.threads) || o.threads < 1)) throw new RangeError(`threads: ${o.threads}: a whole number >= 1`);
  if (o.batchRows !== undefined && (!Number.isInteger(o.batchRows) || o.batchRows < 1)) throw new RangeError(`batchRows: ${o.batchRows}: a whole number >= 1`);
  if (o.classifier && (o.apps !== undefined) !== o.classifier.withApps) throw new Error(`the classifier was loaded ${o.classifier.withApps ? 'with' : 'without'} app columns and the run ${o.apps ? 'has' : 'has no'} app rules: load it with loadFlowClassifier(dir, threshold, ${o.apps !== undefined})`);
  return { plugins, flow };
}

/** The columns of a pipeline's records. */
export function pipelineColumns(o: PipelineOptions): ColumnDef[] {
  const { plugins } = meterSettings(o);
  if (o.classifier && o.records !== 'full') return o.classifier.columns;
  const meter = o.classifier ? o.classifier.meterColumns : flowColumns(flowPlugins(plugins), o.apps !== undefined);
  return o.classifier ? [...meter, ...PREDICTION_COLUMNS] : meter;
}

/** Run the pipeline over one input; sinks are flushed at the end but not closed (several inputs may share them). */
export async function runPipeline(input: string | Readable, sinks: readonly RecordSink[], o: PipelineOptions = {}): Promise<ExtractSummary> {
  const { plugins, flow } = meterSettings(o);
  const c = o.classifier;
  const batchRows = o.live ? 1 : (o.batchRows ?? DEFAULT_BATCH_ROWS);
  let batch: CellValue[][] = [];
  const emit = (rows: CellValue[][]) => {
    for (const s of sinks) s.write(rows);
  };
  const classifyBatch = () => {
    if (c === undefined || batch.length === 0) return;
    const rows = batch;
    batch = [];
    if (o.records === 'full') {
      const p = c.predictions(rows);
      emit(rows.map((r, i) => [...r, ...p[i]]));
    } else emit(c.classify(rows));
  };
  // Without a classifier rows go straight on; the meter reuses its row array, which the sinks copy if they keep it.
  const single = [] as CellValue[][];
  // The sharded meter hands over arrays of its own; the single-threaded one reuses its row array.
  const sharded = (o.threads ?? 1) > 1;
  const onRow = c
    ? (row: CellValue[]) => {
        batch.push(sharded ? row : row.slice());
        if (batch.length >= batchRows) classifyBatch();
      }
    : (row: CellValue[]) => {
        single[0] = row;
        emit(single);
      };
  // Live input: each sink flushes on its own interval, one flush after another.
  let chain = Promise.resolve();
  const timers = o.live ? sinks.filter((s) => s.flushEveryMs !== undefined).map((s) => setInterval(() => (chain = chain.then(() => s.flush())), s.flushEveryMs)) : [];
  try {
    const common = { flow, memoryMiB: o.memoryMiB, bpf: o.bpf, maxPackets: o.maxPackets, filter: o.filter, decoder: o.decoder, live: o.live, onIssue: o.onIssue, onProgress: o.onProgress, onStatus: o.onStatus };
    const apps = o.apps ? new AppMatcher(o.apps) : undefined;
    const learning = await addressLearning(input, apps, common);
    const summary =
      sharded
        ? await extractFlowsSharded(input, { onRow }, { ...common, threads: o.threads!, plugins, apps: o.apps, addresses: learning.addresses?.entries(), learnAddresses: learning.learnAddresses })
        : await extractFlows(input, onRow, { ...common, plugins: flowPlugins(plugins), apps, ...learning });
    classifyBatch();
    return summary;
  } finally {
    for (const t of timers) clearInterval(t);
    await chain;
    for (const s of sinks) await s.flush();
  }
}
