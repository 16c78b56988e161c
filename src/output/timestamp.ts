/**
 * Nanosecond timestamps as ISO 8601 text and back, for the `timestamp` columns of CSV and JSON Lines:
 * "2024-05-01T12:00:00.123456789Z", always UTC and nine fractional digits, so text sorts as time does and no digit
 * of the capture's resolution is lost (a JavaScript Date holds milliseconds only, so the fraction is written from
 * the bigint). Years past 9999 or before 0 take ISO's expanded form (+010000-01-01...), as Date writes them.
 */

const NS_PER_S = 1_000_000_000n;
/**
 * Date parts of recent seconds, direct-mapped by the second's low bits: a record's first_seen and last_seen are
 * seconds apart and records alternate between them, so one remembered second missed on every other call.
 */
const CACHED = 64;
const cachedSecond = new Float64Array(CACHED).fill(NaN);
const cachedBytes: Uint8Array[] = new Array<Uint8Array>(CACHED).fill(new Uint8Array(0));

/** The cache slot holding the date part of `sec`, formatted on a miss. */
function slotOf(sec: number): number {
  const slot = sec & (CACHED - 1);
  if (cachedSecond[slot] !== sec) {
    cachedBytes[slot] = Uint8Array.from(datePart(sec), (c) => c.charCodeAt(0));
    cachedSecond[slot] = sec;
  }
  return slot;
}

/** Room that holds the text of any int64 nanoseconds (and of far larger ones): writeIsoNs needs no more. */
export const ISO_NS_ROOM = 48;

/**
 * isoNs(ns) as ASCII bytes at b[at...], for writers that encode straight into a byte buffer (TextSink.timestamp):
 * the cached date part's bytes, then the nine fraction digits, with no string built, joined and flattened. Returns
 * the end, or -1 with nothing written when the text would run past b (only a year of more than 21 digits needs more
 * than ISO_NS_ROOM).
 */
export function writeIsoNs(b: Uint8Array, at: number, ns: bigint): number {
  let s = ns / NS_PER_S;
  let f = ns % NS_PER_S;
  if (f < 0n) {
    f += NS_PER_S;
    s -= 1n;
  }
  // Records of one capture mostly share their seconds with recent ones: format a date part once.
  const date = cachedBytes[slotOf(Number(s))];
  if (at + date.length + 11 > b.length) return -1;
  for (let k = 0; k < date.length; k++) b[at++] = date[k];
  b[at] = 46; // '.'
  let frac = Number(f);
  for (let k = at + 9; k > at; k--) {
    const q = (frac / 10) | 0;
    b[k] = 48 + frac - q * 10;
    frac = q;
  }
  b[at + 10] = 90; // 'Z'
  return at + 11;
}

let scratch = Buffer.alloc(ISO_NS_ROOM);

export function isoNs(ns: bigint): string {
  let end: number;
  while ((end = writeIsoNs(scratch, 0, ns)) < 0) scratch = Buffer.alloc(scratch.length * 2);
  return scratch.toString('latin1', 0, end);
}

/**
 * "YYYY-MM-DDTHH:MM:SS" of a second since the epoch, in the proleptic Gregorian calendar for any year: a capture's
 * clock can say anything (a pcapng interface whose times run past year 275760, where Date gives up), and a record
 * must still be written. Days to a civil date by H. Hinnant's days_from_civil inverse.
 */
function datePart(sec: number): string {
  const days = Math.floor(sec / 86400);
  const rem = sec - days * 86400;
  const z = days + 719468;
  const era = Math.floor(z / 146097);
  const doe = z - era * 146097;
  const yoe = Math.floor((doe - Math.floor(doe / 1460) + Math.floor(doe / 36524) - Math.floor(doe / 146096)) / 365);
  const doy = doe - (365 * yoe + Math.floor(yoe / 4) - Math.floor(yoe / 100));
  const mp = Math.floor((5 * doy + 2) / 153);
  const d = doy - Math.floor((153 * mp + 2) / 5) + 1;
  const m = mp < 10 ? mp + 3 : mp - 9;
  const y = yoe + era * 400 + (m <= 2 ? 1 : 0);
  const year = y >= 0 && y <= 9999 ? String(y).padStart(4, '0') : `${y < 0 ? '-' : '+'}${String(Math.abs(y)).padStart(6, '0')}`;
  const two = (x: number) => String(x).padStart(2, '0');
  return `${year}-${two(m)}-${two(d)}T${two(Math.floor(rem / 3600))}:${two(Math.floor(rem / 60) % 60)}:${two(rem % 60)}`;
}

const ISO = /^([+-]\d{6}|\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;

/** ISO 8601 text (as isoNs writes it, or with fewer digits or a zone offset) as nanoseconds since the epoch. */
export function parseIsoNs(text: string): bigint | undefined {
  const m = ISO.exec(text);
  if (m === null) return undefined;
  const [, y, mo, d, h, mi, se, frac = '', zone = 'Z'] = m;
  if (Number(mo) < 1 || Number(mo) > 12 || Number(d) < 1 || Number(d) > 31) return undefined;
  const seconds = BigInt(daysFromCivil(Number(y), Number(mo), Number(d))) * 86400n + BigInt(Number(h) * 3600 + Number(mi) * 60 + Number(se));
  let offsetMin = 0;
  if (zone !== 'Z') {
    const z = zone.replace(':', '');
    offsetMin = (z[0] === '-' ? -1 : 1) * (Number(z.slice(1, 3)) * 60 + Number(z.slice(3, 5)));
  }
  return (seconds - BigInt(offsetMin * 60)) * NS_PER_S + BigInt(frac.padEnd(9, '0') || '0');
}

/** Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's days_from_civil). */
function daysFromCivil(y0: number, m: number, d: number): number {
  const y = m <= 2 ? y0 - 1 : y0;
  const era = Math.floor(y / 400);
  const yoe = y - era * 400;
  const doy = Math.floor((153 * (m > 2 ? m - 3 : m + 9) + 2) / 5) + d - 1;
  const doe = yoe * 365 + Math.floor(yoe / 4) - Math.floor(yoe / 100) + doy;
  return era * 146097 + doe - 719468;
}
