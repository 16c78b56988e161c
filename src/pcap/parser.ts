import type { CaptureIssue, CaptureMetadata, PacketRecord, PacketSink } from './types.js';
import { NO_UID } from './pcapdroid.js';
import { NO_PROCESS } from './darwin.js';

/**
 * An incremental parser for one capture format. The driver (`readCapture`) keeps a buffer of the input and
 * calls `feed` whenever more bytes arrive; the parser consumes whole records and says how far it got.
 */
export interface FormatParser {
  /**
   * Parse whole records in `buf[start, end)`. `base` is the input offset of `buf[0]`; `eof` says no more bytes
   * will come. Returns the index of the first unconsumed byte. When it cannot progress it sets `need` to the number
   * of bytes (from the returned index) it wants before it is called again.
   */
  feed(buf: Uint8Array, dv: DataView, start: number, end: number, base: number, eof: boolean): number;
  need: number;
  readonly metadata: CaptureMetadata;
  /** Packets returned so far. */
  readonly packets: number;
  /** Input bytes skipped while resynchronising after corrupt data. */
  readonly skippedBytes: number;
  /** The sink asked to stop (PacketSink.packet returned true): `feed` returned right after that record. */
  readonly stopped: boolean;
}

/** Shared state and helpers of both formats: the reused record, packet numbering and issue reporting. */
export abstract class ParserBase implements FormatParser {
  need = 0;
  packets = 0;
  skippedBytes = 0;
  stopped = false;
  /**
   * Records Wireshark numbers as frames but that carry no packet (pcapng custom blocks): counted into `number`, so
   * packet N here is tshark's frame N.
   */
  protected otherRecords = 0;
  abstract readonly metadata: CaptureMetadata;
  protected readonly rec: PacketRecord = {
    number: 0,
    offset: 0,
    linkType: 0,
    interfaceId: 0,
    tsSec: 0,
    tsNsec: 0,
    capLen: 0,
    origLen: 0,
    data: new Uint8Array(0),
    dataOffset: 0,
    comment: undefined,
    deviceUid: NO_UID,
    deviceProcess: NO_PROCESS,
  };

  constructor(
    protected readonly file: string,
    protected readonly sink: PacketSink,
  ) {}

  abstract feed(buf: Uint8Array, dv: DataView, start: number, end: number, base: number, eof: boolean): number;

  protected report(severity: CaptureIssue['severity'], code: string, offset: number, message: string): void {
    this.sink.issue?.({ severity, code, file: this.file, offset, packet: this.packets + this.otherRecords + 1, message });
  }

  protected emit(): void {
    this.packets++;
    this.rec.number = this.packets + this.otherRecords;
    if (this.sink.packet(this.rec) === true) this.stopped = true;
  }
}

/** The largest record we accept when a file's snap length says nothing useful (Wireshark's standard maximum). */
export const DEFAULT_MAX_CAPLEN = 262144;
/** Never accept a record larger than this, whatever the header claims: a corrupt length must not make us buffer gigabytes. */
export const HARD_MAX_CAPLEN = 64 * 1024 * 1024;
