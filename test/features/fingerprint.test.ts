import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../src/common/rng.js';
import { ja3, ja3s, ja4 } from '../../src/features/tls/fingerprint.js';
import { type ClientHello, type ServerHello, isGrease } from '../../src/features/tls/hello.js';

/**
 * The fingerprints, printed into bytes and hashed by our MD5/SHA-256, against the recipes written out plainly as
 * joined strings hashed by node:crypto, on random hellos (GREASE anywhere, empty lists, non-alphanumeric ALPN,
 * values of every width, more than 99 ciphers).
 */
const md5 = (s: string) => createHash('md5').update(s).digest('hex');
const sha12 = (s: string) => createHash('sha256').update(s).digest('hex').slice(0, 12);
const noGrease = (xs: ArrayLike<number>) => Array.from(xs).filter((v) => !isGrease(v));
const h4 = (v: number) => v.toString(16).padStart(4, '0');
const VERSIONS: Record<number, string> = { 0x0304: '13', 0x0303: '12', 0x0302: '11', 0x0301: '10', 0x0300: 's3', 0x0200: 's2', 0x0100: 's1', 0xfeff: 'd1', 0xfefd: 'd2', 0xfefc: 'd3' };

function refJa3(ch: ClientHello): string {
  return `${ch.legacyVersion},${noGrease(ch.ciphers).join('-')},${noGrease(ch.extensions).join('-')},${noGrease(ch.supportedGroups).join('-')},${Array.from(ch.pointFormats).join('-')}`;
}

function refJa4(ch: ClientHello, t: string): string {
  const versions = noGrease(ch.supportedVersions);
  const version = versions.length > 0 ? Math.max(...versions) : ch.legacyVersion;
  const ciphers = noGrease(ch.ciphers);
  const exts = noGrease(ch.extensions);
  const two = (n: number) => String(Math.min(n, 99)).padStart(2, '0');
  const alnum = (c: number) => /[0-9A-Za-z]/.test(String.fromCharCode(c));
  let alpn = '00';
  const a = ch.alpnFirst;
  if (a && a.length > 0) alpn = alnum(a[0]) && alnum(a[a.length - 1]) ? String.fromCharCode(a[0], a[a.length - 1]) : (a[0] >> 4).toString(16) + (a[a.length - 1] & 15).toString(16);
  const partA = `${t}${VERSIONS[version] ?? '00'}${Array.from(ch.extensions).includes(0) ? 'd' : 'i'}${two(ciphers.length)}${two(exts.length)}${alpn}`;
  const sorted = (xs: number[]) => [...xs].sort((x, y) => x - y).map(h4).join(',');
  const partB = ciphers.length === 0 ? '000000000000' : sha12(sorted(ciphers));
  const extList = sorted(exts.filter((v) => v !== 0 && v !== 16));
  const sigs = noGrease(ch.signatureAlgorithms).map(h4).join(',');
  const partC = exts.length === 0 ? '000000000000' : sha12(sigs ? `${extList}_${sigs}` : extList);
  return `${partA}_${partB}_${partC}`;
}

describe('JA3 / JA3S / JA4', () => {
  it('print every 16-bit value as String() does (a hello listing all 65,536 as ciphers, GREASE left out)', () => {
    const all = Uint16Array.from({ length: 65536 }, (_, i) => i);
    const none = new Uint16Array(0);
    const ch = { legacyVersion: 771, ciphers: all, extensions: all.subarray(0, 300), supportedGroups: none, pointFormats: all.subarray(65530), supportedVersions: none, signatureAlgorithms: none, keyShareGroups: none, keyShareLengths: none, sni: undefined, alpn: [], alpnFirst: undefined, grease: false } as ClientHello;
    assert.equal(ja3(ch).full, refJa3(ch));
  });

  it('equal the plain string recipes on 3,000 random hellos, each seen twice (digests remembered, the memory cleared on the way)', () => {
    const r = mulberry32(3);
    const int = (n: number) => Math.floor(r() * n);
    const value = () => (r() < 0.15 ? 0x0a0a + 0x1010 * int(16) : r() < 0.3 ? int(16) : r() < 0.6 ? int(256) : int(65536));
    const list = (max: number) => Uint16Array.from({ length: int(max) }, value);
    const seen: Array<{ ch: ClientHello; sh: ServerHello; t: 't' | 'q' | 'd' }> = [];
    for (let k = 0; k < 3000; k++) {
      const alpnLen = int(4);
      const ch: ClientHello = {
        legacyVersion: [0x0303, 0x0301, 0x0300, int(65536)][int(4)],
        ciphers: list(r() < 0.05 ? 130 : 30),
        extensions: list(25),
        sni: undefined,
        alpn: [],
        alpnFirst: alpnLen === 0 && r() < 0.5 ? undefined : Uint8Array.from({ length: alpnLen }, () => (r() < 0.7 ? 0x61 + int(26) : int(256))),
        supportedVersions: Uint16Array.from({ length: int(4) }, () => [0x0304, 0x0303, 0x0a0a, 0xfefd, int(65536)][int(5)]),
        supportedGroups: list(8),
        pointFormats: Uint16Array.from({ length: int(3) }, () => int(256)),
        keyShareGroups: new Uint16Array(0),
        keyShareLengths: new Uint16Array(0),
        signatureAlgorithms: list(12),
        grease: false,
      };
      if (r() < 0.5 && ch.extensions.length > 0) ch.extensions[int(ch.extensions.length)] = r() < 0.5 ? 0 : 16;
      const t = (['t', 'q', 'd'] as const)[int(3)];
      const sh: ServerHello = { legacyVersion: int(65536), selectedVersion: 0, cipher: value(), extensions: list(10), alpn: undefined, keyShareGroup: 0 };
      seen.push({ ch, sh, t });
    }
    for (let k = 0; k < 2 * seen.length; k++) {
      const { ch, sh, t } = seen[k % seen.length];
      const j3 = ja3(ch);
      assert.equal(j3.full, refJa3(ch), `hello ${k}`);
      assert.equal(j3.hash, md5(refJa3(ch)), `hello ${k}`);
      assert.equal(ja4(ch, t), refJa4(ch, t), `hello ${k}`);
      const full = `${sh.legacyVersion},${sh.cipher},${noGrease(sh.extensions).join('-')}`;
      assert.deepEqual(ja3s(sh), { full, hash: md5(full) });
    }
  });
});
