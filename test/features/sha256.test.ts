import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../src/common/rng.js';
import { md5Into } from '../../src/features/tls/md5.js';
import { hmacSha256, sha256 } from '../../src/features/tls/sha256.js';

/** The QUIC key schedule's SHA-256 and HMAC, and JA3's MD5, against node:crypto, over every length around the block edges. */
describe('sha256 / hmacSha256 / md5', () => {
  const r = mulberry32(5);
  const bytes = (n: number) => Uint8Array.from({ length: n }, () => (r() * 256) | 0);
  const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
  it('FIPS 180-4 "abc" and the empty message', () => {
    assert.equal(hex(sha256(Buffer.from('abc'))), 'ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad');
    assert.equal(hex(sha256(new Uint8Array(0))), 'e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855');
  });
  it('equals node:crypto for lengths 0-300 and split inputs', () => {
    for (let n = 0; n <= 300; n++) {
      const m = bytes(n);
      assert.equal(hex(sha256(m)), createHash('sha256').update(m).digest('hex'), `length ${n}`);
      const cut = (r() * (n + 1)) | 0;
      assert.equal(hex(sha256(m.subarray(0, cut), m.subarray(cut))), createHash('sha256').update(m).digest('hex'), `length ${n} cut at ${cut}`);
    }
  });
  it('HMAC equals node:crypto for keys of 0-150 bytes (longer than a block is hashed first)', () => {
    for (let k = 0; k <= 150; k++) {
      const key = bytes(k);
      const m = bytes((r() * 200) | 0);
      assert.equal(hex(hmacSha256(key, m)), createHmac('sha256', key).update(m).digest('hex'), `key ${k}`);
    }
  });
  it('MD5 equals node:crypto for lengths 0-300, read from inside a larger buffer', () => {
    const out = new Uint8Array(20);
    for (let n = 0; n <= 300; n++) {
      const m = bytes(n + 10);
      md5Into(m, 5, 5 + n, out, 2);
      assert.equal(hex(out.subarray(2, 18)), createHash('md5').update(m.subarray(5, 5 + n)).digest('hex'), `length ${n}`);
    }
    md5Into(Buffer.from('abc'), 0, 3, out, 0);
    assert.equal(hex(out.subarray(0, 16)), '900150983cd24fb0d6963f7d28e17f72', 'RFC 1321 "abc"');
  });
});
