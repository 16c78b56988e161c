import { extractFlowsSharded } from './dist/meter/sharded.js';
import { extractFlows } from './dist/meter/meter.js';
import { flowPlugins } from './dist/features/plugins.js';
const n = Number(process.argv[2]);
const t0 = performance.now();
let rows = 0;
if (n === 0) await extractFlows('bench/data/flows-20k.pcap', () => rows++, { plugins: flowPlugins({}) });
else await extractFlowsSharded('bench/data/flows-20k.pcap', { onEncoded: (b, r) => { rows += r; } }, { threads: n, plugins: {}, encode: 'csv' });
console.log(n, rows, ((performance.now() - t0) / 1000).toFixed(2));
