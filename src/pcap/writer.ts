import { closeSync, openSync, writeSync } from 'node:fs';
import type { Writable } from 'node:stream';
import { atomicTarget, checkOutputPath, openAtomically } from '../common/atomic-file.js';
import type { PacketRecord } from './types.js';

/** Writes packets to a capture. Both writers keep nanosecond timestamps. */
export interface CaptureWriter {
  write(rec: PacketRecord): void;
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

/**
 * pcapng, little-endian, one section; an interface (if_tsresol = 9, nanoseconds) per distinct input
 * interface, so captures that mix link types keep them.
 */
export class PcapngWriter implements CaptureWriter {
  private readonly b: Batcher;
  private readonly ifaceIds = new Map<string, number>();
  packets = 0;

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

  private iface(rec: PacketRecord): number {
    const key = `${rec.interfaceId}/${rec.linkType}`;
    let id = this.ifaceIds.get(key);
    if (id === undefined) {
      id = this.ifaceIds.size;
      this.ifaceIds.set(key, id);
      // IDB with if_tsresol=9 and end of options: 16 + 8 (option) + 4 (endofopt) + 4 = 32 bytes
      const h = this.b.reserve(32);
      h.dv.setUint32(h.at, 1, true);
      h.dv.setUint32(h.at + 4, 32, true);
      h.dv.setUint16(h.at + 8, rec.linkType, true);
      h.dv.setUint16(h.at + 10, 0, true);
      h.dv.setUint32(h.at + 12, 0, true);
      h.dv.setUint16(h.at + 16, 9, true);
      h.dv.setUint16(h.at + 18, 1, true);
      h.dv.setUint32(h.at + 20, 9, true); // value 9, three bytes of padding
      h.dv.setUint32(h.at + 24, 0, true);
      h.dv.setUint32(h.at + 28, 32, true);
    }
    return id;
  }

  write(rec: PacketRecord): void {
    const id = this.iface(rec);
    const padded = (rec.capLen + 3) & ~3;
    const len = 32 + padded;
    const r = this.b.reserve(len);
    const ns = BigInt(rec.tsSec) * 1_000_000_000n + BigInt(rec.tsNsec);
    r.dv.setUint32(r.at, 6, true);
    r.dv.setUint32(r.at + 4, len, true);
    r.dv.setUint32(r.at + 8, id, true);
    r.dv.setUint32(r.at + 12, Number(ns >> 32n), true);
    r.dv.setUint32(r.at + 16, Number(ns & 0xffffffffn), true);
    r.dv.setUint32(r.at + 20, rec.capLen, true);
    r.dv.setUint32(r.at + 24, rec.origLen, true);
    r.buf.set(rec.data.subarray(rec.dataOffset, rec.dataOffset + rec.capLen), r.at + 28);
    r.buf.fill(0, r.at + 28 + rec.capLen, r.at + 28 + padded);
    r.dv.setUint32(r.at + len - 4, len, true);
    this.packets++;
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

