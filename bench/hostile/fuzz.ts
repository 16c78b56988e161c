/**
 * A time-boxed fuzzing campaign: the seeded mutations of test/pcap/fuzz.test.ts (test/helpers/mutate.ts), one to
 * three stacked, on every bundled capture under 4 MiB and every hostile generator, metered with every feature
 * group (a third of the runs under a 16 MiB budget and a 64-flow table) and written through every record format.
 * CI runs a few thousand seeded mutations; this runs as many as fit in the time given, with a new seed each time
 * unless told, and keeps each input that fails so it can be replayed.
 *
 *   npm run fuzz [-- --seconds 600] [-- --seed N] [-- --out DIR]
 *
 * A failure is: a throw out of the reader, decoder, meter or a writer other than "not a capture at all" (a
 * CaptureFormatError at byte offset 0); a written file whose rows do not match the records; memory past the
 * budget; or a run slower than 5 s plus 1 s a MiB. Failing inputs go to DIR (bench/data/fuzz/) as
 * fail-SEED-RUN.pcap; exit status 1 when there was one.
 */
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { Readable } from 'node:stream';
import { mulberry32 } from '../../src/common/rng.js';
import { ALL_GROUPS, flowPlugins } from '../../src/features/plugins.js';
import { extractFlows, flowColumns } from '../../src/meter/meter.js';
import type { RecordWriter } from '../../src/output/text-sink.js';
import { openRecordWriter, recordFormats } from '../../src/output/writers.js';
import { CaptureFormatError } from '../../src/pcap/reader.js';
import { HOSTILE, pcapOf } from '../../test/helpers/hostile.js';
import { mutateCapture } from '../../test/helpers/mutate.js';
import { PCAPS, sharedPcaps } from '../../test/helpers/tshark.js';
import { TUNNEL_WRAPS, wrapPcap } from '../../test/helpers/tunnels.js';
import { wlanPcap } from '../../test/helpers/wlan.js';
import { LINK_REWRITES, linkPcap } from '../../test/helpers/links.js';
import { applePcapng } from '../../test/helpers/darwin.js';
import { modifiedPcap } from '../../test/helpers/rewrite.js';
import { ROOT } from '../common.js';

const args = process.argv.slice(2);
const opt = (name: string): string | undefined => (args.includes(name) ? args[args.indexOf(name) + 1] : undefined);
const seconds = Number(opt('--seconds') ?? 60);
const seed = Number(opt('--seed') ?? Date.now() % 2 ** 31);
const outDir = opt('--out') ?? join(ROOT, 'bench/data/fuzz');
const BUDGET_MIB = 16;

const seeds: Array<{ name: string; bytes: Buffer }> = sharedPcaps()
  .filter((f) => statSync(f).size < 4 * 1024 * 1024)
  .map((f) => ({ name: basename(f), bytes: readFileSync(f) }));
// Tunnels: two real captures in every kind the decoder looks into, so mutations land in tunnel headers too.
for (const src of ['tls-quic-ipv6-cloudflare.pcap', 'dns-udp-edns-ecs-ipv4-ipv6.pcap'])
  for (const kind of TUNNEL_WRAPS) seeds.push({ name: `${kind}:${src}`, bytes: wrapPcap(readFileSync(join(PCAPS, src)), kind, src).bytes });
// Wi-Fi: the same two captures as 802.11 monitor-mode captures, bare and after each radio header.
for (const src of ['tls-quic-ipv6-cloudflare.pcap', 'dns-udp-edns-ecs-ipv4-ipv6.pcap']) for (const link of [105, 127, 192, 119, 163] as const) seeds.push({ name: `wlan${link}:${src}`, bytes: wlanPcap(join(PCAPS, src), link) });
// Every link type of decode/links.ts.
for (const src of ['tls-quic-ipv6-cloudflare.pcap', 'dns-udp-edns-ecs-ipv4-ipv6.pcap']) for (const link of LINK_REWRITES) seeds.push({ name: `link${link}:${src}`, bytes: linkPcap(join(PCAPS, src), link).bytes });
// Kuznetzov's modified pcap (24-byte record headers), both byte orders.
for (const src of ['tls-quic-ipv6-cloudflare.pcap', 'pcap-bigendian-usec-pptp.pcap']) seeds.push({ name: `modified:${src}`, bytes: modifiedPcap(readFileSync(join(PCAPS, src))) });
// Apple's pcapng with process blocks (pcap/darwin.ts).
for (const src of ['tls-quic-ipv6-cloudflare.pcap', 'dns-udp-edns-ecs-ipv4-ipv6.pcap']) seeds.push({ name: `darwin:${src}`, bytes: applePcapng(join(PCAPS, src)) });
for (const [name, c] of Object.entries(HOSTILE)) seeds.push({ name: `hostile:${name}`, bytes: pcapOf(name === 'dns-one-flow' ? 2 : 300, c.make) });

const r = mulberry32(seed);
const scratch = mkdtempSync(join(tmpdir(), 'cipherscope-fuzz-'));
const plugins = () => flowPlugins({ groups: ALL_GROUPS });
const columns = flowColumns(plugins());
const formats = recordFormats().map((f) => f.name);
const until = Date.now() + seconds * 1000;
let runs = 0;
let rejected = 0;
let withIssues = 0;
let records = 0;
const failures: string[] = [];

function fail(run: number, from: string, buf: Buffer, what: string): void {
  mkdirSync(outDir, { recursive: true });
  const path = join(outDir, `fail-${seed}-${run}.pcap`);
  writeFileSync(path, buf);
  failures.push(`${path} (from ${from}): ${what}`);
  process.stderr.write(`FAIL ${path} (from ${from}): ${what}\n`);
}

/** A writer of every format, each written the moment a record comes (as the CLI does: a row's lists are views). */
function openWriters(): Array<{ format: string; path: string; w: RecordWriter }> {
  return formats.map((format) => {
    const path = join(scratch, `out.${format}`);
    return { format, path, w: openRecordWriter(format, path, columns) };
  });
}

/** Closed writers' files against the records: a text format holds one line a record (and CSV its header). */
function checkWritten(format: string, path: string, rows: number): string | undefined {
  const bytes = readFileSync(path);
  if (format === 'csv' || format === 'jsonl') {
    let lines = 0;
    for (const b of bytes) if (b === 10) lines++;
    const want = rows + (format === 'csv' ? 1 : 0);
    if (lines !== want) return `${format}: ${lines} lines for ${rows} records`;
  } else if (format === 'parquet' && bytes.subarray(-4).toString('latin1') !== 'PAR1') return 'parquet: no PAR1 footer';
  return undefined;
}

try {
  while (Date.now() < until) {
    const from = seeds[Math.floor(r() * seeds.length)];
    let buf = from.bytes;
    for (let i = 0, n = 1 + Math.floor(r() * 3); i < n; i++) buf = mutateCapture(buf, r);
    const run = ++runs;
    const small = r() < 1 / 3;
    let rows = 0;
    let issues = 0;
    const started = Date.now();
    const writers = openWriters();
    try {
      const s = await extractFlows(
        Readable.from([buf]),
        (row) => {
          rows++;
          for (const { w } of writers) w.write(row);
        },
        { onIssue: () => issues++, plugins: plugins(), ...(small ? { memoryMiB: BUDGET_MIB, flow: { maxFlows: 64 } } : {}) },
      );
      if (issues > 0) withIssues++;
      records += rows;
      if (s.records !== rows) fail(run, from.name, buf, `summary says ${s.records} records, ${rows} came`);
      if (small && s.memoryPeakBytes > BUDGET_MIB * 1024 * 1024 + 256 * 1024) fail(run, from.name, buf, `memory peak ${s.memoryPeakBytes} bytes past the ${BUDGET_MIB} MiB budget`);
      for (const { format, path, w } of writers) {
        await w.close();
        const wrong = checkWritten(format, path, rows);
        if (wrong !== undefined) fail(run, from.name, buf, wrong);
      }
    } catch (e) {
      // A writer left open by the throw is dropped with its temporary file.
      for (const { w } of writers) await w.abort?.().catch(() => {});
      if (e instanceof CaptureFormatError && e.offset === 0) rejected++;
      else fail(run, from.name, buf, (e as Error).stack?.split('\n').slice(0, 4).join(' | ') ?? String(e));
    }
    const ms = Date.now() - started;
    if (ms > 5000 + (1000 * buf.length) / (1024 * 1024)) fail(run, from.name, buf, `took ${ms} ms for ${buf.length} bytes`);
  }
} finally {
  rmSync(scratch, { recursive: true, force: true });
}

console.log(JSON.stringify({ seed, seconds, seeds: seeds.length, runs, records, runsWithIssues: withIssues, rejectedAsNotACapture: rejected, failures: failures.length }));
process.exitCode = failures.length > 0 ? 1 : 0;
