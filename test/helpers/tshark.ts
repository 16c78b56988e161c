import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

/** ../shared/pcaps beside the project root: the real captures we test on (read in place, never copied). */
export const SHARED = resolve(dirname(fileURLToPath(import.meta.url)), '../../../shared');
export const PCAPS = join(SHARED, 'pcaps');

export function sharedPcaps(): string[] {
  return readdirSync(PCAPS)
    .filter((f) => /\.pcap(ng)?$/.test(f))
    .sort()
    .map((f) => join(PCAPS, f));
}

export function haveTshark(): boolean {
  return existsSync('/usr/bin/tshark');
}

/** Run tshark and return stdout. A capture that ends badly makes tshark exit 2 after printing what it read; keep that. */
export function tshark(args: string[]): string {
  try {
    return execFileSync('tshark', args, { encoding: 'utf8', maxBuffer: 1 << 28, stdio: ['ignore', 'pipe', 'ignore'] });
  } catch (e) {
    const err = e as { status?: number; stdout?: string };
    if (err.status === 2 && typeof err.stdout === 'string') return err.stdout;
    throw e;
  }
}

export interface Conversation {
  a: string;
  b: string;
  /** Frames and bytes from A to B ("->") and from B to A ("<-"). */
  framesAB: number;
  framesBA: number;
  bytesAB: string;
  bytesBA: string;
}

/**
 * Parse `tshark -q -z conv,tcp -z conv,udp` (with `read` options such as `-c N` after `-r FILE`). Byte columns are
 * kept as printed ("436 bytes", "14 kB").
 */
export function tsharkConversations(file: string, read: readonly string[] = []): { tcp: Conversation[]; udp: Conversation[] } {
  const out = tshark(['-r', file, ...read, '-q', '-z', 'conv,tcp', '-z', 'conv,udp']);
  const result = { tcp: [] as Conversation[], udp: [] as Conversation[] };
  let convs = result.tcp;
  const re = /^(\S+)\s+<->\s+(\S+)\s+(\d+)\s+(\d+ \S*bytes|\d+ [kMG]B)\s+(\d+)\s+(\d+ \S*bytes|\d+ [kMG]B)\s+(\d+)\s+/;
  for (const line of out.split('\n')) {
    if (line.startsWith('TCP Conversations')) convs = result.tcp;
    if (line.startsWith('UDP Conversations')) convs = result.udp;
    const m = re.exec(line);
    if (!m) continue;
    // Columns: "<-" (B to A) frames, bytes; "->" (A to B) frames, bytes; total.
    convs.push({ a: m[1], b: m[2], framesBA: Number(m[3]), bytesBA: m[4], framesAB: Number(m[5]), bytesAB: m[6] });
  }
  return result;
}

export interface FieldConversation {
  a: string;
  b: string;
  framesAB: number;
  framesBA: number;
  bytesAB: number;
  bytesBA: number;
}

export interface TsharkView {
  /** Packets tshark reads, leaving out pcapng custom blocks (Wireshark 4 lists them as frames without an encapsulation). */
  frames: number;
  tcp: FieldConversation[];
  udp: FieldConversation[];
}

/**
 * One two-pass `tshark -T fields` run: the packet count, and exact per-stream frame and byte counts
 * (tcp.stream / udp.stream), with A the source of the stream's first frame. A frame that completes an IP
 * reassembly also brings the frame lengths of the fragments it reassembled (ip.reassembled_in /
 * ipv6.reassembled.in, filled in by the second pass), because our frame accounting counts every fragment on the
 * wire while tshark's conversation table counts only the last one.
 */
export function tsharkStreams(file: string): TsharkView {
  const fields = ['frame.number', 'frame.encap_type', 'frame.len', 'ip.reassembled_in', 'ipv6.reassembled.in', 'ip.src', 'ipv6.src', 'ip.dst', 'ipv6.dst', 'tcp.srcport', 'tcp.dstport', 'tcp.stream', 'udp.srcport', 'udp.dstport', 'udp.stream'];
  const out = tshark(['-2', '-r', file, '-T', 'fields', '-E', 'separator=\t', '-E', 'occurrence=f', ...fields.flatMap((f) => ['-e', f])]);
  const lines = out.split('\n').filter((l) => l.length > 0).map((l) => l.split('\t'));
  const extra = new Map<number, number>();
  let frames = 0;
  for (const [num, encap, len, r4, r6] of lines) {
    if (encap.trim() !== '') frames++;
    const r = r4 || r6;
    if (r && Number(r) !== Number(num)) extra.set(Number(r), (extra.get(Number(r)) ?? 0) + Number(len));
  }
  const view: TsharkView = { frames, tcp: [], udp: [] };
  for (const proto of ['tcp', 'udp'] as const) {
    const streams = new Map<string, FieldConversation>();
    const at = proto === 'tcp' ? 9 : 12;
    for (const f of lines) {
      const [num, , len, , , s4, s6, d4, d6] = f;
      const [sp, dp, stream] = [f[at], f[at + 1], f[at + 2]];
      if (!stream) continue;
      const src = `${s4 || s6}:${sp}`;
      const dst = `${d4 || d6}:${dp}`;
      const bytes = Number(len) + (extra.get(Number(num)) ?? 0);
      let c = streams.get(stream);
      if (c === undefined) {
        c = { a: src, b: dst, framesAB: 0, framesBA: 0, bytesAB: 0, bytesBA: 0 };
        streams.set(stream, c);
      }
      if (src === c.a && dst === c.b) {
        c.framesAB++;
        c.bytesAB += bytes;
      } else {
        c.framesBA++;
        c.bytesBA += bytes;
      }
    }
    view[proto] = [...streams.values()];
  }
  return view;
}

/** tshark's frame.time_epoch text ("1700000000.123456789") as exact integer nanoseconds. */
export function epochNs(text: string): bigint {
  const [s, f = ''] = text.split('.');
  return BigInt(s) * 1_000_000_000n + BigInt((f + '000000000').slice(0, 9));
}
