import { addrText } from '../common/addr.js';
import type { DecodedPacket } from '../decode/packet.js';
import type { AppMatcher } from '../features/apps.js';
import { flowPlugins } from '../features/plugins.js';
import { extractFlows, flowColumns, learnAddresses } from '../meter/meter.js';

/** The flows of one app in a capture: keys (both directions) with their time spans, for `filter --app`. */
export class AppFlows {
  private readonly spans = new Map<string, Array<[number, number]>>();
  private readonly pairs = new Set<string>();

  add(proto: number, a: string, ap: number, b: string, bp: number, first: number, last: number): void {
    for (const k of [`${proto}|${a}|${ap}|${b}|${bp}`, `${proto}|${b}|${bp}|${a}|${ap}`]) {
      const l = this.spans.get(k) ?? [];
      l.push([first, last]);
      this.spans.set(k, l);
    }
    this.pairs.add(`${a}|${b}`).add(`${b}|${a}`);
  }

  has(p: DecodedPacket): boolean {
    if (p.kind === 'fragment') return this.pairs.has(`${addrText(p.ipVersion, p.src0, p.src1, p.src2, p.src3)}|${addrText(p.ipVersion, p.dst0, p.dst1, p.dst2, p.dst3)}`);
    if (p.kind !== 'ip') return false;
    const k = `${p.proto}|${addrText(p.ipVersion, p.src0, p.src1, p.src2, p.src3)}|${p.srcPort}|${addrText(p.ipVersion, p.dst0, p.dst1, p.dst2, p.dst3)}|${p.dstPort}`;
    const t = p.tsSec + p.tsNsec / 1e9;
    // Microsecond slack: spans come from nanosecond integers read back as doubles.
    return this.spans.get(k)?.some(([a, b]) => t >= a - 1e-6 && t <= b + 1e-6) ?? false;
  }

  get size(): number {
    return this.spans.size / 2;
  }
}

export async function findAppFlows(input: string, app: string, matcher: AppMatcher): Promise<AppFlows> {
  const plugins = flowPlugins({ groups: ['tls', 'dns', 'device'] });
  const cols = flowColumns(plugins, true).map((c) => c.name);
  const i = (n: string) => cols.indexOf(n);
  const [ia, iproto, ic, icp, is, isp, ifirst, ilast, ipkg] = ['app', 'protocol', 'client_addr', 'client_port', 'server_addr', 'server_port', 'first_seen_ns', 'last_seen_ns', 'device_app'].map(i);
  const flows = new AppFlows();
  const seen = new Set<string>();
  await extractFlows(
    input,
    (row) => {
      if (typeof row[ia] === 'string') seen.add(row[ia] as string);
      if (row[ia] !== app && row[ipkg] !== app) return;
      const sec = (v: unknown) => Number(v as bigint) / 1e9;
      // Ports are null for protocols without them; packets of those carry port 0.
      flows.add(row[iproto] as number, row[ic] as string, (row[icp] as number | null) ?? 0, row[is] as string, (row[isp] as number | null) ?? 0, sec(row[ifirst]), sec(row[ilast]));
    },
    { plugins, apps: matcher, addresses: await learnAddresses(input, matcher) },
  );
  // An app the rules know, or an Android package (com.example.app), may simply be absent from this capture; any
  // other name is a process a Mac or iPhone named (PKTAP, Apple pcapng) or a typo, told apart by the capture itself.
  if (flows.size === 0 && !matcher.apps.includes(app) && !/^[A-Za-z][\w]*(\.[A-Za-z_][\w]*)+$/.test(app)) {
    const inCapture = [...seen].sort();
    throw new Error(`no app named "${app}" in the rules or in this capture; in the capture: ${inCapture.length > 0 ? inCapture.join(', ') : 'none named'}; in the rules: ${matcher.apps.sort().join(', ')}`);
  }
  return flows;
}
