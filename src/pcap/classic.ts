import { DEFAULT_MAX_CAPLEN, HARD_MAX_CAPLEN, ParserBase } from './parser.js';
import { type CaptureMetadata, type PacketSink, normalizeLinkType } from './types.js';

/** Classic libpcap magic numbers, as read little-endian from the first 4 bytes. */
const MAGIC_USEC = 0xa1b2c3d4;
const MAGIC_NSEC = 0xa1b23c4d;
const MAGIC_USEC_SWAPPED = 0xd4c3b2a1;
const MAGIC_NSEC_SWAPPED = 0x4d3cb2a1;
/**
 * Alexey Kuznetzov's modified pcap (patched libpcap of Red Hat Linux 6 and SuSE 6.3): microsecond times, and each
 * record header 8 bytes longer, with the interface index, protocol and packet type. Wireshark reads it too.
 */
const MAGIC_MODIFIED = 0xa1b2cd34;
const MAGIC_MODIFIED_SWAPPED = 0x34cdb2a1;
const MODIFIED_RECORD_HEADER_LEN = 24;
/** Classic pcap framing, also used by capture/rotate.ts to cut a stream into files on record boundaries. */
export const FILE_HEADER_LEN = 24;
export const RECORD_HEADER_LEN = 16;
/** How far a resynchronised record's timestamp may stray from the last good one (seconds). */
const RESYNC_TIME_WINDOW = 7 * 86400;

export function isClassicPcapMagic(m: number): boolean {
  return m === MAGIC_USEC || m === MAGIC_NSEC || m === MAGIC_USEC_SWAPPED || m === MAGIC_NSEC_SWAPPED;
}

/** Whether a classic pcap file with this magic (read little-endian) is written little-endian. */
export function isLittleEndianMagic(m: number): boolean {
  return m === MAGIC_USEC || m === MAGIC_NSEC || m === MAGIC_MODIFIED;
}

/** The modified pcap's magic, in either byte order (this parser reads it; capture rotation writes only the standard). */
export function isModifiedPcapMagic(m: number): boolean {
  return m === MAGIC_MODIFIED || m === MAGIC_MODIFIED_SWAPPED;
}

/**
 * Classic pcap (https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcap/): both byte orders, micro- and
 * nanosecond timestamps, and the modified pcap of old Linux distributions (24-byte record headers). A corrupt record header is reported and skipped by scanning for the next plausible
 * header, so the good packets after it are still read (Wireshark stops at the first one instead).
 */
export class ClassicPcapParser extends ParserBase {
  readonly metadata: CaptureMetadata = {
    format: 'pcap',
    bigEndian: false,
    interfaces: [],
    sections: 1,
    names: new Map(),
    statistics: [],
    comments: [],
    deviceApps: [],
    deviceProcesses: [],
  };
  private headerDone = false;
  private le = true;
  private nsec = false;
  /** Bytes of each record header: 16, or 24 in the modified format. */
  private recHeader = RECORD_HEADER_LEN;
  private linkType = 0;
  private snapLen = 0;
  /** Largest captured length we accept before calling a record header corrupt. */
  private maxCapLen = DEFAULT_MAX_CAPLEN;
  private lastTsSec = -1;
  /** True while we are scanning for the next plausible record after a corrupt one. */
  private resyncing = false;
  /** The record whose length ran past the end of the file, while the scan decides whether it was cut or corrupt. */
  private pastEnd: { at: number; message: string; capLen: number } | undefined;
  /** Absolute input offsets: where the corrupt record started, and the next candidate to test. */
  private resyncFromAbs = 0;
  private resyncNextAbs = 0;

  constructor(file: string, sink: PacketSink) {
    super(file, sink);
  }

  feed(buf: Uint8Array, dv: DataView, start: number, end: number, base: number, eof: boolean): number {
    let p = start;
    if (!this.headerDone) {
      if (end - p < FILE_HEADER_LEN) {
        if (eof) {
          this.report('error', 'pcap-header-truncated', base + p, `file is ${end - p} bytes, shorter than the 24-byte pcap header`);
          return end;
        }
        this.need = FILE_HEADER_LEN;
        return p;
      }
      this.parseFileHeader(dv, p, base);
      p += FILE_HEADER_LEN;
    }
    const le = this.le;
    const rh = this.recHeader;
    const unitToNs = this.nsec ? 1 : 1000;
    const fracLimit = this.nsec ? 1e9 : 1e6;
    const rec = this.rec;
    rec.data = buf;
    rec.linkType = this.linkType;
    rec.interfaceId = 0;
    rec.comment = undefined;
    for (;;) {
      if (this.resyncing) {
        const found = this.scanForRecord(dv, Math.max(p, this.resyncNextAbs - base), end, eof);
        if (found < 0) {
          if (eof) {
            const cut = this.pastEnd;
            if (cut !== undefined) this.report('error', 'pcap-record-truncated', cut.at, cut.message);
            else this.report('error', 'pcap-no-record-after-corruption', this.resyncFromAbs, `no valid packet record in the remaining ${base + end - this.resyncFromAbs} bytes`);
            this.skippedBytes += base + end - this.resyncFromAbs;
            this.pastEnd = undefined;
            this.resyncing = false;
            return end;
          }
          // Keep the undecided candidate and the bytes after it; ask for more input.
          const keep = -found - 1;
          this.resyncNextAbs = base + keep;
          this.need = Math.max(end - keep + 1, rh * 2);
          return keep;
        }
        const cut = this.pastEnd;
        if (cut !== undefined) this.report('error', 'pcap-length-past-end', cut.at, `record header claims ${cut.capLen} captured bytes, past the end of the file, yet valid records follow: the length is corrupt; skipped ${base + found - this.resyncFromAbs} bytes, resumed at byte offset ${base + found}`);
        else this.report('error', 'pcap-skipped-bytes', this.resyncFromAbs, `skipped ${base + found - this.resyncFromAbs} bytes of corrupt data; resumed at byte offset ${base + found}`);
        this.skippedBytes += base + found - this.resyncFromAbs;
        this.pastEnd = undefined;
        this.resyncing = false;
        p = found;
      }
      const avail = end - p;
      if (avail < rh) {
        if (eof) {
          if (avail > 0) this.report('error', 'pcap-record-header-truncated', base + p, `file ends inside a record header (${avail} of ${rh} bytes present)`);
          return end;
        }
        this.need = rh;
        return p;
      }
      const tsSec = dv.getUint32(p, le);
      const tsFrac = dv.getUint32(p + 4, le);
      const capLen = dv.getUint32(p + 8, le);
      const origLen = dv.getUint32(p + 12, le);
      if (capLen > this.maxCapLen) {
        this.report('error', 'pcap-caplen-too-large', base + p, `record header claims a captured length of ${capLen} bytes, more than the maximum ${this.maxCapLen}; the header is corrupt`);
        this.resyncing = true;
        this.resyncFromAbs = base + p;
        this.resyncNextAbs = base + p + 1;
        continue;
      }
      if (avail < rh + capLen) {
        if (eof) {
          // Past the end of the file: a cut last record, or a corrupt length with good records after it. Scan on
          // as after any corruption; only when nothing valid follows is it the cut record.
          this.pastEnd = { at: base + p, message: `file ends inside the packet record: header says ${capLen} captured bytes, only ${avail - rh} remain`, capLen };
          this.resyncing = true;
          this.resyncFromAbs = base + p;
          this.resyncNextAbs = base + p + 1;
          continue;
        }
        this.need = rh + capLen;
        return p;
      }
      if (this.snapLen > 0 && capLen > this.snapLen) {
        this.report('warning', 'pcap-caplen-exceeds-snaplen', base + p, `captured length ${capLen} exceeds the file's snap length ${this.snapLen}`);
      }
      if (origLen < capLen) {
        this.report('warning', 'pcap-origlen-below-caplen', base + p, `original length ${origLen} is smaller than the captured length ${capLen}`);
      }
      let sec = tsSec;
      let frac = tsFrac;
      if (frac >= fracLimit) {
        this.report('warning', 'pcap-timestamp-fraction', base + p, `timestamp fraction ${frac} is not below ${fracLimit}; carried into seconds`);
        sec += Math.floor(frac / fracLimit);
        frac %= fracLimit;
      }
      rec.offset = base + p;
      rec.tsSec = sec;
      rec.tsNsec = frac * unitToNs;
      rec.capLen = capLen;
      rec.origLen = origLen;
      rec.dataOffset = p + rh;
      this.lastTsSec = sec;
      this.emit();
      p += rh + capLen;
      if (this.stopped) return p;
    }
  }

  private parseFileHeader(dv: DataView, p: number, base: number): void {
    const m = dv.getUint32(p, true);
    this.le = isLittleEndianMagic(m);
    this.nsec = m === MAGIC_NSEC || m === MAGIC_NSEC_SWAPPED;
    if (isModifiedPcapMagic(m)) {
      this.recHeader = MODIFIED_RECORD_HEADER_LEN;
      this.metadata.variant = 'modified';
    }
    const major = dv.getUint16(p + 4, this.le);
    const minor = dv.getUint16(p + 6, this.le);
    if (major !== 2) this.report('warning', 'pcap-version', base + p + 4, `unexpected pcap version ${major}.${minor}`);
    const snap = dv.getUint32(p + 16, this.le);
    const rawLink = dv.getUint32(p + 20, this.le);
    this.linkType = normalizeLinkType(rawLink & 0xffff);
    if (snap === 0 || snap > HARD_MAX_CAPLEN) {
      this.report('warning', 'pcap-snaplen-bogus', base + p + 16, `snap length ${snap} is not usable; records up to ${DEFAULT_MAX_CAPLEN} bytes are accepted`);
      this.snapLen = 0;
      this.maxCapLen = DEFAULT_MAX_CAPLEN;
    } else {
      this.snapLen = snap;
      this.maxCapLen = Math.max(snap, DEFAULT_MAX_CAPLEN);
    }
    this.headerDone = true;
    this.metadata.bigEndian = !this.le;
    this.metadata.interfaces.push({
      id: 0,
      section: 0,
      linkType: this.linkType,
      snapLen: this.snapLen,
      tsUnitsPerSec: this.nsec ? 1e9 : 1e6,
      tsOffsetSec: 0,
    });
    this.sink.interfaceAdded?.(this.metadata.interfaces[0]);
  }

  /** Is there a plausible record header at `q`? */
  private plausible(dv: DataView, q: number): boolean {
    const le = this.le;
    const tsSec = dv.getUint32(q, le);
    const frac = dv.getUint32(q + 4, le);
    const cap = dv.getUint32(q + 8, le);
    const orig = dv.getUint32(q + 12, le);
    if (frac >= (this.nsec ? 1e9 : 1e6)) return false;
    if (cap > this.maxCapLen || orig < cap || orig > HARD_MAX_CAPLEN) return false;
    if (this.snapLen > 0 && cap > this.snapLen) return false;
    if (this.lastTsSec >= 0 && Math.abs(tsSec - this.lastTsSec) > RESYNC_TIME_WINDOW) return false;
    return true;
  }

  /**
   * Scan from one byte past the corrupt header for a header that is plausible and is followed by another
   * plausible header (or the exact end of the input). Returns its index, or `-(index+1)` of the first
   * candidate that needs more bytes to judge.
   */
  private scanForRecord(dv: DataView, from: number, end: number, eof: boolean): number {
    let q = from;
    for (; q + this.recHeader <= end; q++) {
      if (!this.plausible(dv, q)) continue;
      const cap = dv.getUint32(q + 8, this.le);
      const next = q + this.recHeader + cap;
      if (next === end && eof) return q;
      if (next + this.recHeader > end) {
        if (eof) continue;
        return -(q + 1);
      }
      if (this.plausible(dv, next)) return q;
    }
    return -(q + 1);
  }
}
