import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import type { ActionRecord } from '../../src/label/actions.js';
import { userResolver } from '../../src/profile/users-from-actions.js';

const act = (user: string, start: number, end: number, clientAddr?: string): ActionRecord => ({ user, device: 'd', app: 'a', action: 'x', startNs: BigInt(start), endNs: BigInt(end), scenario: 's', repetition: 0, seq: 0, ...(clientAddr ? { clientAddr } : {}) });

describe('users named by the action log', () => {
  it('two users on one address: by the action window the flow overlaps, the larger overlap winning', () => {
    const of = userResolver([act('alice', 0, 100, '127.0.0.1'), act('bob', 90, 200, '127.0.0.1'), act('carol', 0, 300, '10.0.0.9')]);
    assert.equal(of('127.0.0.1', 10n, 50n), 'alice');
    assert.equal(of('127.0.0.1', 120n, 150n), 'bob');
    assert.equal(of('127.0.0.1', 85n, 99n), 'alice', 'alice 14 ns, bob 9 ns');
    assert.equal(of('127.0.0.1', 500n, 600n), undefined, 'no window, two users at the address, several in the log');
    assert.equal(of('10.0.0.9', 500n, 600n), 'carol', 'outside any window: the only user of the address');
  });

  it('a log without addresses (the address changes per file): by time, else its only user', () => {
    const of = userResolver([act('userA', 0, 100), act('userA', 200, 300)]);
    assert.equal(of('2001:db8::1', 10n, 20n), 'userA');
    assert.equal(of('2001:db8::2', 150n, 160n), 'userA', "the log's only user");
  });
});
