import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import { describe, it } from 'node:test';
import { flowPlugins } from '../../src/features/plugins.js';
import { extractFlows } from '../../src/meter/meter.js';
import { halfOpenTls } from '../helpers/hostile.js';

/**
 * Half-open TLS: a SYN and one 6-byte handshake record each way, in many flows at once. The stream buffers are
 * sized to what arrived, so each such flow holds bytes, not kilobytes (8.8 KB a flow before: 600,000 flows, 5.3 GB).
 */
const N = 20_000;

describe('half-open TLS handshakes', () => {
  it(`${N.toLocaleString('en-US')} flows with a 6-byte record each way hold a few bytes of TLS buffers each, not kilobytes`, async () => {
    const buf = halfOpenTls(N);
    global.gc?.();
    const before = process.memoryUsage().arrayBuffers;
    let atFirst = -1;
    const s = await extractFlows(Readable.from([buf]), () => {
      // The first record comes out at the end of the input, while every other flow is still held.
      if (atFirst < 0) atFirst = process.memoryUsage().arrayBuffers;
    }, { plugins: flowPlugins({ groups: ['tls'] }) });
    assert.equal(s.flows, N);
    const perFlow = (atFirst - before - buf.length) / N;
    // The TLS group alone (the byte distribution's counts, 1 KiB a flow with payload, are a feature, not a buffer).
    assert.ok(perFlow < 128, `${perFlow.toFixed(0)} bytes of array buffers a flow`);
  });
});
