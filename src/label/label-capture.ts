import type { Readable } from 'node:stream';
import type { AppMatcher } from '../features/apps.js';
import { type ExtractOptions, type ExtractSummary, addressLearning, extractFlows, flowColumns } from '../meter/meter.js';
import { flowPlugins, type PluginOptions } from '../features/plugins.js';
import { DEFAULT_BYTE_DIST_BYTES, DEFAULT_SPLT_PACKETS } from '../features/sequence.js';
import type { FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import type { ActionRecord } from './actions.js';
import { KeepaliveCensus } from './keepalive.js';
import { DEFAULT_FLOW_OPTIONS } from '../flow/table.js';
import { LABEL_COLUMNS, meterSettingsText, type LabelOptions, type LabelReport, Labeler, RowLabeler } from './labeler.js';
import { rereadable } from '../pcap/reader.js';

/**
 * Default silence that splits a long-lived connection for labeling (seconds): one record per burst, so a chat
 * connection that stays open across many actions gives each message a record of its own. Scripted think times
 * must be longer (the testbed's are at least 1.2 s).
 */
export const DEFAULT_LABEL_BURST_GAP_SEC = 1;

export interface LabelCaptureOptions {
  apps: AppMatcher;
  extract?: Omit<ExtractOptions, 'apps'>;
  label?: LabelOptions;
  /** Recognise keep-alive bursts (keepalive.ts) and label them keepalive (default on). */
  keepalive?: boolean;
  /** The options extract.plugins were made with (for label_meter); without extract.plugins, they make them. */
  pluginOptions?: PluginOptions;
}

export interface LabelCaptureResult {
  columns: ColumnDef[];
  summary: ExtractSummary;
  report: LabelReport & { capture: string };
}

/** Columns of labeled records: the flow columns, the app columns, then LABEL_COLUMNS. */
export function labeledColumns(plugins: readonly FlowPlugin[] = flowPlugins()): ColumnDef[] {
  return [...flowColumns(plugins, true), ...LABEL_COLUMNS];
}

/** Meter a capture, attribute apps, and label every flow record from the action log; rows stream to `onRow`. */
export async function labelCapture(input: string | Readable, actions: readonly ActionRecord[], opts: LabelCaptureOptions, onRow: (row: CellValue[]) => void): Promise<LabelCaptureResult> {
  const plugins = opts.extract?.plugins ?? flowPlugins(opts.pluginOptions);
  const labeler = new Labeler(actions, { notApps: opts.apps?.operators(), ...opts.label });
  const flow = { burstGapSec: DEFAULT_LABEL_BURST_GAP_SEC, ...opts.extract?.flow };
  // Flows without a name of their own take their server address's app, learned from the rest of the capture.
  const learning = await addressLearning(input, opts.apps, { ...opts.extract, flow });
  // Keep-alive bursts: a file is counted in a reading of its own (statistics only), a stream as it goes.
  const census = opts.keepalive === false ? undefined : new KeepaliveCensus();
  const isFile = rereadable(input) && opts.extract?.live === undefined;
  if (census && isFile) {
    const bare = flowPlugins({ groups: [] });
    const view = census.reader(flowColumns(bare));
    await extractFlows(input, (row) => view.add(row), { flow, bpf: opts.extract?.bpf, maxPackets: opts.extract?.maxPackets, filter: opts.extract?.filter, decoder: opts.extract?.decoder, plugins: bare });
  }
  const meterText = meterSettingsText({
    burstGapSec: flow.burstGapSec,
    lengthMode: flow.lengthMode ?? DEFAULT_FLOW_OPTIONS.lengthMode,
    idleTimeoutSec: flow.idleTimeoutSec ?? DEFAULT_FLOW_OPTIONS.idleTimeoutSec,
    activeTimeoutSec: flow.activeTimeoutSec ?? DEFAULT_FLOW_OPTIONS.activeTimeoutSec,
    spltPackets: opts.pluginOptions?.spltPackets ?? DEFAULT_SPLT_PACKETS,
    byteDistBytes: opts.pluginOptions?.byteDistBytes ?? DEFAULT_BYTE_DIST_BYTES,
  });
  const summary = await extractFlows(input, onRow, {
    ...opts.extract,
    plugins,
    apps: opts.apps,
    ...learning,
    stages: [(before) => new RowLabeler(labeler, before, census && { census, countAsSeen: !isFile }, meterText)],
    flow,
  });
  const columns = labeledColumns(plugins);
  return { columns, summary, report: { capture: summary.capture, ...labeler.finish() } };
}
