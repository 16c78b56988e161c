import { createHash } from 'node:crypto';
import { createReadStream, statSync } from 'node:fs';
import type { Command } from 'commander';
import { collect, inputsOf } from './args.js';
import { readCapture, rereadable } from '../pcap/reader.js';
import { type CaptureMetadata, formatIssue } from '../pcap/types.js';

/**
 * `cipherscope info`: what capinfos prints, with its names and numbers (a Wireshark user reads it at a glance), or
 * JSON with --json. Sizes, rates and times are computed as capinfos computes them: data size is the sum of the
 * packets' lengths on the wire, the duration runs from the earliest to the latest packet, rates are over it.
 */

/** Link types by their wiretap short name and description, as capinfos shows them (the common ones). */
const LINK_TYPES: Record<number, [string, string]> = {
  0: ['null', 'NULL/Loopback'],
  1: ['ether', 'Ethernet'],
  9: ['ppp', 'PPP'],
  12: ['rawip', 'Raw IP'],
  14: ['rawip', 'Raw IP'],
  50: ['ppp', 'PPP'],
  51: ['pppoes', 'PPP-over-Ethernet session'],
  101: ['rawip', 'Raw IP'],
  104: ['chdlc', 'Cisco HDLC'],
  105: ['ieee-802-11', 'IEEE 802.11 Wireless LAN'],
  108: ['loop', 'OpenBSD loopback'],
  109: ['enc', 'OpenBSD enc(4) encapsulating interface'],
  113: ['linux-sll', 'Linux cooked-mode capture v1'],
  117: ['pflog', 'OpenBSD PF Firewall logs'],
  119: ['ieee-802-11-prism', 'IEEE 802.11 plus Prism II monitor mode radio header'],
  127: ['ieee-802-11-radiotap', 'IEEE 802.11 plus radiotap radio header'],
  163: ['ieee-802-11-avs', 'IEEE 802.11 plus AVS radio header'],
  // Wireshark cannot read this one; the names are tcpdump's ("PPP_PPPD", "PPP for pppd, with direction flag").
  166: ['ppp-pppd', 'PPP for pppd, with direction flag'],
  192: ['ppi', 'Per-Packet Information header'],
  204: ['ppp-with-direction', 'PPP with Directional Info'],
  226: ['ipnet', 'Solaris IPNET'],
  228: ['rawip4', 'Raw IPv4'],
  229: ['rawip6', 'Raw IPv6'],
  239: ['nflog', 'NFLOG'],
  258: ['pktap', 'Apple PKTAP'],
  276: ['linux-sll2', 'Linux cooked-mode capture v2'],
};

export function linkTypeName(linkType: number): string {
  const t = LINK_TYPES[linkType];
  return t === undefined ? `link type ${linkType}` : `${t[1]} (${t[0]})`;
}

export interface CaptureInfo {
  file: string;
  format: CaptureMetadata['format'];
  bigEndian: boolean;
  /** gzip, zstd or xz when the file is compressed (capinfos's "(gzip compressed)"), else null. */
  compression: string | null;
  /** Link types of the interfaces, each once, with names. */
  encapsulations: Array<{ linkType: number; name: string }>;
  packets: number;
  /** The file's size in bytes (null for standard input, a pipe or a device). */
  fileBytes: number | null;
  /** Sum of the packets' lengths on the wire. */
  dataBytes: number;
  /** Sum of the captured lengths (what the file holds of them). */
  capturedBytes: number;
  /** Earliest and latest packet time, ns since the epoch (null without packets). */
  firstNs: bigint | null;
  lastNs: bigint | null;
  durationSec: number | null;
  dataByteRate: number | null;
  dataBitRate: number | null;
  averagePacketBytes: number | null;
  averagePacketRate: number | null;
  /** True when no packet is earlier than the one before it. */
  strictTimeOrder: boolean;
  sha256: string | null;
  sha1: string | null;
  metadata: CaptureMetadata;
  /** Packets of each interface, in the order of metadata.interfaces. */
  interfacePackets: number[];
  issues: string[];
}

async function digests(path: string): Promise<{ sha256: string; sha1: string }> {
  const a = createHash('sha256');
  const b = createHash('sha1');
  for await (const chunk of createReadStream(path)) {
    a.update(chunk as Buffer);
    b.update(chunk as Buffer);
  }
  return { sha256: a.digest('hex'), sha1: b.digest('hex') };
}

/** Issues listed by `info` before the rest are only counted. */
const MAX_INFO_ISSUES = 1000;

export async function captureInfo(input: string): Promise<CaptureInfo> {
  let first: bigint | null = null;
  let last: bigint | null = null;
  let prev = -1n;
  let strict = true;
  let data = 0;
  let captured = 0;
  const issues: string[] = [];
  let moreIssues = 0;
  // Packets per interface: a record names its interface within the section of the latest interfaces added.
  const perInterface: number[] = [];
  const slotOf = new Map<number, number>();
  let slots = 0;
  const r = await readCapture(input, {
    interfaceAdded(info) {
      if (info.id === 0) slotOf.clear(); // a new section numbers its interfaces from 0 again
      slotOf.set(info.id, slots++);
      perInterface.push(0);
    },
    packet(rec) {
      const slot = slotOf.get(rec.interfaceId);
      if (slot !== undefined) perInterface[slot]++;
      const t = BigInt(rec.tsSec) * 1_000_000_000n + BigInt(rec.tsNsec);
      if (first === null || t < first) first = t;
      if (last === null || t > last) last = t;
      if (t < prev) strict = false;
      prev = t;
      data += rec.origLen;
      captured += rec.capLen;
    },
    // The first issues in words, the rest counted: a file can be made of nothing but damage.
    issue: (i) => {
      if (issues.length < MAX_INFO_ISSUES) issues.push(formatIssue(i));
      else moreIssues++;
    },
  });
  // A pipe or FIFO has no size and cannot be hashed after it was read (as for standard input).
  const isFile = rereadable(input);
  const size = isFile ? statSync(input).size : null;
  const dur = first !== null && last !== null ? Number((last as bigint) - (first as bigint)) / 1e9 : null;
  const per = (x: number) => (dur !== null && dur > 0 ? x / dur : null);
  const seen = new Map<number, string>();
  for (const i of r.metadata.interfaces) seen.set(i.linkType, linkTypeName(i.linkType));
  const hashes = isFile ? await digests(input) : undefined;
  return {
    file: input,
    format: r.metadata.format,
    bigEndian: r.metadata.bigEndian,
    compression: r.compression ?? null,
    encapsulations: [...seen].map(([linkType, name]) => ({ linkType, name })),
    packets: r.packets,
    fileBytes: size,
    dataBytes: data,
    capturedBytes: captured,
    firstNs: first,
    lastNs: last,
    durationSec: dur,
    dataByteRate: per(data),
    dataBitRate: per(data * 8),
    averagePacketBytes: r.packets > 0 ? data / r.packets : null,
    averagePacketRate: per(r.packets),
    strictTimeOrder: strict,
    sha256: hashes?.sha256 ?? null,
    sha1: hashes?.sha1 ?? null,
    metadata: r.metadata,
    interfacePackets: perInterface,
    issues: moreIssues > 0 ? [...issues, `${moreIssues} more issue(s) not listed`] : issues,
  };
}

/** A time as capinfos prints it: local date and time with the capture's digits (here always 9), and UTC beside it. */
function timeText(ns: bigint | null, utc: boolean): string {
  if (ns === null) return 'n/a';
  const ms = Number(ns / 1_000_000n);
  const d = new Date(ms);
  // Beyond what a Date holds (a bogus time offset puts packets past year 275,760): epoch seconds, as they are.
  if (Number.isNaN(d.getTime())) return `${ns / 1_000_000_000n}.${String(ns % 1_000_000_000n).padStart(9, '0')} (seconds since the epoch)`;
  const pad = (n: number, w = 2) => String(n).padStart(w, '0');
  const frac = String(ns % 1_000_000_000n).padStart(9, '0');
  const parts = utc ? [d.getUTCFullYear(), d.getUTCMonth() + 1, d.getUTCDate(), d.getUTCHours(), d.getUTCMinutes(), d.getUTCSeconds()] : [d.getFullYear(), d.getMonth() + 1, d.getDate(), d.getHours(), d.getMinutes(), d.getSeconds()];
  return `${parts[0]}-${pad(parts[1])}-${pad(parts[2])} ${pad(parts[3])}:${pad(parts[4])}:${pad(parts[5])}.${frac}`;
}

const num = (x: number | null, digits = 2) => (x === null ? 'n/a' : x.toFixed(digits));

/** The capinfos-style text of `info`. */
export function infoText(i: CaptureInfo): string {
  const lines: Array<[string, string]> = [
    ['File name', i.file],
    ['File type', `${i.format}${i.metadata.variant === 'modified' ? ' (modified)' : ''}${i.bigEndian ? ' (big-endian)' : ''}${i.compression !== null ? ` (${i.compression} compressed)` : ''}`],
    ['File encapsulation', i.encapsulations.length === 1 ? i.encapsulations[0].name : i.encapsulations.length === 0 ? 'none' : `per packet: ${i.encapsulations.map((e) => e.name).join(', ')}`],
    ['Number of packets', String(i.packets)],
    ['File size', i.fileBytes === null ? `n/a (${i.file === '-' ? 'standard input' : 'a pipe or device'})` : `${i.fileBytes} bytes`],
    ['Data size', `${i.dataBytes} bytes`],
    ['Captured data size', `${i.capturedBytes} bytes`],
    ['Capture duration', i.durationSec === null ? 'n/a' : `${i.durationSec.toFixed(9)} seconds`],
    ['First packet time', timeText(i.firstNs, false)],
    ['Last packet time', timeText(i.lastNs, false)],
    ['First packet (UTC)', timeText(i.firstNs, true)],
    ['Last packet (UTC)', timeText(i.lastNs, true)],
    ['Data byte rate', `${num(i.dataByteRate)} bytes/sec`],
    ['Data bit rate', `${num(i.dataBitRate)} bits/sec`],
    ['Average packet size', `${num(i.averagePacketBytes)} bytes`],
    ['Average packet rate', `${num(i.averagePacketRate)} packets/sec`],
    ['SHA256', i.sha256 ?? 'n/a'],
    ['SHA1', i.sha1 ?? 'n/a'],
    ['Strict time order', i.strictTimeOrder ? 'True' : 'False'],
    ...(i.metadata.hardware !== undefined ? [['Capture hardware', i.metadata.hardware] as [string, string]] : []),
    ...(i.metadata.os !== undefined ? [['Capture oper-sys', i.metadata.os] as [string, string]] : []),
    ...(i.metadata.application !== undefined ? [['Capture application', i.metadata.application] as [string, string]] : []),
    ['Number of interfaces in file', String(i.metadata.interfaces.length)],
  ];
  // capinfos's layout: the key and its colon in 20 columns, a space, the value.
  const out = lines.map(([k, v]) => `${`${k}:`.padEnd(20)} ${v}`);
  const indent = ''.padEnd(21);
  i.metadata.interfaces.forEach((f, n) => {
    out.push(`Interface #${f.id}${i.metadata.sections > 1 ? ` (section ${f.section})` : ''} info:`);
    if (f.name) out.push(`${indent}Name = ${f.name}`);
    if (f.description) out.push(`${indent}Description = ${f.description}`);
    out.push(`${indent}Encapsulation = ${linkTypeName(f.linkType)}`);
    out.push(`${indent}Capture length = ${f.snapLen}`);
    out.push(`${indent}Time ticks per second = ${f.tsUnitsPerSec}`);
    if (f.os) out.push(`${indent}Operating system = ${f.os}`);
    out.push(`${indent}Number of packets = ${i.interfacePackets[n] ?? 0}`);
  });
  for (const c of i.metadata.comments) out.push(`${'Capture comment:'.padEnd(21)}${c}`);
  if (i.metadata.deviceApps.length > 0) out.push(`${'PCAPdroid apps:'.padEnd(21)}${i.metadata.deviceApps.length} uid mappings`);
  if (i.metadata.deviceProcesses.length > 0) out.push(`${'Apple processes:'.padEnd(21)}${i.metadata.deviceProcesses.length} process blocks`);
  for (const s of i.issues) out.push(`${'Issue:'.padEnd(21)}${s}`);
  return out.join('\n') + '\n';
}

/** The JSON of `info --json`: plain values (bigints as strings of ns, maps as objects). */
export function infoJson(i: CaptureInfo): string {
  const m = i.metadata;
  return (
    JSON.stringify(
      {
        ...i,
        interfacePackets: undefined,
        firstNs: i.firstNs?.toString() ?? null,
        lastNs: i.lastNs?.toString() ?? null,
        metadata: undefined,
        ...(m.variant !== undefined ? { variant: m.variant } : {}),
        sections: m.sections,
        interfaces: m.interfaces.map((f, n) => ({ ...f, linkTypeName: linkTypeName(f.linkType), packets: i.interfacePackets[n] ?? 0 })),
        names: Object.fromEntries(m.names),
        statistics: m.statistics.map((s) => Object.fromEntries(Object.entries(s).map(([k, v]) => [k, typeof v === 'bigint' ? v.toString() : v]))),
        comments: m.comments,
        ...(m.deviceApps.length > 0 ? { pcapdroidApps: m.deviceApps } : {}),
        ...(m.deviceProcesses.length > 0 ? { appleProcesses: m.deviceProcesses } : {}),
      },
      null,
      2,
    ) + '\n'
  );
}

export function addInfoCommand(program: Command): void {
  program
    .command('info')
    .description('Describe a capture as capinfos does: format, encapsulation, packets, sizes, duration, times (local and UTC), rates, hashes, time order, interfaces, issues.')
    .argument('[inputs...]', 'pcap or pcapng files (also compressed); - for standard input')
    .option('-r, --read <file>', 'a capture, as tshark -r (repeatable)', collect, [])
    .option('--json', 'JSON instead of text (times as ns since the epoch); an array when given several captures')
    .action(async (args: string[], o) => {
      let inputs: string[];
      try {
        // Files, as capinfos takes them; a directory is named as one (not walked as flows walks it).
        inputs = inputsOf(args, o.read);
      } catch (e) {
        process.stderr.write(`cipherscope: ${(e as Error).message}\n`);
        process.exitCode = 1;
        return;
      }
      // As capinfos: one block per capture, a blank line between; a capture that cannot be read is reported and
      // the rest are still described (exit status 1 at the end).
      const infos: CaptureInfo[] = [];
      for (const input of inputs) {
        try {
          const info = await captureInfo(input);
          if (o.json) infos.push(info);
          else process.stdout.write((infos.push(info) > 1 ? '\n' : '') + infoText(info));
        } catch (e) {
          process.stderr.write(`cipherscope: ${(e as Error).message}\n`);
          process.exitCode = 1;
        }
      }
      if (o.json && infos.length > 0) process.stdout.write(inputs.length === 1 ? infoJson(infos[0]) : `[\n${infos.map((i) => infoJson(i).trimEnd()).join(',\n')}\n]\n`);
    });
}
