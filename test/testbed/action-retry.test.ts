import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { runAction } from '../../src/testbed/harness.js';
import type { Step } from '../../src/testbed/scenario.js';

/** An action whose request got no response at all runs once more; any other failure, or a second one, ends the run. */
describe('testbed action retry', () => {
  const steps: Step[] = [{ click: '#post-btn' }, { waitFor: '#status', text: '^ok' }];
  const runner = (failures: string[]) => {
    const ran: string[] = [];
    return {
      ran,
      run: async (s: Step) => {
        ran.push('click' in s ? 'click' : 'wait');
        if ('waitFor' in s && failures.length > 0) throw new Error(`#status: ${failures.shift()}`);
      },
    };
  };

  it('a network failure: every step once more, from the start', async () => {
    const r = runner(['error TypeError: Failed to fetch']);
    await runAction(r, steps, 'u a/b');
    assert.deepEqual(r.ran, ['click', 'wait', 'click', 'wait']);
  });

  it('an app error, or a second network failure, is thrown', async () => {
    await assert.rejects(runAction(runner(['error SyntaxError: Unexpected token']), steps, 'u a/b'), /SyntaxError/);
    await assert.rejects(runAction(runner(['error TypeError: Failed to fetch', 'error TypeError: Failed to fetch']), steps, 'u a/b'), /Failed to fetch/);
  });
});
