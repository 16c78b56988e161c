import type { CellValue, ColumnDef } from '../flow/schema.js';

/**
 * Keep-alive bursts of long-lived connections. A messenger's connection (WhatsApp Web's, the testbed chat's) stays
 * open for the whole session and is split into bursts at silences (the burst gap); most bursts carry what the user
 * did, but many carry only the connection's ping and its answer. Labeled per capture file, those would all count
 * as the file's action, so they are recognised and labeled `keepalive` instead.
 *
 * The rule (docs/ground-truth.md#keep-alive-bursts), per connection (flow id):
 *   1. the burst is small: at most 2 packets each way (a record and its ACK), and at most 128 payload bytes each way
 *      (one way may carry none: where the answer comes after the burst gap, ping and answer are bursts of their own);
 *   2. its pair of payload sizes (client, server) recurs: at least MIN_REPEATS bursts of the same connection have
 *      exactly the same pair. Pings are the same bytes every time, so their encrypted sizes repeat exactly; a
 *      message, a receipt or a typing notice varies with what it says.
 * A file is counted in a first reading, so every burst of a connection is judged against all of them; a stream is
 * judged as it goes (a ping becomes a keep-alive from its MIN_REPEATS-th occurrence on).
 *
 * On the WhatsApp Web captures the recurring pairs are (70, 72) and (69, 71) bytes (userA), and (70, 0) with its
 * answer (0, 77) about 1.3 s later (userB), every few seconds to 30 s.
 */

export const KEEPALIVE = 'keepalive';
export const KEEPALIVE_RULE = { maxPacketsEachWay: 2, maxPayloadEachWay: 128, minRepeats: 3 } as const;

/** Memory budget: keys (connection and size pair) counted at most; beyond, new small bursts are not counted. */
export const MAX_CENSUS_KEYS = 1_000_000;

/** Reads the rule's columns from rows laid out as `columns`. */
export class KeepaliveCensus {
  private readonly counts = new Map<string, number>();
  dropped = 0;

  /** A view of the census for rows laid out as `columns` (the first reading's and the labeled rows' differ). */
  reader(columns: readonly ColumnDef[]): { add(row: readonly CellValue[]): void; isKeepalive(row: readonly CellValue[]): boolean } {
    const at = (n: string) => {
      const i = columns.findIndex((c) => c.name === n);
      if (i < 0 && n !== 'record_kind') throw new Error(`the keep-alive rule needs the column ${n}`);
      return i;
    };
    const [flowId, fwdPackets, bwdPackets, fwdPayload, bwdPayload, kind] = ['flow_id', 'fwd_packets', 'bwd_packets', 'fwd_payload_bytes', 'bwd_payload_bytes', 'record_kind'].map(at);
    const r = KEEPALIVE_RULE;
    // The burst's key when it is small enough to be a ping (rule 1), else undefined.
    const key = (row: readonly CellValue[]): string | undefined => {
      if (kind >= 0 && row[kind] !== 'final') return undefined;
      const fb = Number(row[fwdPayload]);
      const bb = Number(row[bwdPayload]);
      if (Number(row[fwdPackets]) > r.maxPacketsEachWay || Number(row[bwdPackets]) > r.maxPacketsEachWay || fb + bb < 1 || fb > r.maxPayloadEachWay || bb > r.maxPayloadEachWay) return undefined;
      return `${row[flowId]}|${fb}|${bb}`;
    };
    return {
      add: (row) => {
        const k = key(row);
        if (k === undefined) return;
        const n = this.counts.get(k);
        if (n === undefined && this.counts.size >= MAX_CENSUS_KEYS) {
          this.dropped++;
          return;
        }
        this.counts.set(k, (n ?? 0) + 1);
      },
      isKeepalive: (row) => {
        const k = key(row);
        return k !== undefined && (this.counts.get(k) ?? 0) >= r.minRepeats;
      },
    };
  }
}
