// How this machine's memory serves two threads at once (bench/flows/shards.ts): random reads and writes over a
// 512 MiB array, the access pattern of a flow table far larger than the caches; prints its own seconds.
const a = new Float64Array(64 << 20);
let s = 0;
const t = process.hrtime.bigint();
for (let r = 0; r < 4; r++) for (let i = 0; i < a.length; i += 8) { a[i] += i; s += a[(i * 7919) & (a.length - 1)]; }
process.stdout.write(`${Number(process.hrtime.bigint() - t) / 1e9} ${s > 0 ? '' : ' '}\n`);
