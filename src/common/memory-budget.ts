/**
 * One memory budget for everything a meter holds that an input can make grow: the flow table (a fixed estimate per
 * flow, plus the buffers a flow's plugins hold), IP fragment buffers, and the capture-wide maps (the DNS name map).
 * Suricata's flow.memcap works the same way: each holder charges what it takes and gives it back when it lets go;
 * when the sum passes the limit, holders registered as relievers free what they hold, in the order they were
 * registered (the flow table first, so the longest-idle flows are written early before any fragment or DNS answer
 * is forgotten), each one counted.
 *
 * The numbers are estimates of the JavaScript heap a holder keeps, measured per kind of flow and holder
 * (docs/memory.md; test/hostile/memory-budget.test.ts checks them against the heap), not a hard allocator: the
 * process's RSS is the budget plus the runtime and garbage-collector slack.
 */

/** The default budget, MiB: a run's peak RSS stays under about 1 GiB whatever the input (bench:hostile). */
export const DEFAULT_MEMORY_MB = 256;

export interface Reliever {
  /** What is freed, for the summary: `flows`, `fragments`, `dns`. */
  readonly name: string;
  /** Free one unit (the oldest or longest-idle first) and return true, or return false when nothing can go. */
  relieve(): boolean;
}

export class MemoryBudget {
  /** Bytes charged now (estimated). */
  used = 0;
  /** The most that was charged at once. */
  peak = 0;
  /** Units freed to stay within the budget, by reliever name. */
  readonly shed: Record<string, number> = {};
  private readonly relievers: Reliever[] = [];
  private relieving = false;

  constructor(readonly limitBytes: number) {
    if (!(limitBytes > 0)) throw new RangeError(`memory budget: ${String(limitBytes)} bytes: must be above 0`);
  }

  static ofMiB(mib: number): MemoryBudget {
    return new MemoryBudget(mib * 1024 * 1024);
  }

  /** Register a holder that can free what it holds; earlier registrations are asked first. */
  register(r: Reliever): void {
    this.relievers.push(r);
    this.shed[r.name] ??= 0;
  }

  /** Charge (or, negative, give back) `bytes`. Does not relieve: callers do at a point where freeing is safe. */
  charge(bytes: number): void {
    this.used += bytes;
    if (this.used > this.peak) this.peak = this.used;
  }

  get over(): boolean {
    return this.used > this.limitBytes;
  }

  /**
   * Free until the budget holds: each reliever in turn until it has nothing left to free. Re-entry (a reliever whose
   * freeing charges or calls back) is ignored; the outer call goes on.
   */
  relieve(): void {
    if (this.relieving) return;
    this.relieving = true;
    try {
      for (const r of this.relievers) {
        while (this.used > this.limitBytes && r.relieve()) this.shed[r.name]++;
        if (this.used <= this.limitBytes) return;
      }
    } finally {
      this.relieving = false;
    }
  }
}
