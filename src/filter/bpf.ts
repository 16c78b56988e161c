import { LinkType, normalizeLinkType } from '../pcap/types.js';
import { type LinkPayload, nflog, pktap, ppi, ppp } from '../decode/links.js';
import { type WlanBody, avsLength, prismLength, radiotapLength, wlanBody } from '../decode/wlan.js';

/**
 * Capture filters in tcpdump's syntax (pcap-filter(7)) for files: `-f 'tcp port 443 and not host 10.0.0.1'`.
 * There is no libpcap binding here (none installs without a compiler), so expressions are parsed and evaluated by
 * hand, with libpcap's semantics, on the frame as captured, before decoding, as libpcap's compiled program would:
 *
 * - Link types: Ethernet (1), Linux cooked v1 (113) and v2 (276), raw IP (101, 228, 229, 12, 14), BSD and OpenBSD
 *   loopback (0, 108), 802.11 (105; after radiotap 127, Prism or AVS 119, AVS 163, PPI 192), PPP (9, 50, 166),
 *   PPPoE (51), Cisco HDLC (104), OpenBSD enc (109), pflog (117), Solaris IPNET (226), and PPP with a direction byte (204), NFLOG (239) and PKTAP (258),
 *   which libpcap cannot filter: the packet inside them is read.
 *   `ip` and `ip6` test the link-layer protocol; on Ethernet a VLAN-tagged frame is neither until `vlan` has been
 *   said, and every primitive after a `vlan` in the expression looks 4 bytes further in (libpcap does the same).
 * - `host`/`net` of an IPv4 address also match ARP and RARP sender and target addresses; `port` and `portrange` are
 *   TCP, UDP or SCTP ports, of IPv4 packets that are not non-first fragments, and of IPv6 packets whose fixed
 *   header's next header is the transport (no extension header chain, as libpcap); `tcp`, `udp`, `icmp6`,
 *   `ip6 proto N` also accept one fragment header before it.
 * - A read past the captured bytes rejects the packet, whatever the rest of the expression says (a BPF program's
 *   out-of-bounds load returns 0).
 *
 * Supported: host, net (a/len, a mask m, a), port, portrange, src, dst, src or dst, src and dst, ip, ip6, arp,
 * rarp, tcp, udp, icmp, icmp6, sctp, proto N, ip proto N, ip6 proto N (a number or a name: \tcp, tcp), vlan [id],
 * less N, greater N, len <op> N, and, or, not, &&, ||, !, parentheses, and a bare value after a primitive
 * taking the primitive's qualifiers ("host a or b"). Anything else is an error naming the word.
 */

export class BpfSyntaxError extends Error {
  constructor(expr: string, at: number, what: string) {
    super(`capture filter "${expr}": ${what}${at >= 0 ? ` (at character ${at + 1})` : ''}`);
    this.name = 'BpfSyntaxError';
  }
}

/** One frame as libpcap's program sees it: the captured bytes, their link type, and the length on the wire. */
export interface BpfFrame {
  data: Uint8Array;
  offset: number;
  capLen: number;
  wireLen: number;
  linkType: number;
}

/** A compiled filter: true to keep the frame. */
export type BpfFilter = (f: BpfFrame) => boolean;

const ETH_IP = 0x0800;
const ETH_IP6 = 0x86dd;
const ETH_ARP = 0x0806;
const ETH_RARP = 0x8035;
const VLAN_TYPES = [0x8100, 0x88a8, 0x9100];
const PROTO_NAMES: Record<string, number> = { icmp: 1, igmp: 2, tcp: 6, udp: 17, icmp6: 58, sctp: 132, esp: 50, ah: 51, gre: 47, pim: 103, vrrp: 112 };
const TRANSPORTS = [6, 17, 132];
const MAX_NESTING = 256;

/** Thrown by a read past the captured bytes; the filter then rejects the frame. */
class OutOfBounds {}
const OOB = new OutOfBounds();

/**
 * Reads the frame's bytes from its link-layer header, or, where one link-layer header holds another (PKTAP) or the
 * packet sits in an attribute (NFLOG), from `base`, up to `limit`.
 */
class Ctx {
  f!: BpfFrame;
  base = 0;
  limit = 0;
  private u8(at: number): number {
    if (at < 0 || at + this.base >= this.limit) throw OOB;
    return this.f.data[this.f.offset + this.base + at];
  }
  u16(at: number): number {
    return (this.u8(at) << 8) | this.u8(at + 1);
  }
  u32(at: number): number {
    return ((this.u8(at) << 24) | (this.u8(at + 1) << 16) | (this.u8(at + 2) << 8) | this.u8(at + 3)) >>> 0;
  }
  byte(at: number): number {
    return this.u8(at);
  }
}

/** Where the link header puts the network-layer protocol, and where the network layer starts. */
interface Link {
  /** Offset of the network layer with `shift` more bytes of VLAN tags (of this frame `c`, where it varies). */
  payload(shift: number, c: Ctx): number;
  /** Whether the network protocol is `ethertype` (after `shift` bytes of tags). */
  is(c: Ctx, ethertype: number, shift: number): boolean;
}

const ETHERNET: Link = {
  payload: (shift) => 14 + shift,
  is: (c, t, shift) => c.u16(12 + shift) === t,
};
const SLL: Link = { payload: () => 16, is: (c, t) => c.u16(14) === t };
const SLL2: Link = { payload: () => 20, is: (c, t) => c.u16(0) === t };
const RAW: Link = {
  payload: () => 0,
  is: (c, t) => (t === ETH_IP ? (c.byte(0) & 0xf0) === 0x40 : t === ETH_IP6 ? (c.byte(0) & 0xf0) === 0x60 : false),
};
const RAW4: Link = { payload: () => 0, is: (_c, t) => t === ETH_IP };
const RAW6: Link = { payload: () => 0, is: (_c, t) => t === ETH_IP6 };
const NULL: Link = {
  payload: () => 4,
  is: (c, t) => {
    // The address family in the byte order of the machine that wrote the file: either order is taken.
    let af = c.u32(0);
    if (af > 0xffff) af = ((af & 0xff) << 24) | ((af & 0xff00) << 8) | ((af >>> 8) & 0xff00) | (af >>> 24);
    return t === ETH_IP ? af === 2 : t === ETH_IP6 ? af === 24 || af === 28 || af === 30 : false;
  },
};

/** The length of a radio header before an 802.11 frame, or -1 when it is cut short (decode/wlan.ts). */
type RadioHeader = (d: Uint8Array, o: number, end: number) => number;

/** OpenBSD's enc(4) (109): the address family first as in loopback captures, the packet after the 12-byte header. */
const ENC: Link = { payload: () => 12, is: NULL.is };
/** Solaris IPNET (226): the family in the second byte (2 IPv4, 26 IPv6), the packet after the 24-byte header. */
const IPNET: Link = {
  payload: () => 24,
  is: (c, t) => (t === ETH_IP ? c.byte(1) === 2 : t === ETH_IP6 ? c.byte(1) === 26 : false),
};

/**
 * 802.11 after the radio header `radio` measures (none, radiotap, Prism or AVS): the network layer follows the data
 * frame's LLC/SNAP header, where decode/wlan.ts finds it; a frame without one (management, protected, null data)
 * matches no network test.
 */
function wlanLink(radio: RadioHeader): Link {
  const body: WlanBody = { snap: -1, reason: '' };
  // The SNAP header's offset from the frame's start, or -1.
  const snap = (c: Ctx): number => {
    const { data, offset } = c.f;
    const start = offset + c.base;
    const end = offset + c.limit;
    const rt = radio(data, start, end);
    if (rt < 0) return -1;
    const at = wlanBody(data, start + rt, end, body, false).snap;
    return at < 0 ? -1 : at - start;
  };
  return {
    payload: (shift, c) => {
      const at = snap(c);
      if (at < 0) throw OOB;
      return at + 8 + shift;
    },
    is: (c, t, shift) => {
      const at = snap(c);
      return at >= 0 && c.u16(at + 6 + shift) === t;
    },
  };
}
const WLAN = wlanLink(() => 0);
const WLAN_RADIOTAP = wlanLink(radiotapLength);
const WLAN_PRISM = wlanLink(prismLength);
const WLAN_AVS = wlanLink(avsLength);

/** What libpcap tests for `ip`, `ip6` and the rest on PPP: the PPP protocol of the ethertype (gencode.c's mapping). */
function pppProtocolOf(ethertype: number): number {
  return ethertype === ETH_IP ? 0x0021 : ethertype === ETH_IP6 ? 0x0057 : ethertype;
}

/**
 * PPP (9, 50) as libpcap compiles it: the protocol at offset 2 and the network layer at 4, that is with the HDLC
 * address and control bytes present (a frame without them, or with a one-byte protocol, matches as libpcap matches
 * it; the decoder reads those too). On link type 50 a Cisco HDLC frame is read the same way, as libpcap does.
 */
const PPP: Link = { payload: () => 4, is: (c, t) => c.u16(2) === pppProtocolOf(t) };
/**
 * PPP after a direction byte (204), which libpcap cannot filter ("link-layer type filtering not implemented"): the
 * packet inside as the decoder finds it, with or without the address and control bytes.
 */
const PPP_WITH_DIR: Link = (() => {
  const out: LinkPayload = { at: -1, end: 0, type: -1, reason: '', malformed: false };
  const inner = (c: Ctx): LinkPayload => ppp(c.f.data, c.f.offset + c.base + 1, c.f.offset + c.limit, out);
  return {
    payload: (shift, c) => {
      const l = inner(c);
      if (l.at < 0) throw OOB;
      return l.at - c.f.offset - c.base + shift;
    },
    is: (c, t) => inner(c).type === t,
  };
})();
/** PPPoE without Ethernet (51): the PPP protocol after the 6-byte session header. */
const PPP_ETHER: Link = { payload: () => 8, is: (c, t) => c.u16(6) === pppProtocolOf(t) };
/** Cisco HDLC (104): address, control, then an ethertype. */
const C_HDLC: Link = { payload: () => 4, is: (c, t) => c.u16(2) === t };
/**
 * pflog (117): the packet at the header's length (its first byte) rounded up to four, the address family in the
 * second byte. IPv6 is any of the BSDs' numbers (24, 28, 30): libpcap compares with the AF_INET6 of the machine the
 * filter is compiled on (10 on Linux), so tcpdump on Linux finds no IPv6 in a pflog file.
 */
const PFLOG: Link = {
  payload: (shift, c) => ((c.byte(0) + 3) & ~3) + shift,
  is: (c, t) => {
    const af = c.byte(1);
    return t === ETH_IP ? af === 2 : t === ETH_IP6 ? af === 24 || af === 28 || af === 30 : false;
  },
};
/**
 * NFLOG (239) without a payload attribute: `ip` and `ip6` test the address family, as libpcap does; nothing else
 * can match. A frame with one is read from the attribute's value as raw IP (see compileBpf), which libpcap cannot do
 * (tcpdump stops with "NFLOG link-layer type filtering not implemented").
 */
const NFLOG_HEADER: Link = {
  payload: () => {
    throw OOB;
  },
  is: (c, t) => (t === ETH_IP ? c.byte(0) === 2 : t === ETH_IP6 ? c.byte(0) === 10 : false),
};

function linkOf(linkType: number): Link | undefined {
  switch (linkType) {
    case LinkType.ETHERNET:
      return ETHERNET;
    case LinkType.LINUX_SLL:
      return SLL;
    case LinkType.LINUX_SLL2:
      return SLL2;
    case LinkType.RAW:
    case 12: // DLT_RAW values some systems wrote (normalizeLinkType maps them; a caller's raw value is taken too)
    case 14:
      return RAW;
    case LinkType.IPV4:
      return RAW4;
    case LinkType.IPV6:
      return RAW6;
    case LinkType.NULL:
    case LinkType.LOOP:
      return NULL;
    case LinkType.ENC:
      return ENC;
    case LinkType.IPNET:
      return IPNET;
    case LinkType.PPP:
    case LinkType.PPP_HDLC:
    case LinkType.PPP_PPPD: // the direction byte where the address is: the protocol is at 2 all the same
      return PPP;
    case LinkType.PPP_WITH_DIR:
      return PPP_WITH_DIR;
    case LinkType.PPP_ETHER:
      return PPP_ETHER;
    case LinkType.C_HDLC:
      return C_HDLC;
    case LinkType.PFLOG:
      return PFLOG;
    case LinkType.IEEE802_11:
      return WLAN;
    case LinkType.IEEE802_11_RADIOTAP:
      return WLAN_RADIOTAP;
    case LinkType.IEEE802_11_PRISM:
      return WLAN_PRISM;
    case LinkType.IEEE802_11_AVS:
      return WLAN_AVS;
    default:
      return undefined;
  }
}

type Node = (c: Ctx, l: Link) => boolean;

// ---------------------------------------------------------------------------------------------------------------
// Primitives, each with the VLAN shift in force where it was written.

function ethertype(t: number, shift: number): Node {
  return (c, l) => l.is(c, t, shift);
}

/** IPv4 protocol field, or IPv6 next header (or one fragment header, then its next header). */
function ipProto(v: number, shift: number, family: 4 | 6 | 0): Node {
  const v4: Node = (c, l) => l.is(c, ETH_IP, shift) && c.byte(l.payload(shift, c) + 9) === v;
  const v6: Node = (c, l) => {
    if (!l.is(c, ETH_IP6, shift)) return false;
    const n = l.payload(shift, c);
    const nh = c.byte(n + 6);
    return nh === v || (nh === 44 && c.byte(n + 40) === v);
  };
  return family === 4 ? v4 : family === 6 ? v6 : (c, l) => v4(c, l) || v6(c, l);
}

type Dir = 'src' | 'dst' | 'src or dst' | 'src and dst';

function both(dir: Dir, src: () => boolean, dst: () => boolean): boolean {
  switch (dir) {
    case 'src':
      return src();
    case 'dst':
      return dst();
    case 'src and dst':
      return src() && dst();
    default:
      return src() || dst();
  }
}

function v4Net(addr: number, mask: number, dir: Dir, shift: number, family: string): Node {
  const m = (x: number) => ((x & mask) >>> 0) === ((addr & mask) >>> 0);
  const ip: Node = (c, l) => {
    if (!l.is(c, ETH_IP, shift)) return false;
    const n = l.payload(shift, c);
    return both(dir, () => m(c.u32(n + 12)), () => m(c.u32(n + 16)));
  };
  const arp = (t: number): Node => (c, l) => {
    if (!l.is(c, t, shift)) return false;
    const n = l.payload(shift, c);
    return both(dir, () => m(c.u32(n + 14)), () => m(c.u32(n + 24)));
  };
  if (family === 'ip') return ip;
  if (family === 'arp') return arp(ETH_ARP);
  if (family === 'rarp') return arp(ETH_RARP);
  const a = arp(ETH_ARP);
  const r = arp(ETH_RARP);
  return (c, l) => ip(c, l) || a(c, l) || r(c, l);
}

function v6Net(words: number[], bits: number, dir: Dir, shift: number): Node {
  const masks = [0, 1, 2, 3].map((i) => (bits >= 32 * (i + 1) ? 0xffffffff : bits <= 32 * i ? 0 : (0xffffffff << (32 - (bits - 32 * i))) >>> 0));
  const m = (c: Ctx, at: number) => {
    for (let i = 0; i < 4; i++) if (((c.u32(at + 4 * i) & masks[i]) >>> 0) !== ((words[i] & masks[i]) >>> 0)) return false;
    return true;
  };
  return (c, l) => {
    if (!l.is(c, ETH_IP6, shift)) return false;
    const n = l.payload(shift, c);
    return both(dir, () => m(c, n + 8), () => m(c, n + 24));
  };
}

/** Ports in [lo, hi] of transport `protos`, IPv4 (not a later fragment) and IPv6 (fixed next header only). */
function ports(lo: number, hi: number, dir: Dir, protos: number[], shift: number, family: string): Node {
  const inRange = (p: number) => p >= lo && p <= hi;
  const v4: Node = (c, l) => {
    if (!l.is(c, ETH_IP, shift)) return false;
    const n = l.payload(shift, c);
    if (!protos.includes(c.byte(n + 9))) return false;
    if ((c.u16(n + 6) & 0x1fff) !== 0) return false;
    const t = n + (c.byte(n) & 0x0f) * 4;
    return both(dir, () => inRange(c.u16(t)), () => inRange(c.u16(t + 2)));
  };
  const v6: Node = (c, l) => {
    if (!l.is(c, ETH_IP6, shift)) return false;
    const n = l.payload(shift, c);
    if (!protos.includes(c.byte(n + 6))) return false;
    return both(dir, () => inRange(c.u16(n + 40)), () => inRange(c.u16(n + 42)));
  };
  if (family === 'ip') return v4;
  if (family === 'ip6') return v6;
  return (c, l) => v4(c, l) || v6(c, l);
}

function vlan(id: number | undefined, shift: number): Node {
  return (c, l) => {
    if (l !== ETHERNET) return false;
    const t = c.u16(12 + shift);
    if (!VLAN_TYPES.includes(t)) return false;
    return id === undefined || (c.u16(14 + shift) & 0x0fff) === id;
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Addresses.

function parseV4(s: string): number | undefined {
  const parts = s.split('.');
  if (parts.length < 1 || parts.length > 4 || parts.some((p) => !/^\d{1,3}$/.test(p) || Number(p) > 255)) return undefined;
  let v = 0;
  for (let i = 0; i < 4; i++) v = (v << 8) | (i < parts.length ? Number(parts[i]) : 0);
  return v >>> 0;
}

function parseV6(s: string): number[] | undefined {
  // Hex groups with at most one "::" (an embedded dotted IPv4 tail is not taken).
  if (!/^[0-9a-fA-F:]+$/.test(s) || !s.includes(':')) return undefined;
  const halves = s.split('::');
  if (halves.length > 2) return undefined;
  const g = (h: string) => (h === '' ? [] : h.split(':').map((x) => (/^[0-9a-fA-F]{1,4}$/.test(x) ? parseInt(x, 16) : NaN)));
  const head = g(halves[0]);
  const tail = halves.length === 2 ? g(halves[1]) : [];
  const fill = 8 - head.length - tail.length;
  if (fill < 0 || (halves.length === 1 && fill !== 0) || (halves.length === 2 && fill < 1)) return undefined;
  const groups = [...head, ...new Array<number>(halves.length === 2 ? fill : 0).fill(0), ...tail];
  if (groups.some((x) => Number.isNaN(x))) return undefined;
  return [0, 1, 2, 3].map((i) => ((groups[2 * i] << 16) | groups[2 * i + 1]) >>> 0);
}

// ---------------------------------------------------------------------------------------------------------------
// Parser: tokens, then recursive descent with libpcap's qualifier carry-over.

interface Token {
  text: string;
  at: number;
}

function tokenize(expr: string): Token[] {
  const out: Token[] = [];
  const re = /\s*(&&|\|\||!=|<=|>=|==|[()!<>=\[\]&|+\-*/]|\\?[A-Za-z0-9_.:\/-]+)/y;
  let m: RegExpExecArray | null;
  re.lastIndex = 0;
  while (re.lastIndex < expr.length) {
    const start = re.lastIndex;
    if (/^\s*$/.test(expr.slice(start))) break;
    m = re.exec(expr);
    if (m === null) throw new BpfSyntaxError(expr, start, `unexpected character "${expr[start]}"`);
    out.push({ text: m[1], at: m.index + m[0].length - m[1].length });
  }
  return out;
}

interface Qualifiers {
  family: string; // '', 'ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'sctp'
  dir: Dir;
  type: string; // 'host', 'net', 'port', 'portrange', ''
}

const FAMILIES = new Set(['ip', 'ip6', 'arp', 'rarp', 'tcp', 'udp', 'sctp', 'icmp', 'icmp6']);

class Parser {
  private i = 0;
  private shift = 0;
  private last: Qualifiers | undefined;
  constructor(
    private readonly expr: string,
    private readonly toks: Token[],
  ) {}

  private peek(k = 0): string | undefined {
    return this.toks[this.i + k]?.text;
  }
  private next(): Token {
    const t = this.toks[this.i++];
    if (t === undefined) throw new BpfSyntaxError(this.expr, -1, 'ends too early');
    return t;
  }
  private fail(what: string, t = this.toks[this.i]): never {
    throw new BpfSyntaxError(this.expr, t?.at ?? -1, what);
  }

  parse(): Node {
    if (this.toks.length === 0) return () => true;
    const n = this.or();
    if (this.i < this.toks.length) this.fail(`unexpected "${this.peek()}"`);
    return n;
  }

  private or(): Node {
    let left = this.and();
    while (this.peek() === 'or' || this.peek() === '||') {
      this.i++;
      const l = left;
      const r = this.and();
      left = (c, k) => l(c, k) || r(c, k);
    }
    return left;
  }

  private and(): Node {
    let left = this.unary();
    while (this.peek() === 'and' || this.peek() === '&&') {
      this.i++;
      const l = left;
      const r = this.unary();
      left = (c, k) => l(c, k) && r(c, k);
    }
    return left;
  }

  private depth = 0;

  private unary(): Node {
    // Nesting is bounded so that a pathological expression is an error, not a stack overflow.
    if (++this.depth > MAX_NESTING) this.fail(`nested deeper than ${MAX_NESTING} levels`);
    try {
      return this.unaryInner();
    } finally {
      this.depth--;
    }
  }

  private unaryInner(): Node {
    const t = this.peek();
    if (t === 'not' || t === '!') {
      this.i++;
      const inner = this.unary();
      return (c, k) => !inner(c, k);
    }
    if (t === '(') {
      this.i++;
      const inner = this.or();
      if (this.peek() !== ')') this.fail('missing ")"');
      this.i++;
      return inner;
    }
    return this.primitive();
  }

  private number(t: Token): number {
    const v = /^0x[0-9a-f]+$/i.test(t.text) ? parseInt(t.text, 16) : /^\d+$/.test(t.text) ? Number(t.text) : NaN;
    if (!Number.isFinite(v)) this.fail(`"${t.text}" is not a number`, t);
    return v;
  }

  private primitive(): Node {
    const start = this.toks[this.i];
    const w = this.peek();
    if (w === undefined) this.fail('ends too early');
    // Length tests.
    if (w === 'less' || w === 'greater') {
      this.i++;
      const v = this.number(this.next());
      return w === 'less' ? (c) => c.f.wireLen <= v : (c) => c.f.wireLen >= v;
    }
    if (w === 'len') {
      this.i++;
      const op = this.next().text;
      const v = this.number(this.next());
      const cmp: Record<string, (x: number) => boolean> = { '<': (x) => x < v, '<=': (x) => x <= v, '>': (x) => x > v, '>=': (x) => x >= v, '=': (x) => x === v, '==': (x) => x === v, '!=': (x) => x !== v };
      const f = cmp[op];
      if (f === undefined) this.fail(`"len ${op}": want one of < <= > >= = == !=`);
      return (c) => f(c.f.wireLen);
    }
    if (w === 'vlan') {
      this.i++;
      const p = this.peek();
      const id = p !== undefined && /^\d+$/.test(p) ? this.number(this.next()) : undefined;
      const node = vlan(id, this.shift);
      this.shift += 4;
      this.last = undefined;
      return node;
    }
    if (w === 'proto') {
      this.i++;
      return ipProto(this.protoNumber(), this.shift, 0);
    }
    // Qualifiers: [family] [dir] [type] value, or a family alone.
    let family = '';
    let dir: Dir | undefined;
    let type = '';
    if (w !== undefined && FAMILIES.has(w)) {
      family = w;
      this.i++;
      if (this.peek() === '[') this.fail(`byte-offset expressions (${family}[...]) are not supported`);
      if (this.peek() === 'proto') {
        this.i++;
        if (family !== 'ip' && family !== 'ip6') this.fail(`"${family} proto" is not a filter`, start);
        return ipProto(this.protoNumber(), this.shift, family === 'ip' ? 4 : 6);
      }
    }
    if (this.peek() === 'src' || this.peek() === 'dst') {
      const d = this.next().text;
      if ((this.peek() === 'or' || this.peek() === 'and') && (this.peek(1) === 'src' || this.peek(1) === 'dst') && this.peek(1) !== d) {
        // "src or dst", "dst and src", ...: the conjunction decides.
        const conj = this.next().text;
        this.i++;
        dir = `src ${conj} dst` as Dir;
      } else dir = d as Dir;
    }
    if (this.peek() === 'host' || this.peek() === 'net' || this.peek() === 'port' || this.peek() === 'portrange') type = this.next().text;
    if (family !== '' && dir === undefined && type === '') return this.familyAlone(family);
    if (family === '' && dir === undefined && type === '') {
      // A bare value: the qualifiers of the primitive before it (libpcap's "host a or b").
      if (this.last === undefined) this.fail(`"${w}" is not a filter primitive`);
      return this.value(this.last);
    }
    const q: Qualifiers = { family, dir: dir ?? 'src or dst', type: type || 'host' };
    this.last = q;
    return this.value(q);
  }

  private protoNumber(): number {
    const t = this.next();
    const name = t.text.replace(/^\\/, '');
    if (name in PROTO_NAMES) return PROTO_NAMES[name];
    return this.number(t);
  }

  private familyAlone(family: string): Node {
    const s = this.shift;
    switch (family) {
      case 'ip':
        return ethertype(ETH_IP, s);
      case 'ip6':
        return ethertype(ETH_IP6, s);
      case 'arp':
        return ethertype(ETH_ARP, s);
      case 'rarp':
        return ethertype(ETH_RARP, s);
      case 'icmp':
        return ipProto(1, s, 4);
      case 'icmp6':
        return ipProto(58, s, 6);
      default:
        return ipProto(PROTO_NAMES[family], s, 0);
    }
  }

  private value(q: Qualifiers): Node {
    const t = this.next();
    const s = this.shift;
    if (q.type === 'port' || q.type === 'portrange') {
      let lo: number;
      let hi: number;
      if (q.type === 'portrange') {
        const m = /^(\d+)-(\d+)$/.exec(t.text);
        if (m === null) this.fail(`"${t.text}" is not a port range (low-high)`, t);
        [lo, hi] = [Number(m[1]), Number(m[2])];
        if (lo > hi) [lo, hi] = [hi, lo];
      } else lo = hi = this.port(t);
      const protos = q.family === 'tcp' ? [6] : q.family === 'udp' ? [17] : q.family === 'sctp' ? [132] : TRANSPORTS;
      if (q.family !== '' && !['tcp', 'udp', 'sctp', 'ip', 'ip6'].includes(q.family)) this.fail(`"${q.family} ${q.type}" is not a filter`, t);
      return ports(lo, hi, q.dir, protos, s, q.family === 'ip' || q.family === 'ip6' ? q.family : '');
    }
    if (q.family !== '' && !['ip', 'ip6', 'arp', 'rarp'].includes(q.family)) this.fail(`"${q.family} ${q.type}" is not a filter`, t);
    // host or net.
    let text = t.text;
    let bits = -1;
    const slash = text.indexOf('/');
    if (slash >= 0) {
      bits = this.number({ text: text.slice(slash + 1), at: t.at });
      text = text.slice(0, slash);
      if (q.type !== 'net') this.fail(`"${t.text}": a prefix length needs "net"`, t);
    }
    if (q.type === 'net' && this.peek() === 'mask') {
      this.i++;
      const mt = this.next();
      const mask = parseV4(mt.text);
      const a = parseV4(text);
      if (mask === undefined || a === undefined) this.fail(`"${text} mask ${mt.text}": IPv4 address and mask wanted`, mt);
      return v4Net(a, mask, q.dir, s, q.family);
    }
    const a4 = /^\d+(\.\d+){0,3}$/.test(text) ? parseV4(text) : undefined;
    if (a4 !== undefined) {
      if (q.family === 'ip6') this.fail(`"${text}" is not an IPv6 address`, t);
      const dots = text.split('.').length;
      if (q.type === 'host' && dots !== 4) this.fail(`"${text}" is not a host address`, t);
      // A net without a length: as many bits as octets written (libpcap: "net 10" is 10/8).
      const len = bits >= 0 ? bits : q.type === 'net' ? dots * 8 : 32;
      if (len > 32) this.fail(`/${len}: an IPv4 prefix is at most 32 bits`, t);
      const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
      if (q.type === 'net' && ((a4 & ~mask) >>> 0) !== 0) this.fail(`"${t.text}": non-network bits set in the address`, t);
      return v4Net(a4, mask, q.dir, s, q.family);
    }
    const a6 = parseV6(text);
    if (a6 !== undefined) {
      if (q.family === 'ip' || q.family === 'arp' || q.family === 'rarp') this.fail(`"${text}" is not an IPv4 address`, t);
      const len = bits >= 0 ? bits : 128;
      if (len > 128) this.fail(`/${len}: an IPv6 prefix is at most 128 bits`, t);
      return v6Net(a6, len, q.dir, s);
    }
    this.fail(`"${t.text}" is not an address (host names are not looked up)`, t);
  }

  private port(t: Token): number {
    const named: Record<string, number> = { http: 80, https: 443, domain: 53, ssh: 22, smtp: 25, ntp: 123, imap: 143, imaps: 993, pop3: 110, ftp: 21, telnet: 23, bootps: 67, bootpc: 68, mdns: 5353 };
    if (t.text in named) return named[t.text];
    const v = this.number(t);
    if (v > 65535) this.fail(`port ${v} is above 65535`, t);
    return v;
  }
}

/**
 * Compile a tcpdump-style capture filter. Throws BpfSyntaxError naming the word it cannot read. The returned
 * function is not reentrant across threads (it reuses one reading context), which a meter never needs.
 */
export function compileBpf(expr: string): BpfFilter {
  const node = new Parser(expr, tokenize(expr)).parse();
  const c = new Ctx();
  const inner: LinkPayload = { at: -1, end: 0, type: -1, reason: '', malformed: false };
  return (f) => {
    c.f = f;
    c.base = 0;
    c.limit = f.capLen;
    let link: Link | undefined;
    if (f.linkType === LinkType.PKTAP) {
      // The frame after the header, in the link type the header names (Apple's libpcap filters it so; others cannot).
      const h = pktap(f.data, f.offset, f.offset + f.capLen, inner);
      const type = normalizeLinkType(h.type);
      if (h.at < 0 || type === LinkType.PKTAP || type === LinkType.NFLOG) return false;
      c.base = h.at - f.offset;
      link = linkOf(type);
    } else if (f.linkType === LinkType.PPI) {
      // libpcap reads PPI as a variable-length header before 802.11; the frame after it in whatever link type the
      // header names is the same for 802.11 and covers the rest.
      const h = ppi(f.data, f.offset, f.offset + f.capLen, inner);
      const type = normalizeLinkType(h.type);
      if (h.at < 0 || type === LinkType.PPI || type === LinkType.PKTAP || type === LinkType.NFLOG) return false;
      c.base = h.at - f.offset;
      link = linkOf(type);
    } else if (f.linkType === LinkType.NFLOG) {
      const p = nflog(f.data, f.offset, f.offset + f.capLen, inner);
      if (p.at >= 0) {
        c.base = p.at - f.offset;
        c.limit = p.end - f.offset;
        link = p.type === ETH_IP ? RAW4 : RAW6;
      } else link = NFLOG_HEADER;
    } else link = linkOf(f.linkType);
    if (link === undefined) return false;
    try {
      return node(c, link);
    } catch (e) {
      if (e === OOB) return false;
      throw e;
    }
  };
}

/**
 * A capture filter over packet records (the reader's output, before decoding), reusing one frame view: what the
 * meter and the filter command call per packet.
 */
export function recordFilter(expr: string): (rec: { data: Uint8Array; dataOffset: number; capLen: number; origLen: number; linkType: number }) => boolean {
  const keep = compileBpf(expr);
  const f: BpfFrame = { data: new Uint8Array(0), offset: 0, capLen: 0, wireLen: 0, linkType: 0 };
  return (rec) => {
    f.data = rec.data;
    f.offset = rec.dataOffset;
    f.capLen = rec.capLen;
    f.wireLen = rec.origLen;
    f.linkType = rec.linkType;
    return keep(f);
  };
}
