import { readFileSync } from 'node:fs';
import { parseAddr } from '../common/addr.js';

/**
 * IP ownership lists: which operator or app a server address belongs to, from published address lists (the
 * operators' own, or the CIDR lists of the Loyalsoldier/geoip project built from the operators' ASNs). The weakest
 * evidence of all: an address list names who runs the server, not which of the operator's apps talked to it, so an
 * operator that runs several apps (Meta: Facebook, Instagram, WhatsApp, Messenger) names flows by the operator
 * ("Meta") unless an app-specific list (Meta's own WhatsApp server list) covers the address. Lists go stale as
 * operators renumber: each carries its source and date, and `cipherscope ip-lists refresh` rebuilds them from a
 * local copy of the sources.
 *
 * Lookup is longest-prefix match over every list (an app list's /31 inside its operator's /17 wins); for the same
 * prefix in two lists, the one listed first.
 */

export interface IpListSource {
  /** Who publishes the list and how it is made. */
  name: string;
  url: string;
  /** The file, relative to the directory given to `ip-lists refresh --from`, the list is rebuilt from. */
  file: string;
  /** The date of the source's data (YYYY-MM-DD). */
  date: string;
  /** Source revision, where the source is a repository. */
  commit?: string;
}

export interface IpList {
  /** The name the list gives a flow's app column. */
  app: string;
  /** `app`: the addresses serve this one app; `operator`: any of the operator's apps (`covers`). */
  kind: 'app' | 'operator';
  owner: string;
  covers?: string[];
  note?: string;
  source: IpListSource;
  /** CIDR prefixes, canonical (host bits zero), IPv4 then IPv6, sorted. */
  prefixes: string[];
}

export interface IpLists {
  version: number;
  about?: string;
  lists: IpList[];
}

export interface IpOwner {
  app: string;
  /** The prefix that matched, e.g. "157.240.214.60/31". */
  prefix: string;
  kind: IpList['kind'];
}

/** A CIDR prefix as bytes (4 or 16) and a length; undefined if the text is not one. */
export interface Prefix {
  version: 4 | 6;
  bytes: Uint8Array;
  length: number;
}

export function parsePrefix(text: string): Prefix | undefined {
  const slash = text.indexOf('/');
  const a = parseAddr(slash < 0 ? text : text.slice(0, slash));
  if (a === undefined) return undefined;
  const version = a[0] === 4 ? 4 : 6;
  const max = version === 4 ? 32 : 128;
  const lenText = slash < 0 ? String(max) : text.slice(slash + 1);
  if (!/^\d{1,3}$/.test(lenText)) return undefined;
  const length = Number(lenText);
  if (length > max) return undefined;
  const words = version === 4 ? [a[4]] : [a[1], a[2], a[3], a[4]];
  const bytes = new Uint8Array(words.length * 4);
  words.forEach((w, i) => {
    bytes[i * 4] = w >>> 24;
    bytes[i * 4 + 1] = (w >>> 16) & 255;
    bytes[i * 4 + 2] = (w >>> 8) & 255;
    bytes[i * 4 + 3] = w & 255;
  });
  return { version, bytes: masked(bytes, length), length };
}

function masked(bytes: Uint8Array, length: number): Uint8Array {
  const out = new Uint8Array(bytes.length);
  for (let i = 0; i < bytes.length; i++) {
    const bits = Math.max(0, Math.min(8, length - i * 8));
    out[i] = bits === 0 ? 0 : bytes[i] & ((0xff << (8 - bits)) & 0xff);
  }
  return out;
}

/** Canonical text of a prefix: the network address (host bits zero) and its length. */
export function prefixText(p: Prefix): string {
  if (p.version === 4) return `${p.bytes.join('.')}/${p.length}`;
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(((p.bytes[i] << 8) | p.bytes[i + 1]).toString(16));
  // RFC 5952: the longest run of two or more zero groups becomes "::".
  let best = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i >= 2 && j - i > bestLen) [best, bestLen] = [i, j - i];
    i = j;
  }
  const text = best < 0 ? groups.join(':') : `${groups.slice(0, best).join(':')}::${groups.slice(best + bestLen).join(':')}`;
  return `${text}/${p.length}`;
}

/** IPv4 address as an unsigned 32-bit number. */
function v4Number(bytes: Uint8Array): number {
  return ((bytes[0] << 24) | (bytes[1] << 16) | (bytes[2] << 8) | bytes[3]) >>> 0;
}

/** The key of a prefix length within one map: IPv4 the top `length` bits as a number, IPv6 its hex nibbles. */
function v4Key(addr: number, length: number): number {
  return length === 0 ? 0 : addr >>> (32 - length);
}

function v6Hex(bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex');
}

function v6Key(hex: string, length: number): string {
  const whole = length >> 2;
  const rest = length & 3;
  if (rest === 0) return hex.slice(0, whole);
  const nibble = parseInt(hex[whole], 16) & (0xf0 >> rest) & 0xf;
  return hex.slice(0, whole) + nibble.toString(16);
}

/** "a.b.c.d/n" without the general parser (7,000 prefixes a run); undefined for anything else. */
function fastV4(text: string): Prefix | undefined {
  const m = /^(\d{1,3})\.(\d{1,3})\.(\d{1,3})\.(\d{1,3})\/(\d{1,2})$/.exec(text);
  if (m === null) return undefined;
  const b = [Number(m[1]), Number(m[2]), Number(m[3]), Number(m[4])];
  const length = Number(m[5]);
  if (b.some((x) => x > 255) || length > 32) return undefined;
  const bytes = masked(Uint8Array.from(b), length);
  return { version: 4, bytes, length };
}

/** Addresses looked up are remembered (a capture talks to the same servers over and over), up to this many. */
const MEMO_LIMIT = 65536;

/**
 * Longest-prefix match over every list: per prefix length present (longest first), a map from the prefix's bits to
 * its owner, so a lookup costs one map probe per length in use (about 20 for IPv4), not a walk over the prefixes.
 */
export class IpOwnerTable {
  private readonly v4 = new Map<number, Map<number, IpOwner>>();
  private readonly v6 = new Map<number, Map<string, IpOwner>>();
  private readonly v4Lengths: number[];
  private readonly v6Lengths: number[];
  private readonly memo = new Map<string, IpOwner | null>();
  readonly size: number;

  constructor(lists: readonly IpList[]) {
    let size = 0;
    for (const list of lists) {
      for (const text of list.prefixes) {
        const p = fastV4(text) ?? parsePrefix(text);
        if (p === undefined) throw new Error(`IP list ${list.app}: "${text}" is not a CIDR prefix`);
        // The file holds canonical prefixes (refresh writes them so); the text is what app_host shows.
        const owner: IpOwner = { app: list.app, prefix: text, kind: list.kind };
        if (p.version === 4) {
          let m = this.v4.get(p.length);
          if (m === undefined) this.v4.set(p.length, (m = new Map()));
          const k = v4Key(v4Number(p.bytes), p.length);
          if (m.has(k)) continue; // the same prefix in an earlier list wins
          m.set(k, owner);
        } else {
          let m = this.v6.get(p.length);
          if (m === undefined) this.v6.set(p.length, (m = new Map()));
          const k = v6Key(v6Hex(p.bytes), p.length);
          if (m.has(k)) continue;
          m.set(k, owner);
        }
        size++;
      }
    }
    this.v4Lengths = [...this.v4.keys()].sort((a, b) => b - a);
    this.v6Lengths = [...this.v6.keys()].sort((a, b) => b - a);
    this.size = size;
  }

  /** The owner of an address (IPv4 or IPv6 text), by its longest listed prefix. */
  lookup(addr: string): IpOwner | undefined {
    const known = this.memo.get(addr);
    if (known !== undefined) return known ?? undefined;
    const found = this.find(addr);
    if (this.memo.size >= MEMO_LIMIT) this.memo.clear();
    this.memo.set(addr, found ?? null);
    return found;
  }

  private find(addr: string): IpOwner | undefined {
    const p = parsePrefix(addr);
    if (p === undefined) return undefined;
    if (p.version === 4) {
      const a = v4Number(p.bytes);
      for (const len of this.v4Lengths) {
        const hit = this.v4.get(len)!.get(v4Key(a, len));
        if (hit !== undefined) return hit;
      }
      return undefined;
    }
    const hex = v6Hex(p.bytes);
    for (const len of this.v6Lengths) {
      const hit = this.v6.get(len)!.get(v6Key(hex, len));
      if (hit !== undefined) return hit;
    }
    return undefined;
  }
}

export function validateIpLists(parsed: unknown, where: string): IpLists {
  const r = parsed as IpLists;
  if (typeof r !== 'object' || r === null || !Array.isArray(r.lists)) throw new Error(`${where}: IP lists need a "lists" array`);
  r.lists.forEach((l, i) => {
    const at = `${where}: lists[${i}]`;
    if (typeof l.app !== 'string' || l.app === '') throw new Error(`${at} needs an "app" name`);
    if (l.kind !== 'app' && l.kind !== 'operator') throw new Error(`${at} (${l.app}): "kind" must be "app" or "operator"`);
    const s = l.source;
    if (typeof s !== 'object' || s === null || typeof s.name !== 'string' || typeof s.file !== 'string' || !/^\d{4}-\d{2}-\d{2}$/.test(String(s.date))) {
      throw new Error(`${at} (${l.app}): "source" needs a name, a file and a date (YYYY-MM-DD)`);
    }
    if (!Array.isArray(l.prefixes)) throw new Error(`${at} (${l.app}): "prefixes" must be a list`);
    // The shape only: the table parses every prefix when it is built, and names a bad one then.
    l.prefixes.forEach((p, j) => {
      if (typeof p !== 'string' || !/^[0-9A-Fa-f:.]{2,45}\/\d{1,3}$/.test(p)) throw new Error(`${at} (${l.app}): prefixes[${j}] ${JSON.stringify(p)} is not a CIDR prefix`);
    });
  });
  return r;
}

export function loadIpLists(path: string): IpLists {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read IP lists: ${(e as Error).message}`);
  }
  return validateIpLists(parsed, path);
}

export interface ParsedPrefixList {
  prefixes: string[];
  /** Lines that were neither blank, a comment, nor held a prefix: 1-based line number and the text. */
  skipped: { line: number; text: string }[];
}

const CIDR_TOKEN = /(?:\d{1,3}(?:\.\d{1,3}){3}|[0-9A-Fa-f]{0,4}(?::[0-9A-Fa-f]{0,4}){2,7}(?:\d{1,3}(?:\.\d{1,3}){3})?)(?:\/\d{1,3})?/g;

/**
 * The prefixes of a list file as the sources publish them: one per line (Loyalsoldier/geoip text/*.txt, Telegram's
 * cidr.txt, Meta's WhatsApp server list), or the first prefix in a line of other text (nDPI's generated
 * `{ 0x9DF0D63C /* 157.240.214.60/31 *\/, 31, ... }` lines). `#` and `//` start comments. Prefixes come out
 * canonical, de-duplicated and sorted (IPv4 first).
 */
export function parsePrefixList(text: string): ParsedPrefixList {
  const found = new Map<string, Prefix>();
  const skipped: ParsedPrefixList['skipped'] = [];
  text.split(/\r?\n/).forEach((raw, i) => {
    const line = raw.replace(/(^|\s)(#|\/\/).*$/, '').trim();
    if (line === '' || /^[/*]/.test(line)) return;
    for (const m of line.matchAll(CIDR_TOKEN)) {
      const p = parsePrefix(m[0]);
      if (p === undefined) continue;
      const t = prefixText(p);
      found.set(t, p);
      return;
    }
    if (skipped.length < 1000) skipped.push({ line: i + 1, text: raw.slice(0, 120) });
  });
  const prefixes = [...found.entries()]
    .sort(([, a], [, b]) => a.version - b.version || compareBytes(a.bytes, b.bytes) || a.length - b.length)
    .map(([t]) => t);
  return { prefixes, skipped };
}

function compareBytes(a: Uint8Array, b: Uint8Array): number {
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return a[i] - b[i];
  return 0;
}

export interface IpListChange {
  app: string;
  file: string;
  before: number;
  after: number;
  added: number;
  removed: number;
  skippedLines: ParsedPrefixList['skipped'];
}

/**
 * Rebuilds every list from its source file, as `read(list)` finds it (a local copy of the sources: the lists go
 * stale, so a refresh is routine). A list whose file is missing is an error, not an empty list: an empty list
 * would silently name nothing. `date`: the date of the new data, set on every refreshed list.
 */
export function refreshIpLists(
  lists: IpLists,
  read: (list: IpList) => string,
  date: string,
  opts: { only?: (list: IpList) => boolean; commit?: string } = {},
): { lists: IpLists; changes: IpListChange[] } {
  if (!/^\d{4}-\d{2}-\d{2}$/.test(date)) throw new Error(`--date must be YYYY-MM-DD, not "${date}"`);
  const changes: IpListChange[] = [];
  const out: IpList[] = lists.lists.map((list) => {
    if (opts.only !== undefined && !opts.only(list)) return list;
    const parsed = parsePrefixList(read(list));
    if (parsed.prefixes.length === 0) throw new Error(`IP list ${list.app}: ${list.source.file} holds no prefix`);
    const old = new Set(list.prefixes);
    const now = new Set(parsed.prefixes);
    changes.push({
      app: list.app,
      file: list.source.file,
      before: old.size,
      after: now.size,
      added: parsed.prefixes.filter((p) => !old.has(p)).length,
      removed: list.prefixes.filter((p) => !now.has(p)).length,
      skippedLines: parsed.skipped,
    });
    // A revision recorded before no longer describes the new data unless it is given again.
    const { commit: _commit, ...source } = list.source;
    return { ...list, source: { ...source, date, ...(opts.commit !== undefined ? { commit: opts.commit } : {}) }, prefixes: parsed.prefixes };
  });
  return { lists: { ...lists, lists: out }, changes };
}
