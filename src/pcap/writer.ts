import { closeSync, openSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { atomicTarget, checkOutputPath, openAtomically } from '../common/atomic-file.js';
import type { InterfaceInfo, PacketRecord } from './types.js';
import { type DeviceApp, PCAPDROID_PEN, PCAPDROID_UID_MAP } from './pcapdroid.js';
import { BT_DARWIN_PROCESS, type DeviceProcess, EPB_DARWIN_PROCESS } from './darwin.js';

/** Writes packets to a capture. Both writers keep nanosecond timestamps. */
export interface CaptureWriter {
  write(rec: PacketRecord): void;
  /**
   * Whether the format holds what a device recorded besides the packets (pcapng does: packet comments, PCAPdroid's
   * uid mappings, Apple's process blocks; classic pcap holds none of them).
   */
  readonly keepsDeviceLabels: boolean;
  /** Keep a PCAPdroid uid mapping, before the packets that name its uid (pcapng only). */
  deviceApp?(app: DeviceApp): void;
  /** Keep an Apple process block; the writer numbers them in the order given, as the reader does (pcapng only). */
  deviceProcess?(proc: DeviceProcess): void;
  /** An input interface (the reader's interfaceAdded), before its packets: pcapng keeps its name and description. */
  interfaceAdded?(info: InterfaceInfo): void;
  /** Finish the capture (with openCaptureWriter, rename it over the name asked for). */
  close(): Promise<void>;
  /** With openCaptureWriter: drop what was written, leaving the file at the name as it was. */
  abort?(): Promise<void>;
  readonly packets: number;
}

/** Buffers small writes into large ones; a write per packet to a stream costs more than the packet. */
class Batcher {
  private buf = new Uint8Array(1 << 20);
  private dv = new DataView(this.buf.buffer);
  private len = 0;
  constructor(private readonly out: Output) {}

  reserve(n: number): { dv: DataView; buf: Uint8Array; at: number } {
    if (this.len + n > this.buf.length) this.flush();
    if (n > this.buf.length) {
      this.buf = new Uint8Array(n);
      this.dv = new DataView(this.buf.buffer);
    }
    const at = this.len;
    this.len += n;
    return { dv: this.dv, buf: this.buf, at };
  }

  flush(): void {
    if (this.len === 0) return;
    this.out.write(this.buf.subarray(0, this.len));
    this.len = 0;
  }

  async end(): Promise<void> {
    this.flush();
    await this.out.end();
  }
}

/**
 * Where bytes go. Files are written synchronously so a fast reader can never queue unbounded data in memory;
 * streams (stdout, sockets) get a copy per flush and are drained at the end.
 */
interface Output {
  write(chunk: Uint8Array): void;
  end(): Promise<void>;
}

function toOutput(target: string | Writable): Output {
  if (typeof target === 'string' && target !== '-') {
    const fd = openSync(target, 'w');
    return {
      write(chunk) {
        let off = 0;
        while (off < chunk.length) off += writeSync(fd, chunk, off, chunk.length - off);
      },
      async end() {
        closeSync(fd);
      },
    };
  }
  const stream = typeof target === 'string' ? process.stdout : target;
  return {
    write(chunk) {
      stream.write(chunk.slice());
    },
    end: () =>
      new Promise<void>((resolve, reject) => {
        if (stream === process.stdout) {
          stream.write('', () => resolve());
          return;
        }
        stream.once('error', reject);
        stream.end(() => resolve());
      }),
  };
}

/** Classic pcap, little-endian, nanosecond magic (0xa1b23c4d), one link type. */
export class PcapWriter implements CaptureWriter {
  private readonly b: Batcher;
  private linkType = -1;
  packets = 0;
  readonly keepsDeviceLabels = false;

  constructor(
    target: string | Writable,
    private readonly snapLen = 262144,
  ) {
    this.b = new Batcher(toOutput(target));
  }

  write(rec: PacketRecord): void {
    if (this.linkType < 0) this.header(rec.linkType);
    else if (rec.linkType !== this.linkType) {
      throw new Error(`packet ${rec.number} has link type ${rec.linkType} but the pcap output was started with link type ${this.linkType}; a classic pcap holds one link type, write .pcapng instead`);
    }
    const r = this.b.reserve(16 + rec.capLen);
    r.dv.setUint32(r.at, rec.tsSec >>> 0, true);
    r.dv.setUint32(r.at + 4, rec.tsNsec, true);
    r.dv.setUint32(r.at + 8, rec.capLen, true);
    r.dv.setUint32(r.at + 12, rec.origLen, true);
    r.buf.set(rec.data.subarray(rec.dataOffset, rec.dataOffset + rec.capLen), r.at + 16);
    this.packets++;
  }

  /** The file header, written with the first packet since it names that packet's link type. */
  private header(linkType: number): void {
    this.linkType = linkType;
    const h = this.b.reserve(24);
    h.dv.setUint32(h.at, 0xa1b23c4d, true);
    h.dv.setUint16(h.at + 4, 2, true);
    h.dv.setUint16(h.at + 6, 4, true);
    h.dv.setUint32(h.at + 8, 0, true);
    h.dv.setUint32(h.at + 12, 0, true);
    h.dv.setUint32(h.at + 16, this.snapLen, true);
    h.dv.setUint32(h.at + 20, linkType, true);
  }

  close(): Promise<void> {
    // An empty capture still gets a valid header (Ethernet by default).
    if (this.linkType < 0) this.header(1);
    return this.b.end();
  }
}

const utf8 = new TextEncoder();

/** Bytes a pcapng option with `len` value bytes takes: code, length, the value padded to four. */
const optionBytes = (len: number): number => 4 + ((len + 3) & ~3);

/** A pcapng option at `o` (its padding zeroed); returns where the next option starts. */
function putOption(dv: DataView, buf: Uint8Array, o: number, code: number, value: Uint8Array): number {
  dv.setUint16(o, code, true);
  dv.setUint16(o + 2, value.length, true);
  buf.set(value, o + 4);
  const next = o + optionBytes(value.length);
  buf.fill(0, o + 4 + value.length, next);
  return next;
}

/**
 * pcapng, little-endian, one section; an interface per distinct input interface (its link type, name, description
 * and decimal time resolution; nanoseconds otherwise), so captures that mix link types keep them. What the device recorded is kept as the readers read it:
 * each packet's comment (PCAPdroid's u-<uid>), PCAPdroid's uid mappings as its custom blocks, and Apple's process
 * blocks with each packet's process (written as the packet's owner: the reader named the packet by its effective
 * process when it had one, and reads it back the same).
 */
export class PcapngWriter implements CaptureWriter {
  private readonly b: Batcher;
  private readonly ifaceIds = new Map<string, number>();
  /** Per written interface: its timestamp ticks per second (the input's decimal resolution, else nanoseconds). */
  private readonly ticksPerSec: bigint[] = [];
  private readonly nsPerTick: number[] = [];
  /** The input's interfaces of the current section by id (a new section numbers its interfaces from 0 again). */
  private readonly inputIfaces = new Map<number, InterfaceInfo>();
  /** A reused 4-byte option value (a packet's process number). */
  private readonly wordBytes = new Uint8Array(4);
  private readonly word = new DataView(this.wordBytes.buffer);
  packets = 0;
  readonly keepsDeviceLabels = true;

  constructor(target: string | Writable) {
    this.b = new Batcher(toOutput(target));
    const h = this.b.reserve(28);
    h.dv.setUint32(h.at, 0x0a0d0d0a, true);
    h.dv.setUint32(h.at + 4, 28, true);
    h.dv.setUint32(h.at + 8, 0x1a2b3c4d, true);
    h.dv.setUint16(h.at + 12, 1, true);
    h.dv.setUint16(h.at + 14, 0, true);
    h.dv.setBigInt64(h.at + 16, -1n, true); // section length unknown
    h.dv.setUint32(h.at + 24, 28, true);
  }

  interfaceAdded(info: InterfaceInfo): void {
    this.inputIfaces.set(info.id, info);
  }

  private iface(rec: PacketRecord): number {
    const input = this.inputIfaces.get(rec.interfaceId);
    const name = input?.name;
    const description = input?.description;
    const key = `${rec.interfaceId}/${rec.linkType}/${name ?? ''}/${description ?? ''}`;
    let id = this.ifaceIds.get(key);
    if (id === undefined) {
      id = this.ifaceIds.size;
      this.ifaceIds.set(key, id);
      // IDB: link type, snap length 0, if_name and if_description as the input had them, and if_tsresol: the input's
      // decimal resolution (times as they were, as tshark writes them; a microsecond time near 2^64 ticks fits
      // only so), else nanoseconds (binary resolutions were read to the nanosecond).
      const units = input?.tsUnitsPerSec;
      const exp = units === undefined ? 9 : [1, 10, 100, 1e3, 1e4, 1e5, 1e6, 1e7, 1e8, 1e9].indexOf(units);
      const digits = exp < 0 ? 9 : exp;
      this.ticksPerSec[id] = 10n ** BigInt(digits);
      this.nsPerTick[id] = 10 ** (9 - digits);
      const opt = (code: number, v: Uint8Array | undefined) => (v === undefined ? [] : [{ code, v }]);
      const enc = (t: string | undefined) => (t === undefined ? undefined : utf8.encode(t).subarray(0, 0xffff));
      const opts = [...opt(2, enc(name)), ...opt(3, enc(description)), { code: 9, v: Uint8Array.of(digits) }];
      const len = 16 + opts.reduce((n, o) => n + optionBytes(o.v.length), 0) + 4 + 4;
      const h = this.b.reserve(len);
      h.buf.fill(0, h.at, h.at + len);
      h.dv.setUint32(h.at, 1, true);
      h.dv.setUint32(h.at + 4, len, true);
      h.dv.setUint16(h.at + 8, rec.linkType, true);
      let o = h.at + 16;
      for (const { code, v } of opts) o = putOption(h.dv, h.buf, o, code, v);
      // opt_endofopt is the zeroed word at o; then the trailing length.
      h.dv.setUint32(h.at + len - 4, len, true);
    }
    return id;
  }

  write(rec: PacketRecord): void {
    const id = this.iface(rec);
    const padded = (rec.capLen + 3) & ~3;
    const comment = rec.comment === undefined ? undefined : utf8.encode(rec.comment).subarray(0, 0xffff);
    // Options: the comment, the process (4 bytes), the end of options; none at all for a plain packet.
    const opts = comment === undefined && rec.deviceProcess < 0 ? 0 : (comment === undefined ? 0 : optionBytes(comment.length)) + (rec.deviceProcess < 0 ? 0 : optionBytes(4)) + 4;
    const len = 32 + padded + opts;
    const r = this.b.reserve(len);
    const ticks = BigInt(rec.tsSec) * this.ticksPerSec[id] + BigInt(Math.floor(rec.tsNsec / this.nsPerTick[id]));
    if (ticks < 0n || ticks >= 1n << 64n) throw new Error(`packet ${rec.number}: its time (${rec.tsSec} s) does not fit a pcapng timestamp`);
    r.dv.setUint32(r.at, 6, true);
    r.dv.setUint32(r.at + 4, len, true);
    r.dv.setUint32(r.at + 8, id, true);
    r.dv.setUint32(r.at + 12, Number(ticks >> 32n), true);
    r.dv.setUint32(r.at + 16, Number(ticks & 0xffffffffn), true);
    r.dv.setUint32(r.at + 20, rec.capLen, true);
    r.dv.setUint32(r.at + 24, rec.origLen, true);
    r.buf.set(rec.data.subarray(rec.dataOffset, rec.dataOffset + rec.capLen), r.at + 28);
    r.buf.fill(0, r.at + 28 + rec.capLen, r.at + 28 + padded);
    if (opts > 0) {
      let o = r.at + 28 + padded;
      if (comment !== undefined) o = putOption(r.dv, r.buf, o, 1, comment); // opt_comment
      if (rec.deviceProcess >= 0) {
        this.word.setUint32(0, rec.deviceProcess, true);
        o = putOption(r.dv, r.buf, o, EPB_DARWIN_PROCESS, this.wordBytes);
      }
      r.dv.setUint32(o, 0, true); // opt_endofopt
    }
    r.dv.setUint32(r.at + len - 4, len, true);
    this.packets++;
  }

  /** PCAPdroid's custom block (PEN 62652) mapping a uid to its package and app name (pcapdroid.ts reads it). */
  deviceApp(app: DeviceApp): void {
    const pkg = utf8.encode(app.packageName ?? '').subarray(0, 255);
    const name = utf8.encode(app.appName ?? '').subarray(0, 255);
    const body = 4 + 4 + 6 + pkg.length + name.length;
    const len = 8 + ((body + 3) & ~3) + 4;
    const r = this.b.reserve(len);
    r.buf.fill(0, r.at, r.at + len);
    r.dv.setUint32(r.at, 0x00000bad, true);
    r.dv.setUint32(r.at + 4, len, true);
    r.dv.setUint32(r.at + 8, PCAPDROID_PEN, true);
    r.dv.setUint16(r.at + 12, 1, true); // version
    r.buf[r.at + 14] = PCAPDROID_UID_MAP;
    r.dv.setInt32(r.at + 16, app.uid, true);
    r.buf[r.at + 20] = pkg.length;
    r.buf[r.at + 21] = name.length;
    r.buf.set(pkg, r.at + 22);
    r.buf.set(name, r.at + 22 + pkg.length);
    r.dv.setUint32(r.at + len - 4, len, true);
  }

  /** An Apple process block: the process id and, when known, its name (darwin.ts reads it). */
  deviceProcess(proc: DeviceProcess): void {
    const name = proc.name === null ? undefined : utf8.encode(proc.name).subarray(0, 0xffff);
    const opts = (name === undefined ? 0 : optionBytes(name.length)) + 4;
    const len = 12 + 4 + opts;
    const r = this.b.reserve(len);
    r.buf.fill(0, r.at, r.at + len);
    r.dv.setUint32(r.at, BT_DARWIN_PROCESS, true);
    r.dv.setUint32(r.at + 4, len, true);
    r.dv.setUint32(r.at + 8, proc.pid, true);
    if (name !== undefined) putOption(r.dv, r.buf, r.at + 12, 2, name); // the process name; then the zeroed end of options
    r.dv.setUint32(r.at + len - 4, len, true);
  }

  close(): Promise<void> {
    return this.b.end();
  }
}

/**
 * `.pcapng` names get a pcapng writer, anything else classic pcap. A regular file is written under a temporary name
 * and renamed over `path` by close() (AtomicFile), so a failed or killed run leaves the old file, and
 * `filter x.pcap -o x.pcap` filters in place instead of emptying its input before reading it. `-`, devices and
 * FIFOs are written through.
 */
export function openCaptureWriter(path: string): CaptureWriter {
  checkOutputPath(path);
  const make = (to: string): CaptureWriter => (path.endsWith('.pcapng') ? new PcapngWriter(to) : new PcapWriter(to));
  const real = path === '-' ? undefined : atomicTarget(path);
  if (real === undefined) return make(path);
  return openAtomically(real, make);
}

