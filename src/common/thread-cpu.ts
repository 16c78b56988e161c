import { readFileSync } from 'node:fs';

/** Clock ticks per second of /proc's times (USER_HZ: 100 on every Linux port that Node.js runs on). */
const USER_HZ = 100;

/**
 * CPU time (user + system, seconds, 10 ms resolution) of the calling thread, from Linux's /proc/thread-self/stat;
 * undefined where there is no such file. process.cpuUsage() counts every thread of the process; this is how the
 * sharded meter tells the reading thread's share from each worker's (docs/performance.md).
 */
export function threadCpuSec(): number | undefined {
  let stat: string;
  try {
    stat = readFileSync('/proc/thread-self/stat', 'latin1');
  } catch {
    return undefined;
  }
  // The command name (field 2) is in parentheses and may hold spaces: fields are counted after its last ')'.
  const f = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  const utime = Number(f[11]);
  const stime = Number(f[12]);
  return Number.isFinite(utime) && Number.isFinite(stime) ? (utime + stime) / USER_HZ : undefined;
}
