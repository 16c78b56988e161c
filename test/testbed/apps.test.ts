import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { TestbedApps } from '../../src/testbed/apps.js';
import { freePort } from '../../src/testbed/driver.js';

describe('testbed apps', () => {
  it('a port another testbed holds is an error that says what to do', async () => {
    const port = await freePort();
    const first = new TestbedApps({ port });
    await first.start();
    try {
      await assert.rejects(new TestbedApps({ port }).start(), new RegExp(`127\\.0\\.0\\.11:${port} is in use .*give another --port, or run with --network netns`));
    } finally {
      await first.stop();
    }
  });
});
