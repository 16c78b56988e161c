/**
 * Byte-exact TLS, QUIC and DNS messages for the handshake-rich bench capture (bench/flows/generate-tls.ts):
 * ClientHellos shaped like Chrome's and like an older TLS 1.2 client's, TLS 1.3 and 1.2 server flights with
 * real X.509 certificates, QUIC v1 Initial packets sealed with the RFC 9001 keys, and DNS answers with
 * compression pointers. tshark decodes all of it without an error (test/bench/tls-capture.test.ts).
 */
import { createCipheriv } from 'node:crypto';
import { type InitialKeys, QUIC_V1, initialKeys } from '../../src/features/tls/quic.js';

/** A growable big-endian byte writer with length-prefixed blocks. */
export class Bytes {
  b = new Uint8Array(512);
  n = 0;
  private ensure(k: number): void {
    if (this.n + k <= this.b.length) return;
    const nb = new Uint8Array(Math.max(this.b.length * 2, this.n + k));
    nb.set(this.b.subarray(0, this.n));
    this.b = nb;
  }
  u8(v: number): this {
    this.ensure(1);
    this.b[this.n++] = v & 0xff;
    return this;
  }
  u16(v: number): this {
    return this.u8(v >> 8).u8(v);
  }
  u24(v: number): this {
    return this.u8(v >> 16).u8(v >> 8).u8(v);
  }
  u32(v: number): this {
    return this.u16(v >>> 16).u16(v & 0xffff);
  }
  bytes(x: Uint8Array): this {
    this.ensure(x.length);
    this.b.set(x, this.n);
    this.n += x.length;
    return this;
  }
  ascii(s: string): this {
    return this.bytes(Buffer.from(s, 'latin1'));
  }
  random(k: number, r: () => number): this {
    this.ensure(k);
    for (let i = 0; i < k; i++) this.b[this.n++] = (r() * 256) | 0;
    return this;
  }
  /** A block whose big-endian length of `size` bytes precedes it. */
  block(size: 1 | 2 | 3, fill: () => void): this {
    const at = this.n;
    this.ensure(size);
    this.n += size;
    fill();
    const len = this.n - at - size;
    for (let i = 0; i < size; i++) this.b[at + i] = (len >> (8 * (size - 1 - i))) & 0xff;
    return this;
  }
  done(): Uint8Array {
    return this.b.slice(0, this.n);
  }
}

const GREASE = Array.from({ length: 16 }, (_, i) => (i << 12) | 0x0a00 | (i << 4) | 0x0a);
const grease = (r: () => number) => GREASE[(r() * 16) | 0];

export interface HelloShape {
  sni: string;
  /** 'chrome': TLS 1.3 with GREASE, permuted extensions; 'legacy': TLS 1.2 only, fixed order. */
  client: 'chrome' | 'legacy';
  /** A post-quantum hybrid key share (X25519MLKEM768, 1216 bytes): the hello spans two TCP segments. */
  pq: boolean;
  alpn: string[];
  /** QUIC: transport parameters instead of the TCP-only extensions. */
  quic: boolean;
}

const CHROME_SUITES = [0x1301, 0x1302, 0x1303, 0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035];
const LEGACY_SUITES = [0xc02b, 0xc02f, 0xc02c, 0xc030, 0xcca9, 0xcca8, 0xc013, 0xc014, 0x009c, 0x009d, 0x002f, 0x0035, 0x000a];
const SIG_ALGS = [0x0403, 0x0804, 0x0401, 0x0503, 0x0805, 0x0501, 0x0806, 0x0601];

/** The ClientHello handshake message (type 1, with its 4-byte header), without the record layer. */
export function clientHello(s: HelloShape, r: () => number): Uint8Array {
  const w = new Bytes();
  w.u8(1).block(3, () => {
    w.u16(0x0303).random(32, r);
    if (s.quic) w.u8(0);
    else w.block(1, () => w.random(32, r));
    w.block(2, () => {
      if (s.client === 'chrome') w.u16(grease(r));
      for (const c of s.client === 'chrome' ? (s.quic ? CHROME_SUITES.slice(0, 3) : CHROME_SUITES) : LEGACY_SUITES) w.u16(c);
    });
    w.u8(1).u8(0);
    w.block(2, () => {
      const ext = (type: number, fill: () => void) => w.u16(type).block(2, fill);
      const list: Array<() => void> = [];
      const add = (type: number, fill: () => void) => list.push(() => ext(type, fill));
      add(0, () => w.block(2, () => w.u8(0).block(2, () => w.ascii(s.sni))));
      add(10, () =>
        w.block(2, () => {
          if (s.client === 'chrome') w.u16(grease(r));
          if (s.pq) w.u16(0x11ec);
          for (const g of [0x001d, 0x0017, 0x0018]) w.u16(g);
        }),
      );
      if (s.alpn.length > 0) add(16, () => w.block(2, () => s.alpn.forEach((p) => w.block(1, () => w.ascii(p)))));
      add(13, () => w.block(2, () => SIG_ALGS.forEach((a) => w.u16(a))));
      add(5, () => w.u8(1).u16(0).u16(0));
      if (!s.quic) {
        add(23, () => {});
        add(0xff01, () => w.u8(0));
        add(11, () => w.block(1, () => w.u8(0)));
        add(35, () => {});
      }
      if (s.client === 'chrome') {
        add(18, () => {});
        add(51, () =>
          w.block(2, () => {
            w.u16(grease(r)).block(2, () => w.u8(0));
            if (s.pq) w.u16(0x11ec).block(2, () => w.random(1216, r));
            w.u16(0x001d).block(2, () => w.random(32, r));
          }),
        );
        add(45, () => w.block(1, () => w.u8(1)));
        add(43, () => w.block(1, () => (s.quic ? [0x0304] : [grease(r), 0x0304, 0x0303]).forEach((v) => w.u16(v))));
        add(27, () => w.block(1, () => w.u16(2)));
        add(17513, () => w.block(2, () => w.block(1, () => w.ascii(s.alpn[0] ?? 'h2'))));
        if (s.quic) add(0x39, () => w.u8(0x01).u8(0x04).u32(0x80007530).u8(0x04).u8(0x04).u32(0x80f00000).u8(0x0f).u8(0x08).random(8, r));
        else add(0xfe0d, () => w.u8(0).u16(1).u16(1).u8((r() * 256) | 0).block(2, () => w.random(32, r)).block(2, () => w.random(144 + 32 * ((r() * 4) | 0), r)));
        // Chrome permutes its extensions per connection; GREASE stays first and last.
        for (let i = list.length - 1; i > 0; i--) {
          const j = (r() * (i + 1)) | 0;
          [list[i], list[j]] = [list[j], list[i]];
        }
        ext(grease(r), () => {});
        list.forEach((f) => f());
        ext(grease(r), () => w.u8(0));
      } else list.forEach((f) => f());
    });
  });
  return w.done();
}

/** A ServerHello handshake message: TLS 1.3 (supported_versions, key_share) or TLS 1.2 with `cipher`. */
export function serverHello(tls13: boolean, cipher: number, sessionId: Uint8Array, r: () => number, alpn?: string): Uint8Array {
  const w = new Bytes();
  w.u8(2).block(3, () => {
    w.u16(0x0303).random(32, r);
    w.block(1, () => w.bytes(sessionId));
    w.u16(cipher).u8(0);
    w.block(2, () => {
      if (tls13) {
        w.u16(43).block(2, () => w.u16(0x0304));
        w.u16(51).block(2, () => w.u16(0x001d).block(2, () => w.random(32, r)));
      } else {
        w.u16(0xff01).block(2, () => w.u8(0));
        w.u16(11).block(2, () => w.block(1, () => w.u8(0)));
        w.u16(23).block(2, () => {});
        if (alpn) w.u16(16).block(2, () => w.block(2, () => w.block(1, () => w.ascii(alpn))));
      }
    });
  });
  return w.done();
}

/** TLS 1.2 server flight after the ServerHello: Certificate, ServerKeyExchange (ECDHE x25519), ServerHelloDone. */
export function tls12ServerFlight(chain: readonly Uint8Array[], r: () => number): Uint8Array {
  const w = new Bytes();
  w.u8(11).block(3, () => w.block(3, () => chain.forEach((c) => w.block(3, () => w.bytes(c)))));
  w.u8(12).block(3, () => {
    w.u8(3).u16(0x001d).block(1, () => w.random(32, r));
    w.u16(0x0804).block(2, () => w.random(256, r));
  });
  w.u8(14).block(3, () => {});
  return w.done();
}

/** TLS 1.2 ClientKeyExchange (an x25519 public key). */
export function clientKeyExchange(r: () => number): Uint8Array {
  const w = new Bytes();
  return w.u8(16).block(3, () => w.block(1, () => w.random(32, r))).done();
}

/** One TLS record of content type `type` around `body` (at most 2^14 + 256 bytes, RFC 8446 5.2). */
export function record(type: number, body: Uint8Array, version = 0x0303): Uint8Array {
  const w = new Bytes();
  return w.u8(type).u16(version).block(2, () => w.bytes(body)).done();
}

/** Application data as records of at most 16,384 + 17 bytes each (an AEAD's tag and inner type), `total` bytes in all. */
export function appData(total: number, r: () => number): Uint8Array {
  const out = new Uint8Array(total);
  let p = 0;
  let x = (r() * 0x100000000) >>> 0;
  while (p < total) {
    const left = total - p;
    // A record needs a 5-byte header and a 17-byte minimum body; a tail shorter than that joins the record before.
    const body = Math.min(16401, left - 5);
    if (body < 17) break;
    out[p] = 23;
    out[p + 1] = 3;
    out[p + 2] = 3;
    out[p + 3] = body >> 8;
    out[p + 4] = body & 255;
    for (let i = p + 5, end = p + 5 + body; i < end; i++) {
      x ^= x << 13;
      x ^= x >>> 17;
      x ^= x << 5;
      out[i] = x;
    }
    p += 5 + body;
  }
  return out.subarray(0, p);
}

/** A DNS query (`response` false) or its answer: a CNAME to `cname` then A or AAAA records, names compressed. */
export function dnsMessage(id: number, name: string, qtype: 1 | 28 | 65, response: boolean, cname: string, addrs: readonly Uint8Array[]): Uint8Array {
  const w = new Bytes();
  const labels = (n: string) => {
    for (const l of n.split('.')) w.block(1, () => w.ascii(l));
    w.u8(0);
  };
  const answers = response ? 1 + (qtype === 65 ? 0 : addrs.length) : 0;
  w.u16(id).u16(response ? 0x8180 : 0x0100).u16(1).u16(answers).u16(0).u16(0);
  labels(name);
  w.u16(qtype).u16(1);
  if (!response) return w.done();
  const cnameAt = w.n + 12; // the CNAME's target name follows the answer's 12 fixed bytes
  w.u16(0xc00c).u16(5).u16(1).u32(300).block(2, () => labels(cname));
  if (qtype !== 65) for (const a of addrs) w.u16(0xc000 | cnameAt).u16(qtype).u16(1).u32(60).block(2, () => w.bytes(a));
  return w.done();
}

const varintLen = (v: number) => (v < 64 ? 1 : v < 16384 ? 2 : 4);
function varint(w: Bytes, v: number): void {
  if (v < 64) w.u8(v);
  else if (v < 16384) w.u16(0x4000 | v);
  else w.u32((0x80000000 | v) >>> 0);
}

/**
 * A QUIC v1 Initial packet (RFC 9000 17.2.2) sealed as RFC 9001 5 says: AES-128-GCM over the frames with the
 * header as associated data, then header protection from a sample of the ciphertext. `frames` are the plaintext
 * frames; PADDING is added until the packet is `minBytes` long.
 */
export function quicInitial(keys: InitialKeys, dcid: Uint8Array, scid: Uint8Array, pn: number, frames: Uint8Array, minBytes = 0): Uint8Array {
  const pnLen = 2;
  const fixed = 1 + 4 + 1 + dcid.length + 1 + scid.length + 1; // + token length 0
  let payloadLen = Math.max(frames.length, 20);
  const lengthOf = (p: number) => pnLen + p + 16;
  const size = (p: number) => fixed + varintLen(lengthOf(p)) + lengthOf(p);
  while (size(payloadLen) < minBytes) payloadLen++;
  const plain = new Uint8Array(payloadLen);
  plain.set(frames);
  const h = new Bytes();
  h.u8(0xc0 | (pnLen - 1)).u32(QUIC_V1).u8(dcid.length).bytes(dcid).u8(scid.length).bytes(scid).u8(0);
  // Length as a 2-byte varint always, so the packet's size does not jump at 64.
  h.u16(0x4000 | lengthOf(payloadLen));
  h.u16(pn);
  const header = Buffer.from(h.done());
  const nonce = Buffer.from(keys.iv);
  nonce[10] ^= (pn >> 8) & 0xff;
  nonce[11] ^= pn & 0xff;
  const gcm = createCipheriv('aes-128-gcm', keys.key, nonce);
  gcm.setAAD(header);
  const sealed = Buffer.concat([gcm.update(plain), gcm.final(), gcm.getAuthTag()]);
  const sample = sealed.subarray(4 - pnLen, 4 - pnLen + 16);
  const mask = createCipheriv('aes-128-ecb', keys.hp, null).update(sample);
  header[0] ^= mask[0] & 0x0f;
  for (let i = 0; i < pnLen; i++) header[header.length - pnLen + i] ^= mask[1 + i];
  return Buffer.concat([header, sealed]);
}

/** A CRYPTO frame (type 0x06) carrying `data` at `offset`. */
export function cryptoFrame(offset: number, data: Uint8Array): Uint8Array {
  const w = new Bytes();
  w.u8(0x06);
  varint(w, offset);
  varint(w, data.length);
  return w.bytes(data).done();
}

/** An ACK frame acknowledging packet 0. */
export const ACK_ZERO = Uint8Array.of(0x02, 0, 0, 0, 0);

/** A long-header Handshake packet whose protected payload is `bytes` random bytes (an observer cannot open it). */
export function quicHandshake(dcid: Uint8Array, scid: Uint8Array, bytes: number, r: () => number): Uint8Array {
  const w = new Bytes();
  w.u8(0xe1).u32(QUIC_V1).u8(dcid.length).bytes(dcid).u8(scid.length).bytes(scid);
  w.u16(0x4000 | bytes);
  return w.random(bytes, r).done();
}

/** A short-header (1-RTT) packet to `dcid`, `bytes` long in all. */
export function quicShort(dcid: Uint8Array, bytes: number, r: () => number): Uint8Array {
  const w = new Bytes();
  w.u8(0x40 | ((r() * 64) | 0)).bytes(dcid);
  return w.random(Math.max(bytes - 1 - dcid.length, 20), r).done();
}

export { initialKeys };
