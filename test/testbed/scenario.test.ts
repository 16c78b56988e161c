import assert from 'node:assert/strict';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { CaptureError, CaptureProcess } from '../../src/capture/capture.js';
import { plan } from '../../src/testbed/harness.js';
import { ScenarioError, loadScenario, parseScenario } from '../../src/testbed/scenario.js';
import { tempDir } from '../helpers/temp.js';

describe('scenarios', () => {
  it('the shipped scenarios load; paper-mini has the paper\'s classes, 75 each, over 3 users', () => {
    const { scenario } = loadScenario('paper-mini');
    assert.equal(scenario.repetitions, 75);
    assert.equal(scenario.users, 3);
    assert.deepEqual(
      scenario.actions.map((a) => `${a.app}/${a.action}`),
      ['Social/post_text', 'Social/post_image', 'Video/play_video', 'Video/comment', 'Chat/send_message', 'Chat/send_image', 'Mail/read_mail', 'Mail/send_mail'],
    );
    assert.ok(loadScenario('ci-small').scenario.actions.length >= 8);
  });

  it('the plan deals every class the asked number of times, shuffled per user with the seed', () => {
    const { scenario } = loadScenario('paper-mini');
    let x = 1;
    const random = () => ((x = (x * 16807) % 2147483647) / 2147483647);
    const p = plan(scenario, 3, 75, random);
    assert.equal(p.flat().length, 600);
    for (let a = 0; a < 8; a++) assert.equal(p.flat().filter((i) => i === a).length, 75);
    assert.ok(p.every((u) => u.length === 200));
    x = 1;
    assert.deepEqual(plan(scenario, 3, 75, random), p);
  });

  it('a bad scenario is an error naming the file and what is wrong', () => {
    const base = { name: 's', target: 'testbed', users: 1, repetitions: 1, thinkMs: [1, 2], pages: { p: 'social' }, actions: [{ app: 'A', action: 'b', page: 'p', steps: [{ click: '#x' }] }] };
    const cases: Array<[unknown, RegExp]> = [
      ['{', /f\.json: not JSON/],
      [{ ...base, target: 'phone' }, /f\.json: "target" must be "testbed" or "webdriver"/],
      [{ ...base, users: 0 }, /"users" must be an integer >= 1/],
      [{ ...base, thinkMs: [5, 1] }, /"thinkMs" must be \[min, max\]/],
      [{ ...base, actions: [{ ...base.actions[0], page: 'q' }] }, /actions\[0\]: page "q" is not in "pages"/],
      [{ ...base, actions: [{ ...base.actions[0], steps: [{ tap: '#x' }] }] }, /actions\[0\]\.steps\[0\]: unknown step/],
      [{ ...base, actions: [{ ...base.actions[0], steps: [{ waitFor: '#s', text: '(' }] }] }, /waitFor text is not a regular expression/],
    ];
    for (const [text, re] of cases) assert.throws(() => parseScenario(typeof text === 'string' ? text : JSON.stringify(text), 'f.json'), (e: Error) => e instanceof ScenarioError && re.test(e.message), String(re));
    assert.throws(() => loadScenario('no-such-scenario'), /no scenario "no-such-scenario"/);
  });
});

describe('capture subprocess errors', () => {
  const dir = tempDir('cipherscope-capture-');
  it('a capture tool that cannot start, or exits at once, is a CaptureError with its message', async () => {
    await assert.rejects(CaptureProcess.start({ kind: 'adb', adb: join(dir, 'no-adb') }, join(dir, 'a.pcap')), (e: Error) => e instanceof CaptureError && /no-adb/.test(e.message));
    // The fake adb without a capture to stream exits with a message, before any byte.
    await assert.rejects(CaptureProcess.start({ kind: 'adb', adb: join(import.meta.dirname, '../helpers/fake-adb/adb') }, join(dir, 'b.pcap')), (e: Error) => e instanceof CaptureError && /exited before capturing: fake adb: FAKE_ADB_PCAP is not a readable file/.test(e.message));
  });
});
