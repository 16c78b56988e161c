/**
 * bench/flows: throughput and peak memory of `cipherscope flows` against anchors run on the same capture in the
 * same run, so a noisy machine still compares fairly (ratios, not absolute numbers, are the result).
 *
 *   npm run bench:flows [-- --runs 3 --skip-slow]
 *
 * Anchors: `tshark -q -z conv,tcp` (Wireshark's conversation table), a dpkt flow script computing per-direction
 * counts, bytes and Welford statistics (Debian's python3-dpkt), and a bare Node.js loop that parses only record,
 * Ethernet, IP and transport headers into a Map. The statistics-only run shows what the other feature plugins
 * (TCP flags, TLS, sequences, byte distribution) cost; the two run in alternating pairs, and the median of the pairs'
 * ratios is the figure (bench/common.ts pairedRuns). Memory flatness: cipherscope also runs on a capture twice as long
 * with the same number of flows alive at once; its peak memory should not grow.
 */
import { statSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, type Measure, benchCapture as capture, medianRun, packetsIn, pairedRuns } from '../common.js';

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
// The cost of the feature plugins: all features against statistics only, in pairs of runs.
const paired = (file: string, all: string, none: string) => {
  process.stderr.write(`running ${all} / ${none} in pairs ...\n`);
  const r = pairedRuns([...cs, file, '-o', '/dev/null'], [...cs, file, '-o', '/dev/null', '--features', 'none'], runs);
  const packets = file === small ? pk : packetsIn(file);
  rows.push({ tool: all, m: r.a, packets, mb: statSync(file).size / 1e6 }, { tool: none, m: r.b, packets, mb: statSync(file).size / 1e6 });
  return r;
};
const cost1 = paired(small, 'cipherscope flows (CSV out, all features)', 'cipherscope flows, statistics only (--features none)');
add('cipherscope flows (Parquet out)', [...cs, small, '-o', '/dev/null', '--format', 'parquet']);
const cost2 = paired(large, 'cipherscope flows, 2x longer capture', 'cipherscope flows, statistics only, 2x longer capture');
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
const costLine = (what: string, r: typeof cost1) =>
  `- ${what}: ${r.wallRatio.toFixed(2)}x wall time (pairs from ${r.wallRange[0].toFixed(2)} to ${r.wallRange[1].toFixed(2)}), ${r.cpuRatio.toFixed(2)}x CPU time`;
lines.push(
  '',
  `all features / statistics only, median of ${runs} alternating pairs of runs:`,
  costLine('the capture', cost1),
  costLine('the 2x capture', cost2),
);
process.stdout.write(lines.join('\n') + '\n');
