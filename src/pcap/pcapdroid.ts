import { readU32BE } from '../common/bytes.js';
/**
 * PCAPdroid's app labels (github.com/emanuele-f/PCAPdroid, app/src/main/jni/core/pcap_dump.h and pcap_dump.c):
 * PCAPdroid captures on Android as a VPN service, so it knows which app (Linux uid) sent each packet and can write
 * that into the capture in one of two ways.
 *
 * - pcap with the "PCAPdroid trailer": link type Ethernet with a made-up header (both MAC addresses zero, the
 *   ethertype of the IP version), then the IP packet, then a trailer. Current layout (since July 2021): padding to
 *   a multiple of 4 bytes from the frame start, then magic 0x01072021, uid (int32), the app's name (20 bytes,
 *   NUL-padded), a CRC-32 "FCS" (32 bytes). The first layout (PCAPdroid 1.3.x, pcap_custom_data_t): no padding and
 *   a 16-byte name (28 bytes). Magic and uid are in network byte order.
 * - pcapng: a Custom Block (type 0x00000BAD) of Private Enterprise Number 62652 per uid, written before the uid's
 *   first packet: version (uint16, 1), block type (uint8, 1 = uid mapping), padding, uid (int32), package name
 *   length, app name length (uint8 each), package name, app name; integers in the section's byte order. Each
 *   packet block then carries an opt_comment "u-<uid>".
 *
 * Every length is checked against the bytes present; a block that does not fit is reported, not trusted.
 */

export const PCAPDROID_TRAILER_MAGIC = 0x01072021;
export const PCAPDROID_PEN = 62652;
export const PCAPDROID_UID_MAP = 1;
/** Current trailer: magic, uid, 20-byte name, FCS. */
export const TRAILER_BYTES = 32;
/** First trailer layout: magic, uid, 16-byte name, FCS. */
export const TRAILER_V1_BYTES = 28;

/** No uid known for the packet. */
export const NO_UID = -0x80000000 - 1;

export interface DeviceApp {
  uid: number;
  /** Android package name, e.g. com.whatsapp (pcapng only; the trailer carries the name alone). */
  packageName: string | null;
  /** The app's label as PCAPdroid shows it, e.g. WhatsApp. */
  appName: string | null;
}

export interface TrailerInfo {
  uid: number;
  /** Where the NUL-padded name starts in the frame's buffer, and its field size (20, or 16 in the first layout). */
  nameOffset: number;
  nameBytes: number;
}

const latin = new TextDecoder('utf-8', { fatal: false });

/** The name in a trailer's NUL-padded field. */
export function trailerName(data: Uint8Array, offset: number, bytes: number): string {
  const field = data.subarray(offset, offset + bytes);
  const nul = field.indexOf(0);
  return latin.decode(nul < 0 ? field : field.subarray(0, nul));
}

/**
 * The PCAPdroid trailer of an Ethernet frame `d[start..end)` whose IP packet ends at `ipEnd`, if it has one: the
 * made-up header's MAC addresses are all zero, and the magic sits where one of the two layouts puts it (current:
 * after 0 to 3 bytes of padding; first: right after the IP packet). Undefined for any other frame.
 */
export function readTrailer(d: Uint8Array, start: number, end: number, ipEnd: number): TrailerInfo | undefined {
  if (end - ipEnd < TRAILER_V1_BYTES || end - start < 14 + TRAILER_V1_BYTES) return undefined;
  for (let i = start; i < start + 12; i++) if (d[i] !== 0) return undefined;
  const t2 = end - TRAILER_BYTES;
  if (t2 >= ipEnd && t2 - ipEnd < 4 && (t2 - start) % 4 === 0 && readU32BE(d, t2) === PCAPDROID_TRAILER_MAGIC) {
    return { uid: readU32BE(d, t2 + 4) | 0, nameOffset: t2 + 8, nameBytes: 20 };
  }
  const t1 = end - TRAILER_V1_BYTES;
  if (t1 === ipEnd && readU32BE(d, t1) === PCAPDROID_TRAILER_MAGIC) return { uid: readU32BE(d, t1 + 4) | 0, nameOffset: t1 + 8, nameBytes: 16 };
  return undefined;
}

/** The uid of a packet comment "u-<uid>" (pcapng), or NO_UID. */
export function uidFromComment(comment: string | undefined): number {
  if (comment === undefined || comment.length < 3 || comment.charCodeAt(0) !== 0x75 || comment.charCodeAt(1) !== 0x2d) return NO_UID;
  const rest = comment.slice(2);
  if (!/^-?\d{1,10}$/.test(rest)) return NO_UID;
  const n = Number(rest);
  return n >= -0x80000000 && n <= 0x7fffffff ? n : NO_UID;
}

export type UidMapResult = { ok: true; app: DeviceApp } | { ok: false; message: string };

/**
 * A PCAPdroid custom block's body after the PEN (`d[o..end)`): version, type, then a uid mapping. `le`: the
 * section's byte order (PCAPdroid writes its integers in the host's, the same as the section header's).
 */
export function parseUidMapBlock(d: Uint8Array, o: number, end: number, le: boolean): UidMapResult {
  if (end - o < 4) return { ok: false, message: `PCAPdroid block of ${end - o} bytes after its PEN: shorter than its 4-byte header` };
  const dv = new DataView(d.buffer, d.byteOffset, d.byteLength);
  const version = dv.getUint16(o, le);
  if (version !== 1) return { ok: false, message: `PCAPdroid block version ${version}: only version 1 is known` };
  const type = d[o + 2];
  if (type !== PCAPDROID_UID_MAP) return { ok: false, message: `PCAPdroid block type ${type}: only 1 (uid mapping) is known` };
  const b = o + 4;
  if (end - b < 6) return { ok: false, message: `PCAPdroid uid mapping of ${end - b} bytes: shorter than its 6-byte header` };
  const uid = dv.getInt32(b, le);
  const pkgLen = d[b + 4];
  const nameLen = d[b + 5];
  if (b + 6 + pkgLen + nameLen > end) return { ok: false, message: `PCAPdroid uid mapping for uid ${uid}: names of ${pkgLen} + ${nameLen} bytes run past the block's end` };
  const packageName = latin.decode(d.subarray(b + 6, b + 6 + pkgLen));
  const appName = latin.decode(d.subarray(b + 6 + pkgLen, b + 6 + pkgLen + nameLen));
  return { ok: true, app: { uid, packageName: packageName || null, appName: appName || null } };
}
