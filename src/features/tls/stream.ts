/**
 * The first bytes of one direction of a TCP connection, put back in order, and the TLS handshake messages read
 * from them. Only the start of the stream is kept (up to `MAX_STREAM_BYTES`): handshakes are there, and per-flow
 * memory stays bounded.
 */

export const MAX_STREAM_BYTES = 64 * 1024;
/**
 * How far into a stream that does not start with TLS we look for a handshake record (STARTTLS-style upgrades:
 * MySQL, SMTP, XMPP). Beyond this the stream is taken for something else and its buffer is released.
 */
const MAX_PREFIX_SCAN = 2048;
const MAX_PENDING_SEGMENTS = 32;
/** Heap bytes of a TlsStream with empty buffers, and of a held out-of-order segment beyond its bytes (measured). */
export const STREAM_OBJECT_BYTES = 250;
const PENDING_OVERHEAD_BYTES = 160;

export interface HandshakeMessage {
  type: number;
  body: Uint8Array;
}

const enc = new TextEncoder();
const CONNECT = enc.encode('CONNECT ');
const HTTP1 = enc.encode('HTTP/1.');

function startsWith(b: Uint8Array, at: number, end: number, prefix: Uint8Array): boolean {
  if (end - at < prefix.length) return false;
  for (let i = 0; i < prefix.length; i++) if (b[at + i] !== prefix[i]) return false;
  return true;
}

function headerEnd(b: Uint8Array, at: number, end: number): number {
  for (let i = at; i + 3 < end; i++) if (b[i] === 13 && b[i + 1] === 10 && b[i + 2] === 13 && b[i + 3] === 10) return i + 4;
  return -1;
}

/** The buffers of a stream not yet (or no longer) holding bytes: one shared empty array, not two per flow. */
const EMPTY = new Uint8Array(0);

/**
 * Whether a stream that does not start like TLS may still upgrade to it later: text protocols (SMTP, IMAP, POP3,
 * XMPP, FTP, LDAP over text greetings) start with printable ASCII; MySQL and PostgreSQL start binary but are known
 * by their port. Anything else that starts binary is taken for some other protocol at once and costs no scan.
 */
const BINARY_UPGRADE_PORTS = new Set([3306, 5432]);
function mayUpgrade(first: number, serverPort: number): boolean {
  return (first >= 0x20 && first < 0x7f) || first === 13 || first === 10 || first === 9 || BINARY_UPGRADE_PORTS.has(serverPort);
}

export class TlsStream {
  private buf = EMPTY;
  /** Contiguous bytes from the stream start. */
  private have = 0;
  private base = -1;
  private pending: Array<{ off: number; bytes: Uint8Array }> = [];
  private pendingBytes = 0;
  /** Where the next TLS record starts. */
  private recPos = 0;
  private hs = EMPTY;
  private hsLen = 0;
  private hsPos = 0;
  /** True once the handshake is over for our purposes (encrypted data, non-TLS bytes, or the cap). */
  done = false;
  /** "http-connect" when an HTTP CONNECT (or its 200 answer) preceded the TLS bytes. */
  preamble: string | undefined;
  error: string | undefined;
  private preambleChecked = false;
  /** Where the search for a hello record after a non-TLS prefix resumes, so each byte is scanned once. */
  private scanPos = 0;

  constructor(private readonly serverPort = 0) {}

  /** Record where the stream starts: the SYN's sequence number + 1. */
  setInitialSeq(isnPlusOne: number): void {
    if (this.base < 0) this.base = isnPlusOne >>> 0;
  }

  /**
   * A stream that starts with neither a TLS record nor an HTTP CONNECT exchange is not buffered: its in-order
   * segments are only searched for a hello record (STARTTLS-style upgrades), up to MAX_PREFIX_SCAN bytes. Most
   * TCP flows that are not TLS thus cost one scan and no copy.
   */
  private scanning = false;
  private scanned = 0;

  /** Add a segment's payload; returns handshake messages completed by it. */
  add(seq: number, payload: Uint8Array): HandshakeMessage[] {
    if (this.done || payload.length === 0) return [];
    if (this.base < 0) this.base = seq >>> 0;
    // Offset of this segment in the stream, modulo 2^32 sequence wrap.
    const off = ((seq >>> 0) - this.base + 0x100000000) % 0x100000000;
    if (this.have === 0 && off === this.scanned && !this.preambleChecked) {
      if (!this.scanning && off === 0 && payload[0] !== 22 && payload[0] !== CONNECT[0] && payload[0] !== HTTP1[0]) {
        if (!mayUpgrade(payload[0], this.serverPort)) {
          this.finish();
          return [];
        }
        this.scanning = true;
      }
      if (this.scanning) {
        const at = findHelloRecord(payload, 0, payload.length, MAX_PREFIX_SCAN - this.scanned);
        if (at < 0) {
          this.scanned += payload.length;
          if (this.scanned >= MAX_PREFIX_SCAN) this.finish();
          return [];
        }
        // A hello record after another protocol's greeting: the TLS part of the stream starts here.
        this.scanning = false;
        this.preambleChecked = true;
        this.preamble = 'non-tls-prefix';
        this.base = ((seq >>> 0) + at) >>> 0;
        this.pending = [];
        this.pendingBytes = 0;
        return this.add(this.base, payload.subarray(at));
      }
    } else if (this.scanning) return []; // out of order while scanning: not worth buffering
    if (off > MAX_STREAM_BYTES * 4) return []; // far away or before the start: not ours to place
    if (off + payload.length <= this.have) return []; // retransmission of what we have
    if (off > this.have) {
      if (this.pending.length < MAX_PENDING_SEGMENTS) {
        this.pending.push({ off, bytes: payload.slice() });
        this.pendingBytes += payload.length + PENDING_OVERHEAD_BYTES;
      }
      return [];
    }
    // Append the new part, then any pending segments that now fit.
    this.append(payload.subarray(this.have - off));
    for (let again = true; again; ) {
      again = false;
      for (let i = 0; i < this.pending.length; i++) {
        const s = this.pending[i];
        if (s.off <= this.have) {
          if (s.off + s.bytes.length > this.have) this.append(s.bytes.subarray(this.have - s.off));
          this.pending.splice(i, 1);
          this.pendingBytes -= s.bytes.length + PENDING_OVERHEAD_BYTES;
          again = true;
          break;
        }
      }
    }
    return this.parse();
  }

  private append(bytes: Uint8Array): void {
    const room = MAX_STREAM_BYTES - this.have;
    const n = Math.min(room, bytes.length);
    if (this.have + n > this.buf.length) {
      // Sized to what arrived, then doubled: a half-open handshake of a few bytes holds a few bytes, not a
      // preallocated block (600,000 such flows held 5.3 GB).
      const bigger = new Uint8Array(Math.min(MAX_STREAM_BYTES, Math.max(this.have + n, this.buf.length * 2)));
      bigger.set(this.buf.subarray(0, this.have));
      this.buf = bigger;
    }
    this.buf.set(bytes.subarray(0, n), this.have);
    this.have += n;
    if (n < bytes.length) this.done = true;
  }

  private parse(): HandshakeMessage[] {
    const b = this.buf;
    const out: HandshakeMessage[] = [];
    if (!this.preambleChecked) {
      if (startsWith(b, 0, this.have, CONNECT) || startsWith(b, 0, this.have, HTTP1)) {
        const e = headerEnd(b, 0, this.have);
        if (e < 0) {
          if (this.have >= 8192) this.finish();
          return out;
        }
        this.recPos = e;
        this.preamble = 'http-connect';
      } else if (this.have < CONNECT.length) return out;
      this.preambleChecked = true;
    }
    while (this.have - this.recPos >= 5) {
      const p = this.recPos;
      const type = b[p];
      const major = b[p + 1];
      const len = (b[p + 3] << 8) | b[p + 4];
      if (type < 20 || type > 24 || major !== 3 || len > 18432) {
        // Not a TLS record. Before any handshake byte, look a little further for a ClientHello or ServerHello record
        // after some other protocol's greeting; otherwise stop looking.
        let at = -1;
        if (this.hsLen === 0) {
          at = findHelloRecord(b, Math.max(p + 1, this.scanPos), this.have, MAX_PREFIX_SCAN);
          this.scanPos = Math.max(this.scanPos, this.have - 5);
        }
        if (at >= 0) {
          this.recPos = at;
          this.preamble ??= 'non-tls-prefix';
          continue;
        }
        if (this.hsLen > 0 || this.have >= MAX_PREFIX_SCAN) this.finish();
        return out;
      }
      if (this.have - p < 5 + len) break;
      this.recPos = p + 5 + len;
      if (type !== 22) {
        // ChangeCipherSpec or application data: the clear-text handshake is over.
        if (type === 20 || type === 23) {
          this.finish();
          return out;
        }
        continue;
      }
      // Handshake records may split or join messages: collect their bytes, then cut messages.
      if (this.hsLen + len > this.hs.length) {
        const bigger = new Uint8Array(Math.max(this.hsLen + len, this.hs.length * 2));
        bigger.set(this.hs.subarray(0, this.hsLen));
        this.hs = bigger;
      }
      this.hs.set(b.subarray(p + 5, p + 5 + len), this.hsLen);
      this.hsLen += len;
      while (this.hsLen - this.hsPos >= 4) {
        const q = this.hsPos;
        const mlen = (this.hs[q + 1] << 16) | (this.hs[q + 2] << 8) | this.hs[q + 3];
        if (this.hsLen - q < 4 + mlen) break;
        out.push({ type: this.hs[q], body: this.hs.slice(q + 4, q + 4 + mlen) });
        this.hsPos = q + 4 + mlen;
      }
    }
    if (this.have >= MAX_STREAM_BYTES) this.finish();
    return out;
  }

  /** Stop reading this direction and let go of its bytes. */
  finish(): void {
    this.done = true;
    this.buf = EMPTY;
    this.hs = EMPTY;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Bytes this stream holds (the object, its buffers, out-of-order segments), for the memory budget. */
  get heldBytes(): number {
    return STREAM_OBJECT_BYTES + this.buf.length + this.hs.length + this.pendingBytes;
  }
}

/** The offset of a TLS handshake record holding a ClientHello or ServerHello in b[from, min(end, limit)), or -1. */
function findHelloRecord(b: Uint8Array, from: number, end: number, limit: number): number {
  const stop = Math.min(end - 6, limit - 1);
  // indexOf finds the candidate record-type byte natively, far faster than a byte loop.
  for (let i = b.indexOf(22, from); i >= 0 && i <= stop; i = b.indexOf(22, i + 1)) {
    if (b[i + 1] === 3 && b[i + 2] <= 4 && (b[i + 5] === 1 || b[i + 5] === 2)) return i;
  }
  return -1;
}
