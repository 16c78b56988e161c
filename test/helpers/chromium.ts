/** Debian's Chromium, started with the flags the testbed uses everywhere (headless, no sandbox, nothing phoning home). */
export { CHROMIUM_FLAGS as CHROMIUM_ARGS } from '../../src/testbed/driver.js';
export const CHROMIUM = '/usr/bin/chromium';
