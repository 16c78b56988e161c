import assert from 'node:assert/strict';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { type ActionRecord, ActionLogError, actionJson, parseAction, readActionLog } from '../../src/label/actions.js';
import { type FlowTimes, Labeler } from '../../src/label/labeler.js';
import { tempDir } from '../helpers/temp.js';

const S = 1_763_900_000_000_000_000n; // an epoch in ns
const sec = (x: number) => S + BigInt(Math.round(x * 1e9));

function action(seq: number, app: string, name: string, start: number, end: number, extra: Partial<ActionRecord> = {}): ActionRecord {
  return { user: 'u1', device: 'd1', app, action: name, startNs: sec(start), endNs: sec(end), scenario: 't', repetition: 0, seq, ...extra };
}

function flow(id: number, app: string | null, first: number, last: number, client = '10.0.0.2'): FlowTimes {
  return { flowId: id, segment: 0, firstNs: sec(first), lastNs: sec(last), app, clientAddr: client };
}

const NO_SLACK = { slackBeforeNs: 0n, slackAfterNs: 0n };

describe('labeling flows from the action log', () => {
  it('labels by time overlap and app; impertinent otherwise, with the reason', () => {
    const l = new Labeler([action(0, 'Social', 'post_text', 10, 11), action(1, 'Video', 'play_video', 20, 25)], NO_SLACK);
    assert.deepEqual(l.label(flow(1, 'Social', 10.5, 10.6)), { app: 'Social', action: 'post_text', source: 'action', seq: 0, user: 'u1' });
    // Overlap at one end only counts; touching the window edge counts.
    assert.equal(l.label(flow(2, 'Video', 18, 20)).action, 'play_video');
    assert.equal(l.label(flow(3, 'Video', 25, 40)).action, 'play_video');
    // Right time, wrong app; right app, wrong time; no app.
    assert.deepEqual(l.label(flow(4, 'Mail', 10.5, 10.6)), { app: 'Mail', action: 'impertinent', source: 'app-outside-actions', seq: -1, user: 'u1' });
    assert.deepEqual(l.label(flow(5, 'Social', 12, 13)), { app: 'Social', action: 'impertinent', source: 'app-outside-actions', seq: -1, user: 'u1' });
    assert.deepEqual(l.label(flow(6, null, 10.5, 10.6)), { app: null, action: 'impertinent', source: 'no-app', seq: -1, user: 'u1' });
    const r = l.finish();
    assert.equal(r.records, 6);
    assert.deepEqual(r.byAction, { post_text: 1, play_video: 2, impertinent: 3 });
    assert.deepEqual(r.actionsWithoutFlow, []);
    assert.deepEqual(r.flowsPerAction['Video/play_video'], { actions: 1, min: 2, median: 2, max: 2 });
  });

  it('slack widens the window on each side by its own amount', () => {
    const actions = [action(0, 'Chat', 'send_message', 10, 11)];
    const l = new Labeler(actions, { slackBeforeNs: 200_000_000n, slackAfterNs: 500_000_000n });
    assert.equal(l.label(flow(1, 'Chat', 9.81, 9.82)).action, 'send_message');
    assert.equal(l.label(flow(2, 'Chat', 9.7, 9.79)).action, 'impertinent');
    assert.equal(l.label(flow(3, 'Chat', 11.49, 11.6)).action, 'send_message');
    assert.equal(l.label(flow(4, 'Chat', 11.51, 11.6)).action, 'impertinent');
  });

  it('reports a flow overlapping two actions of its app instead of guessing; largest-overlap decides when asked', () => {
    const actions = [action(0, 'Mail', 'read_mail', 10, 12), action(1, 'Mail', 'send_mail', 13, 20), action(2, 'Social', 'post_text', 11, 14)];
    const f = flow(7, 'Mail', 11, 14);
    const strict = new Labeler(actions, NO_SLACK);
    assert.deepEqual(strict.label(f), { app: 'Mail', action: 'ambiguous', source: 'ambiguous', seq: -1, user: 'u1' });
    const r = strict.finish();
    assert.deepEqual(r.ambiguous, [{ flowId: 7, segment: 0, candidates: [0, 1], chosen: -1 }]);
    assert.deepEqual(
      r.actionsWithoutFlow.map((a) => a.seq),
      [0, 1, 2],
    );
    const decide = new Labeler(actions, { ...NO_SLACK, ambiguity: 'largest-overlap' });
    // Overlaps: read_mail 11..12 (1 s), send_mail 13..14 (1 s): a tie keeps the earlier; make send_mail longer.
    assert.deepEqual(decide.label(flow(8, 'Mail', 11.5, 15)), { app: 'Mail', action: 'send_mail', source: 'largest-overlap', seq: 1, user: 'u1' });
    assert.deepEqual(decide.finish().ambiguous, [{ flowId: 8, segment: 0, candidates: [0, 1], chosen: 1 }]);
  });

  it('label_user: the action\'s user, else the one user of the client address, else the log\'s only user', () => {
    const two = new Labeler([action(0, 'Chat', 'send_text', 10, 11, { user: 'alice', clientAddr: '10.0.0.2' }), action(1, 'Chat', 'send_text', 10, 11, { user: 'bob', clientAddr: '10.0.0.3' }), action(2, 'Mail', 'read_mail', 30, 31, { user: 'bob', clientAddr: '10.0.0.4' }), action(3, 'Mail', 'read_mail', 40, 41, { user: 'carol', clientAddr: '10.0.0.4' })], NO_SLACK);
    assert.equal(two.label(flow(1, 'Chat', 10, 11, '10.0.0.2')).user, 'alice');
    assert.equal(two.label(flow(2, null, 50, 51, '10.0.0.3')).user, 'bob', 'background of an address one user used');
    assert.equal(two.label(flow(3, null, 50, 51, '10.0.0.4')).user, null, 'an address two users used');
    assert.equal(two.label(flow(4, 'Mail', 40, 41, '10.0.0.4')).user, 'carol', 'but its action says whose');
    assert.equal(two.label(flow(5, null, 50, 51, '10.0.0.9')).user, null);
    const one = new Labeler([action(0, 'Chat', 'send_text', 10, 11)], NO_SLACK);
    assert.equal(one.label(flow(6, null, 50, 51, '10.0.0.9')).user, 'u1', 'a one-user log');
  });

  it('actions with a client address only match that client', () => {
    const l = new Labeler([action(0, 'Chat', 'send_image', 10, 11, { clientAddr: '10.0.0.9' })], NO_SLACK);
    assert.equal(l.label(flow(1, 'Chat', 10, 11, '10.0.0.2')).action, 'impertinent');
    assert.equal(l.label(flow(2, 'Chat', 10, 11, '10.0.0.9')).action, 'send_image');
  });

  it('finds candidates by binary search exactly as a scan over all actions would (property)', () => {
    const arb = fc.record({
      actions: fc.array(fc.tuple(fc.constantFrom('A', 'B'), fc.integer({ min: 0, max: 1000 }), fc.integer({ min: 0, max: 60 })), { maxLength: 40 }),
      flows: fc.array(fc.tuple(fc.constantFrom('A', 'B', null), fc.integer({ min: 0, max: 1100 }), fc.integer({ min: 0, max: 100 })), { maxLength: 40 }),
      before: fc.integer({ min: 0, max: 5 }),
      after: fc.integer({ min: 0, max: 5 }),
    });
    fc.assert(
      fc.property(arb, ({ actions, flows, before, after }) => {
        const acts = actions.map(([app, start, len], i) => action(i, app, `x${i}`, start / 10, (start + len) / 10));
        const l = new Labeler(acts, { slackBeforeNs: BigInt(before) * 100_000_000n, slackAfterNs: BigInt(after) * 100_000_000n });
        for (const [i, [app, first, len]] of flows.entries()) {
          const f = flow(i, app, first / 10, (first + len) / 10);
          const want = acts
            .filter((a) => a.app === app && a.startNs - BigInt(before) * 100_000_000n <= f.lastNs && a.endNs + BigInt(after) * 100_000_000n >= f.firstNs)
            .map((a) => a.seq)
            .sort((x, y) => x - y);
          assert.deepEqual(
            l
              .candidates(f)
              .map((a) => a.seq)
              .sort((x, y) => x - y),
            want,
          );
        }
      }),
      { numRuns: 300, seed: 5 },
    );
  });
});

describe('action log', () => {
  it('round-trips 19-digit nanosecond times exactly, as strings or as plain integers', () => {
    const a = action(3, 'Video', 'comment', 1.000000001, 2.5, { repetition: 2, clientAddr: '::1' });
    const back = parseAction(actionJson(a), 'x:1');
    assert.deepEqual(back, a);
    const plain = parseAction('{"user":"u","device":"d","app":"A","action":"b","start_ns":1763900000123456789,"end_ns":1763900000123456790,"repetition":0,"seq":0}', 'x:1');
    assert.equal(plain.startNs, 1763900000123456789n);
    assert.equal(plain.endNs, 1763900000123456790n);
  });

  it('names the file and line of a bad action', () => {
    const dir = tempDir('cipherscope-actions-');
    const path = join(dir, 'log.jsonl');
    const good = actionJson(action(0, 'A', 'b', 1, 2));
    const cases: Array<[string, RegExp]> = [
      ['{not json', /log\.jsonl:2: not JSON/],
      ['[1,2]', /log\.jsonl:2: an action must be a JSON object/],
      [good.replace('"app":"A"', '"app":""'), /log\.jsonl:2: "app" must be a non-empty string/],
      [good.replace(/"start_ns":"\d+"/, '"start_ns":"soon"'), /log\.jsonl:2: "start_ns" must be nanoseconds/],
      [good.replace(/"end_ns":"\d+"/, '"end_ns":"1"'), /log\.jsonl:2: end_ns is before start_ns/],
      [good.replace('"seq":0', '"seq":-1'), /log\.jsonl:2: "seq" must be a non-negative integer/],
    ];
    for (const [bad, re] of cases) {
      writeFileSync(path, `${good}\n${bad}\n\n`);
      assert.throws(() => readActionLog(path), (e: Error) => e instanceof ActionLogError && re.test(e.message), bad);
    }
    writeFileSync(path, `${good}\n\n${good}\n`);
    assert.equal(readActionLog(path).length, 2);
    assert.throws(() => readActionLog(join(dir, 'missing.jsonl')), /missing\.jsonl: cannot read the action log/);
  });
});
