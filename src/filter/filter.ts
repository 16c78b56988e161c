import { parseAddr } from '../common/addr.js';
import { type DecodedPacket, IPPROTO } from '../decode/packet.js';

/**
 * LAN chatter that never belongs to an app's traffic. Each entry is a transport protocol and a port that either
 * side may use; the reason name is what the drop summary prints.
 */
const NOISE_PORTS: ReadonlyArray<{ proto: number; port: number; reason: string }> = [
  { proto: IPPROTO.UDP, port: 1900, reason: 'ssdp' },
  { proto: IPPROTO.UDP, port: 5353, reason: 'mdns' },
  { proto: IPPROTO.UDP, port: 5355, reason: 'llmnr' },
  { proto: IPPROTO.TCP, port: 5355, reason: 'llmnr' },
  { proto: IPPROTO.UDP, port: 137, reason: 'netbios' },
  { proto: IPPROTO.UDP, port: 138, reason: 'netbios' },
  { proto: IPPROTO.TCP, port: 139, reason: 'netbios' },
  { proto: IPPROTO.UDP, port: 67, reason: 'dhcp' },
  { proto: IPPROTO.UDP, port: 68, reason: 'dhcp' },
  { proto: IPPROTO.UDP, port: 546, reason: 'dhcpv6' },
  { proto: IPPROTO.UDP, port: 547, reason: 'dhcpv6' },
];

const noiseByKey = new Map<number, string>(NOISE_PORTS.map((n) => [n.proto * 65536 + n.port, n.reason]));

/** An address or CIDR prefix, as four 32-bit words and a prefix length. */
export interface HostRule {
  text: string;
  version: number;
  words: [number, number, number, number];
  prefix: number;
}

export function parseHostRule(text: string): HostRule {
  const [addrText, prefixText] = text.split('/');
  const a = parseAddr(addrText.trim());
  if (a === undefined) throw new Error(`"${text}" is not an IPv4 or IPv6 address or prefix`);
  const max = a[0] === 4 ? 32 : 128;
  const prefix = prefixText === undefined ? max : Number(prefixText);
  if (!Number.isInteger(prefix) || prefix < 0 || prefix > max) throw new Error(`"${text}": prefix length must be 0..${max}`);
  return { text, version: a[0], words: [a[1], a[2], a[3], a[4]], prefix };
}

function matches(rule: HostRule, version: number, w0: number, w1: number, w2: number, w3: number): boolean {
  if (rule.version !== version) return false;
  // IPv4 lives in word 3, so its prefix bits start there.
  const words = [w0, w1, w2, w3];
  let bits = rule.prefix;
  for (let i = version === 4 ? 3 : 0; i < 4 && bits > 0; i++) {
    const take = Math.min(bits, 32);
    const mask = take === 32 ? 0xffffffff : ~(0xffffffff >>> take) >>> 0;
    if (((words[i] ^ rule.words[i]) & mask) >>> 0 !== 0) return false;
    bits -= take;
  }
  return true;
}

export interface FilterOptions {
  /** Drop LAN chatter (SSDP, mDNS, LLMNR, NetBIOS, DHCP) and non-IP frames. */
  dropNoise: boolean;
  /** Drop packets to or from these hosts (e.g. the proxy host's own background traffic). */
  excludeHosts: string[];
  /** If given, keep only packets to or from one of these hosts. */
  onlyHosts: string[];
}

export const DEFAULT_FILTER: FilterOptions = { dropNoise: true, excludeHosts: [], onlyHosts: [] };

/**
 * Decides, per decoded packet, whether it is kept, and counts what it drops by reason. Malformed frames and
 * unsupported link types are dropped and counted too. Fragments held for reassembly are judged by address
 * only (their ports are not known yet).
 */
export class PacketFilter {
  readonly dropped = new Map<string, number>();
  kept = 0;
  private readonly exclude: HostRule[];
  private readonly only: HostRule[];

  constructor(private readonly opts: FilterOptions = DEFAULT_FILTER) {
    this.exclude = opts.excludeHosts.map(parseHostRule);
    this.only = opts.onlyHosts.map(parseHostRule);
  }

  /** Whether verdict() would drop the packet, without counting it (a packet this run only learns from). */
  drops(p: DecodedPacket): boolean {
    return this.reason(p) !== undefined;
  }

  /** Returns undefined to keep the packet, or the reason it is dropped. */
  verdict(p: DecodedPacket): string | undefined {
    const why = this.reason(p);
    if (why === undefined) this.kept++;
    else this.dropped.set(why, (this.dropped.get(why) ?? 0) + 1);
    return why;
  }

  private reason(p: DecodedPacket): string | undefined {
    switch (p.kind) {
      case 'non-ip':
        return this.opts.dropNoise ? `non-ip:${p.reason}` : undefined;
      case 'malformed':
        return `malformed:${p.reason}`;
      case 'unsupported-link':
        return `unsupported-link:${p.reason}`;
      default:
        break;
    }
    if (this.exclude.length > 0 && this.hostIn(this.exclude, p)) return 'excluded-host';
    if (this.only.length > 0 && !this.hostIn(this.only, p)) return 'not-only-host';
    if (this.opts.dropNoise && p.kind === 'ip') {
      const k = p.proto * 65536;
      const r = noiseByKey.get(k + p.dstPort) ?? noiseByKey.get(k + p.srcPort);
      if (r !== undefined) return r;
    }
    return undefined;
  }

  private hostIn(rules: HostRule[], p: DecodedPacket): boolean {
    for (const r of rules) {
      if (matches(r, p.ipVersion, p.src0, p.src1, p.src2, p.src3) || matches(r, p.ipVersion, p.dst0, p.dst1, p.dst2, p.dst3)) return true;
    }
    return false;
  }

  /** A packet this filter kept that a later rule (the flows of one app) drops after all: counted under `why`. */
  /** Count a packet dropped before this filter saw it (the capture filter), under `why`. */
  count(why: string): void {
    this.dropped.set(why, (this.dropped.get(why) ?? 0) + 1);
  }

  revoke(why: string): void {
    this.kept--;
    this.dropped.set(why, (this.dropped.get(why) ?? 0) + 1);
  }

  summary(): Record<string, number> {
    return Object.fromEntries([...this.dropped.entries()].sort((a, b) => b[1] - a[1]));
  }
}
