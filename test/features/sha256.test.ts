import assert from 'node:assert/strict';
import { createHash, createHmac } from 'node:crypto';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../src/common/rng.js';
import { md5Into } from '../../src/features/tls/md5.js';
import { QUIC_V1, QUIC_V2, initialKeys, initialSecret, keysFrom } from '../../src/features/tls/quic.js';
import { hmacKey, hmacSha256, hmacWith, sha256 } from '../../src/features/tls/sha256.js';

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
  it('a prepared HMAC key gives the same MACs, message after message', () => {
    for (const k of [0, 20, 32, 64, 65, 100]) {
      const key = bytes(k);
      const prepared = hmacKey(key);
      for (let i = 0; i < 5; i++) {
        const m = bytes((r() * 140) | 0);
        assert.equal(hex(hmacWith(prepared, m)), createHmac('sha256', key).update(m).digest('hex'), `key ${k}, message ${i}`);
      }
    }
  });
  it('QUIC Initial keys of the RFC 9001 (A.1) and RFC 9369 (A.1) samples', () => {
    const dcid = Buffer.from('8394c8f03e515708', 'hex');
    const keys = (version: number, side: 'client' | 'server') => {
      const k = initialKeys(version, dcid, side);
      assert.ok(k);
      return [k.key, k.iv, k.hp].map(hex).join(' ');
    };
    assert.equal(keys(QUIC_V1, 'client'), '1f369613dd76d5467730efcbe3b1a22d fa044b2f42a3fd3b46fb255c 9f50449e04a0e810283a1e9933adedd2');
    assert.equal(keys(QUIC_V1, 'server'), 'cf3a5331653c364c88f0f379b6067e37 0ac1493ca1905853b0bba03e c206b8d9b9f0f37644430b490eeaa314');
    assert.equal(keys(QUIC_V2, 'client'), '8b1a0bc121284290a29e0971b5cd045d 91f73e2351d8fa91660e909f 45b95e15235d6f45a6b19cbcb0294ba9');
    assert.equal(keys(QUIC_V2, 'server'), '82db637861d55e1d011f19ea71d5d2a7 dd13c276499c0249d3310652 edf6d05c83121201b436e16877593c3a');
    // One initial secret serves both sides.
    const initial = initialSecret(QUIC_V1, dcid);
    assert.ok(initial);
    assert.equal(hex(keysFrom(initial, QUIC_V1, 'server').key), 'cf3a5331653c364c88f0f379b6067e37');
    assert.equal(hex(keysFrom(initial, QUIC_V1, 'client').key), '1f369613dd76d5467730efcbe3b1a22d');
    assert.equal(initialSecret(0xff00001d, dcid), undefined, 'a draft version has no salt here');
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
