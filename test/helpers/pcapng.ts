/**
 * Little-endian pcapng pieces for tests that write captures by hand: a block (its body padded to four bytes, the
 * length before and after it) and an option (code, length, value padded to four bytes).
 */

/** A 32-bit little-endian word. */
export function u32(v: number): Buffer {
  const b = Buffer.alloc(4);
  b.writeUInt32LE(v >>> 0);
  return b;
}

/** `b` padded with zeros to a multiple of four bytes. */
export function pad4(b: Buffer): Buffer {
  return Buffer.concat([b, Buffer.alloc((4 - (b.length % 4)) % 4)]);
}

export function pcapngBlock(type: number, body: Buffer): Buffer {
  const padded = pad4(body);
  return Buffer.concat([u32(type), u32(12 + padded.length), padded, u32(12 + padded.length)]);
}

export function pcapngOption(code: number, value: Buffer): Buffer {
  const h = Buffer.alloc(4);
  h.writeUInt16LE(code, 0);
  h.writeUInt16LE(value.length, 2);
  return Buffer.concat([h, pad4(value)]);
}

/** opt_endofopt. */
export const END_OF_OPTIONS = Buffer.alloc(4);
