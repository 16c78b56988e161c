/**
 * Seeded mutations of a whole capture file for fuzzing the reader, decoder, meter and writers: a cut, flipped
 * bits, a bogus 32- or 16-bit length (the fields a parser must not trust), inserted junk, a duplicated region.
 * Shared by test/pcap/fuzz.test.ts and the time-boxed campaign of bench/hostile/fuzz.ts.
 */
/** Lengths that sit at the edges parsers get wrong: zero, odd, 16-bit and 32-bit limits, past the snap length. */
const LENGTHS = [0, 1, 3, 0xffff, 0x10000, 0x7fffffff, 0xffffffff, 65535, 262145];

/** One mutation of `src` drawn with `r` (a seeded generator, common/rng.ts); `src` is left as it was. */
export function mutateCapture(src: Buffer, r: () => number): Buffer {
  const b = Buffer.from(src);
  const at = () => Math.floor(r() * b.length);
  switch (Math.floor(r() * 6)) {
    case 0: // truncate
      return b.subarray(0, at());
    case 1: // flip a few bytes
      for (let i = 0, n = 1 + Math.floor(r() * 8); i < n; i++) b[at()] ^= 1 << Math.floor(r() * 8);
      return b;
    case 2: {
      // a bogus 32-bit length somewhere after the file header, in either byte order
      const o = 24 + Math.floor(r() * Math.max(1, b.length - 28));
      if (o + 4 <= b.length) {
        const v = LENGTHS[Math.floor(r() * LENGTHS.length)];
        r() < 0.5 ? b.writeUInt32LE(v >>> 0, o) : b.writeUInt32BE(v >>> 0, o);
      }
      return b;
    }
    case 3: {
      // a 16-bit header length (IP total length, UDP length, option lengths ...)
      const o = at();
      if (o + 2 <= b.length) b.writeUInt16BE(Math.floor(r() * 65536), o);
      return b;
    }
    case 4: {
      // insert random bytes
      const o = at();
      const junk = Buffer.from(Array.from({ length: 1 + Math.floor(r() * 64) }, () => Math.floor(r() * 256)));
      return Buffer.concat([b.subarray(0, o), junk, b.subarray(o)]);
    }
    default: {
      // duplicate a region (repeated records, overlapping fragments)
      const o = at();
      const len = Math.floor(r() * 200);
      return Buffer.concat([b.subarray(0, o + len), b.subarray(o, o + len), b.subarray(o + len)]);
    }
  }
}
