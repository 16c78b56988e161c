import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../src/common/rng.js';
import { type HandshakeSink, TlsStream } from '../../src/features/tls/stream.js';

/**
 * The stream reader against a plain reading of the whole stream: however a stream of TLS records is cut into
 * segments, reordered, retransmitted in overlapping pieces or wrapped past 2^32 in sequence space, the handshake
 * messages that come out are the ones the whole stream holds, byte for byte and in order.
 */

interface Message {
  type: number;
  body: number[];
}

function sink(out: Message[]): HandshakeSink {
  return { handshake: (_dir, type, b, start, end) => out.push({ type, body: Array.from(b.subarray(start, end)) }) };
}

/** A random handshake: messages of random sizes packed into records cut at random points, then app data. */
function makeStream(r: () => number): { bytes: Uint8Array; messages: Message[] } {
  const messages: Message[] = [];
  const hs: number[] = [];
  const count = 1 + Math.floor(r() * 5);
  for (let i = 0; i < count; i++) {
    const len = Math.floor(r() < 0.3 ? r() * 20 : r() * 3000);
    const body = Array.from({ length: len }, () => Math.floor(r() * 256));
    const type = [1, 2, 11, 12, 14, 16][Math.floor(r() * 6)];
    messages.push({ type, body });
    hs.push(type, len >> 16, (len >> 8) & 255, len & 255, ...body);
  }
  const out: number[] = [];
  if (r() < 0.2) out.push(...Buffer.from('CONNECT example.org:443 HTTP/1.1\r\nHost: example.org\r\n\r\n'));
  for (let p = 0; p < hs.length; ) {
    const n = Math.min(hs.length - p, 1 + Math.floor(r() * (r() < 0.5 ? 200 : 16384)));
    out.push(22, 3, 3, n >> 8, n & 255, ...hs.slice(p, p + n));
    p += n;
  }
  // The encrypted part: ChangeCipherSpec or application data, then bytes that must not be read.
  out.push(r() < 0.5 ? 20 : 23, 3, 3, 0, 1, 1);
  for (let i = 0; i < 200; i++) out.push(Math.floor(r() * 256));
  return { bytes: Uint8Array.from(out), messages };
}

/** Cut into segments, then deliver them shuffled within a small window, some twice, some overlapping. */
function deliver(bytes: Uint8Array, r: () => number, isn: number): Array<{ seq: number; data: Uint8Array }> {
  const segs: Array<{ off: number; data: Uint8Array }> = [];
  for (let p = 0; p < bytes.length; ) {
    const n = Math.min(bytes.length - p, 1 + Math.floor(r() * (r() < 0.3 ? 40 : 1448)));
    segs.push({ off: p, data: bytes.subarray(p, p + n) });
    p += n;
  }
  for (let i = 0; i < segs.length; i++) {
    const j = Math.min(segs.length - 1, i + Math.floor(r() * 4));
    if (r() < 0.3) [segs[i], segs[j]] = [segs[j], segs[i]];
  }
  const out: Array<{ seq: number; data: Uint8Array }> = [];
  for (const s of segs) {
    out.push({ seq: (isn + 1 + s.off) >>> 0, data: s.data });
    if (r() < 0.1) {
      // A retransmission that starts earlier and runs further.
      const from = Math.max(0, s.off - Math.floor(r() * 100));
      const to = Math.min(bytes.length, s.off + s.data.length + Math.floor(r() * 100));
      out.push({ seq: (isn + 1 + from) >>> 0, data: bytes.subarray(from, to) });
    }
  }
  return out;
}

describe('TLS stream reassembly', () => {
  it('yields the whole stream\'s handshake messages however it is cut, reordered or retransmitted (500 streams)', () => {
    const r = mulberry32(22);
    for (let k = 0; k < 500; k++) {
      const { bytes, messages } = makeStream(r);
      const isn = r() < 0.3 ? 0xffffffff - Math.floor(r() * 3000) : Math.floor(r() * 0xffffffff);
      const got: Message[] = [];
      const s = new TlsStream(443, 0);
      s.setInitialSeq(isn + 1);
      const out = sink(got);
      // Each segment in a fresh buffer that is scribbled over after the call: the stream must copy what it keeps.
      for (const seg of deliver(bytes, r, isn)) {
        const buf = Uint8Array.from(seg.data);
        s.add(seg.seq, buf, 0, buf.length, out);
        buf.fill(0xee);
      }
      assert.deepEqual(got, messages, `stream ${k}: ${bytes.length} bytes`);
      assert.equal(s.done, true, `stream ${k} reads on past the encrypted records`);
    }
  });

  it('reads records from inside a larger buffer without reading outside [start, end)', () => {
    const r = mulberry32(5);
    const { bytes, messages } = makeStream(r);
    const big = new Uint8Array(bytes.length + 64).fill(0x16);
    big.set(bytes, 32);
    const got: Message[] = [];
    const s = new TlsStream(443, 1);
    s.add(1000, big, 32, 32 + bytes.length, sink(got));
    assert.deepEqual(got, messages);
  });

  it('finds a ClientHello after another protocol\'s text greeting, wherever the segments are cut', () => {
    const hello = [1, 0, 0, 3, 9, 8, 7];
    const record = [22, 3, 1, 0, hello.length, ...hello];
    const greeting = Buffer.from('220 mail.example.org ESMTP ready\r\nSTARTTLS\r\n');
    const bytes = Uint8Array.from([...greeting, ...record, 23, 3, 3, 0, 0]);
    for (let cut = 1; cut < bytes.length; cut += 3) {
      const got: Message[] = [];
      const s = new TlsStream(25, 0);
      s.setInitialSeq(1);
      s.add(1, bytes.subarray(0, cut), 0, cut, sink(got));
      s.add(1 + cut, bytes.subarray(cut), 0, bytes.length - cut, sink(got));
      assert.deepEqual(got, [{ type: 1, body: [9, 8, 7] }], `cut at ${cut}`);
      assert.equal(s.preamble, 'non-tls-prefix');
    }
  });
});
