/** Testbed constants the CLI needs before it loads the testbed itself (webdriverio, ws and node-forge are heavy). */

export const TESTBED_PORT = 8443;

/**
 * Capture filter of the testbed's own addresses (127.0.0.8/29 holds .10 to .15, the shared CDN and telemetry included): the default on
 * the loopback interface, which otherwise also carries chromedriver's DevTools traffic (hundreds of MB a run).
 */
export const TESTBED_CAPTURE_FILTER = 'net 127.0.0.8/29';

/** The loopback capture filter of a testbed on `port`: its addresses and its port, so a second testbed on another port stays out. */
export function testbedCaptureFilter(port: number): string {
  return `${TESTBED_CAPTURE_FILTER} and tcp port ${port}`;
}
