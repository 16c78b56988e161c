/**
 * The first bytes of one direction of a TCP connection, put back in order, and the TLS handshake messages read
 * from them. Only the start of the stream is read (up to `MAX_STREAM_BYTES`): handshakes are there, and per-flow
 * memory stays bounded. Records and messages are read where they lie, in the packet when one holds them whole;
 * only the start of a record or message that runs on into a later segment is copied (a 16 KiB certificate record
 * over twelve segments is copied once; a ClientHello in one segment never is).
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

/** Where a stream's handshake messages go as they complete. */
export interface HandshakeSink {
  /** A complete handshake message of `type` whose body is b[start, end): read it now, the bytes are reused. */
  handshake(dir: 0 | 1, type: number, b: Uint8Array, start: number, end: number): void;
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
const EMPTY: Uint8Array = new Uint8Array(0);

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
  /** Stream bytes received in order from the start (at most MAX_STREAM_BYTES are taken). */
  private have = 0;
  private base = -1;
  /**
   * The in-order bytes not yet read: stream bytes [have - tailLen, have), the start of a record (or of a proxy
   * preamble) that is not complete yet. Complete records are read straight from the packet and never copied.
   */
  private tail = EMPTY;
  private tailLen = 0;
  /** The size the tail is about to need: the whole of the record it holds the start of. */
  private tailWant = 0;
  private pending: Array<{ off: number; bytes: Uint8Array }> = [];
  private pendingBytes = 0;
  /** The start of a handshake message that runs on into the next record (messages may split or join records). */
  private hs = EMPTY;
  private hsLen = 0;
  /** A handshake record has been read (no more looking for a hello after another protocol's bytes). */
  private sawHandshake = false;
  /** The tail does not start at a record: look for a hello record in it first (a non-TLS prefix). */
  private prefixScan = false;
  /** True once the handshake is over for our purposes (encrypted data, non-TLS bytes, or the cap). */
  done = false;
  /** "http-connect" when an HTTP CONNECT (or its 200 answer) preceded the TLS bytes. */
  preamble: string | undefined;
  error: string | undefined;
  private preambleChecked = false;
  /**
   * A stream that starts with neither a TLS record nor an HTTP CONNECT exchange is not buffered: its in-order
   * segments are only searched for a hello record (STARTTLS-style upgrades), up to MAX_PREFIX_SCAN bytes. Most
   * TCP flows that are not TLS thus cost one scan and no copy.
   */
  private scanning = false;
  private scanned = 0;

  /** `dir` is passed back to the sink with each message (the flow direction this stream is). */
  constructor(
    private readonly serverPort = 0,
    private readonly dir: 0 | 1 = 0,
  ) {}

  /** Record where the stream starts: the SYN's sequence number + 1. */
  setInitialSeq(isnPlusOne: number): void {
    if (this.base < 0) this.base = isnPlusOne >>> 0;
  }

  /**
   * Add a segment's payload b[start, end); the handshake messages it completes go to `sink` (their bytes are
   * valid only during the call: they may be the packet's own).
   */
  add(seq: number, b: Uint8Array, start: number, end: number, sink: HandshakeSink): void {
    if (this.done || end <= start) return;
    if (this.base < 0) this.base = seq >>> 0;
    // Offset of this segment in the stream, modulo 2^32 sequence wrap.
    const off = ((seq >>> 0) - this.base + 0x100000000) % 0x100000000;
    const n = end - start;
    if (this.have === 0 && off === this.scanned && !this.preambleChecked) {
      if (!this.scanning && off === 0 && b[start] !== 22 && b[start] !== CONNECT[0] && b[start] !== HTTP1[0]) {
        if (!mayUpgrade(b[start], this.serverPort)) {
          this.finish();
          return;
        }
        this.scanning = true;
      }
      if (this.scanning) {
        const at = findHelloRecord(b, start, end, start + MAX_PREFIX_SCAN - this.scanned);
        if (at < 0) {
          this.scanned += n;
          if (this.scanned >= MAX_PREFIX_SCAN) {
            this.finish();
            return;
          }
          // A hello record may start in the last few bytes and run on into the next segment: keep from there and
          // read on as a buffered stream that looks for the record first.
          let i = Math.max(start, end - 5);
          while (i < end && b[i] !== 22) i++;
          if (i < end) {
            this.scanning = false;
            this.preambleChecked = true;
            this.prefixScan = true;
            this.have = this.scanned;
            this.tail = b.slice(i, end);
            this.tailLen = end - i;
          }
          return;
        }
        // A hello record after another protocol's greeting: the TLS part of the stream starts here.
        this.scanning = false;
        this.preambleChecked = true;
        this.preamble = 'non-tls-prefix';
        this.base = ((seq >>> 0) + (at - start)) >>> 0;
        this.pending = [];
        this.pendingBytes = 0;
        this.add(this.base, b, at, end, sink);
        return;
      }
    } else if (this.scanning) return; // out of order while scanning: not worth buffering
    if (off > MAX_STREAM_BYTES * 4) return; // far away or before the start: not ours to place
    if (off + n <= this.have) return; // retransmission of what we have
    if (off > this.have) {
      if (this.pending.length < MAX_PENDING_SEGMENTS) {
        this.pending.push({ off, bytes: b.slice(start, end) });
        this.pendingBytes += n + PENDING_OVERHEAD_BYTES;
      }
      return;
    }
    // Read the new part, then any pending segments that now fit.
    this.feed(b, start + (this.have - off), end, sink);
    for (let again = this.pending.length > 0; again && !this.done; ) {
      again = false;
      for (let i = 0; i < this.pending.length; i++) {
        const s = this.pending[i];
        if (s.off <= this.have) {
          this.pending.splice(i, 1);
          this.pendingBytes -= s.bytes.length + PENDING_OVERHEAD_BYTES;
          if (s.off + s.bytes.length > this.have) this.feed(s.bytes, this.have - s.off, s.bytes.length, sink);
          again = true;
          break;
        }
      }
    }
  }

  /** The next in-order bytes b[from, to): read what completes, keep what does not. */
  private feed(b: Uint8Array, from: number, to: number, sink: HandshakeSink): void {
    const room = MAX_STREAM_BYTES - this.have;
    const capped = to - from > room;
    if (capped) to = from + room;
    this.have += to - from;
    if (this.tailLen === 0) {
      const keep = this.read(b, from, to, sink);
      if (!this.done && keep < to) {
        this.tail = this.room(this.tail, 0, Math.max(to - keep, this.tailWant));
        this.tail.set(b.subarray(keep, to));
        this.tailLen = to - keep;
      }
    } else {
      const n = to - from;
      this.tail = this.room(this.tail, this.tailLen, Math.max(this.tailLen + n, this.tailWant));
      this.tail.set(b.subarray(from, to), this.tailLen);
      this.tailLen += n;
      const keep = this.read(this.tail, 0, this.tailLen, sink);
      if (!this.done) {
        this.tail.copyWithin(0, keep, this.tailLen);
        this.tailLen -= keep;
      }
    }
    if (capped || this.have >= MAX_STREAM_BYTES) this.finish();
  }

  /** `buf` (holding `used` bytes) with room for `need`: sized to what is needed, then doubled, at most the cap. */
  private room(buf: Uint8Array, used: number, need: number): Uint8Array {
    if (need <= buf.length) return buf;
    // Sized to what arrived, then doubled: a half-open handshake of a few bytes holds a few bytes, not a
    // preallocated block (600,000 such flows held 5.3 GB).
    const bigger = new Uint8Array(Math.min(MAX_STREAM_BYTES, Math.max(need, buf.length * 2)));
    if (used > 0) bigger.set(buf.subarray(0, used));
    return bigger;
  }

  /**
   * Read records from b[pos, end), which are the stream bytes just before `have`; returns where the bytes not yet
   * read start (an incomplete record, or the end).
   */
  private read(b: Uint8Array, pos: number, end: number, sink: HandshakeSink): number {
    // Stream offset of b[i] is i + delta.
    const delta = this.have - end;
    if (!this.preambleChecked) {
      if (startsWith(b, pos, end, CONNECT) || startsWith(b, pos, end, HTTP1)) {
        const e = headerEnd(b, pos, end);
        if (e < 0) {
          if (this.have >= 8192) this.finish();
          return pos;
        }
        pos = e;
        this.preamble = 'http-connect';
      } else if (end - pos < CONNECT.length) return pos;
      this.preambleChecked = true;
    }
    this.tailWant = 0;
    while (end - pos >= 5) {
      if (this.prefixScan) {
        // Not a TLS record. Before any handshake byte, look a little further for a ClientHello or ServerHello
        // record after some other protocol's greeting; otherwise stop looking.
        const at = findHelloRecord(b, pos, end, MAX_PREFIX_SCAN - delta);
        if (at < 0) {
          if (this.have >= MAX_PREFIX_SCAN) {
            this.finish();
            return end;
          }
          // A hello record may yet start in the last 5 bytes: keep them, each byte is scanned once.
          return Math.max(pos, end - 5);
        }
        pos = at;
        this.prefixScan = false;
        this.preamble ??= 'non-tls-prefix';
      }
      const type = b[pos];
      const major = b[pos + 1];
      const len = (b[pos + 3] << 8) | b[pos + 4];
      if (type < 20 || type > 24 || major !== 3 || len > 18432) {
        if (this.sawHandshake) {
          this.finish();
          return end;
        }
        this.prefixScan = true;
        pos++;
        continue;
      }
      if (end - pos < 5 + len) {
        this.tailWant = 5 + len;
        break;
      }
      const body = pos + 5;
      pos = body + len;
      if (type !== 22) {
        // ChangeCipherSpec or application data: the clear-text handshake is over.
        if (type === 20 || type === 23) {
          this.finish();
          return end;
        }
        continue;
      }
      this.sawHandshake = true;
      this.messages(b, body, pos, sink);
    }
    return pos;
  }

  /** Cut the handshake messages out of one record's body b[s, e): straight from it when none is open. */
  private messages(b: Uint8Array, s: number, e: number, sink: HandshakeSink): void {
    if (this.hsLen === 0) {
      while (e - s >= 4) {
        const mlen = (b[s + 1] << 16) | (b[s + 2] << 8) | b[s + 3];
        if (e - s < 4 + mlen) break;
        sink.handshake(this.dir, b[s], b, s + 4, s + 4 + mlen);
        s += 4 + mlen;
      }
      if (s === e) return;
    }
    this.hs = this.room(this.hs, this.hsLen, this.hsLen + (e - s));
    this.hs.set(b.subarray(s, e), this.hsLen);
    this.hsLen += e - s;
    const h = this.hs;
    let q = 0;
    while (this.hsLen - q >= 4) {
      const mlen = (h[q + 1] << 16) | (h[q + 2] << 8) | h[q + 3];
      if (this.hsLen - q < 4 + mlen) break;
      sink.handshake(this.dir, h[q], h, q + 4, q + 4 + mlen);
      q += 4 + mlen;
    }
    if (q > 0) {
      h.copyWithin(0, q, this.hsLen);
      this.hsLen -= q;
    }
  }

  /** Stop reading this direction and let go of its bytes. */
  finish(): void {
    this.done = true;
    this.tail = EMPTY;
    this.tailLen = 0;
    this.hs = EMPTY;
    this.hsLen = 0;
    this.pending = [];
    this.pendingBytes = 0;
  }

  /** Bytes this stream holds (the object, its buffers, out-of-order segments), for the memory budget. */
  get heldBytes(): number {
    return STREAM_OBJECT_BYTES + this.tail.length + this.hs.length + this.pendingBytes;
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
