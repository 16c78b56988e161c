/**
 * bench/flows: throughput and peak memory of `cipherscope flows` against anchors run on the same captures in the
 * same run, so a noisy machine still compares fairly (ratios, not absolute numbers, are the result).
 *
 *   npm run bench:flows [-- --runs 3 --skip-slow]
 *
 * Three generated captures: the flow-rich bench capture (bench/flows/generate.ts: no handshake in it), the
 * handshake-rich one of the same size (bench/flows/generate-tls.ts: TLS 1.3/1.2 with certificates, QUIC Initials,
 * DNS, 12 % IPv6), and a shorter payload-heavy one (6,000 flows, bursts 3x as long). Two cipherscope variants are
 * always compared in alternating pairs of runs and the median of the pairs' ratios is the figure (bench/common.ts
 * pairedRuns): all features against statistics only, JSONL and Parquet against CSV, `--threads 2` against one, and
 * the bench capture as pcapng (editcap's conversion) against the pcap.
 *
 * Anchors, once per capture: `tshark -q -z conv,tcp` (Wireshark's conversation table), a dpkt flow script
 * computing per-direction counts, bytes and Welford statistics (Debian's python3-dpkt), a bare Node.js loop that
 * parses only record, Ethernet, IP and transport headers into a Map, a Node.js loop that only reads the file,
 * and nfstream 6.5 (statistics, one meter; and
 * with nDPI) when bench/anchors/nfstream.sh has built it. Memory flatness: cipherscope also runs on a bench capture
 * twice as long with the same number of flows alive at once; its peak memory should not grow.
 */
import { spawnSync } from 'node:child_process';
import { closeSync, existsSync, openSync, readSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { BIN, type Measure, ROOT, benchCapture as capture, medianRun, packetsIn, pairedRuns } from '../common.js';

const here = dirname(fileURLToPath(import.meta.url));
const args = process.argv.slice(2);
const runs = args.includes('--runs') ? Number(args[args.indexOf('--runs') + 1]) : 3;
const skipSlow = args.includes('--skip-slow');

const captures = {
  bench: capture('flows-20k.pcap', 20000, 600),
  tls: capture('tls-20k.pcap', 20000, 600, { payloadScale: 1 }),
  payload: capture('tls-6k-payload.pcap', 6000, 180, { payloadScale: 3 }),
};
const double = capture('flows-20k-x2.pcap', 40000, 1200);
const cs = [process.execPath, BIN, 'flows', '-q', '--no-progress'];
const NFSTREAM_PY = join(ROOT, 'bench/data/nfstream/venv/bin/python');
const haveNfstream = existsSync(NFSTREAM_PY);
/** Anchors this machine lacks are left out of the tables with a line that says so, not a crash part-way. */
const works = (cmd: string[]) => spawnSync(cmd[0], cmd.slice(1), { stdio: 'ignore' }).status === 0;
const haveTshark = works(['tshark', '-v']);
const haveDpkt = works(['/usr/bin/python3', '-c', 'import dpkt']);
/** The capture converted to pcapng by editcap (Wireshark's own writer), once; undefined without editcap. */
function pcapngOf(file: string): string | undefined {
  const ng = file.replace(/\.pcap$/, '.pcapng');
  if (existsSync(ng)) return ng;
  if (!works(['editcap', '-h'])) return undefined;
  process.stderr.write(`converting ${file} to pcapng ...\n`);
  const tmp = `${ng}.partial`;
  const r = spawnSync('editcap', ['-F', 'pcapng', file, tmp], { stdio: 'inherit' });
  if (r.status !== 0) return undefined;
  renameSync(tmp, ng);
  return ng;
}
/**
 * The first `n` records of a classic pcap, in a file beside it (made once): its 24-byte header, then each record's
 * 16-byte header and captured bytes (incl_len at offset 8, in the file's byte order).
 */
function firstPackets(file: string, n: number): string {
  const out = file.replace(/\.pcap$/, `-first-${n}.pcap`);
  if (existsSync(out)) return out;
  const head = Buffer.alloc(1 << 20);
  const fd = openSync(file, 'r');
  const got = readSync(fd, head, 0, head.length, 0);
  closeSync(fd);
  const le = head.readUInt32LE(0) === 0xa1b2c3d4 || head.readUInt32LE(0) === 0xa1b23c4d;
  let at = 24;
  for (let i = 0; i < n && at + 16 <= got; i++) at += 16 + (le ? head.readUInt32LE(at + 8) : head.readUInt32BE(at + 8));
  if (at > got) throw new Error(`${file}: the first ${n} records do not fit in ${got} bytes`);
  writeFileSync(`${out}.partial`, head.subarray(0, at));
  renameSync(`${out}.partial`, out);
  return out;
}
const missing = [...(haveTshark ? [] : ['tshark (Debian package tshark)']), ...(haveDpkt ? [] : ['dpkt (Debian package python3-dpkt)'])];

interface Row {
  tool: string;
  m: Measure;
  /** The pair's median ratio of wall time to the reference variant, when the row ran paired with it. */
  paired?: { wall: number; cpu: number; range: [number, number] };
}

const tables: string[] = [];
/** Packets of each capture, counted once (`cipherscope info` reads the whole file). */
const packetCount = new Map<string, number>();
for (const [label, file] of Object.entries(captures)) {
  const packets = packetsIn(file);
  packetCount.set(file, packets);
  const mb = statSync(file).size / 1e6;
  const rows: Row[] = [];
  const out = (...extra: string[]) => [...cs, file, '-o', '/dev/null', ...extra];
  // Every pair runs against the all-features CSV run; the first pair's CSV run is the table's reference row.
  const pair = (name: string, variant: string[]) => {
    process.stderr.write(`${label}: cipherscope CSV / ${name}, in pairs ...\n`);
    const r = pairedRuns(out(), variant, runs);
    if (rows.length === 0) rows.push({ tool: 'cipherscope flows, all features, CSV', m: r.a });
    rows.push({ tool: name, m: r.b, paired: { wall: 1 / r.wallRatio, cpu: 1 / r.cpuRatio, range: [1 / r.wallRange[1], 1 / r.wallRange[0]] } });
  };
  const anchor = (name: string, cmd: string[], n = 1) => {
    process.stderr.write(`${label}: ${name} ...\n`);
    rows.push({ tool: name, m: medianRun(cmd, n) });
  };
  pair('cipherscope, statistics only (--features none)', out('--features', 'none'));
  if (label === 'bench') {
    pair('cipherscope JSONL', out('--format', 'jsonl'));
    pair('cipherscope Parquet', out('--format', 'parquet'));
  }
  if (label !== 'payload') pair('cipherscope --threads 2', out('--threads', '2'));
  if (label === 'bench') {
    // The same packets in a pcapng file (editcap's conversion, made once): reading pcapng should cost what pcap does.
    const ng = pcapngOf(file);
    if (ng !== undefined) pair('cipherscope, the same capture as pcapng', [...cs, ng, '-o', '/dev/null']);
    anchor('bare Node.js header loop', [process.execPath, join(here, 'bare-loop.mjs'), file], runs);
    anchor('reading the file in Node.js, no parsing', [process.execPath, join(here, 'read-only.mjs'), file], runs);
  }
  if (haveNfstream) {
    anchor('nfstream 6.5, statistics, 1 meter', [NFSTREAM_PY, join(ROOT, 'bench/anchors/nfstream_flows.py'), file]);
    anchor('nfstream 6.5 with nDPI dissection', [NFSTREAM_PY, join(ROOT, 'bench/anchors/nfstream_flows.py'), file, '--dissect']);
  }
  if (!skipSlow) {
    if (haveTshark) anchor('tshark -q -z conv,tcp', ['tshark', '-q', '-z', 'conv,tcp', '-r', file]);
    if (haveDpkt) anchor('dpkt flow script', ['/usr/bin/python3', join(here, 'dpkt_flows.py'), file]);
  }
  const ref = rows[0].m.seconds;
  tables.push(
    `${label} capture: ${file} (${packets} packets, ${mb.toFixed(1)} MB)`,
    '',
    '| tool | wall s | CPU s | packets/s | peak MiB | cipherscope CSV is N× as fast | paired: N× (range), CPU N× |',
    '|---|---:|---:|---:|---:|---:|---:|',
    ...rows.map((r) => {
      const p = r.paired ? `${r.paired.wall.toFixed(2)}x (${r.paired.range[0].toFixed(2)}-${r.paired.range[1].toFixed(2)}), ${r.paired.cpu.toFixed(2)}x` : '';
      return `| ${r.tool} | ${r.m.seconds.toFixed(2)} | ${r.m.cpu_seconds.toFixed(2)} | ${Math.round(packets / r.m.seconds).toLocaleString('en-US')} | ${(r.m.maxrss_kib / 1024).toFixed(0)} | ${(r.m.seconds / ref).toFixed(2)}x | ${p} |`;
    }),
    '',
  );
}
// Several captures in one run (a study's case): one thread against --threads 2 (whole captures at once, one a
// thread: src/meter/parallel-files.ts), and the same captures as separate single-thread processes two at a time.
{
  const files = Object.values(captures);
  const several = (...extra: string[]) => [...cs, ...files, '-o', '/dev/null', ...extra];
  process.stderr.write(`several captures (${files.length}): --threads 1 / --threads 2, in pairs ...\n`);
  const r = pairedRuns(several(), several('--threads', '2'), runs);
  // The captures are the script's arguments ("$1"...), so they are read into the page cache first like any input.
  const one = cs.map((a) => `'${a}'`).join(' ');
  const script = `${files.map((_, i) => `${i > 0 && i % 2 === 0 ? 'wait; ' : ''}${one} "$${i + 1}" -o /dev/null &`).join(' ')} wait`;
  const twoAtOnce = ['/bin/sh', '-c', script, 'sh', ...files];
  process.stderr.write('several captures: single-thread processes, two at a time ...\n');
  const procs = medianRun(twoAtOnce, runs);
  const total = files.reduce((a, f) => a + (packetCount.get(f) ?? 0), 0);
  const row = (tool: string, m: Measure, paired = '') => `| ${tool} | ${m.seconds.toFixed(2)} | ${m.cpu_seconds.toFixed(2)} | ${Math.round(total / m.seconds).toLocaleString('en-US')} | ${(m.maxrss_kib / 1024).toFixed(0)} | ${(r.a.seconds / m.seconds).toFixed(2)}x | ${paired} |`;
  tables.push(
    `several captures in one run: ${files.join(' ')} (${total} packets)`,
    '',
    '| run | wall s | CPU s | packets/s | peak MiB | N× as fast as one thread | paired: N× (range), CPU N× |',
    '|---|---:|---:|---:|---:|---:|---:|',
    row('cipherscope flows, one thread', r.a),
    row('cipherscope flows --threads 2 (two captures at once)', r.b, `${r.wallRatio.toFixed(2)}x (${r.wallRange[0].toFixed(2)}-${r.wallRange[1].toFixed(2)}), ${r.cpuRatio.toFixed(2)}x`),
    row('anchor: one single-thread process per capture, two at a time', procs),
    '',
  );
}
// Start-up, for a study's many small captures run one process each: a 20-packet cut of the bench capture, every
// feature, against Node.js starting and exiting (node -e 0) in alternating pairs, and the anchors on the same cut.
{
  const small = firstPackets(captures.bench, 20);
  const n = Math.max(10, runs);
  process.stderr.write(`start-up: cipherscope on ${small} / node -e 0, in pairs ...\n`);
  const r = pairedRuns([...cs, small, '-o', '/dev/null'], [process.execPath, '-e', '0'], n);
  const rows: Array<[string, Measure, string]> = [
    ['cipherscope flows, all features, CSV', r.a, `${r.wallRatio.toFixed(2)}x (${r.wallRange[0].toFixed(2)}-${r.wallRange[1].toFixed(2)})`],
    ['node -e 0 (Node.js starting and exiting)', r.b, ''],
  ];
  if (haveTshark) rows.push(['tshark -q -z conv,tcp', medianRun(['tshark', '-q', '-z', 'conv,tcp', '-r', small], n), '']);
  if (haveNfstream) rows.push(['nfstream 6.5, statistics, 1 meter', medianRun([NFSTREAM_PY, join(ROOT, 'bench/anchors/nfstream_flows.py'), small], n), '']);
  if (haveDpkt) rows.push(['dpkt flow script', medianRun(['/usr/bin/python3', join(here, 'dpkt_flows.py'), small], n), '']);
  tables.push(
    `start-up: ${small} (20 packets), medians of ${n} runs`,
    '',
    '| tool | wall s | CPU s | peak MiB | paired with node -e 0: N× its time (range) |',
    '|---|---:|---:|---:|---:|',
    ...rows.map(([tool, m, p]) => `| ${tool} | ${m.seconds.toFixed(3)} | ${m.cpu_seconds.toFixed(3)} | ${(m.maxrss_kib / 1024).toFixed(0)} | ${p} |`),
    '',
  );
}
process.stderr.write('memory flatness: the bench capture and one twice as long ...\n');
const flat = pairedRuns([...cs, captures.bench, '-o', '/dev/null'], [...cs, double, '-o', '/dev/null'], runs);
tables.push(
  `memory flatness (${runs} alternating pairs): peak ${(flat.a.maxrss_kib / 1024).toFixed(0)} MiB on the bench capture, ${(flat.b.maxrss_kib / 1024).toFixed(0)} MiB on one twice as long with as many flows alive at once; time ${(1 / flat.wallRatio).toFixed(2)}x`,
  '',
  '"paired" is the median over alternating pairs of the row\'s time over the all-features CSV run\'s (a value above 1: slower); the N× column divides medians of separate runs.',
  haveNfstream ? '' : 'nfstream rows are missing: bench/anchors/nfstream.sh has not built it on this machine.',
  missing.length === 0 || skipSlow ? '' : `rows missing: ${missing.join(', ')} not installed (bash scripts/setup.sh installs them).`,
);
process.stdout.write(tables.join('\n') + '\n');
