/**
 * Learned server addresses: which app a server address and port belongs to, learned from the flows of the same
 * capture that named it first-hand (TLS/QUIC SNI, a DNS answer, certificate names). A flow with none of these (a
 * connection opened before the capture started: no handshake, no DNS answer) then takes the app of the nearest
 * evidence in time for its server address and port, as nDPI names flows by the owner of an address.
 *
 * Rules:
 *   - the key is the server address and port (443 of one address may be a different service than 5222);
 *   - an address and port named for more than one app (a shared CDN, a cloud front end) names nothing: `shared`;
 *   - the nearest evidence in time wins, earlier or later (files are read twice, so both directions of time
 *     count; a live stream only learns forward); the gap is kept (`app_evidence_gap_ns`, evidence time minus the
 *     flow's first packet: negative when the evidence came first).
 *
 * Memory budget: at most MAX_KEYS addresses and ports and MAX_TIMES evidence times each (beyond them, new keys are
 * not learned and new times replace the latest), about 100 bytes a key plus 8 a time: 20 MB at the limits' scale
 * of a day of a busy network; `dropped` counts what did not fit.
 */

export interface AddressEvidence {
  addr: string;
  port: number;
  /** First packet of the flow that named it (ns since 1970). */
  timeNs: bigint;
  app: string;
  host: string | null;
  /** Several apps were seen on this address and port (what entries() hands to a worker for a shared key). */
  shared?: boolean;
}

export interface LearnedApp {
  app: string;
  host: string | null;
  /** Evidence time minus the flow's time (ns): negative when the evidence came first. */
  gapNs: bigint;
}

interface Entry {
  app: string;
  /** More than one app seen on this address and port. */
  shared: boolean;
  times: bigint[];
  hosts: (string | null)[];
  sorted: boolean;
}

export const MAX_KEYS = 200_000;
export const MAX_TIMES = 4096;

export class AddressBook {
  private readonly byKey = new Map<string, Entry>();
  dropped = 0;

  private static key(addr: string, port: number): string {
    return `${addr}|${port}`;
  }

  add(e: AddressEvidence): void {
    const k = AddressBook.key(e.addr, e.port);
    let entry = this.byKey.get(k);
    if (entry === undefined) {
      if (this.byKey.size >= MAX_KEYS) {
        this.dropped++;
        return;
      }
      entry = { app: e.app, shared: false, times: [], hosts: [], sorted: true };
      this.byKey.set(k, entry);
    }
    if (entry.app !== e.app || e.shared) entry.shared = true;
    if (entry.shared) return;
    if (entry.times.length >= MAX_TIMES) {
      this.dropped++;
      entry.times[entry.times.length - 1] = e.timeNs;
      entry.hosts[entry.hosts.length - 1] = e.host;
    } else {
      entry.times.push(e.timeNs);
      entry.hosts.push(e.host);
    }
    entry.sorted = false;
  }

  /** The app of the nearest evidence in time for this server address and port; 'shared' when several apps use it. */
  lookup(addr: string, port: number, timeNs: bigint): LearnedApp | 'shared' | undefined {
    const entry = this.byKey.get(AddressBook.key(addr, port));
    if (entry === undefined) return undefined;
    if (entry.shared) return 'shared';
    if (!entry.sorted) sortEntry(entry);
    // Binary search for the first evidence at or after timeNs; the nearest is it or the one before.
    const t = entry.times;
    let lo = 0;
    let hi = t.length;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if (t[mid] < timeNs) lo = mid + 1;
      else hi = mid;
    }
    let best = lo;
    if (lo === t.length || (lo > 0 && timeNs - t[lo - 1] <= t[lo] - timeNs)) best = lo - 1;
    return { app: entry.app, host: entry.hosts[best], gapNs: t[best] - timeNs };
  }

  get size(): number {
    return this.byKey.size;
  }

  /** Every evidence, to hand to worker threads. */
  entries(): AddressEvidence[] {
    const out: AddressEvidence[] = [];
    for (const [k, e] of this.byKey) {
      const bar = k.lastIndexOf('|');
      const addr = k.slice(0, bar);
      const port = Number(k.slice(bar + 1));
      if (e.shared) {
        out.push({ addr, port, timeNs: 0n, app: e.app, host: null, shared: true });
        continue;
      }
      for (let i = 0; i < e.times.length; i++) out.push({ addr, port, timeNs: e.times[i], app: e.app, host: e.hosts[i] });
    }
    return out;
  }

  static from(entries: readonly AddressEvidence[]): AddressBook {
    const b = new AddressBook();
    for (const e of entries) b.add(e);
    return b;
  }
}

function sortEntry(e: Entry): void {
  const order = e.times.map((_, i) => i).sort((a, b) => (e.times[a] < e.times[b] ? -1 : e.times[a] > e.times[b] ? 1 : 0));
  e.times = order.map((i) => e.times[i]);
  e.hosts = order.map((i) => e.hosts[i]);
  e.sorted = true;
}
