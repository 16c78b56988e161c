/**
 * bench/flows: throughput and peak memory of `cipherscope flows` against anchors run on the same capture in the
 * same run, so a noisy machine still compares fairly (ratios, not absolute numbers, are the result).
 *
 *   npm run bench:flows [-- --runs 3 --skip-slow]
 *
 * Anchors: `tshark -q -z conv,tcp` (Wireshark's conversation table), a dpkt flow script computing per-direction
 * counts, bytes and Welford statistics (Debian's python3-dpkt), and a bare Node.js loop that parses only record,
 * Ethernet, IP and transport headers into a Map. The statistics-only run shows what the other feature plugins
 * (TCP flags, TLS, sequences, byte distribution) cost. Memory flatness: cipherscope also runs on a capture twice as long
 * with the same number of flows alive at once; its peak memory should not grow.
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, type Measure, benchCapture as capture, medianRun, packetsIn } from '../common.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 3;
const skipSlow = args.includes('--skip-slow');

const small = capture('flows-20k.pcap', 20000, 600);
const large = capture('flows-20k-x2.pcap', 40000, 1200);
const pk = packetsIn(small);
const mb = statSync(small).size / 1e6;
const cs = [process.execPath, BIN, 'flows', '-q', '--no-progress'];

interface Row {
  tool: string;
  m: Measure;
  packets: number;
  mb: number;
}
const rows: Row[] = [];
const add = (tool: string, cmd: string[], n = runs, file = small) => {
  process.stderr.write(`running ${tool} ...\n`);
  rows.push({ tool, m: medianRun(cmd, n), packets: file === small ? pk : packetsIn(file), mb: statSync(file).size / 1e6 });
};
add('cipherscope flows (CSV out, all features)', [...cs, small, '-o', '/dev/null']);
add('cipherscope flows, statistics only (--features none)', [...cs, small, '-o', '/dev/null', '--features', 'none']);
add('cipherscope flows (Parquet out)', [...cs, small, '-o', '/dev/null', '-f', 'parquet']);
add('cipherscope flows, 2x longer capture', [...cs, large, '-o', '/dev/null'], runs, large);
add('cipherscope flows, statistics only, 2x longer capture', [...cs, large, '-o', '/dev/null', '--features', 'none'], runs, large);
add('bare Node.js header loop', [process.execPath, join(here, 'bare-loop.mjs'), small]);
if (!skipSlow) {
  add('tshark -q -z conv,tcp', ['tshark', '-q', '-z', 'conv,tcp', '-r', small], 1);
  add('dpkt flow script', ['/usr/bin/python3', join(here, 'dpkt_flows.py'), small], 1);
}

const ref = rows[0];
const refPps = ref.packets / ref.m.seconds;
const lines = [
  `capture: ${small} (${pk} packets, 20000 flows, ${mb.toFixed(1)} MB); median of ${runs} run(s) for Node tools, 1 for tshark and dpkt`,
  '',
  '| tool | seconds | packets/s | MB/s | peak MiB | cipherscope (CSV) is N× as fast |',
  '|---|---:|---:|---:|---:|---:|',
  ...rows.map((r) => {
    const pps = r.packets / r.m.seconds;
    return `| ${r.tool} | ${r.m.seconds.toFixed(2)} | ${Math.round(pps).toLocaleString('en-US')} | ${(r.mb / r.m.seconds).toFixed(0)} | ${(r.m.maxrss_kib / 1024).toFixed(0)} | ${(refPps / pps).toFixed(2)}x |`;
  }),
];
// Issue 4's measure: the cost of the feature plugins, as time with all of them over time statistics-only, on both
// capture lengths.
const t = (tool: string) => rows.find((r) => r.tool === tool)!.m.seconds;
const all1 = t('cipherscope flows (CSV out, all features)');
const none1 = t('cipherscope flows, statistics only (--features none)');
const all2 = t('cipherscope flows, 2x longer capture');
const none2 = t('cipherscope flows, statistics only, 2x longer capture');
lines.push(
  '',
  `all features / statistics only: ${(all1 / none1).toFixed(2)}x on the capture, ${(all2 / none2).toFixed(2)}x on the 2x capture`,
);
process.stdout.write(lines.join('\n') + '\n');
