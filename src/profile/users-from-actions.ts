import type { ActionRecord } from '../label/actions.js';

/**
 * Who a flow belongs to, by the action log of the run that made it (`profile ingest --user-from actions.jsonl`):
 * the log's user names become operator ids, pseudonymised like `--user`. Several users may share one client address
 * (the testbed's browsers on 127.0.0.1, phones behind one proxy), and one user's address may change between files
 * (IPv6 privacy addresses), so the address alone cannot say it. In order:
 *
 * 1. the user of the actions whose time window overlaps the flow, among those logged at the flow's client address
 *    (or without an address): one user, or the one with the most overlap;
 * 2. else the only user the log ties to that client address;
 * 3. else the log's only user, if it has one;
 * 4. else none: the flow is counted under its device address, as without --user-from, and reported.
 */
export type UserOf = (clientAddr: string, firstNs: bigint, lastNs: bigint) => string | undefined;

export function userResolver(actions: readonly ActionRecord[]): UserOf {
  const users = new Set(actions.map((a) => a.user).filter((u) => u !== ''));
  const byAddr = new Map<string, Set<string>>();
  for (const a of actions) {
    if (a.clientAddr === undefined || a.user === '') continue;
    let s = byAddr.get(a.clientAddr);
    if (s === undefined) byAddr.set(a.clientAddr, (s = new Set()));
    s.add(a.user);
  }
  const sorted = [...actions].filter((a) => a.user !== '').sort((x, y) => (x.startNs < y.startNs ? -1 : x.startNs > y.startNs ? 1 : 0));
  const only = users.size === 1 ? [...users][0] : undefined;
  return (addr, first, last) => {
    const overlap = new Map<string, bigint>();
    for (const a of sorted) {
      if (a.startNs > last) break;
      if (a.endNs < first) continue;
      if (a.clientAddr !== undefined && a.clientAddr !== addr) continue;
      const o = (a.endNs < last ? a.endNs : last) - (a.startNs > first ? a.startNs : first);
      overlap.set(a.user, (overlap.get(a.user) ?? 0n) + (o > 0n ? o : 0n));
    }
    if (overlap.size > 0) return [...overlap].sort((x, y) => (y[1] > x[1] ? 1 : y[1] < x[1] ? -1 : x[0] < y[0] ? -1 : 1))[0][0];
    const atAddr = byAddr.get(addr);
    if (atAddr !== undefined && atAddr.size === 1) return [...atAddr][0];
    return only;
  };
}
