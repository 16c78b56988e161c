import { closeSync, openSync, rmSync, writeSync } from 'node:fs';
import { FILE_HEADER_LEN, RECORD_HEADER_LEN, isClassicPcapMagic, isLittleEndianMagic } from '../pcap/classic.js';
import { HARD_MAX_CAPLEN } from '../pcap/parser.js';

/**
 * A classic pcap byte stream (as `tcpdump -w -` writes it, e.g. from a phone over adb) written into a ring of files:
 * a new file when the current one would pass `sizeBytes` or has covered `seconds` of capture time (packet
 * timestamps, not the wall clock), each file starting with the stream's global header, so each is a capture of its
 * own; with `files`, the oldest file is deleted when a new one would make more than that many.
 * Records are never split: a file ends on a record boundary, and a record larger than `sizeBytes` gets a file alone.
 */
export interface RingOptions {
  sizeBytes?: number;
  seconds?: number;
  files?: number;
}

export class PcapStreamRotator {
  private pending: Buffer = Buffer.alloc(0);
  private header: Buffer | undefined;
  private little = true;
  private fd: number | undefined;
  private fileBytes = 0;
  private fileStartSec = 0;
  private index = 0;
  /** The files of the ring that exist, oldest first. */
  readonly files: string[] = [];
  records = 0;
  /** Set by the owner when write() threw: the stream is abandoned. */
  error: Error | undefined;

  constructor(
    private readonly nameOf: (index: number) => string,
    private readonly ring: RingOptions,
  ) {}

  /** Feed bytes as they arrive; throws on a stream that is not classic pcap. */
  write(chunk: Buffer): void {
    this.pending = this.pending.length === 0 ? chunk : Buffer.concat([this.pending, chunk]);
    let at = 0;
    if (this.header === undefined) {
      if (this.pending.length < FILE_HEADER_LEN) return;
      const magic = this.pending.readUInt32LE(0);
      if (!isClassicPcapMagic(magic)) throw new Error(`capture stream: not a classic pcap stream (magic 0x${magic.toString(16)} at byte 0); tcpdump -w - writes one`);
      this.little = isLittleEndianMagic(magic);
      this.header = Buffer.from(this.pending.subarray(0, FILE_HEADER_LEN));
      at = FILE_HEADER_LEN;
    }
    for (;;) {
      if (this.pending.length - at < RECORD_HEADER_LEN) break;
      const sec = this.little ? this.pending.readUInt32LE(at) : this.pending.readUInt32BE(at);
      const incl = this.little ? this.pending.readUInt32LE(at + 8) : this.pending.readUInt32BE(at + 8);
      if (incl > HARD_MAX_CAPLEN) throw new Error(`capture stream: record ${this.records + 1} claims ${incl} bytes`);
      if (this.pending.length - at < RECORD_HEADER_LEN + incl) break;
      this.emit(this.pending.subarray(at, at + RECORD_HEADER_LEN + incl), sec);
      at += RECORD_HEADER_LEN + incl;
    }
    this.pending = at === this.pending.length ? Buffer.alloc(0) : Buffer.from(this.pending.subarray(at));
  }

  private emit(record: Buffer, sec: number): void {
    const { sizeBytes, seconds } = this.ring;
    const full = this.fd !== undefined && ((sizeBytes !== undefined && this.fileBytes > FILE_HEADER_LEN && this.fileBytes + record.length > sizeBytes) || (seconds !== undefined && sec - this.fileStartSec >= seconds));
    if (this.fd === undefined || full) this.open(sec);
    writeSync(this.fd!, record);
    this.fileBytes += record.length;
    this.records++;
  }

  private open(sec: number): void {
    this.closeFile();
    const keep = this.ring.files;
    while (keep !== undefined && keep > 0 && this.files.length >= keep) rmSync(this.files.shift()!, { force: true });
    const name = this.nameOf(this.index++);
    this.fd = openSync(name, 'w');
    writeSync(this.fd, this.header!);
    this.fileBytes = FILE_HEADER_LEN;
    this.fileStartSec = sec;
    this.files.push(name);
  }

  private closeFile(): void {
    if (this.fd === undefined) return;
    closeSync(this.fd);
    this.fd = undefined;
  }

  /** Close the last file. Bytes of an incomplete last record (the stream cut mid-record) are reported, not written. */
  end(): { trailingBytes: number } {
    if (this.fd === undefined && this.header !== undefined) this.open(0);
    this.closeFile();
    return { trailingBytes: this.pending.length };
  }
}
