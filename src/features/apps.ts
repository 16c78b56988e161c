import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { RecordStage } from '../flow/record.js';
import { TOMBSTONE_CAPACITY } from '../flow/tombstones.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import type { AddressBook } from './learned-addresses.js';
import { IpOwnerTable, loadIpLists, type IpLists, type IpOwner } from './ip-lists.js';

/**
 * Which app a flow belongs to, from host names the flow gives away: the TLS SNI, else the name from the DNS answer
 * that preceded the flow (how the paper names WhatsApp flows without SNI), else the server certificate's names.
 */

export interface AppRule {
  name: string;
  category?: string;
  source?: string;
  /** A domain matches itself and every subdomain; the longest matching domain wins. */
  domains: string[];
  /** Android package names of the app (PCAPdroid's device_app), e.g. com.whatsapp. */
  packages?: string[];
}

export interface AppRules {
  version: number;
  about?: string;
  apps: AppRule[];
  /** IP ownership lists (ip-lists.ts), for flows no name and no learned address names: evidence ip-list. */
  ipLists?: IpLists;
  /** In the file: the IP lists' file, relative to the rules file (loadAppRules reads it into ipLists). */
  ip_lists?: string;
}

/** The rules shipped in rules/apps.json. */
export const DEFAULT_RULES_PATH = join(dirname(fileURLToPath(import.meta.url)), '../../rules/apps.json');

export function loadAppRules(path = DEFAULT_RULES_PATH): AppRules {
  let parsed: unknown;
  try {
    parsed = JSON.parse(readFileSync(path, 'utf8'));
  } catch (e) {
    throw new Error(`${path}: cannot read app rules: ${(e as Error).message}`);
  }
  const r = parsed as AppRules;
  if (typeof r !== 'object' || r === null || !Array.isArray(r.apps)) throw new Error(`${path}: app rules need an "apps" array`);
  r.apps.forEach((a, i) => {
    if (typeof a.name !== 'string' || !Array.isArray(a.domains) || a.domains.some((d) => typeof d !== 'string' || d.length === 0)) {
      throw new Error(`${path}: apps[${i}] needs a "name" and a "domains" list of non-empty strings`);
    }
    if (a.packages !== undefined && (!Array.isArray(a.packages) || a.packages.some((x) => typeof x !== 'string' || x.length === 0))) {
      throw new Error(`${path}: apps[${i}] (${a.name}): "packages" must be a list of non-empty strings`);
    }
  });
  if (r.ip_lists !== undefined) {
    if (typeof r.ip_lists !== 'string') throw new Error(`${path}: "ip_lists" must be the path of an IP lists file`);
    r.ipLists = loadIpLists(join(dirname(path), r.ip_lists));
    // An operator's name must not be an app's: operator names are never ground truth, app names are.
    const appNames = new Set(r.apps.map((a) => a.name));
    for (const l of r.ipLists.lists) if (l.kind === 'operator' && appNames.has(l.app)) throw new Error(`${path}: the IP list of operator "${l.app}" has the name of an app rule; give the operator its own name`);
  }
  return r;
}

/** The same rules without IP ownership lists (`--no-ip-lists`). */
export function withoutIpLists(rules: AppRules): AppRules {
  const { ipLists: _lists, ip_lists: _file, ...rest } = rules;
  return rest;
}

export interface AppMatcherOptions {
  /** Name apps only from what the phone recorded (PCAPdroid's uid and package): `label --apps pcapdroid`. */
  deviceOnly?: boolean;
}

export class AppMatcher {
  private readonly byDomain = new Map<string, string>();
  private readonly byPackage = new Map<string, string>();
  private readonly byName = new Map<string, string>();
  /** Built at the first lookup: a capture whose flows all carry names never pays for it. */
  private ownersTable: IpOwnerTable | undefined;
  private readonly hasLists: boolean;
  readonly deviceOnly: boolean;

  constructor(
    readonly rules: AppRules,
    opts: AppMatcherOptions = {},
  ) {
    for (const app of rules.apps) {
      for (const d of app.domains) this.byDomain.set(d.toLowerCase().replace(/^\*\./, '').replace(/\.$/, ''), app.name);
      for (const pkg of app.packages ?? []) this.byPackage.set(pkg, app.name);
      this.byName.set(app.name.toLowerCase(), app.name);
    }
    this.hasLists = rules.ipLists !== undefined && rules.ipLists.lists.length > 0 && opts.deviceOnly !== true;
    this.deviceOnly = opts.deviceOnly === true;
  }

  /**
   * The app of what PCAPdroid recorded: a rule's app by package (com.whatsapp: WhatsApp) or by name, else the
   * package or name itself (the phone says which app it was, whether or not a rule knows it).
   */
  deviceApp(packageName: string | null, appName: string | null): string | undefined {
    if (packageName !== null) return this.byPackage.get(packageName) ?? (appName !== null ? this.byName.get(appName.toLowerCase()) : undefined) ?? packageName;
    if (appName !== null) return this.byName.get(appName.toLowerCase()) ?? appName;
    return undefined;
  }

  /** Names the IP lists give that are operators, not apps (Meta, Google): never ground truth for an app. */
  operators(): Set<string> {
    return new Set((this.rules.ipLists?.lists ?? []).filter((l) => l.kind === 'operator').map((l) => l.app));
  }

  /** The owner of a server address by the IP ownership lists, if the rules have any. */
  owner(addr: string): IpOwner | undefined {
    if (!this.hasLists) return undefined;
    this.ownersTable ??= new IpOwnerTable(this.rules.ipLists!.lists);
    return this.ownersTable.lookup(addr);
  }

  /** The app of a host name: its longest suffix (at a label boundary) that a rule names. */
  match(host: string | null | undefined): string | undefined {
    if (!host) return undefined;
    let h = host.toLowerCase().replace(/\.$/, '');
    for (;;) {
      const app = this.byDomain.get(h);
      if (app !== undefined) return app;
      const dot = h.indexOf('.');
      if (dot < 0) return undefined;
      h = h.slice(dot + 1);
    }
  }

  /** Every name the rules can give: the apps' and the IP lists'. */
  get apps(): string[] {
    return [...new Set([...this.byDomain.values(), ...this.byName.values(), ...(this.hasLists ? (this.rules.ipLists?.lists ?? []).map((l) => l.app) : [])])];
  }
}

export const APP_COLUMNS: readonly ColumnDef[] = [
  { name: 'app', type: 'string', unit: '', identifier: true, description: 'App the flow belongs to by the --apps rules: from a host name of the flow, else a learned server address, else the IP ownership lists; empty when none names it. Never a model input.' },
  {
    name: 'app_evidence',
    type: 'string',
    unit: '',
    identifier: true,
    description:
      'What named the app. First-hand: pcapdroid or pktap (the strongest: the phone recorded the sending app, device_app, or macOS / iOS the sending process, device_app_name, from a PKTAP header or an Apple pcapng process block), sni (TLS/QUIC server name), dns (the DNS answer that preceded the flow), cert (server certificate names, TLS <= 1.2), previous-segment (a later segment of a flow split by the active timeout or --burst-gap, whose handshake was in an earlier segment). Second-hand: addr (no name of its own; another flow of the capture to the same server address and port named this app: see app_evidence_gap_ns); ip-list, the weakest (only the server address, found in a published IP ownership list of rules/ip-lists.json: an operator that runs several apps is named as the operator, e.g. Meta, unless an app\'s own list holds the address).',
  },
  { name: 'app_host', type: 'string', unit: '', identifier: true, description: 'The host name that matched (with pcapdroid: the package, or the name when the capture has no package; with pktap: the process name; with addr: the name the other flow carried; with ip-list: the listed prefix that holds the server address, e.g. 157.240.214.60/31).' },
  {
    name: 'app_evidence_gap_ns',
    type: 'int',
    unit: 'ns',
    identifier: true,
    description: 'With app_evidence addr: when the naming flow started minus when this flow started (negative: the evidence came first; positive: files are read twice, so later evidence counts too). Empty otherwise.',
  },
];

interface Attribution {
  app: string;
  host: string | null;
  evidence: string;
  gapNs: bigint | null;
}

/**
 * Fills the app columns of rows laid out as `columns`, reading the host-name columns present. A flow split into
 * segments (active timeout, burst gap) shows its handshake only in the first; later segments take the app of the
 * segment before, remembered by flow id until a segment ends for good.
 */
export class AppAttributor implements RecordStage {
  readonly columns = APP_COLUMNS;
  private readonly sni: number;
  private readonly flowId: number;
  private readonly segment: number;
  private readonly reason: number;
  private readonly kind: number;
  private readonly continuing = new Map<number, Attribution | null>();
  /**
   * Flow ids of evicted records in continuing, oldest first: most evicted flows never come back, so only the
   * latest TOMBSTONE_CAPACITY are kept (as many as the flow table's tombstones can continue).
   */
  private evictedIds: number[] = [];
  private evictedHead = 0;
  private readonly dns: number;
  private readonly san: number;
  private readonly subject: number;
  private readonly serverAddr: number;
  private readonly serverPort: number;
  private readonly firstSeen: number;
  private readonly deviceUid: number;
  private readonly devicePackage: number;
  private readonly deviceName: number;
  private readonly devicePid: number;

  /**
   * `addresses`: server addresses learned from the capture (learned-addresses.ts), consulted for flows without a
   * name of their own; with `learn`, every flow named first-hand adds to it as it is written (a live stream).
   */
  constructor(
    private readonly matcher: AppMatcher,
    columns: readonly ColumnDef[],
    private readonly addresses?: AddressBook,
    private readonly learn = false,
  ) {
    const at = (n: string) => columns.findIndex((c) => c.name === n);
    this.sni = at('tls_sni');
    this.dns = at('dns_host');
    this.san = at('tls_cert_san');
    this.subject = at('tls_cert_subject');
    this.flowId = at('flow_id');
    this.segment = at('segment');
    this.reason = at('expiry_reason');
    this.kind = at('record_kind');
    this.serverAddr = at('server_addr');
    this.serverPort = at('server_port');
    this.firstSeen = at('first_seen_ns');
    this.deviceUid = at('device_app_uid');
    this.devicePackage = at('device_app');
    this.deviceName = at('device_app_name');
    this.devicePid = at('device_app_pid');
  }

  /** Write app, evidence, host and the evidence gap into row[at .. at + 4). */
  fill(row: CellValue[], at: number): void {
    // What the phone recorded is the strongest evidence; with deviceOnly, the only one.
    const found = this.fromDevice(row, at) || (!this.matcher.deviceOnly && this.fromHosts(row, at));
    if (this.matcher.deviceOnly) return;
    const id = this.flowId >= 0 ? (row[this.flowId] as number) : -1;
    if (!found && id >= 0 && this.segment >= 0 && (row[this.segment] as number) > 0) {
      const prev = this.continuing.get(id);
      // Second-hand evidence stays what it was; first-hand evidence of an earlier segment is previous-segment.
      if (prev && prev.evidence !== 'ip-list') {
        row[at] = prev.app;
        row[at + 1] = prev.evidence === 'addr' ? 'addr' : 'previous-segment';
        row[at + 2] = prev.host;
        row[at + 3] = prev.evidence === 'addr' ? prev.gapNs : null;
      }
    }
    if (this.addresses !== undefined && this.serverAddr >= 0 && this.firstSeen >= 0) this.byAddress(row, at, found);
    if (row[at] === null && this.serverAddr >= 0 && typeof row[this.serverAddr] === 'string') {
      // Weakest evidence, last: who runs the server address, by the published IP lists.
      const owner = this.matcher.owner(row[this.serverAddr] as string);
      if (owner !== undefined) {
        row[at] = owner.app;
        row[at + 1] = 'ip-list';
        row[at + 2] = owner.prefix;
        row[at + 3] = null;
      }
    }
    if (id < 0 || (this.kind >= 0 && row[this.kind] !== 'final')) return;
    const reason = this.reason >= 0 ? row[this.reason] : undefined;
    if (reason === 'burst-gap' || reason === 'active' || reason === 'evicted') {
      this.continuing.set(id, row[at] === null ? null : { app: row[at] as string, host: row[at + 2] as string | null, evidence: row[at + 1] as string, gapNs: row[at + 3] as bigint | null });
      if (reason === 'evicted') this.rememberEvicted(id);
    } else this.continuing.delete(id);
  }

  private rememberEvicted(id: number): void {
    this.evictedIds.push(id);
    if (this.evictedIds.length - this.evictedHead <= TOMBSTONE_CAPACITY) return;
    const old = this.evictedIds[this.evictedHead++];
    this.continuing.delete(old);
    if (this.evictedHead >= 4096 && this.evictedHead * 2 >= this.evictedIds.length) {
      this.evictedIds = this.evictedIds.slice(this.evictedHead);
      this.evictedHead = 0;
    }
  }

  /** Learn from a flow named first-hand (with `learn`), or name a flow that has no name from its server address. */
  private byAddress(row: CellValue[], at: number, found: boolean): void {
    const addr = row[this.serverAddr];
    if (typeof addr !== 'string') return;
    const port = this.serverPort >= 0 ? Number(row[this.serverPort]) : 0;
    const time = row[this.firstSeen] as bigint;
    if (found) {
      if (this.learn) this.addresses!.add({ addr, port, timeNs: time, app: row[at] as string, host: row[at + 2] as string | null });
      return;
    }
    if (row[at] !== null) return; // named by its earlier segment
    const learned = this.addresses!.lookup(addr, port, time);
    if (learned === undefined || learned === 'shared') return;
    row[at] = learned.app;
    row[at + 1] = 'addr';
    row[at + 2] = learned.host;
    row[at + 3] = learned.gapNs;
  }

  /** PCAPdroid's label of the flow (uid -1 is its "unknown"), or the process a PKTAP header named. */
  private fromDevice(row: CellValue[], at: number): boolean {
    const uid = this.deviceUid >= 0 ? row[this.deviceUid] : null;
    const pid = this.devicePid >= 0 ? row[this.devicePid] : null;
    const pkg = this.devicePackage >= 0 && typeof row[this.devicePackage] === 'string' ? (row[this.devicePackage] as string) : null;
    const name = this.deviceName >= 0 && typeof row[this.deviceName] === 'string' ? (row[this.deviceName] as string) : null;
    const byPcapdroid = uid !== null && uid !== -1;
    const app = byPcapdroid || (pid !== null && name !== null) ? this.matcher.deviceApp(pkg, name) : undefined;
    row[at] = app ?? null;
    row[at + 1] = app === undefined ? null : byPcapdroid ? 'pcapdroid' : 'pktap';
    row[at + 2] = app === undefined ? null : (pkg ?? name);
    row[at + 3] = null;
    return app !== undefined;
  }

  private fromHosts(row: CellValue[], at: number): boolean {
    const get = (i: number) => (i >= 0 && typeof row[i] === 'string' ? (row[i] as string) : undefined);
    const tryHost = (host: string | undefined, evidence: string): boolean => {
      const app = this.matcher.match(host);
      if (app === undefined) return false;
      row[at] = app;
      row[at + 1] = evidence;
      row[at + 2] = host ?? null;
      row[at + 3] = null;
      return true;
    };
    if (tryHost(get(this.sni), 'sni') || tryHost(get(this.dns), 'dns')) return true;
    // Certificate names: "DNS:a.example, DNS:b.example" from subjectAltName, or CN= in the subject.
    const names = [...(get(this.san) ?? '').split(/,\s*/).map((x) => x.replace(/^DNS:/, '')), ...(/CN=([^,\n]+)/.exec(get(this.subject) ?? '')?.slice(1) ?? [])];
    for (const n of names) if (n && tryHost(n.replace(/^\*\./, ''), 'cert')) return true;
    row[at] = null;
    row[at + 1] = null;
    row[at + 2] = null;
    row[at + 3] = null;
    return false;
  }
}
