import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { mulberry32 } from '../../src/common/rng.js';
import { Decoder } from '../../src/decode/decoder.js';
import { parseDns } from '../../src/features/dns/message.js';
import { parseCertificateList, parseClientHello, parseServerHello } from '../../src/features/tls/hello.js';
import { type HandshakeSink, TlsStream } from '../../src/features/tls/stream.js';
import { readCapture } from '../../src/pcap/reader.js';
import { PCAPS } from '../helpers/tshark.js';

interface HandshakeMessage {
  type: number;
  body: Uint8Array;
}

/** A sink that keeps a copy of every message (the stream hands out views of bytes it reuses). */
function collect(out: HandshakeMessage[]): HandshakeSink {
  return { handshake: (_dir, type, b, start, end) => out.push({ type, body: b.slice(start, end) }) };
}

/** Fuzzed handshakes (cut, oversized lengths, nested garbage) never throw out of the parsers. */
async function handshakes(file: string): Promise<HandshakeMessage[]> {
  const d = new Decoder();
  const streams = new Map<string, TlsStream>();
  const out: HandshakeMessage[] = [];
  const sink = collect(out);
  await readCapture(join(PCAPS, file), {
    packet(rec) {
      const p = d.decode(rec);
      if (p.kind !== 'ip' || p.proto !== 6 || p.payloadLen === 0) return;
      const key = `${p.src3}:${p.srcPort}>${p.dst3}:${p.dstPort}`;
      const s = streams.get(key) ?? new TlsStream();
      streams.set(key, s);
      s.add(p.tcpSeq, p.data, p.payloadOffset, Math.min(p.capturedEnd, p.payloadOffset + p.payloadLen), sink);
    },
  });
  return out;
}

function mutate(b: Uint8Array, r: () => number): Uint8Array {
  const x = Uint8Array.from(b);
  const at = () => Math.floor(r() * x.length);
  switch (Math.floor(r() * 4)) {
    case 0:
      return x.subarray(0, at()); // cut
    case 1: {
      // an oversized or zero length where a length field may be
      const o = at();
      x[o] = r() < 0.5 ? 0xff : 0;
      if (o + 1 < x.length) x[o + 1] = r() < 0.5 ? 0xff : 0;
      return x;
    }
    case 2: {
      // nested garbage: a random run inside
      const o = at();
      for (let i = o; i < Math.min(x.length, o + 1 + Math.floor(r() * 40)); i++) x[i] = Math.floor(r() * 256);
      return x;
    }
    default:
      for (let i = 0; i < 4; i++) x[at()] ^= 1 << Math.floor(r() * 8);
      return x;
  }
}

describe('handshake and DNS parsers under fuzzing', () => {
  it('ClientHello, ServerHello, Certificate and DNS mutations return values or errors, never throw', async () => {
    const msgs = [...(await handshakes('tls13-kyber-keyshare-chrome125.pcap')), ...(await handshakes('tls12-client-certificate-offers13.pcap'))];
    const bodies = msgs.filter((m) => m.type === 1 || m.type === 2 || m.type === 11);
    assert.ok(bodies.length >= 4, `${bodies.length} handshake messages`);
    const dns = Uint8Array.from([0x12, 0x34, 0x81, 0x80, 0, 1, 0, 2, 0, 0, 0, 0, 3, 119, 119, 119, 1, 97, 0, 0, 1, 0, 1, 0xc0, 12, 0, 5, 0, 1, 0, 0, 0, 60, 0, 4, 1, 98, 0xc0, 16, 0xc0, 35, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4, 1, 2, 3, 4]);
    const r = mulberry32(4);
    let errors = 0;
    let runs = 0;
    for (let k = 0; k < 1500; k++) {
      for (const m of bodies) {
        const b = mutate(m.body, r);
        const res = m.type === 1 ? parseClientHello(b) : m.type === 2 ? parseServerHello(b) : parseCertificateList(b);
        if (!res.ok) errors++;
        runs++;
      }
      parseDns(mutate(dns, r));
      // Whole mutated records through the stream reassembler too.
      const s = new TlsStream();
      const rec = Uint8Array.from([22, 3, 1, 0, 0, ...mutate(bodies[0].body, r)]);
      s.add(1, rec, 0, rec.length, collect([]));
    }
    assert.ok(runs > 5000);
    assert.ok(errors > runs / 20, `only ${errors} of ${runs} mutations were rejected: the fuzzing is not reaching the length checks`);
  });
});
