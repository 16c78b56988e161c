import { type DecodedPacket, IPPROTO, TcpFlag } from '../decode/packet.js';
import type { Direction, Flow, FlowPlugin } from '../flow/flow.js';
import type { CellValue, ColumnDef } from '../flow/schema.js';
import { PacketStatsState, packetStatsPlugin } from './packet-stats.js';
import { DEFAULT_SPLT_PACKETS } from './sequence.js';
import { quicVersion } from './tls/quic.js';

/**
 * Features of the packets after the handshake: a shortcut control. The ClientHello's length alone names a testbed
 * app, so a model that reaches its accuracy through the handshake learns the client library, not the app's
 * behaviour. This group meters the same statistics and first-packet sequence over the packets from the first
 * packet of application data on, so `evaluate --after-handshake` can ask what is left without them.
 *
 * The handshake is a prefix of the flow: every packet before the first packet that carries application data.
 * - TLS over TCP (the client's first payload starts with a TLS record header): the record headers of each direction
 *   are followed by sequence number (5 bytes of state, nothing buffered). Application data is a byte of an
 *   application_data record (type 23) that is not an encrypted handshake message. TLS 1.3 sends its handshake after
 *   the ServerHello as type-23 records too: the server's type-23 records before the client's first one are the
 *   server's encrypted flight (and mark the flow TLS 1.3) unless the server has sent TLS 1.2's Finished (a
 *   handshake record after its ChangeCipherSpec), and a TLS 1.3 client's first type-23 record is its Finished.
 *   TLS 1.2 sends Finished as type 22 after ChangeCipherSpec, so its first type-23 record in either direction is
 *   data. A TCP gap or bytes that are no TLS record header end the handshake where they occur
 *   (`handshake_rule` tls-desync).
 * - QUIC (the client's first datagram is a v1/v2 long-header packet): datagrams that start with a long header
 *   (Initial, 0-RTT, Handshake, Retry) are the handshake; the first that starts with a short header ends it.
 * - Other TCP: the packets before the first one with payload (SYN, SYN-ACK, ACK).
 * - A TCP record that does not begin with a SYN (a later burst of a long connection) has no handshake: it is
 *   behind it.
 * - A flow whose handshake never ended has every packet in handshake_packets and none after it.
 * - Anything else has no handshake: every packet counts as after it.
 */

const TLS_CCS = 20;
const TLS_HANDSHAKE = 22;
const TLS_APPDATA = 23;
/** Largest record body TLS allows (2^14 + 2048 for TLSCiphertext); a longer "header" is not TLS. */
const MAX_RECORD = 16384 + 2048;

type Rule = 'tls' | 'tls-desync' | 'quic' | 'tcp' | 'none';

/** One direction of a TLS stream, walked record header by record header. */
class RecordWalker {
  /** Sequence number of the next byte not yet walked; -1 before the first. */
  next = -1;
  /** Body bytes of the current record still to come. */
  left = 0;
  /** Header bytes gathered (0..4), and the type and length's high byte among them. */
  hdrHave = 0;
  h0 = 0;
  h3 = 0;
  /** Content type of the record the bytes being walked belong to. */
  type = 0;
  /** Records of type 23 this direction has sent. */
  appRecords = 0;
  /** A ChangeCipherSpec was sent, and a handshake record after it (TLS <= 1.2's encrypted Finished). */
  ccs = false;
  finishedAfterCcs = false;
}

class State {
  rule: Rule = 'none';
  /** Still inside the handshake prefix. */
  inHandshake = true;
  hsPackets = 0;
  hsBytes = 0;
  /** Relative ns of the first packet after the handshake; NaN until then. */
  endT = NaN;
  firstT = NaN;
  tls13 = false;
  walkers: [RecordWalker, RecordWalker] | null = null;
  // After the handshake:
  readonly packets = [0, 0];
  readonly bytes = [0, 0];
  readonly stats = new PacketStatsState();
  lastAfterT = NaN;
  spltLen: number[] = [];
  spltIat: number[] = [];
}

function tcpPayload(p: DecodedPacket): number {
  return Math.max(0, Math.min(p.payloadOffset + p.payloadLen, p.capturedEnd) - p.payloadOffset);
}

/**
 * Walk one TCP segment's new bytes of direction `dir`. Returns 'data' when it carries a byte of application data,
 * 'desync' when the stream stops looking like TLS records (or has a gap), else 'handshake'.
 */
function walkSegment(s: State, dir: Direction, p: DecodedPacket): 'data' | 'desync' | 'handshake' {
  const w = s.walkers![dir];
  const other = s.walkers![dir === 0 ? 1 : 0];
  const n = tcpPayload(p);
  if (n === 0) return 'handshake';
  if (w.next < 0) w.next = p.tcpSeq;
  const off = (p.tcpSeq - w.next) | 0; // wraps at 2^32
  if (off > 0) return 'desync'; // a gap: the bytes in between were lost or come later
  let i = p.payloadOffset - off; // skip bytes already walked (a retransmission)
  const end = p.payloadOffset + n;
  if (i >= end) return 'handshake';
  w.next = (p.tcpSeq + n) >>> 0;
  const d = p.data;
  let verdict: 'data' | 'handshake' = 'handshake';
  while (i < end) {
    if (w.left > 0) {
      const k = Math.min(w.left, end - i);
      w.left -= k;
      i += k;
      if (w.type === -1) verdict = 'data';
      continue;
    }
    // A record header, possibly split across segments.
    const b = d[i++];
    switch (w.hdrHave++) {
      case 0:
        w.h0 = b;
        if (b < TLS_CCS || b > TLS_APPDATA) return 'desync';
        break;
      case 1:
        if (b !== 3) return 'desync';
        break;
      case 2:
        break;
      case 3:
        w.h3 = b;
        break;
      default: {
        const len = (w.h3 << 8) | b;
        if (len > MAX_RECORD) return 'desync';
        w.hdrHave = 0;
        w.left = len;
        let type = w.h0;
        if (type === TLS_CCS) w.ccs = true;
        else if (type === TLS_HANDSHAKE && w.ccs) w.finishedAfterCcs = true;
        else if (type === TLS_APPDATA) {
          // Encrypted handshake of TLS 1.3: the server's records before the client's first type-23 record unless the
          // server already sent TLS 1.2's Finished (a handshake record after its CCS), and the client's first one
          // (its Finished) once the server's flight showed TLS 1.3.
          const encryptedHandshake = dir === 1 ? other.appRecords === 0 && !w.finishedAfterCcs : s.tls13 && w.appRecords === 0;
          if (dir === 1 && encryptedHandshake) s.tls13 = true;
          w.appRecords++;
          if (!encryptedHandshake) type = -1; // application data
        }
        w.type = type;
        if (type === -1) verdict = 'data';
      }
    }
  }
  return verdict;
}

/** Whether packet p (of a flow still in its handshake) is the first packet of application data. */
function endsHandshake(s: State, flow: Flow, p: DecodedPacket, dir: Direction): boolean {
  if (flow.proto === IPPROTO.TCP) {
    if (s.walkers === null) return true;
    if (p.tcpFlags & TcpFlag.SYN) {
      s.walkers[dir].next = (p.tcpSeq + 1) >>> 0;
      return false;
    }
    if (s.rule === 'tcp') {
      const n = tcpPayload(p);
      if (n === 0) return false;
      // The first payload decides: a client TLS record header makes it TLS; anything else is plain TCP.
      const d = p.data;
      const at = p.payloadOffset;
      if (dir !== 0 || d[at] !== TLS_HANDSHAKE || (n >= 2 && d[at + 1] !== 3)) return true;
      s.rule = 'tls';
    }
    const v = walkSegment(s, dir, p);
    if (v === 'desync') s.rule = 'tls-desync';
    return v !== 'handshake';
  }
  if (flow.proto === IPPROTO.UDP && s.rule === 'quic') {
    const n = tcpPayload(p);
    return n === 0 || (p.data[p.payloadOffset] & 0x80) === 0;
  }
  return true;
}

function statColumns(): ColumnDef[] {
  return packetStatsPlugin.columns.map((c) => ({ ...c, name: `ah_${c.name}`, description: `After the handshake: ${c.description.charAt(0).toLowerCase()}${c.description.slice(1).replace(/ \(Table 1 #\d+\)/, '')}` }));
}

/** The after-handshake group: see the module comment for where a handshake ends. */
export function afterHandshakePlugin(n = DEFAULT_SPLT_PACKETS): FlowPlugin<State> {
  const columns: ColumnDef[] = [
    { name: 'handshake_rule', type: 'string', unit: '', description: 'How the end of the handshake was found: tls (record headers), tls-desync (a TCP gap or non-TLS bytes ended it there), quic (first short-header datagram), tcp (first payload), none (no handshake in this record: UDP other than QUIC, or a TCP record that began after its SYN, such as a later burst; every packet is after it).' },
    { name: 'handshake_packets', type: 'int', unit: 'packets', description: 'Packets before the first packet of application data (both directions).' },
    { name: 'handshake_bytes', type: 'int', unit: 'bytes', description: 'Bytes of those packets (--length accounting).' },
    { name: 'handshake_duration_ns', type: 'int', unit: 'ns', description: 'From the first packet of the flow to its first packet of application data; the flow duration when none came.' },
    { name: 'ah_fwd_packets', type: 'int', unit: 'packets', description: 'Client-to-server packets from the first packet of application data on.' },
    { name: 'ah_bwd_packets', type: 'int', unit: 'packets', description: 'Server-to-client packets from the first packet of application data on.' },
    { name: 'ah_fwd_bytes', type: 'int', unit: 'bytes', description: 'Bytes of ah_fwd_packets (--length accounting).' },
    { name: 'ah_bwd_bytes', type: 'int', unit: 'bytes', description: 'Bytes of ah_bwd_packets (--length accounting).' },
    { name: 'ah_duration_ns', type: 'int', unit: 'ns', description: 'From the first packet of application data to the last packet of the flow; null when none came.' },
    ...statColumns(),
    { name: 'ah_splt_signed_len_bytes', type: 'int[]', unit: 'bytes', description: `Lengths of the first ${n} packets after the handshake (--splt), positive from client to server, negative from server to client.` },
    { name: 'ah_splt_iat_ns', type: 'int[]', unit: 'ns', description: `Inter-arrival time of each of the first ${n} packets after the handshake from the previous one of them (0 for the first).` },
  ];
  return {
    name: 'after-handshake',
    // Measured (docs/memory.md): its packet statistics, SPLT arrays and record walkers.
    flowBytes: 1300 + 16 * n,
    columns,
    init(flow: Flow, p: DecodedPacket): State {
      const s = new State();
      s.firstT = p.t;
      // A TCP record that does not start with a SYN starts inside a connection (a later burst, or a capture begun
      // mid-connection): its handshake, if any, is behind it, so every packet counts as after it.
      if (flow.proto === IPPROTO.TCP && (p.tcpFlags & TcpFlag.SYN) !== 0) {
        s.rule = 'tcp';
        s.walkers = [new RecordWalker(), new RecordWalker()];
      }
      else if (flow.proto === IPPROTO.UDP && quicVersion(p.data, p.payloadOffset, Math.min(p.payloadOffset + p.payloadLen, p.capturedEnd)) !== 0) s.rule = 'quic';
      return s;
    },
    update(s: State, flow: Flow, p: DecodedPacket, dir: Direction, len: number): void {
      if (s.inHandshake) {
        if (!endsHandshake(s, flow, p, dir)) {
          s.hsPackets++;
          s.hsBytes += len;
          return;
        }
        s.inHandshake = false;
        s.walkers = null;
        s.endT = p.t;
      }
      const t = p.t;
      s.packets[dir]++;
      s.bytes[dir] += len;
      s.stats.push(dir, p, len);
      if (s.spltLen.length < n) {
        s.spltLen.push(dir === 0 ? len : -len);
        s.spltIat.push(s.spltIat.length === 0 ? 0 : t - s.lastAfterT);
      }
      s.lastAfterT = t;
    },
    write(s: State, flow: Flow, row: CellValue[], at: number): void {
      row[at++] = s.rule;
      row[at++] = s.hsPackets;
      row[at++] = s.hsBytes;
      row[at++] = (s.endT === s.endT ? s.endT : flow.lastT) - s.firstT;
      row[at++] = s.packets[0];
      row[at++] = s.packets[1];
      row[at++] = s.bytes[0];
      row[at++] = s.bytes[1];
      row[at++] = s.endT === s.endT ? s.lastAfterT - s.endT : null;
      at = s.stats.write(row, at);
      row[at++] = s.spltLen;
      row[at++] = s.spltIat;
    },
  };
}
