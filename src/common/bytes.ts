/** A big-endian (network order) unsigned 32-bit integer at d[o..o+4); the caller has checked the bounds. */
export function readU32BE(d: Uint8Array, o: number): number {
  return ((d[o] << 24) | (d[o + 1] << 16) | (d[o + 2] << 8) | d[o + 3]) >>> 0;
}

/** A little-endian unsigned 32-bit integer at d[o..o+4); the caller has checked the bounds. */
export function readU32LE(d: Uint8Array, o: number): number {
  return (d[o] | (d[o + 1] << 8) | (d[o + 2] << 16) | (d[o + 3] << 24)) >>> 0;
}
