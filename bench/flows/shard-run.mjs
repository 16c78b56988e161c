// One sharded run of the built meter (bench/flows/shards.ts): CSV encoded on the shards and dropped, as
// `flows -o /dev/null --threads N` does; prints wall time, the process's CPU time and each thread's.
import { extractFlowsSharded } from '../../dist/meter/sharded.js';

const [file, threads, mainShare] = process.argv.slice(2);
const cpu0 = process.cpuUsage();
const t0 = process.hrtime.bigint();
let rows = 0;
const s = await extractFlowsSharded(file, { onEncoded: (_b, n) => (rows += n) }, { threads: Number(threads), mainShare: Number(mainShare), plugins: {}, encode: 'csv' });
const wall = Number(process.hrtime.bigint() - t0) / 1e9;
const cpu = process.cpuUsage(cpu0);
process.stdout.write(JSON.stringify({ wall, cpu: (cpu.user + cpu.system) / 1e6, threads: s.threadCpuSec, rows }) + '\n');
