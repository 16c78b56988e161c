import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { InvalidArgumentError } from 'commander';
import { pluginGroups } from '../features/registry.js';
import { compileBpf } from '../filter/bpf.js';
import { type AppRules, loadAppRules, withoutIpLists } from '../features/apps.js';
import type { ColumnDef } from '../flow/schema.js';
import { COLUMN_SETS } from '../output/column-sets.js';
import { type ColumnPick, pickColumns } from '../output/columns.js';

/** Option parsers shared by the commands: each rejects what it cannot read, naming what it wants. */

export function seconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of seconds >= 0');
  return n;
}

export function milliseconds(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n < 0) throw new InvalidArgumentError('must be a number of milliseconds >= 0');
  return n;
}

export function count(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 1_000_000) throw new InvalidArgumentError('must be a whole number from 0 to 1000000');
  return n;
}

/** --threads: a whole number from 1 (this thread alone); more threads than cores are allowed (they then share them). */
export function threadCount(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 1 || n > 1024) throw new InvalidArgumentError('must be a whole number of threads from 1 to 1024');
  return n;
}

/** A memory budget in MiB (at least 16), or "none" for no budget: ExtractOptions.memoryMiB. */
export function mebibytes(v: string): number {
  if (v === 'none') return Infinity;
  const n = Number(v);
  if (!Number.isFinite(n) || n < 16) throw new InvalidArgumentError('must be a number of MiB >= 16, or "none"');
  return n;
}

/** The capture-filter option's help, the same in every command (-f, as tcpdump and tshark). */
export const BPF_HELP = 'capture filter in tcpdump syntax (pcap-filter(7)): only the packets it matches are read, e.g. "tcp port 443 and not host 10.0.0.1"';

export const COUNT_HELP = 'stop after this many packets (of those the capture filter passes), as tshark -c and tcpdump -c; flows still open then end as at the end of the input';

/** A packet count (-c): a whole number, at least 1. */
export function packetCount(v: string): number {
  const n = Number(v);
  if (!/^[0-9]+$/.test(v.trim()) || !Number.isSafeInteger(n) || n < 1) throw new InvalidArgumentError('must be a whole number of packets, at least 1');
  return n;
}

/** A capture filter, checked now so a mistake is a usage error naming the word (compiled again where it is used). */
export function captureFilter(v: string): string {
  try {
    compileBpf(v);
  } catch (e) {
    throw new InvalidArgumentError((e as Error).message);
  }
  return v;
}

/** The inputs of a command that takes captures as arguments and/or as tshark's -r FILE (repeatable). */
export function inputsOf(positional: readonly string[] | string | undefined, read: readonly string[] | undefined): string[] {
  const all = [...(positional === undefined ? [] : typeof positional === 'string' ? [positional] : positional), ...(read ?? [])];
  if (all.length === 0) throw new Error('no input: give a capture file (or -r FILE; - for standard input)');
  return all;
}

/** Names of capture files in a directory: pcap, pcapng, cap, and those compressed with gzip, zstd or xz. */
const CAPTURE_NAME = /\.(pcap|pcapng|cap|dmp)(\.(gz|zst|xz))?$/i;

/**
 * Inputs with every directory replaced by the capture files under it, recursively, in sorted path order (hidden
 * entries skipped), as `find DIR -name '*.pcap*' | sort` would give them. A directory without captures is an error.
 */
export function expandDirectories(inputs: readonly string[]): string[] {
  const out: string[] = [];
  for (const input of inputs) {
    let st;
    try {
      st = input === '-' ? undefined : statSync(input);
    } catch {
      st = undefined; // the reader names the missing file
    }
    if (st === undefined || !st.isDirectory()) {
      out.push(input);
      continue;
    }
    const found: string[] = [];
    const walk = (dir: string): void => {
      for (const e of readdirSync(dir, { withFileTypes: true })) {
        if (e.name.startsWith('.')) continue;
        const p = join(dir, e.name);
        if (e.isDirectory()) walk(p);
        else if (e.isFile() && CAPTURE_NAME.test(e.name)) found.push(p);
      }
    };
    walk(input);
    if (found.length === 0) throw new Error(`${input}: a directory without capture files (*.pcap, *.pcapng, *.cap, also .gz, .zst, .xz)`);
    out.push(...found.sort());
  }
  return out;
}

/** A comma-separated list. */
export function list(v: string): string[] {
  return v
    .split(',')
    .map((s) => s.trim())
    .filter(Boolean);
}

/** A repeatable option. */
export function collect(v: string, prev: string[]): string[] {
  return [...prev, v];
}

/** Run a command's body; an error becomes one line on stderr and exit status 1, never a stack trace. */
export async function reportErrors(body: () => unknown): Promise<void> {
  try {
    await body();
  } catch (e) {
    process.stderr.write(`cipherscope: ${(e as Error).message}\n`);
    process.exitCode = 1;
  }
}

/** --features: groups by name, "all" (the optional ones too) or "none"; any registered plugin's name. */
export function featureGroups(v: string): string[] {
  if (v === 'none') return [];
  const known = pluginGroups('all');
  if (v === 'all') return known;
  const groups = v.split(',').map((g) => g.trim());
  for (const g of groups) if (!known.includes(g)) throw new InvalidArgumentError(`unknown feature group "${g}"; choose from ${known.join(', ')}`);
  return groups;
}

/**
 * `--apps [rules.json]` with `--no-ip-lists`: the rules to name apps by (true or undefined path: the shipped
 * rules/apps.json), without the IP ownership lists the rules refer to when `ipLists` is false.
 */
export function appRules(apps: string | true | undefined, ipLists: boolean | undefined): AppRules {
  const rules = loadAppRules(apps === true ? undefined : apps);
  return ipLists === false ? withoutIpLists(rules) : rules;
}

export const NO_IP_LISTS_HELP = 'with --apps: leave out the IP ownership lists (evidence ip-list) the rules refer to';

/** --csv-raw, the same words in every command that writes CSV. */
export const CSV_RAW_HELP = "CSV strings as they came off the wire: no escapes for control characters, no ' before a leading = + - @ (the default guards spreadsheets and naive readers; JSON Lines and Parquet are always raw)";

export const COLUMNS_HELP = 'write only these columns, comma-separated, in this order (as tshark -T fields -e; names: cipherscope schema), or a named set: nfstream, cicflowmeter (their names and units: docs/column-sets.md)';
export const COLUMN_NAMES_HELP = 'write only these columns, comma-separated, in this order (as tshark -T fields -e; names: cipherscope schema, and the predicted_ columns with a model)';

/**
 * --columns of a command other than flows: names only. The named sets measure sizes as their meter does, which
 * flows arranges (--length); a command that meters as its model was trained cannot.
 */
export function pickNamedColumns(all: readonly ColumnDef[], names: string, command: string): ColumnPick {
  if (COLUMN_SETS[names.trim()] !== undefined) throw new Error(`--columns ${names.trim()}: the named column sets are written by flows (which meters sizes as that tool does); ${command} takes column names`);
  return pickColumns(all, names);
}
