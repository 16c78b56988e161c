import { Readable } from 'node:stream';
import { type ExtractOptions, type ExtractSummary, extractFlows, flowColumns } from '../../src/meter/meter.js';
import type { CellValue } from '../../src/flow/schema.js';

export type FlowRow = Record<string, CellValue>;

/** Run the meter on a file or in-memory capture and return rows as objects keyed by column name. */
export async function flowsOf(input: string | Uint8Array, opts: ExtractOptions = {}): Promise<{ rows: FlowRow[]; summary: ExtractSummary }> {
  const cols = flowColumns(opts.plugins, opts.apps !== undefined).map((c) => c.name);
  const rows: FlowRow[] = [];
  const src = typeof input === 'string' ? input : Readable.from([Buffer.from(input)]);
  const summary = await extractFlows(src, (r) => rows.push(Object.fromEntries(cols.map((c, i) => [c, r[i]]))), opts);
  return { rows, summary };
}

/** Timeouts so large that only TCP port reuse splits a conversation, as in tshark's tables. */
export const NO_TIMEOUTS = { idleTimeoutSec: 1e12, activeTimeoutSec: 1e12, tcpCloseGraceSec: 1e12 };
