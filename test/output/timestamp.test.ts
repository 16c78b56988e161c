import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { isoNs, parseIsoNs } from '../../src/output/timestamp.js';
import { TextSink } from '../../src/output/text-sink.js';

/** What TextSink.timestamp encodes for each of `values`, one per line. */
function sinkText(values: readonly bigint[]): string[] {
  const chunks: Uint8Array[] = [];
  const sink = new TextSink((b) => chunks.push(b));
  for (const v of values) {
    sink.timestamp(v);
    sink.byte(10);
  }
  sink.flush();
  return Buffer.concat(chunks).toString('latin1').split('\n').slice(0, -1);
}

/** ISO 8601 text of nanosecond timestamps: Date's text to the millisecond, every nanosecond kept, any year. */
describe('timestamps as ISO 8601', () => {
  it('agrees with Date.toISOString to the millisecond and reads back exactly, across Date\'s whole range', () => {
    fc.assert(
      fc.property(fc.integer({ min: -8.64e15, max: 8.64e15 }), fc.integer({ min: 0, max: 999_999 }), (ms, sub) => {
        const ns = BigInt(ms) * 1_000_000n + BigInt(sub);
        const text = isoNs(ns);
        const date = new Date(ms).toISOString();
        assert.equal(text.slice(0, -7), date.slice(0, -1), `${ns}`);
        assert.equal(parseIsoNs(text), ns);
      }),
      { numRuns: 20_000 },
    );
  });

  it('writes years Date cannot hold (a capture clock past year 275760) and reads them back', () => {
    const ns = 18446744073204150271000n;
    assert.equal(isoNs(ns), '+586524-01-19T07:53:24.150271000Z');
    assert.equal(parseIsoNs(isoNs(ns)), ns);
    assert.equal(isoNs(-1n), '1969-12-31T23:59:59.999999999Z');
    assert.equal(isoNs(951782400000000000n), '2000-02-29T00:00:00.000000000Z');
  });

  it('the text writers\' in-place encoding (TextSink.timestamp) is isoNs byte for byte, at the edges and at random', () => {
    // 10^40 ns has a date part too long for the in-place room: the sink falls back to isoNs's growing buffer.
    const edges = [0n, -1n, 1n, 999_999_999n, 1_000_000_000n, -1_000_000_000n, -1_000_000_001n, 951782400000000000n, 18446744073204150271000n, -(2n ** 63n), 2n ** 63n - 1n, 253402300799999999999n, 253402300800000000000n, 10n ** 40n];
    assert.deepEqual(sinkText(edges), edges.map(isoNs));
    // Both now share one encoder, so a few against text written out by hand as well.
    assert.deepEqual(sinkText([0n, -1n, 18446744073204150271000n, 2n ** 63n - 1n]), ['1970-01-01T00:00:00.000000000Z', '1969-12-31T23:59:59.999999999Z', '+586524-01-19T07:53:24.150271000Z', '2262-04-11T23:47:16.854775807Z']);
    fc.assert(
      fc.property(fc.array(fc.bigInt({ min: -(2n ** 70n), max: 2n ** 70n }), { minLength: 1, maxLength: 50 }), (values) => {
        assert.deepEqual(sinkText(values), values.map(isoNs));
      }),
      { numRuns: 2_000 },
    );
  });

  it('reads fewer digits and zone offsets; rejects what is not a time', () => {
    assert.equal(parseIsoNs('2024-05-01T12:00:00Z'), 1714564800000000000n);
    assert.equal(parseIsoNs('2024-05-01 14:00:00.5+02:00'), 1714564800500000000n);
    for (const bad of ['2024-13-01T00:00:00Z', 'yesterday', '2024-05-01', '']) assert.equal(parseIsoNs(bad), undefined, bad);
  });
});
