import { ipv4Text, ipv6Text } from '../common/addr.js';
import { DEFAULT_MAX_CAPLEN, HARD_MAX_CAPLEN, ParserBase } from './parser.js';
import { type CaptureMetadata, type InterfaceInfo, type PacketSink, normalizeLinkType } from './types.js';
import { NO_UID, PCAPDROID_PEN, parseUidMapBlock, uidFromComment } from './pcapdroid.js';
import { BT_DARWIN_PROCESS, DPEB_NAME, type DeviceProcess, EPB_DARWIN_EFFECTIVE_PROCESS, EPB_DARWIN_PROCESS, NO_PROCESS } from './darwin.js';

/** Block types (https://datatracker.ietf.org/doc/draft-ietf-opsawg-pcapng/). */
export const BT_SHB = 0x0a0d0d0a;
const BT_IDB = 1;
const BT_OPB = 2; // obsolete packet block
const BT_SPB = 3;
const BT_NRB = 4;
const BT_ISB = 5;
const BT_EPB = 6;
/** Custom blocks, copiable and not (PCAPdroid writes the first). */
const BT_CB = 0x00000bad;
const BT_CB_NOCOPY = 0x40000bad;
const BYTE_ORDER_MAGIC = 0x1a2b3c4d;
/** Blocks we know, used to judge candidates while resynchronising after a corrupt block. */
const KNOWN_BLOCKS = new Set([BT_SHB, BT_IDB, BT_OPB, BT_SPB, BT_NRB, BT_ISB, BT_EPB, 0x0a, 0x0bad, 0x40000bad, 7, 8, 9, BT_DARWIN_PROCESS]);

/**
 * What a file describes itself with, kept per input up to this many of each kind: interfaces, interface statistics,
 * section comments, name-resolution addresses (with at most MAX_NAMES_PER_ADDRESS names each), PCAPdroid's uid
 * mappings and Apple's process blocks. Real captures have a handful to some hundreds; a file made of nothing but
 * such blocks must not fill the memory.
 */
const MAX_METADATA_ENTRIES = 65536;
const MAX_NAMES_PER_ADDRESS = 64;

const OPT_COMMENT = 1;
const IDB_NAME = 2;
const IDB_DESCRIPTION = 3;
const IDB_OS = 12;
const SHB_HARDWARE = 2;
const SHB_OS = 3;
const SHB_USERAPPL = 4;
const IDB_TSRESOL = 9;
const IDB_TSOFFSET = 14;
const ISB_IFRECV = 4;
const ISB_IFDROP = 5;
const ISB_FILTERACCEPT = 6;
const ISB_OSDROP = 7;

const utf8 = new TextDecoder('utf-8', { fatal: false });

/** A string option: UTF-8, ending at the first NUL if a writer padded it with one (Wireshark reads it so too). */
function optString(buf: Uint8Array, o: number, len: number): string {
  const nul = buf.subarray(o, o + len).indexOf(0);
  return utf8.decode(buf.subarray(o, nul < 0 ? o + len : o + nul));
}

/** Per-interface timestamp converter. Exact for any resolution up to 2^53 units per second. */
class TsConverter {
  private cachedHi = -1;
  private baseSec = 0;
  private baseRem = 0;
  private readonly nsPerUnit: number;
  constructor(
    readonly unitsPerSec: number,
    readonly offsetSec: number,
  ) {
    this.nsPerUnit = 1e9 / unitsPerSec;
  }
  /** Sets out[0] = seconds, out[1] = nanoseconds. */
  convert(hi: number, lo: number, out: Float64Array): void {
    const u = this.unitsPerSec;
    if (hi !== this.cachedHi) {
      // hi * 2^32 units, split once per value of hi into whole seconds and a remainder of units.
      const big = BigInt(hi) << 32n;
      const bu = BigInt(u);
      this.baseSec = Number(big / bu);
      this.baseRem = Number(big % bu);
      this.cachedHi = hi;
    }
    const rem = this.baseRem + lo; // < u + 2^32: exact in a double
    const carry = Math.floor(rem / u);
    const frac = rem - carry * u;
    out[0] = this.baseSec + carry + this.offsetSec;
    // For 10^-k with k <= 9 this is an exact integer; finer or binary resolutions round down to the nanosecond.
    out[1] = Math.floor(frac * this.nsPerUnit + 1e-6);
    if (out[1] >= 1e9) out[1] = 999999999;
  }
}

interface Iface {
  info: InterfaceInfo;
  ts: TsConverter;
}

/**
 * pcapng reader: section headers in both byte orders, several sections, interface description blocks each with
 * their own link type, `if_tsresol` and `if_tsoffset`, enhanced / simple / obsolete packet blocks, name
 * resolution and interface statistics blocks, comments, PCAPdroid's uid mappings (pcapdroid.ts) and Apple's
 * process blocks (darwin.ts). Unknown blocks are skipped; a block whose lengths are
 * inconsistent is reported, and reading resumes at the next block that looks right.
 */
export class PcapngParser extends ParserBase {
  readonly metadata: CaptureMetadata = {
    format: 'pcapng',
    bigEndian: false,
    interfaces: [],
    sections: 0,
    names: new Map(),
    statistics: [],
    comments: [],
    deviceApps: [],
    deviceProcesses: [],
  };
  private le = true;
  private ifaces: Iface[] = [];
  /** Index in metadata.deviceProcesses of this section's process 0: packet blocks number processes per section. */
  private sectionProcesses = 0;
  /** Process blocks of this section, and of the whole input (kept or not: see MAX_METADATA_ENTRIES). */
  private sectionProcessCount = 0;
  private processTotal = 0;
  /** The kinds of metadata whose bound was reached (each reported once). */
  private readonly capped = new Set<string>();
  private sectionStarted = false;
  private resyncing = false;
  private resyncFromAbs = 0;
  private resyncNextAbs = 0;
  private readonly tsOut = new Float64Array(2);

  constructor(file: string, sink: PacketSink) {
    super(file, sink);
  }

  feed(buf: Uint8Array, dv: DataView, start: number, end: number, base: number, eof: boolean): number {
    let p = start;
    this.rec.data = buf;
    for (;;) {
      if (this.resyncing) {
        const found = this.scan(dv, Math.max(p, this.resyncNextAbs - base), end, eof);
        if (found < 0) {
          if (eof) {
            const cut = this.pastEnd;
            if (cut !== undefined) this.report('error', 'pcapng-block-truncated', cut.at, cut.message);
            else this.report('error', 'pcapng-no-block-after-corruption', this.resyncFromAbs, `no valid block in the remaining ${base + end - this.resyncFromAbs} bytes`);
            this.skippedBytes += base + end - this.resyncFromAbs;
            this.pastEnd = undefined;
            this.resyncing = false;
            return end;
          }
          const keep = -found - 1;
          this.resyncNextAbs = base + keep;
          this.need = Math.max(end - keep + 1, 24);
          return keep;
        }
        const cut = this.pastEnd;
        if (cut !== undefined) this.report('error', 'pcapng-length-past-end', cut.at, `block claims ${cut.len} bytes, past the end of the file, yet valid blocks follow: the length is corrupt; skipped ${base + found - this.resyncFromAbs} bytes, resumed at byte offset ${base + found}`);
        else this.report('error', 'pcapng-skipped-bytes', this.resyncFromAbs, `skipped ${base + found - this.resyncFromAbs} bytes of corrupt data; resumed at byte offset ${base + found}`);
        this.skippedBytes += base + found - this.resyncFromAbs;
        this.pastEnd = undefined;
        this.resyncing = false;
        p = found;
      }
      const avail = end - p;
      if (avail < 12) {
        if (eof) {
          if (avail > 0) this.report('error', 'pcapng-block-header-truncated', base + p, `file ends inside a block header (${avail} bytes left)`);
          return end;
        }
        this.need = 12;
        return p;
      }
      const type = dv.getUint32(p, this.le);
      if (type === BT_SHB) {
        // The byte order is only known after reading the byte-order magic.
        const bom = dv.getUint32(p + 8, true);
        if (bom === BYTE_ORDER_MAGIC) this.le = true;
        else if (bom === 0x4d3c2b1a) this.le = false;
        else {
          this.report('error', 'pcapng-bad-byte-order-magic', base + p + 8, `section header byte-order magic is 0x${bom.toString(16)}, not 0x1a2b3c4d`);
          this.beginResync(base + p);
          continue;
        }
      } else if (!this.sectionStarted) {
        this.report('error', 'pcapng-no-section-header', base + p, 'first block is not a section header block');
        this.beginResync(base + p);
        continue;
      }
      const len = dv.getUint32(p + 4, this.le);
      if (len < 12 || len % 4 !== 0 || len > HARD_MAX_CAPLEN + 64) {
        this.report('error', 'pcapng-bad-block-length', base + p + 4, `block of type 0x${type.toString(16)} has total length ${len} (must be a multiple of 4, at least 12)`);
        this.beginResync(base + p);
        continue;
      }
      if (avail < len) {
        if (eof) {
          // A cut last block, or a corrupt length with good blocks after it: scan on, as after any corruption.
          this.pastEnd = { at: base + p, message: `file ends inside a block of type 0x${type.toString(16)}: block length ${len}, ${avail} bytes remain`, len };
          this.beginResync(base + p);
          continue;
        }
        this.need = len;
        return p;
      }
      const trailer = dv.getUint32(p + len - 4, this.le);
      if (trailer !== len) {
        this.report('error', 'pcapng-block-length-mismatch', base + p + len - 4, `block of type 0x${type.toString(16)}: trailing length ${trailer} differs from leading length ${len}`);
        this.beginResync(base + p);
        continue;
      }
      this.block(type, buf, dv, p, len, base);
      p += len;
      if (this.stopped) return p;
    }
  }

  /** The block whose length ran past the end of the file, while the scan decides whether it was cut or corrupt. */
  private pastEnd: { at: number; message: string; len: number } | undefined;

  private beginResync(abs: number): void {
    this.resyncing = true;
    this.resyncFromAbs = abs;
    this.resyncNextAbs = abs + 4;
  }

  /** Find the next 4-aligned block with a known type and matching leading and trailing lengths. */
  private scan(dv: DataView, from: number, end: number, eof: boolean): number {
    // Blocks are 32-bit aligned relative to where the corruption started.
    let q = from + ((((this.resyncFromAbs - from) % 4) + 4) % 4);
    for (; q + 12 <= end; q += 4) {
      let le = this.le;
      const t = dv.getUint32(q, le);
      if (t === BT_SHB) {
        const bom = dv.getUint32(q + 8, true);
        if (bom === BYTE_ORDER_MAGIC) le = true;
        else if (bom === 0x4d3c2b1a) le = false;
        else continue;
      } else if (!KNOWN_BLOCKS.has(t)) continue;
      const len = dv.getUint32(q + 4, le);
      if (len < 12 || len % 4 !== 0 || len > HARD_MAX_CAPLEN + 64) continue;
      if (q + len > end) {
        if (eof) continue;
        return -(q + 1);
      }
      if (dv.getUint32(q + len - 4, le) === len) return q;
    }
    return -(q + 1);
  }

  private block(type: number, buf: Uint8Array, dv: DataView, p: number, len: number, base: number): void {
    const le = this.le;
    const bodyEnd = p + len - 4;
    switch (type) {
      case BT_SHB: {
        if (len < 28) {
          this.report('error', 'pcapng-shb-short', base + p, `section header block of ${len} bytes is shorter than 28`);
          return;
        }
        const major = dv.getUint16(p + 12, le);
        if (major !== 1) this.report('warning', 'pcapng-version', base + p + 12, `unexpected pcapng major version ${major}`);
        this.sectionStarted = true;
        this.metadata.sections++;
        if (this.metadata.sections === 1) this.metadata.bigEndian = !le;
        this.ifaces = [];
        this.sectionProcesses = this.processTotal;
        this.sectionProcessCount = 0;
        this.forEachOption(buf, dv, p + 24, bodyEnd, base, (code, o, olen) => {
          if (code === OPT_COMMENT) {
            if (this.room(this.metadata.comments.length, 'section comments', base + o)) this.metadata.comments.push(optString(buf, o, olen));
          }
          else if (this.metadata.sections === 1 && code === SHB_HARDWARE) this.metadata.hardware = optString(buf, o, olen);
          else if (this.metadata.sections === 1 && code === SHB_OS) this.metadata.os = optString(buf, o, olen);
          else if (this.metadata.sections === 1 && code === SHB_USERAPPL) this.metadata.application = optString(buf, o, olen);
        });
        return;
      }
      case BT_IDB: {
        if (len < 20) {
          this.report('error', 'pcapng-idb-short', base + p, `interface description block of ${len} bytes is shorter than 20`);
          return;
        }
        const linkType = normalizeLinkType(dv.getUint16(p + 8, le));
        const snapLen = dv.getUint32(p + 12, le);
        const info: InterfaceInfo = { id: this.ifaces.length, section: this.metadata.sections - 1, linkType, snapLen, tsUnitsPerSec: 1e6, tsOffsetSec: 0 };
        this.forEachOption(buf, dv, p + 16, bodyEnd, base, (code, o, olen) => {
          if (code === IDB_TSRESOL && olen >= 1) {
            const v = buf[o];
            const exp = v & 0x7f;
            const units = v & 0x80 ? 2 ** exp : 10 ** exp;
            if (units > 2 ** 53 || units < 1) {
              this.report('warning', 'pcapng-tsresol', base + o, `if_tsresol 0x${v.toString(16)} is out of range; using microseconds`);
            } else info.tsUnitsPerSec = units;
          } else if (code === IDB_TSOFFSET && olen >= 8) {
            info.tsOffsetSec = Number(dv.getBigInt64(o, le));
          } else if (code === IDB_NAME) info.name = optString(buf, o, olen);
          else if (code === IDB_DESCRIPTION) info.description = optString(buf, o, olen);
          else if (code === IDB_OS) info.os = optString(buf, o, olen);
        });
        // Past the bound, the section's later interfaces are not kept: their packets are reported as naming an
        // unknown interface, as for any packet block whose interface is missing.
        if (!this.room(this.metadata.interfaces.length, 'interfaces', base + p)) return;
        this.ifaces.push({ info, ts: new TsConverter(info.tsUnitsPerSec, info.tsOffsetSec) });
        this.metadata.interfaces.push(info);
        this.sink.interfaceAdded?.(info);
        return;
      }
      case BT_EPB:
      case BT_OPB: {
        if (len < 32) {
          this.report('error', 'pcapng-packet-block-short', base + p, `packet block of ${len} bytes is shorter than 32`);
          return;
        }
        const ifId = type === BT_EPB ? dv.getUint32(p + 8, le) : dv.getUint16(p + 8, le);
        const iface = this.ifaces[ifId];
        if (iface === undefined) {
          this.report('error', 'pcapng-unknown-interface', base + p + 8, `packet block names interface ${ifId}, but the section has ${this.ifaces.length} interface(s); packet skipped`);
          return;
        }
        const hi = dv.getUint32(p + 12, le);
        const lo = dv.getUint32(p + 16, le);
        let capLen = dv.getUint32(p + 20, le);
        const origLen = dv.getUint32(p + 24, le);
        const dataStart = p + 28;
        if (capLen > bodyEnd - dataStart) {
          this.report('error', 'pcapng-caplen-exceeds-block', base + p + 20, `captured length ${capLen} exceeds the ${bodyEnd - dataStart} bytes the block holds; using what is there`);
          capLen = bodyEnd - dataStart;
        }
        const snap = iface.info.snapLen;
        if (snap > 0 && capLen > snap) {
          this.report('warning', 'pcapng-caplen-exceeds-snaplen', base + p + 20, `captured length ${capLen} exceeds interface ${ifId}'s snap length ${snap}`);
        }
        if (origLen < capLen) this.report('warning', 'pcapng-origlen-below-caplen', base + p + 24, `original length ${origLen} is smaller than the captured length ${capLen}`);
        iface.ts.convert(hi, lo, this.tsOut);
        const rec = this.rec;
        rec.comment = undefined;
        rec.deviceUid = NO_UID;
        rec.deviceProcess = NO_PROCESS;
        const optStart = dataStart + ((capLen + 3) & ~3);
        if (optStart < bodyEnd) {
          let owner = NO_PROCESS;
          let effective = NO_PROCESS;
          this.forEachOption(buf, dv, optStart, bodyEnd, base, (code, o, olen) => {
            if (code === OPT_COMMENT) {
              rec.comment = optString(buf, o, olen);
              rec.deviceUid = uidFromComment(rec.comment);
            } else if ((code === EPB_DARWIN_PROCESS || code === EPB_DARWIN_EFFECTIVE_PROCESS) && olen >= 4) {
              const n = dv.getUint32(o, le);
              if (n >= this.sectionProcessCount) {
                this.report('warning', 'pcapng-darwin-process', base + o, `packet names process ${n}, but the section has ${this.sectionProcessCount} process block(s) before it`);
              } else if (this.sectionProcesses + n >= MAX_METADATA_ENTRIES) {
                // A process past the cap was not kept (reported once): the packet goes unnamed.
              } else if (code === EPB_DARWIN_PROCESS) owner = this.sectionProcesses + n;
              else effective = this.sectionProcesses + n;
            }
          });
          // The effective process (the app a daemon worked for) names the packet, as PKTAP's pth_ecomm does.
          rec.deviceProcess = effective !== NO_PROCESS ? effective : owner;
        }
        this.emitPacket(base + p, iface, capLen, origLen, dataStart);
        return;
      }
      case BT_SPB: {
        const iface = this.ifaces[0];
        if (iface === undefined) {
          this.report('error', 'pcapng-spb-without-interface', base + p, 'simple packet block before any interface description block; packet skipped');
          return;
        }
        if (len < 16) {
          this.report('error', 'pcapng-spb-short', base + p, `simple packet block of ${len} bytes is shorter than 16`);
          return;
        }
        const origLen = dv.getUint32(p + 8, le);
        const snap = iface.info.snapLen;
        let capLen = Math.min(origLen, bodyEnd - (p + 12));
        if (snap > 0) capLen = Math.min(capLen, snap);
        // A simple packet block has no timestamp; like Wireshark we report time 0.
        this.tsOut[0] = 0;
        this.tsOut[1] = 0;
        this.rec.comment = undefined;
        this.rec.deviceUid = NO_UID;
        this.rec.deviceProcess = NO_PROCESS;
        this.emitPacket(base + p, iface, capLen, origLen, p + 12);
        return;
      }
      case BT_NRB:
        this.nameResolution(buf, dv, p + 8, bodyEnd, base);
        return;
      case BT_ISB: {
        if (len < 24) return;
        const ifId = dv.getUint32(p + 8, le);
        const stats: CaptureMetadata['statistics'][number] = { section: this.metadata.sections - 1, interfaceId: ifId };
        this.forEachOption(buf, dv, p + 20, bodyEnd, base, (code, o, olen) => {
          if (olen < 8) return;
          const v = dv.getBigUint64(o, le);
          if (code === ISB_IFRECV) stats.received = v;
          else if (code === ISB_IFDROP) stats.droppedByInterface = v;
          else if (code === ISB_OSDROP) stats.droppedByOs = v;
          else if (code === ISB_FILTERACCEPT) stats.filterAccepted = v;
        });
        if (this.room(this.metadata.statistics.length, 'interface statistics', base + p)) this.metadata.statistics.push(stats);
        return;
      }
      case BT_CB:
      case BT_CB_NOCOPY: {
        this.otherRecords++; // a frame of its own in Wireshark
        if (len < 16 || dv.getUint32(p + 8, le) !== PCAPDROID_PEN) return; // another vendor's custom block
        const r = parseUidMapBlock(buf, p + 12, bodyEnd, le);
        if (!r.ok) {
          this.report('warning', 'pcapdroid-block', base + p, `${r.message}; block skipped`);
          return;
        }
        if (!this.room(this.metadata.deviceApps.length, 'PCAPdroid uid mappings', base + p)) return;
        this.metadata.deviceApps.push(r.app);
        this.sink.deviceApp?.(r.app);
        return;
      }
      case BT_DARWIN_PROCESS: {
        // The process id, then options: its name (the UUID is not needed). A block too short for the id still counts,
        // so the section's later processes keep the numbers the packets use.
        const proc: DeviceProcess = { pid: 0, name: null };
        if (bodyEnd - (p + 8) < 4) {
          this.report('warning', 'pcapng-darwin-process', base + p, `Darwin process event block of ${len} bytes has no process id; its process has no name`);
        } else {
          proc.pid = dv.getUint32(p + 8, le);
          this.forEachOption(buf, dv, p + 12, bodyEnd, base, (code, o, olen) => {
            if (code === DPEB_NAME) proc.name = optString(buf, o, olen);
          });
        }
        this.sectionProcessCount++;
        // Past the bound a process is counted, so the section's numbering holds, but not kept: its packets go unnamed.
        if (!this.room(this.processTotal++, 'Darwin process blocks', base + p)) return;
        this.metadata.deviceProcesses.push(proc);
        this.sink.deviceProcess?.(proc);
        return;
      }
      default:
        return; // decryption-secrets, journal and unknown blocks carry no packets
    }
  }

  /** Whether a list of `length` entries may take one more; at the bound, a warning, once for each kind. */
  private room(length: number, kind: string, at: number): boolean {
    if (length < MAX_METADATA_ENTRIES) return true;
    if (!this.capped.has(kind)) {
      this.capped.add(kind);
      this.report('warning', 'pcapng-metadata-bound', at, `more than ${MAX_METADATA_ENTRIES} ${kind}: this one and later ones are not kept`);
    }
    return false;
  }

  private emitPacket(offset: number, iface: Iface, capLen: number, origLen: number, dataOffset: number): void {
    const rec = this.rec;
    rec.offset = offset;
    rec.linkType = iface.info.linkType;
    rec.interfaceId = iface.info.id;
    rec.tsSec = this.tsOut[0];
    rec.tsNsec = this.tsOut[1];
    rec.capLen = capLen;
    rec.origLen = origLen;
    rec.dataOffset = dataOffset;
    if (capLen > DEFAULT_MAX_CAPLEN && (iface.info.snapLen === 0 || capLen > iface.info.snapLen)) {
      this.report('warning', 'pcapng-large-packet', offset, `packet of ${capLen} captured bytes is larger than ${DEFAULT_MAX_CAPLEN}`);
    }
    this.emit();
  }

  /** Walk options without trusting their lengths: an option that runs past the block ends the walk. */
  private forEachOption(buf: Uint8Array, dv: DataView, o: number, end: number, base: number, f: (code: number, at: number, len: number) => void): void {
    const le = this.le;
    while (o + 4 <= end) {
      const code = dv.getUint16(o, le);
      const olen = dv.getUint16(o + 2, le);
      if (code === 0) return; // opt_endofopt
      if (o + 4 + olen > end) {
        this.report('warning', 'pcapng-option-overrun', base + o, `option ${code} of length ${olen} runs past the end of its block; remaining options ignored`);
        return;
      }
      f(code, o + 4, olen);
      o += 4 + ((olen + 3) & ~3);
    }
    void buf;
  }

  private nameResolution(buf: Uint8Array, dv: DataView, o: number, end: number, base: number): void {
    const le = this.le;
    while (o + 4 <= end) {
      const rtype = dv.getUint16(o, le);
      const rlen = dv.getUint16(o + 2, le);
      if (rtype === 0) break;
      const v = o + 4;
      if (v + rlen > end) {
        this.report('warning', 'pcapng-nrb-overrun', base + o, `name record of length ${rlen} runs past the end of its block`);
        return;
      }
      const alen = rtype === 1 ? 4 : rtype === 2 ? 16 : -1;
      if (alen > 0 && rlen > alen) {
        const w = (i: number) => dv.getUint32(v + i, false);
        const addr = alen === 4 ? ipv4Text(w(0)) : ipv6Text(w(0), w(4), w(8), w(12));
        const names = utf8
          .decode(buf.subarray(v + alen, v + rlen))
          .split('\0')
          .filter((s) => s.length > 0);
        let list = this.metadata.names.get(addr);
        if (list === undefined && this.room(this.metadata.names.size, 'name-resolution addresses', base + o)) {
          list = [];
          this.metadata.names.set(addr, list);
        }
        for (const n of names) if (list !== undefined && list.length < MAX_NAMES_PER_ADDRESS) list.push(n);
      }
      o = v + ((rlen + 3) & ~3);
    }
  }
}
